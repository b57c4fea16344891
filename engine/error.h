// glassbox::Error — the one exception type the API throws, with context (file, node, operator, value, shape).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace glassbox {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
// Builds a message from stream-able parts: fail("node '", name, "': expected ", n, " inputs").
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

}  // namespace glassbox

// GB_CHECK(cond, parts...) throws glassbox::Error built from parts when cond is false.
#define GB_CHECK(cond, ...)                \
  do {                                     \
    if (!(cond)) ::glassbox::fail(__VA_ARGS__); \
  } while (0)
