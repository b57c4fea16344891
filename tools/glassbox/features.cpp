// glassbox features and glassbox filters: what a layer computes, and the weights of a convolution, as pictures.
// Works on any session device: the captured activation is copied to the host once per batch, then drawn.
#include "tools/glassbox/features.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "engine/model.h"
#include "explain/explain.h"
#include "tools/glassbox/cli_common.h"
#include "tools/glassbox/grid.h"
#include "tools/glassbox/image.h"

namespace fs = std::filesystem;

namespace glassbox::tools {

namespace {

// A layer name as part of a file name: characters other than letters, digits, '.', '-' and '_' become '_'.
std::string file_part(const std::string& name) {
  std::string s;
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ? c : '_';
  const size_t b = s.find_first_not_of('_'), e = s.find_last_not_of('_');
  return b == std::string::npos ? "layer" : s.substr(b, e - b + 1);
}

// "4, 17, 30" (the first `limit`, then "...").
std::string index_list(const std::vector<int>& v, size_t limit = 24) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  if (v.size() > limit) s += ", ...";
  return s;
}

// alpha * colour + (1 - alpha) * image (any grid colormap, gray included).
Image overlay_map(const Image& image, const std::vector<float>& map, const std::string& cmap, float alpha = 0.5f) {
  Image out = image;
  for (size_t p = 0; p < map.size(); ++p) {
    unsigned char c[3];
    grid_color(cmap, map[p], c);
    for (int k = 0; k < 3; ++k)
      out.rgb[p * 3 + k] = static_cast<unsigned char>(std::lround(alpha * c[k] + (1.f - alpha) * image.rgb[p * 3 + k]));
  }
  return out;
}

bool is_activation(const std::string& op) {
  return op == "Relu" || op == "Clip" || op == "LeakyRelu" || op == "Sigmoid" || op == "HardSigmoid" ||
         op == "HardSwish" || op == "Identity" || op == "Dropout";
}

// The Conv node computing value v, directly or through activations (single-input ones, or x * Sigmoid(x) and
// x * HardSigmoid(x)); throws naming the layer and what computes it otherwise.
int conv_node_for(const Graph& g, const std::string& layer) {
  const std::vector<int> producers = g.producers();
  int v = g.find_value(layer);
  for (int step = 0; step < 8 && v >= 0; ++step) {
    const int p = producers[v];
    if (p < 0) break;
    const Node& n = g.nodes[p];
    if (n.op == "Conv") return p;
    if (is_activation(n.op) && !n.inputs.empty()) {
      v = n.inputs[0];
      continue;
    }
    if (n.op == "Mul" && n.inputs.size() == 2) {  // SiLU / HardSwish written out: x * gate(x)
      int next = -1;
      for (int i = 0; i < 2; ++i) {
        const int gate = n.inputs[1 - i] >= 0 ? producers[n.inputs[1 - i]] : -1;
        if (gate >= 0 && (g.nodes[gate].op == "Sigmoid" || g.nodes[gate].op == "HardSigmoid") &&
            g.nodes[gate].inputs[0] == n.inputs[i])
          next = n.inputs[i];
      }
      if (next >= 0) {
        v = next;
        continue;
      }
    }
    fail("layer '", layer, "' is computed by ", n.describe(),
         ", not by a convolution or an activation of one; filters needs a Conv layer (glassbox inspect lists them)");
  }
  fail("layer '", layer, "' is not computed by a convolution (it is an input or a constant); filters needs a Conv "
       "layer (glassbox inspect lists them)");
}

}  // namespace

