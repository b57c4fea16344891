// The C API (glassbox_c.h) over the C++ one: handles own C++ objects, every entry point runs inside guarded(),
// which turns exceptions into a status and this thread's last-error message.
#include "explain/glassbox_c.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "engine/model.h"
#include "explain/named.h"

using glassbox::Device;
using glassbox::Shape;
using glassbox::Tensor;

struct gb_model {
  std::shared_ptr<const glassbox::Model> model;
  // Computed at load so that the handle stays immutable (and shareable between threads) afterwards.
  std::vector<std::string> layer_names;
  std::string default_layer, default_layer_error;  // the error when the model has no default layer
};

struct gb_session {
  glassbox::Session session;
};

struct gb_explainer {
  glassbox::explain::NamedExplainer explainer;
};

namespace {

// The message of this thread's last failed call. Thread-local by the API's contract, the one piece of mutable
// state here that is not in a handle.
thread_local std::string last_error;

// A failure the C layer detects itself, with its status.
class ApiError : public glassbox::Error {
 public:
  ApiError(gb_status status, const std::string& what) : glassbox::Error(what), status(status) {}
  gb_status status;
};

template <class... Parts>
[[noreturn]] void api_fail(gb_status status, const Parts&... parts) {
  throw ApiError(status, glassbox::detail::concat(parts...));
}

gb_status failed(gb_status status, const char* function, const char* what) noexcept {
  try {
    last_error = std::string(function) + ": " + what;
  } catch (...) {  // no memory for the message: keep the status
  }
  return status;
}

// Runs f; exceptions become a status and the thread's last error, prefixed with the C function's name.
template <class F>
gb_status guarded(const char* function, F&& f) noexcept {
  try {
    f();
    return GB_OK;
  } catch (const ApiError& e) {
    return failed(e.status, function, e.what());
  } catch (const glassbox::Error& e) {
    return failed(GB_ERROR, function, e.what());
  } catch (const std::bad_alloc&) {
    return failed(GB_ERROR_OUT_OF_MEMORY, function, "out of memory");
  } catch (const std::exception& e) {
    return failed(GB_ERROR_INTERNAL, function, e.what());
  } catch (...) {
    return failed(GB_ERROR_INTERNAL, function, "unknown exception");
  }
}

template <class T>
T* non_null(T* p, const char* what) {
  if (!p) api_fail(GB_ERROR_INVALID_ARGUMENT, what, " is NULL");
  return p;
}

template <class T>
T& deref(T* p, const char* what) {
  return *non_null(p, what);
}

template <class T>
void check_out(T** out, const char* what) {
  non_null(out, what);
  *out = nullptr;
}

Shape input_shape(const int64_t* shape) {
  non_null(shape, "shape");
  Shape s(shape, shape + 4);
  for (int64_t d : s)
    if (d <= 0) api_fail(GB_ERROR_INVALID_ARGUMENT, "shape ", glassbox::shape_str(s), " is not a batch [N, C, H, W]");
  return s;
}

// The input as a tensor without a copy: the session only reads its inputs.
Tensor wrap_input(const float* input, const Shape& shape) {
  non_null(input, "input");
  return Tensor::wrap(const_cast<float*>(input), shape, glassbox::DType::f32);
}

void check_capacity(const char* what, size_t capacity, size_t needed, const char* unit) {
  if (capacity < needed)
    api_fail(GB_ERROR_BUFFER_TOO_SMALL, what, " holds ", capacity, " ", unit, "; ", needed, " needed");
}

// The C API runs single-input models (image classifiers): Session::run(tensor).
const glassbox::Model& single_input(const glassbox::Model& model) {
  const size_t n = model.graph().inputs.size();
  if (n != 1) api_fail(GB_ERROR, "the C API runs models with one input; this one has ", n);
  return model;
}

// The shape of the first output for inputs of `shape`, from the session's plan for it (made once, then cached).
Shape output_shape(glassbox::Session& session, const Shape& shape) {
  const glassbox::Model& model = single_input(session.model());
  return session.plan_for({shape}).shapes.at(model.graph().outputs.at(0));
}

glassbox::SessionOptions session_options(const char* device, int threads) {
  if (threads < 0) api_fail(GB_ERROR_INVALID_ARGUMENT, "threads must be 0 (all) or more, not ", threads);
  glassbox::SessionOptions o;
  o.device = Device::parse(device ? device : "cpu");
  o.threads = threads;
  return o;
}

gb_model* new_model(std::shared_ptr<const glassbox::Model> model) {
  auto m = std::make_unique<gb_model>();
  m->model = std::move(model);
  for (const auto& layer : m->model->layers()) m->layer_names.push_back(layer.name);
  try {
    m->default_layer = glassbox::explain::default_layer(*m->model);
  } catch (const glassbox::Error& e) {
    m->default_layer_error = e.what();
  }
  return m.release();
}

// N * K targets for a batch of N (K: top_k clamped to the classes as make_targets does, or 1 with given classes).
size_t target_count(glassbox::Session& session, const Shape& shape, int top_k, size_t class_count) {
  const Shape logits = output_shape(session, shape);
  if (logits.size() != 2)
    api_fail(GB_ERROR, "explanations need logits [N, classes]; the model's output is ", glassbox::shape_str(logits));
  if (class_count == 0 && top_k < 1) api_fail(GB_ERROR_INVALID_ARGUMENT, "top_k must be at least 1, not ", top_k);
  const int64_t K = class_count ? 1 : std::min<int64_t>(top_k, logits[1]);
  return size_t(shape[0] * K);
}

}  // namespace

