// The names of an enum of explanation methods, from one table {method, "name"} per family: lookup both ways and
// the list for error messages.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace glassbox::explain {

template <class M, size_t N>
using MethodTable = std::pair<M, const char*>[N];

template <class M, size_t N>
bool find_method(const MethodTable<M, N>& table, const std::string& name, M& method) {
  for (const auto& [m, n] : table)
    if (name == n) return method = m, true;
  return false;
}

template <class M, size_t N>
const char* name_in(const MethodTable<M, N>& table, M method) {
  for (const auto& [m, n] : table)
    if (m == method) return n;
  return "?";
}

template <class M, size_t N>
std::vector<M> methods_in(const MethodTable<M, N>& table) {
  std::vector<M> v;
  for (const auto& [m, n] : table) v.push_back(m);
  return v;
}

template <class M, size_t N>
std::string names_in(const MethodTable<M, N>& table) {  // "a, b, c"
  std::string s;
  for (const auto& [m, n] : table) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

}  // namespace glassbox::explain
