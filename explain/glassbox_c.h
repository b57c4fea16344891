/* glassbox's C API: load an ONNX vision model, run it, and explain its decisions from C or from any language with
 * a C foreign-function interface. C99. Installed as <prefix>/include/glassbox/glassbox_c.h; link libglassbox
 * (CMake: glassbox::glassbox, or glassbox::glassbox_static with a C++ linker).
 *
 *   gb_model* model = NULL;
 *   if (gb_model_load("resnet50.onnx", &model) != GB_OK) { fprintf(stderr, "%s\n", gb_last_error()); ... }
 *   gb_explainer* ex = NULL;
 *   gb_explainer_create(model, "gradcam", NULL, "cpu", 0, &ex);        // NULL layer: the default layer
 *   gb_explain(ex, images, shape, 1, NULL, 0, maps, maps_capacity, classes, classes_capacity);
 *   gb_explainer_free(ex);
 *   gb_model_free(model);
 *
 * Errors. Every function that can fail returns a gb_status. On failure, gb_last_error() gives the message (the
 * text of the C++ glassbox::Error: the file, node, layer, name or size concerned) and the function's outputs are
 * unspecified; no C++ exception crosses this interface.
 *
 * Ownership. Handles are opaque. A handle that a gb_*_create or gb_model_load* call returned with GB_OK belongs
 * to the caller, who releases it with the matching gb_*_free (which accepts NULL). A session or an explainer
 * holds a reference to its model, so the model may be freed before them. Strings returned through a
 * `const char**` belong to the handle they come from and live as long as it; gb_version() and gb_status_name()
 * return static strings. Buffers are the caller's: each function that writes one takes its capacity in elements
 * and fails with GB_ERROR_BUFFER_TOO_SMALL, whose message gives the count needed, before any work; the
 * gb_*_output_size functions give the counts beforehand.
 *
 * Threads. A gb_model is immutable: any number of threads may use one at the same time (read it, create sessions
 * and explainers from it). A gb_session or gb_explainer may be used by one thread at a time: give each thread its
 * own. They share nothing mutable with each other, and the library keeps no global mutable state, so two models
 * in one process give the same results as each alone. `threads` is a session's own CPU thread count (0: all
 * hardware threads); sessions used at the same time should together not ask for more than the machine's cores.
 * gb_last_error() is per thread.
 *
 * Devices: "cpu", or "cuda:N" in a library built with CUDA (inputs and outputs stay host memory here). */
#ifndef GLASSBOX_C_H
#define GLASSBOX_C_H

#include <stddef.h>
#include <stdint.h>

#include "engine/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gb_status {
  GB_OK = 0,
  GB_ERROR = 1,                  /* the library could not do it: a missing or invalid model file, an unknown
                                    layer, method or device, a class out of range, ... (the message says) */
  GB_ERROR_INVALID_ARGUMENT = 2, /* a NULL handle or pointer, a shape or count that cannot be right */
  GB_ERROR_BUFFER_TOO_SMALL = 3, /* a caller's buffer holds fewer elements than the result (the message gives the
                                    number needed) */
  GB_ERROR_OUT_OF_MEMORY = 4,
  GB_ERROR_INTERNAL = 5          /* any other failure: a bug in glassbox */
} gb_status;

typedef struct gb_model gb_model;
typedef struct gb_session gb_session;
typedef struct gb_explainer gb_explainer;

/* The version of the library linked, e.g. "0.1.0" (GLASSBOX_VERSION: that of this header). */
const char* gb_version(void);
/* The message of the last call on this thread that failed ("" if none has). Valid until this thread's next
   failing call. */
const char* gb_last_error(void);
/* "GB_OK", "GB_ERROR", ... */
const char* gb_status_name(gb_status status);

/* ---- models ---------------------------------------------------------------------------------------------- */

/* Imports an ONNX file / an ONNX model in memory (the bytes are not kept). */
gb_status gb_model_load(const char* path, gb_model** model);
gb_status gb_model_load_bytes(const void* data, size_t size, gb_model** model);
void gb_model_free(gb_model* model);

/* The first input's declared shape ([N, C, H, W] for image models; -1 where a dimension is symbolic, such as a
   dynamic batch): `rank` dimensions written to dims[0 .. rank). */
gb_status gb_model_input_shape(const gb_model* model, int64_t* dims, size_t capacity, size_t* rank);
/* Layers, in execution order: every node's output value name (what `layer` arguments take, as do friendly
   scopes such as "layer4"). */
gb_status gb_model_layer_count(const gb_model* model, size_t* count);
gb_status gb_model_layer_name(const gb_model* model, size_t index, const char** name);
/* The layer explanations use by default: the last 4-D activation before global pooling. */
gb_status gb_model_default_layer(const gb_model* model, const char** name);

/* ---- sessions: forward passes ----------------------------------------------------------------------------- */

/* device: "cpu" or "cuda:N" (NULL: "cpu"); threads: CPU threads of this session, 0 for all. */
gb_status gb_session_create(const gb_model* model, const char* device, int threads, gb_session** session);
void gb_session_free(gb_session* session);
/* Elements of the model's first output for input `shape` [N, C, H, W] (e.g. N * 1000 logits). */
gb_status gb_session_output_size(gb_session* session, const int64_t shape[4], size_t* count);
/* input: float32 [N, C, H, W], row-major, preprocessed as the model expects (read only). Writes the first output
   (e.g. logits [N, classes]) to `output`, which holds `capacity` floats. */
gb_status gb_session_forward(gb_session* session, const float* input, const int64_t shape[4], float* output,
                             size_t capacity);

/* ---- explanations ------------------------------------------------------------------------------------------ */

/* method: one of the names `glassbox explain --method` takes: the gradient family (cam, gradcam, gradcampp,
   xgradcam, layercam, hirescam, gradcam_elementwise, smoothgradcampp) or the perturbation family (scorecam,
   sscam, iscam, ablationcam, reciprocam, rise), or a vision transformer's attention methods (raw_attention,
   rollout, grad_rollout; they take no layer); an unknown name fails with the list. layer: NULL or "" for the
   default layer. device and threads as for gb_session_create. */
gb_status gb_explainer_create(const gb_model* model, const char* method, const char* layer, const char* device,
                              int threads, gb_explainer** explainer);
void gb_explainer_free(gb_explainer* explainer);
/* The layer the explainer looks at (its ONNX value name). */
gb_status gb_explainer_layer(const gb_explainer* explainer, const char** layer);
/* Targets: with class_count = 0, the top_k highest-scoring classes of each image (K = top_k, at most the number
   of classes); else `classes` holds one class per image (class_count = N) or one for every image (1), and K = 1.
   map_count receives N * K * H * W (H, W of the input), target_count N * K. */
gb_status gb_explainer_output_size(gb_explainer* explainer, const int64_t shape[4], int top_k, size_t class_count,
                                   size_t* map_count, size_t* target_count);
/* Explains a batch (input and shape as for gb_session_forward): writes the maps [N * K, H, W] (map n * K + k for
   image n's k-th target; at the input's resolution, each min-max normalized to [0, 1]) to `maps`, and the class
   each map explains to `map_classes` (N * K; NULL with classes_capacity 0 when not wanted). */
gb_status gb_explain(gb_explainer* explainer, const float* input, const int64_t shape[4], int top_k,
                     const int64_t* classes, size_t class_count, float* maps, size_t maps_capacity,
                     int64_t* map_classes, size_t classes_capacity);

#ifdef __cplusplus
}
#endif

#endif /* GLASSBOX_C_H */