extern "C" {

const char* gb_version(void) { return GLASSBOX_VERSION; }

const char* gb_last_error(void) { return last_error.c_str(); }

const char* gb_status_name(gb_status status) {
  switch (status) {
    case GB_OK: return "GB_OK";
    case GB_ERROR: return "GB_ERROR";
    case GB_ERROR_INVALID_ARGUMENT: return "GB_ERROR_INVALID_ARGUMENT";
    case GB_ERROR_BUFFER_TOO_SMALL: return "GB_ERROR_BUFFER_TOO_SMALL";
    case GB_ERROR_OUT_OF_MEMORY: return "GB_ERROR_OUT_OF_MEMORY";
    case GB_ERROR_INTERNAL: return "GB_ERROR_INTERNAL";
  }
  return "unknown gb_status";
}

gb_status gb_model_load(const char* path, gb_model** model) {
  return guarded(__func__, [&] {
    check_out(model, "model");
    *model = new_model(glassbox::Model::load(non_null(path, "path")));
  });
}

gb_status gb_model_load_bytes(const void* data, size_t size, gb_model** model) {
  return guarded(__func__, [&] {
    check_out(model, "model");
    *model = new_model(glassbox::Model::from_bytes(non_null(data, "data"), size));
  });
}

void gb_model_free(gb_model* model) { delete model; }

gb_status gb_model_input_shape(const gb_model* model, int64_t* dims, size_t capacity, size_t* rank) {
  return guarded(__func__, [&] {
    const gb_model& m = deref(model, "model");
    non_null(rank, "rank");
    if (m.model->graph().inputs.empty()) api_fail(GB_ERROR, "the model has no input");
    const Shape s = m.model->input_shape(0);
    check_capacity("dims", capacity, s.size(), "dimensions");
    if (!s.empty()) std::memcpy(non_null(dims, "dims"), s.data(), s.size() * sizeof(int64_t));
    *rank = s.size();
  });
}

gb_status gb_model_layer_count(const gb_model* model, size_t* count) {
  return guarded(__func__, [&] { deref(count, "count") = deref(model, "model").layer_names.size(); });
}

gb_status gb_model_layer_name(const gb_model* model, size_t index, const char** name) {
  return guarded(__func__, [&] {
    const gb_model& m = deref(model, "model");
    non_null(name, "name");
    if (index >= m.layer_names.size())
      api_fail(GB_ERROR_INVALID_ARGUMENT, "layer ", index, " does not exist (", m.layer_names.size(), " layers)");
    *name = m.layer_names[index].c_str();
  });
}

gb_status gb_model_default_layer(const gb_model* model, const char** name) {
  return guarded(__func__, [&] {
    const gb_model& m = deref(model, "model");
    non_null(name, "name");
    if (m.default_layer.empty()) api_fail(GB_ERROR, m.default_layer_error);
    *name = m.default_layer.c_str();
  });
}

gb_status gb_session_create(const gb_model* model, const char* device, int threads, gb_session** session) {
  return guarded(__func__, [&] {
    check_out(session, "session");
    const gb_model& m = deref(model, "model");
    *session = new gb_session{glassbox::Session(m.model, session_options(device, threads))};
  });
}

void gb_session_free(gb_session* session) { delete session; }

gb_status gb_session_output_size(gb_session* session, const int64_t shape[4], size_t* count) {
  return guarded(__func__, [&] {
    deref(count, "count") = size_t(glassbox::numel(output_shape(deref(session, "session").session, input_shape(shape))));
  });
}

gb_status gb_session_forward(gb_session* session, const float* input, const int64_t shape[4], float* output,
                             size_t capacity) {
  return guarded(__func__, [&] {
    glassbox::Session& s = deref(session, "session").session;
    const Shape in = input_shape(shape);
    const size_t needed = size_t(glassbox::numel(output_shape(s, in)));
    check_capacity("output", capacity, needed, "floats");
    non_null(output, "output");
    const Tensor out = s.run(wrap_input(input, in)).output().to(Device::cpu());
    std::memcpy(output, out.data<float>(), needed * sizeof(float));
  });
}

gb_status gb_explainer_create(const gb_model* model, const char* method, const char* layer, const char* device,
                              int threads, gb_explainer** explainer) {
  return guarded(__func__, [&] {
    check_out(explainer, "explainer");
    const gb_model& m = deref(model, "model");
    single_input(*m.model);
    *explainer = new gb_explainer{glassbox::explain::NamedExplainer(m.model, non_null(method, "method"),
                                                                     session_options(device, threads),
                                                                     layer ? layer : "")};
  });
}

void gb_explainer_free(gb_explainer* explainer) { delete explainer; }

gb_status gb_explainer_layer(const gb_explainer* explainer, const char** layer) {
  return guarded(__func__, [&] { deref(layer, "layer") = deref(explainer, "explainer").explainer.layer().c_str(); });
}

gb_status gb_explainer_output_size(gb_explainer* explainer, const int64_t shape[4], int top_k, size_t class_count,
                                   size_t* map_count, size_t* target_count_out) {
  return guarded(__func__, [&] {
    glassbox::Session& s = deref(explainer, "explainer").explainer.session();
    const Shape in = input_shape(shape);
    const size_t targets = target_count(s, in, top_k, class_count);
    deref(map_count, "map_count") = targets * size_t(in[2] * in[3]);
    deref(target_count_out, "target_count") = targets;
  });
}

gb_status gb_explain(gb_explainer* explainer, const float* input, const int64_t shape[4], int top_k,
                     const int64_t* classes, size_t class_count, float* maps, size_t maps_capacity,
                     int64_t* map_classes, size_t classes_capacity) {
  return guarded(__func__, [&] {
    glassbox::explain::NamedExplainer& ex = deref(explainer, "explainer").explainer;
    const Shape in = input_shape(shape);
    const size_t targets = target_count(ex.session(), in, top_k, class_count);
    const size_t needed = targets * size_t(in[2] * in[3]);
    check_capacity("maps", maps_capacity, needed, "floats");
    non_null(maps, "maps");
    if (map_classes) check_capacity("map_classes", classes_capacity, targets, "classes");
    glassbox::explain::Target target;
    target.top = top_k;
    if (class_count) target.classes.assign(non_null(classes, "classes"), classes + class_count);
    const auto e = ex.explain(wrap_input(input, in), target);
    const Tensor host = e.maps.to(Device::cpu());
    if (size_t(host.numel()) != needed)  // the sizes above follow the explainers; a mismatch is a bug
      api_fail(GB_ERROR_INTERNAL, "maps of shape ", glassbox::shape_str(host.shape()), ", ", needed, " floats expected");
    std::memcpy(maps, host.data<float>(), needed * sizeof(float));
    if (map_classes) {
      const std::vector<int64_t> list = e.targets.class_list();
      std::memcpy(map_classes, list.data(), list.size() * sizeof(int64_t));
    }
  });
}

}  // extern "C"
