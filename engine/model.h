// The public C++ API: load a model, list its layers, run forward on a batch, read captured values.
//
//   auto model = glassbox::Model::load("resnet50.onnx");
//   glassbox::Session session(model);                 // per thread; owns the backend, plan and memory
//   session.capture({"layer4"});                      // friendly names resolve to ONNX value names
//   auto result = session.run(batch);                 // batch: Tensor [N, 3, H, W] float32
//   const glassbox::Tensor& logits = result.output(); // and result.capture("layer4")
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backward.h"
#include "engine/error.h"
#include "engine/executor.h"
#include "engine/graph.h"
#include "engine/onnx_import.h"
#include "engine/plan.h"
#include "engine/tensor.h"
#include "kernels/kernels.h"

namespace glassbox {

struct LayerInfo {
  std::string name;  // the ONNX value name of the node's output (what capture() takes)
  std::string node;  // the ONNX node name
  std::string op;    // operator, e.g. "Conv"
  Shape shape;       // output shape for the batch size asked for
};

// An imported model. Immutable after load, so one Model can be shared by any number of threads and sessions.
class Model {
 public:
  static std::shared_ptr<const Model> load(const std::string& path, const ImportOptions& options = {});
  static std::shared_ptr<const Model> from_bytes(const void* data, size_t size, const ImportOptions& options = {},
                                                 const std::string& source = "<memory>");

  const Graph& graph() const { return graph_; }
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;
  Shape input_shape(size_t i = 0) const;  // declared; -1 where symbolic
  std::string metadata(const std::string& key, const std::string& def = "") const;

  // Every node's output with its operator and shape (symbolic input dimensions set to `batch`).
  std::vector<LayerInfo> layers(int64_t batch = 1) const;
  // An ONNX value name, a node name, or a friendly scope such as "layer4" / "features.28" (the output of the
  // scope's last node). Unknown names list the nearest names; ambiguous ones list the candidates.
  std::string resolve(const std::string& name) const;

 private:
  explicit Model(Graph g) : graph_(std::move(g)) {}
  void validate() const;
  Graph graph_;
};

struct SessionOptions {
  Device device = Device::cpu();                        // cpu, or cuda:N (kernels queued on the session's stream)
  int threads = 0;                                      // CPU threads; 0 = all hardware threads
  std::map<std::string, std::string> kernel_variants;   // e.g. {"conv2d", "direct"}
  bool fuse_activations = true;
  bool profile = false;  // time every step of each run (Session::profile)
  // The most memory a plan of this session may need (engine/plan.h estimate_memory: arena, results and kept
  // values, folded constants, device copies), checked before anything of the plan is allocated; a plan over it is
  // an error naming its largest value. Default: 3/4 of the physical memory (16 GiB where unknown); 0: no limit.
  int64_t memory_limit_bytes = default_memory_limit_bytes();
};

// One step of the last profiled run.
struct StepTime {
  std::string label;  // operator(s), e.g. "Conv+Relu"
  std::string node;   // ONNX node name
  Shape shape;        // output shape
  double ms = 0;
};

// Device memory a session holds, in bytes.
struct MemoryStats {
  size_t arena = 0;      // intermediate activations (the memory plan of the largest shape run so far)
  size_t constants = 0;  // weights and folded constants copied to the device (0 on the CPU: shared with the model)
  size_t workspace = 0;  // backend scratch (convolution workspaces, staging)
  size_t results = 0;    // the pool for inputs placed on the device and for results (its peak)
  size_t total() const { return arena + constants + workspace + results; }
};

// Results of one forward pass. Tensors are owned by the result (a later run does not change them); they live on
// the session's device (Tensor::to(Device::cpu()) copies one to the host, waiting for the queued work).
struct Result {
  std::vector<std::string> output_names;
  std::vector<Tensor> outputs;            // in the model's output order
  std::map<std::string, Tensor> captures; // by the name given to capture()
  const Tensor& output(size_t i = 0) const;
  const Tensor& capture(const std::string& name) const;
};

// Per-thread state for running one model: the backend (threads, scratch), plans by input shape, the arena.
class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Values to keep after each run, by any name resolve() accepts.
  void capture(const std::vector<std::string>& names);
  Result run(const Tensor& input);  // single-input models
  Result run(const std::vector<Tensor>& inputs);