// Per image: DIR/<stem>_<layer>_grid.png (every channel, or the top K ranked per image) and
// DIR/<stem>_<layer>_energy.png (the mean over channels, upsampled to the input, over the image); then the
// layer's statistics over all the images.
int cmd_features(const Args& a) {
  GB_CHECK(a.positional.size() >= 2, "features takes MODEL.onnx and at least one IMAGE");
  auto model = Model::load(a.positional[0]);
  const Preprocess pre = preprocess_for(*model, a);
  const std::string layer = a.get("layer").empty() ? explain::default_layer(*model) : model->resolve(a.get("layer"));
  const long top = a.integer("top", 0, 1, 1 << 20);
  const std::string rank = a.get("rank", "mean"), norm = a.get("normalize", "channel");
  GB_CHECK(rank == "mean" || rank == "max", "--rank: expected mean or max, got '", rank, "'");
  GB_CHECK(norm == "channel" || norm == "shared", "--normalize: expected channel or shared, got '", norm, "'");
  MapGridOptions mo;
  mo.shared = norm == "shared";
  mo.colormap = a.get("colormap", "viridis");
  check_grid_colormap(mo.colormap);
  const std::string out_dir = a.get("out", "features");
  const int64_t batch = a.integer("batch", 8, 1, 4096);

  Session session(model, session_options(a));
  session.capture({layer});
  fs::create_directories(out_dir);
  PictureSink pictures(a);
  std::printf("layer %s\n", layer.c_str());
  ActivationStats stats;
  Shape shape;
  int failures = 0;
  for_each_image_batch(a, pre, batch, failures, [&](const LoadedImages& loaded, int64_t step) {
    const auto& images = loaded.images;  // what the network saw
    const auto& names = loaded.names;
    const Result r = session.run(loaded.batch);
    const Tensor A = r.capture(layer).to(Device::cpu());  // waits for the device's queued work
    GB_CHECK(A.rank() == 4, "layer '", layer, "' has shape ", shape_str(A.shape()),
             "; features needs a 4-D activation [N, C, H, W] (glassbox inspect lists the layers)");
    shape = A.shape();
    const int C = int(A.dim(1)), h = int(A.dim(2)), w = int(A.dim(3));
    const int64_t hw = int64_t(h) * w;
    stats.add(A.data<float>(), A.dim(0), C, hw);
    for (size_t i = 0; i < images.size(); ++i) {
      const float* maps = A.data<float>() + int64_t(i) * C * hw;
      std::vector<int> channels(C);
      std::iota(channels.begin(), channels.end(), 0);
      if (top > 0) channels = top_channels(maps, C, hw, int(std::min<long>(top, C)), rank);
      const std::string stem = (fs::path(out_dir) / (loaded.stems[i] + "_" + file_part(layer))).string();
      pictures.save(stem + "_grid.png", map_grid(maps, h, w, channels, mo), step);
      const Image& seen = images[i];
      std::vector<float> energy = upsample_bilinear(channel_mean(maps, C, hw).data(), h, w, seen.height, seen.width);
      normalize_min_max(energy);
      pictures.save(stem + "_energy.png", overlay_map(seen, energy, mo.colormap), step);
      std::printf("%s  %d channels of %dx%d -> %s_grid.png, %s_energy.png\n", names[i].c_str(), int(channels.size()),
                  h, w, stem.c_str(), stem.c_str());
      if (top > 0) {
        std::printf("  top %d by %s:", int(channels.size()), rank.c_str());
        for (int c : channels) std::printf(" %d (%.4g)", c, channel_score(maps + c * hw, hw, rank));
        std::printf("\n");
      }
    }
  });
  if (stats.images > 0) {
    const auto dead = stats.dead(), constant = stats.constant();
    std::printf("statistics of %s %s over %lld image%s:\n", layer.c_str(),
                shape_str(Shape(shape.begin() + 1, shape.end())).c_str(), static_cast<long long>(stats.images),
                stats.images == 1 ? "" : "s");
    std::printf("  zeros              %.2f%% of the values\n", 100.0 * stats.zero_fraction());
    std::printf("  dead channels      %zu of %lld (never positive)%s%s\n", dead.size(),
                static_cast<long long>(stats.channels), dead.empty() ? "" : ": ", index_list(dead).c_str());
    std::printf("  constant channels  %zu of %lld (one value over the batch)%s%s\n", constant.size(),
                static_cast<long long>(stats.channels), constant.empty() ? "" : ": ", index_list(constant).c_str());
    std::printf("  mean activation    %.6g\n", stats.mean());
  }
  std::fflush(stdout);
  return failures ? 1 : 0;
}

