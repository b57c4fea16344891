// Structure-aware mutations of an ONNX model: one change to a parsed onnx::ModelProto that keeps it parseable, so
// that the importer's checks past the protobuf parser (attributes, shapes, names, opsets) see odd values. Used by
// the libFuzzer target (as a custom mutator, alongside libFuzzer's byte mutations) and by test_fuzz_smoke.
// Header-only: the fuzz build does not build tests/.
#pragma once
#include <onnx/onnx.pb.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "engine/onnx_import.h"

namespace glassbox::fuzz {

inline int64_t interesting_int(std::mt19937& rng) {
  static const int64_t values[] = {0,  1,  -1, 2,  3,  -2, 4,  7,  8,  16, 64, 255, 1 << 20, (int64_t(1) << 24) + 1,
                                   std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(),
                                   int64_t(1) << 32, int64_t(1) << 34, int64_t(1) << 62,
                                   std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  const size_t n = sizeof(values) / sizeof(values[0]);
  return rng() % 4 == 0 ? static_cast<int64_t>(rng() % 33) - 16 : values[rng() % n];
}

inline float interesting_float(std::mt19937& rng) {
  static const float values[] = {0.f, -0.f, 1.f, -1.f, 0.5f, 1e-30f, 1e30f, -1e30f, 6.f,
                                 std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                 std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min()};
  return values[rng() % (sizeof(values) / sizeof(values[0]))];
}

// Every value name the graph mentions (inputs, initializers, node inputs and outputs).
inline std::vector<std::string> value_names(const onnx::GraphProto& g) {
  std::vector<std::string> names;
  for (const auto& v : g.input()) names.push_back(v.name());
  for (const auto& t : g.initializer()) names.push_back(t.name());
  for (const auto& n : g.node())
    for (const auto& o : n.output()) names.push_back(o);
  return names;
}

// One structural change to `m`; `what` gets a short description.
inline void mutate_model(onnx::ModelProto& m, std::mt19937& rng, std::ostream& what) {
  static const char* const attr_names[] = {"axis",      "axes",      "pads",         "strides",   "dilations",
                                           "kernel_shape", "group",  "auto_pad",     "ceil_mode", "count_include_pad",
                                           "transA",    "transB",    "alpha",        "beta",      "keepdims",
                                           "allowzero", "start",     "end",          "to",        "mode",
                                           "epsilon",   "value",     "noop_with_empty_axes", "training_mode"};
  static const char* const strings[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect",
                                        "edge",   "wrap",       "",           "bogus"};
  onnx::GraphProto* g = m.mutable_graph();
  const auto& ops = supported_operators();
  const int kinds = 10;
  for (int attempt = 0; attempt < 8; ++attempt) {
    switch (rng() % kinds) {
      case 0: {  // an attribute value (existing or new)
        if (g->node_size() == 0) break;
        onnx::NodeProto* n = g->mutable_node(static_cast<int>(rng() % g->node_size()));
        onnx::AttributeProto* a;
        if (n->attribute_size() && rng() % 3) {
          a = n->mutable_attribute(static_cast<int>(rng() % n->attribute_size()));
        } else {
          a = n->add_attribute();
          a->set_name(attr_names[rng() % (sizeof(attr_names) / sizeof(attr_names[0]))]);
        }
        switch (rng() % 6) {
          case 0:
            a->set_type(onnx::AttributeProto::INT);
            a->set_i(interesting_int(rng));
            break;
          case 1:
            a->set_type(onnx::AttributeProto::FLOAT);
            a->set_f(interesting_float(rng));
            break;
          case 2:
            a->set_type(onnx::AttributeProto::STRING);
            a->set_s(strings[rng() % (sizeof(strings) / sizeof(strings[0]))]);
            break;
          case 3: {
            a->set_type(onnx::AttributeProto::INTS);
            if (a->ints_size() && rng() % 2)
              a->set_ints(static_cast<int>(rng() % a->ints_size()), interesting_int(rng));
            else if (rng() % 2) a->add_ints(interesting_int(rng));
            else a->clear_ints();
            break;
          }
          case 4:
            a->set_type(onnx::AttributeProto::FLOATS);
            a->add_floats(interesting_float(rng));
            break;
          default:
            a->set_type(onnx::AttributeProto::TENSOR);
            a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
            a->mutable_t()->add_int64_data(interesting_int(rng));
            break;
        }
        what << " attr:" << n->name() << "." << a->name();
        return;
      }
      case 1: {  // an initializer's dimensions
        if (g->initializer_size() == 0) break;
        onnx::TensorProto* t = g->mutable_initializer(static_cast<int>(rng() % g->initializer_size()));
        if (t->dims_size() && rng() % 3) t->set_dims(static_cast<int>(rng() % t->dims_size()), interesting_int(rng));
        else if (rng() % 2) t->add_dims(1 + static_cast<int64_t>(rng() % 3));
        else t->clear_dims();
        what << " dims:" << t->name();
        return;
      }
      case 2: {  // an initializer's values (integer tensors hold shapes, axes, pads)
        if (g->initializer_size() == 0) break;
        onnx::TensorProto* t = g->mutable_initializer(static_cast<int>(rng() % g->initializer_size()));
        if (t->int64_data_size()) {
          t->set_int64_data(static_cast<int>(rng() % t->int64_data_size()), interesting_int(rng));
        } else if (t->raw_data().size() >= 8 && t->data_type() == onnx::TensorProto::INT64) {
          const int64_t v = interesting_int(rng);
          const size_t at = 8 * (rng() % (t->raw_data().size() / 8));
          t->mutable_raw_data()->replace(at, 8, reinterpret_cast<const char*>(&v), 8);
        } else if (t->raw_data().size() >= 4) {
          const float v = interesting_float(rng);
          const size_t at = 4 * (rng() % (t->raw_data().size() / 4));
          t->mutable_raw_data()->replace(at, 4, reinterpret_cast<const char*>(&v), 4);
        } else if (rng() % 2) {
          t->set_data_type(static_cast<int32_t>(rng() % 17));
        } else {
          break;
        }
        what << " data:" << t->name();
        return;
      }
      case 3: {  // a declared input dimension
        if (g->input_size() == 0) break;
        onnx::ValueInfoProto* v = g->mutable_input(static_cast<int>(rng() % g->input_size()));
        auto* shape = v->mutable_type()->mutable_tensor_type()->mutable_shape();
        if (shape->dim_size() && rng() % 4) {
          auto* d = shape->mutable_dim(static_cast<int>(rng() % shape->dim_size()));
          if (rng() % 4) d->set_dim_value(interesting_int(rng));
          else d->set_dim_param("N");
        } else if (rng() % 2) {
          shape->add_dim()->set_dim_value(1 + static_cast<int64_t>(rng() % 4));
        } else if (shape->dim_size()) {
          shape->mutable_dim()->RemoveLast();
        }
        what << " input_dim:" << v->name();
        return;
      }
      case 4: {  // an operator type
        if (g->node_size() == 0) break;
        onnx::NodeProto* n = g->mutable_node(static_cast<int>(rng() % g->node_size()));
        n->set_op_type(ops[rng() % ops.size()]);
        what << " op:" << n->name() << "=" << n->op_type();
        return;
      }
      case 5: {  // a node input: another value, omitted, added or removed
        if (g->node_size() == 0) break;
        onnx::NodeProto* n = g->mutable_node(static_cast<int>(rng() % g->node_size()));
        const auto names = value_names(*g);
        const std::string pick = names.empty() || rng() % 5 == 0 ? "" : names[rng() % names.size()];
        if (n->input_size() && rng() % 3) n->set_input(static_cast<int>(rng() % n->input_size()), pick);
        else if (rng() % 2) n->add_input(pick);
        else if (n->input_size()) n->mutable_input()->RemoveLast();
        what << " input:" << n->name();
        return;
      }
      case 6: {  // a node output: renamed to another value, or an extra output
        if (g->node_size() == 0) break;
        onnx::NodeProto* n = g->mutable_node(static_cast<int>(rng() % g->node_size()));
        const auto names = value_names(*g);
        if (names.empty()) break;
        if (n->output_size() && rng() % 2)
          n->set_output(static_cast<int>(rng() % n->output_size()), names[rng() % names.size()]);
        else n->add_output(rng() % 2 ? "" : "extra_" + std::to_string(rng() % 4));
        what << " output:" << n->name();
        return;
      }
      case 7: {  // copy a node onto the end (its output renamed, reading an existing value), or remove one
        if (g->node_size() == 0) break;
        const int i = static_cast<int>(rng() % g->node_size());
        if (rng() % 3) {
          onnx::NodeProto copy = g->node(i);
          const auto names = value_names(*g);
          if (copy.input_size() && !names.empty()) copy.set_input(0, names[rng() % names.size()]);
          const std::string out = "copy_" + std::to_string(rng() % 1000);
          if (copy.output_size()) copy.set_output(0, out);
          copy.set_name(out);
          *g->add_node() = copy;
          if (rng() % 2 && g->output_size()) g->mutable_output(0)->set_name(out);
          what << " copy:" << g->node(i).name();
        } else {
          g->mutable_node()->DeleteSubrange(i, 1);
          what << " remove_node:" << i;
        }
        return;
      }
      case 8: {  // the opset
        if (m.opset_import_size() == 0) break;
        const int64_t v = rng() % 8 ? 11 + static_cast<int64_t>(rng() % 11) : interesting_int(rng);
        m.mutable_opset_import(0)->set_version(v);
        what << " opset:" << m.opset_import(0).version();
        return;
      }
      default: {  // graph inputs and outputs
        if (rng() % 2 && g->output_size()) {
          const auto names = value_names(*g);
          if (names.empty()) break;
          g->mutable_output(static_cast<int>(rng() % g->output_size()))->set_name(names[rng() % names.size()]);
          what << " graph_output";
        } else if (g->input_size()) {
          *g->add_input() = g->input(static_cast<int>(rng() % g->input_size()));
          what << " dup_input";
        } else {
          break;
        }
        return;
      }
    }
  }
}

}  // namespace glassbox::fuzz
