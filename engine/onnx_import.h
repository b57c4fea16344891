// ONNX import: ModelProto (ONNX protobuf, opsets 11..21) -> Graph. Errors name the node, the operator and
// what was expected.
#pragma once
#include <string>
#include <vector>

#include "engine/graph.h"

namespace glassbox {

struct ImportOptions {
  bool fold_batchnorm = true;  // fold BatchNormalization into the preceding Conv where that is exact
};

Graph import_onnx_file(const std::string& path, const ImportOptions& options = {});
Graph import_onnx_bytes(const void* data, size_t size, const std::string& source, const ImportOptions& options = {});

// The ONNX operators the importer accepts.
const std::vector<std::string>& supported_operators();

}  // namespace glassbox
