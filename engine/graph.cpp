#include "engine/graph.h"

#include "engine/error.h"

namespace glassbox {

namespace {
template <class T>
const T* get(const std::map<std::string, AttrValue>& m, const std::string& name, const char* want) {
  auto it = m.find(name);
  if (it == m.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second);
  GB_CHECK(v, "attribute '", name, "' has the wrong type (expected ", want, ")");
  return v;
}
}  // namespace

int64_t Attributes::i(const std::string& name, int64_t def) const {
  const int64_t* v = get<int64_t>(values_, name, "int");
  return v ? *v : def;
}
float Attributes::f(const std::string& name, float def) const {
  const float* v = get<float>(values_, name, "float");
  return v ? *v : def;
}
std::string Attributes::s(const std::string& name, const std::string& def) const {
  const std::string* v = get<std::string>(values_, name, "string");
  return v ? *v : def;
}
std::vector<int64_t> Attributes::ints(const std::string& name, const std::vector<int64_t>& def) const {
  const auto* v = get<std::vector<int64_t>>(values_, name, "ints");
  return v ? *v : def;
}
std::vector<float> Attributes::floats(const std::string& name, const std::vector<float>& def) const {
  const auto* v = get<std::vector<float>>(values_, name, "floats");
  return v ? *v : def;
}

int Graph::find_value(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == name) return static_cast<int>(i);
  return -1;
}

std::vector<int> Graph::producers() const {
  std::vector<int> p(values.size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n)
    for (int o : nodes[n].outputs)
      if (o >= 0) p[o] = static_cast<int>(n);
  return p;
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> c(values.size());
  for (size_t n = 0; n < nodes.size(); ++n)
    for (int i : nodes[n].inputs)
      if (i >= 0) c[i].push_back(static_cast<int>(n));
  return c;
}

}  // namespace glassbox