  // Gradients with respect to activations and inputs (never weights). After track_gradients(wrt, from), every
  // run also keeps what the backward pass needs, and backward(seeds) returns, for L = sum over the `from` values
  // of <value, seed>, the gradient dL/dv of each value v in `wrt`, computed by the steps between them only.
  //   wrt:  layer names (as capture() takes them) or input names;  from: value names (default: the first output).
  void track_gradients(const std::vector<std::string>& wrt, const std::vector<std::string>& from = {});
  // One seed per `from` value, of its shape (host or device tensors); uses the last run. Gradients by the names
  // given to track_gradients, on the session's device. K seeds per image in one batched pass: seeds of K times the
  // run's batch, row n*K + k for image n; the gradients come in the same row order (the forward values the
  // backward reads are repeated K times on the device; the forward is not run again).
  // rule: how the rectifiers pass gradients back (kernels::BackwardRule: the gradient, or Deconvnet's or guided
  // backpropagation's rule), chosen per call on the same plan.
  std::map<std::string, Tensor> backward(const std::vector<Tensor>& seeds,
                                         kernels::BackwardRule rule = kernels::BackwardRule::gradient);

  // Forward from a value (Ablation-CAM, ReciproCAM): after enable_run_from(layer), every run also keeps what the
  // steps after the layer read from before it, and run_from(values) runs only those steps with `values` in place
  // of the layer's activation: K rows per image of the last run (values [N * K, ...], row n*K + k for image n;
  // any other value the steps read, such as a skip connection around the layer, is that image's from the last
  // run). Returns the outputs at batch N * K. Nothing before the layer runs again. With first_image and images,
  // the rows belong to those images of the last run only (values [images * K, ...]).
  void enable_run_from(const std::string& layer);
  Result run_from(const Tensor& values, int64_t first_image = 0, int64_t images = -1);

  const Model& model() const { return *model_; }
  kernels::Backend& backend() { return *backend_; }
  const Plan& plan_for(const std::vector<Shape>& input_shapes);  // the plan used for these shapes
  size_t arena_bytes() const { return memory_.arena.bytes(); }
  MemoryStats memory() const;
  // A float32 tensor on the session's device from its pool (on a GPU: no device allocation once a tensor of this
  // size has been freed back), for the scratch of methods built on the session.
  Tensor allocate(const Shape& shape);
  // A float32 tensor on the session's device: itself, or a copy from the session's pool (host tensors through the
  // backend's upload staging).
  Tensor place(const Tensor& t);
  // Waits for all queued device work (a no-op on the CPU).
  void synchronize() { backend_->synchronize(); }
  // Per-step times of the last run (SessionOptions::profile), in execution order.
  const std::vector<StepTime>& profile() const { return profile_; }

 private:
  std::map<int, Tensor> repeat_forward(const Plan& plan, const BackwardPlan& bp, int64_t K);
  // Fails when the plan (and `extra` bytes, the backward's gradients) is over options_.memory_limit_bytes.
  void check_memory(const Plan& plan, uint64_t extra = 0) const;
  void drop_plans();  // after a change of what runs keep: plans, saved values and device constants go

  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  std::unique_ptr<kernels::Backend> backend_;
  std::vector<std::pair<std::string, int>> captures_;  // requested name -> value id
  std::vector<std::pair<std::string, int>> grad_wrt_;  // track_gradients: name -> value id
  std::vector<int> grad_from_;                         // value ids seeds are given at
  std::map<std::vector<Shape>, Plan> plans_;
  std::map<std::vector<Shape>, BackwardPlan> backward_plans_;
  std::vector<Shape> last_shapes_;                     // the last run's input shapes and forward values
  std::map<int, Tensor> last_forward_;
  int run_from_ = -1;                                 // enable_run_from: the layer's value id
  std::map<std::vector<Shape>, std::vector<int>> outer_;  // by input shapes: values run_from binds besides the layer
  std::map<std::vector<Shape>, Plan> suffix_plans_;   // by input shapes (at batch N * K)
  std::vector<Shape> last_run_shapes_;                // the last run's input shapes, and its outer values
  std::map<int, Tensor> last_outer_;
  RunMemory memory_;
  std::vector<StepTime> profile_;
};

}  // namespace glassbox
