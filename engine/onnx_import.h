// ONNX import: ModelProto (ONNX protobuf, opsets 11..22) -> Graph. Errors name the node, the operator and
// what was expected.
#pragma once
#include <string>
#include <vector>

#include "engine/graph.h"

namespace glassbox {

struct ImportOptions {
  bool fold_batchnorm = true;  // fold BatchNormalization into the preceding Conv where that is exact
  // The folder that tensors stored in external data files (ONNX data_location = EXTERNAL) are read from when the
  // model comes from memory (import_onnx_bytes, Model::from_bytes); empty: such a model is refused. A model read
  // from a file always reads them from the file's own folder, as the ONNX spec defines.
  std::string external_data_dir;
};

// The model file must be a regular file under 2 GiB (protobuf's limit); larger models keep their weights in
// external data files next to it (read only from regular files inside the model's folder). Errors name the path.
Graph import_onnx_file(const std::string& path, const ImportOptions& options = {});
Graph import_onnx_bytes(const void* data, size_t size, const std::string& source, const ImportOptions& options = {});

// The ONNX operators the importer accepts.
const std::vector<std::string>& supported_operators();

}  // namespace glassbox
