// glassbox's C++ API in one header, installed as <prefix>/include/glassbox/glassbox.h (the one include path a
// consumer of find_package(glassbox) gets; the headers below keep their repository paths under it).
//
//   #include <glassbox.h>
//   auto model = glassbox::Model::load("resnet50.onnx");             // immutable: share it between threads
//   glassbox::explain::NamedExplainer ex(model, "gradcam");           // per thread: its own session
//   auto image = glassbox::tools::load_image("cat.jpg");
//   auto batch = glassbox::tools::make_batch({image}, glassbox::tools::Preprocess{});
//   glassbox::explain::Target target;                                 // top-1 class (or .top = k, .classes)
//   auto e = ex.explain(batch, target);                               // e.maps [1, 224, 224] in [0, 1]
//
// Model and Session (engine/model.h), Tensor (engine/tensor.h), glassbox::Error (engine/error.h); the gradient
// family (explain/explain.h), the perturbation family (explain/perturbation.h), either by name
// (explain/named.h), pixel-space methods (explain/pixel.h), gradient ascent (explain/ascent.h), attention
// explanations of vision transformers (explain/attention.h, explain/tokens.h), quality metrics of maps
// (explain/metrics.h); images and preprocessing
// (tools/glassbox/image.h), heat-map overlays (tools/glassbox/overlay.h) and class names
// (tools/glassbox/labels.h). Threads and ownership: README.md, "Embedding glassbox".
#pragma once

#include "engine/error.h"
#include "engine/model.h"
#include "engine/tensor.h"
#include "engine/version.h"
#include "explain/ascent.h"
#include "explain/attention.h"
#include "explain/explain.h"
#include "explain/metrics.h"
#include "explain/named.h"
#include "explain/perturbation.h"
#include "explain/pixel.h"
#include "tools/glassbox/image.h"
#include "tools/glassbox/labels.h"
#include "tools/glassbox/overlay.h"
