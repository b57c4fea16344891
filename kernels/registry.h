// Named kernel variants of one operator (kernel research): a table of (name, description, function).
// Adding a variant = one entry in its backend's table; tests and benchmarks iterate over names().
#pragma once
#include <string>
#include <vector>

#include "engine/error.h"

namespace glassbox::kernels {

template <class Fn>
class VariantTable {
 public:
  struct Entry {
    std::string name, description;
    Fn fn;
  };
  VariantTable(std::string op, std::vector<Entry> entries) : op_(std::move(op)), entries_(std::move(entries)) {}

  const Entry* find(const std::string& name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return &e;
    std::string known;
    for (const Entry& e : entries_) known += (known.empty() ? "" : ", ") + e.name;
    fail("unknown ", op_, " variant '", name, "' (available: ", known, ")");
  }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const Entry& e : entries_) n.push_back(e.name);
    return n;
  }

 private:
  std::string op_;
  std::vector<Entry> entries_;
};

}  // namespace glassbox::kernels
