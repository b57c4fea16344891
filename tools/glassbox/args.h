// Command-line arguments shared by the glassbox commands: positional words, `--name value` (or `--name=value`)
// options and `--flag`s. Each command declares the options and flags it knows (CommandOptions); parse_args rejects
// every other one, naming it and the nearest known one, so that no option is silently ignored and a flag a command
// does not know never swallows the next word. Values are checked where they are read: integers and numbers in the
// range the caller gives, lists without empty items.
#pragma once
#include <cstdint>
#include <climits>
#include <map>
#include <string>
#include <vector>

#include "engine/model.h"

namespace glassbox::tools {

// What one command accepts: options that take a value, and flags that take none.
struct CommandOptions {
  std::vector<std::string> values;
  std::vector<std::string> flags;
  CommandOptions& add(const CommandOptions& more);  // appends a group (preprocessing, session, ...)
};

struct Args {
  std::string command;  // for messages: "run", "explain --dataset", ...
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::vector<std::string> flags;
  CommandOptions known;

  bool flag(const std::string& f) const;
  bool has(const std::string& k) const;  // the option was given
  std::string get(const std::string& k, const std::string& def = "") const;
  // An integer in [lo, hi] (decimal, an optional '-' where lo < 0); def when the option is absent.
  int64_t integer(const std::string& k, int64_t def, int64_t lo, int64_t hi) const;
  // A finite number in [lo, hi].
  double number(const std::string& k, double def, double lo, double hi) const;
  // A comma-separated list with no empty item (def, split, when the option is absent).
  std::vector<std::string> list(const std::string& k, const std::string& def = "") const;

 private:
  void check_declared(const std::string& k, bool is_flag) const;
};

// Parses argv[first, argc) for `command` against `known`. Throws glassbox::Error for an unknown option or flag
// (with the nearest known name), an option without its value, a value given to a flag, or an option given twice.
Args parse_args(int argc, const char* const* argv, int first, const std::string& command, const CommandOptions& known);

// The nearest of `names` to `word` by edit distance (at most 3 edits, or a prefix); "" when none is near.
std::string nearest_name(const std::string& word, const std::vector<std::string>& names);

SessionOptions session_options(const Args& a);

// A comma-separated (or `sep`-separated) list: "1,32,256" -> {"1", "32", "256"}; empty items are dropped.
std::vector<std::string> split_list(const std::string& s, char sep = ',');

int cmd_bench(const Args& a);          // bench.cpp
int cmd_bench_dataset(const Args& a);  // bench_dataset.cpp: glassbox bench --dataset DIR
int cmd_bench_kernels(const Args& a);  // bench_kernels.cpp: glassbox bench kernels
int cmd_explain_dataset(const Args& a);  // dataset_cmd.cpp: glassbox explain --dataset DIR
int cmd_evaluate(const Args& a);         // evaluate_cmd.cpp: glassbox evaluate

}  // namespace glassbox::tools