// DIR/<layer>_filters.png: the weights of the Conv computing the layer (after the importer's BatchNormalization
// folding) — RGB tiles when the filters see 3 channels, else a gray grid (filters x input channels).
int cmd_filters(const Args& a) {
  GB_CHECK(a.positional.size() == 1, "filters takes one MODEL.onnx");
  auto model = Model::load(a.positional[0]);
  const Graph& g = model->graph();
  std::string layer;
  if (!a.get("layer").empty()) layer = model->resolve(a.get("layer"));
  else
    for (const Node& n : g.nodes)
      if (n.op == "Conv" && layer.empty()) layer = g.values[n.outputs[0]].name;
  GB_CHECK(!layer.empty(), "the model has no convolution");
  const std::string norm = a.get("normalize", "filter");
  GB_CHECK(norm == "filter" || norm == "shared", "--normalize: expected filter or shared, got '", norm, "'");
  const Node& conv = g.nodes[conv_node_for(g, layer)];
  GB_CHECK(conv.inputs.size() >= 2 && conv.inputs[1] >= 0 && g.values[conv.inputs[1]].is_constant(), "layer '", layer,
           "': the weights of ", conv.describe(), " are computed at run time, not stored in the model");
  const Value& wv = g.values[conv.inputs[1]];
  const Tensor& W = wv.constant;
  GB_CHECK(W.rank() == 4 && W.dtype() == DType::f32, "layer '", layer, "': the weights of ", conv.describe(),
           " have shape ", shape_str(W.shape()), "; filters draws 2-D convolutions [M, C, kh, kw] (float32)");
  const int M = int(W.dim(0)), C = int(W.dim(1)), kh = int(W.dim(2)), kw = int(W.dim(3));
  FilterGridOptions fo;
  fo.shared = norm == "shared";
  fo.max_filters = int(a.integer("max-filters", fo.max_filters, 1, 4096));
  fo.max_channels = int(a.integer("max-channels", fo.max_channels, 1, 4096));
  const std::string out_dir = a.get("out", "filters");
  fs::create_directories(out_dir);
  const std::string png = (fs::path(out_dir) / (file_part(layer) + "_filters.png")).string();
  save_png(png, filter_grid(W.data<float>(), M, C, kh, kw, fo));
  const std::string suffix = "@bn_folded";
  const bool folded = wv.name.size() > suffix.size() &&
                      wv.name.compare(wv.name.size() - suffix.size(), suffix.size(), suffix) == 0;
  const long group = conv.attrs.i("group", 1);
  std::printf("layer %s: %s, weights %s %s%s%s\n", layer.c_str(), conv.describe().c_str(), wv.name.c_str(),
              shape_str(W.shape()).c_str(), group > 1 ? (" in " + std::to_string(group) + " groups").c_str() : "",
              folded ? " (BatchNormalization folded in at import)" : "");
  const int filters = std::min(M, fo.max_filters), channels = std::min(C, fo.max_channels);
  if (C == 3)
    std::printf("%d of %d filters as RGB tiles (input channels 0, 1, 2 as R, G, B; 0 -> mid gray) -> %s\n", filters,
                M, png.c_str());
  else if (C == 1)
    std::printf("%d of %d filters as gray tiles (0 -> mid gray) -> %s\n", filters, M, png.c_str());
  else
    std::printf("%d of %d filters (rows) x %d of %d input channels (columns), gray (0 -> mid gray) -> %s\n", filters,
                M, channels, C, png.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace glassbox::tools
