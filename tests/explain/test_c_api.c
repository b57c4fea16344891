/* The C API from C (compiled as C99, linked against libglassbox.so): a model from a file and from bytes, its
 * shape and layers, forward, explanations of both families, and the error paths (status, message, no crash).
 * usage: test_c_api MODEL.onnx   (a [N, 3, 64, 64] -> [N, 10] classifier of tests/data/models) */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glassbox_c.h"

static int failures = 0;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

/* A call that must succeed. */
#define OK(call)                                                                               \
  do {                                                                                         \
    gb_status s_ = (call);                                                                     \
    if (s_ != GB_OK) {                                                                         \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, gb_status_name(s_), \
              gb_last_error());                                                                \
      exit(1);                                                                                 \
    }                                                                                          \
  } while (0)

/* A call that must fail with `status` and a message containing `text`. */
static void expect_error(gb_status got, gb_status status, const char* text, int line) {
  if (got != status || !strstr(gb_last_error(), text)) {
    fprintf(stderr, "line %d: expected %s with \"%s\", got %s: \"%s\"\n", line, gb_status_name(status), text,
            gb_status_name(got), gb_last_error());
    ++failures;
  }
}
#define EXPECT_ERROR(call, status, text) expect_error((call), (status), (text), __LINE__)

enum { N = 2, C = 3, H = 64, W = 64, CLASSES = 10 };
static const int64_t shape[4] = {N, C, H, W};
static float input[N * C * H * W];

static int other_thread_saw_no_error = 0;
static void* other_thread(void* arg) {
  (void)arg;
  other_thread_saw_no_error = strcmp(gb_last_error(), "") == 0;
  return NULL;
}

static unsigned char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  unsigned char* data;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  data = (unsigned char*)malloc(*size);
  if (fread(data, 1, *size, f) != *size) {
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

static int argmax(const float* v, int n) {
  int best = 0, i;
  for (i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

int main(int argc, char** argv) {
  gb_model *model = NULL, *from_bytes = NULL, *bad = NULL;
  gb_session *session = NULL, *session2 = NULL, *no_session = NULL;
  gb_explainer *gradcam = NULL, *reciprocam = NULL, *no_explainer = NULL;
  int64_t dims[4] = {0, 0, 0, 0};
  size_t rank = 0, count = 0, map_count = 0, target_count = 0, size = 0, i;
  const char *name = NULL, *layer = NULL;
  float logits[N * CLASSES], logits2[N * CLASSES], small[3];
  float* maps;
  int64_t classes[N * 2];
  unsigned char* bytes;
  const int64_t given[1] = {7}, out_of_range[1] = {10};
  pthread_t thread;

  if (argc != 2) {
    fprintf(stderr, "usage: test_c_api MODEL.onnx\n");
    return 2;
  }
  for (i = 0; i < sizeof input / sizeof input[0]; ++i) input[i] = (float)((i * 7919) % 1000) / 500.f - 1.f;

  /* version and status names */
  CHECK(strcmp(gb_version(), GLASSBOX_VERSION) == 0);
  CHECK(strcmp(gb_status_name(GB_ERROR_BUFFER_TOO_SMALL), "GB_ERROR_BUFFER_TOO_SMALL") == 0);
  CHECK(strcmp(gb_last_error(), "") == 0);

  /* the model: shape, layers */
  OK(gb_model_load(argv[1], &model));
  OK(gb_model_input_shape(model, dims, 4, &rank));
  CHECK(rank == 4 && dims[0] == -1 && dims[1] == 3 && dims[2] == 64 && dims[3] == 64);
  OK(gb_model_layer_count(model, &count));
  CHECK(count > 3);
  OK(gb_model_layer_name(model, 0, &name));
  CHECK(name && strlen(name) > 0);
  OK(gb_model_default_layer(model, &layer));
  CHECK(layer && strlen(layer) > 0);

  /* forward: sizes, then logits; the same from a second session with another thread count and from bytes */
  OK(gb_session_create(model, "cpu", 1, &session));
  OK(gb_session_output_size(session, shape, &count));
  CHECK(count == N * CLASSES);
  OK(gb_session_forward(session, input, shape, logits, N * CLASSES));
  bytes = read_file(argv[1], &size);
  CHECK(bytes != NULL);
  OK(gb_model_load_bytes(bytes, size, &from_bytes));
  free(bytes);
  OK(gb_session_create(from_bytes, NULL, 2, &session2));
  gb_model_free(from_bytes); /* the session keeps its model */
  OK(gb_session_forward(session2, input, shape, logits2, N * CLASSES));
  for (i = 0; i < N * CLASSES; ++i) CHECK(logits2[i] - logits[i] < 1e-4f && logits[i] - logits2[i] < 1e-4f);
  gb_session_free(session2);

  /* a gradient method: top-2 classes, sizes, maps in [0, 1] */
  OK(gb_explainer_create(model, "gradcam", NULL, "cpu", 1, &gradcam));
  OK(gb_explainer_layer(gradcam, &name));
  CHECK(strcmp(name, layer) == 0);
  OK(gb_explainer_output_size(gradcam, shape, 2, 0, &map_count, &target_count));
  CHECK(map_count == N * 2 * H * W && target_count == N * 2);
  maps = (float*)malloc(map_count * sizeof(float));
  OK(gb_explain(gradcam, input, shape, 2, NULL, 0, maps, map_count, classes, N * 2));
  for (i = 0; i < map_count; ++i) CHECK(maps[i] >= 0.f && maps[i] <= 1.f);
  CHECK(classes[0] == argmax(logits, CLASSES) && classes[2] == argmax(logits + CLASSES, CLASSES));
  CHECK(classes[0] != classes[1]);

  /* a perturbation method, one given class for every image, classes not wanted */
  OK(gb_explainer_create(model, "reciprocam", "", NULL, 1, &reciprocam));
  OK(gb_explainer_output_size(reciprocam, shape, 0, 1, &map_count, &target_count));
  CHECK(map_count == N * H * W && target_count == N);
  OK(gb_explain(reciprocam, input, shape, 0, given, 1, maps, map_count, NULL, 0));
  for (i = 0; i < map_count; ++i) CHECK(maps[i] >= 0.f && maps[i] <= 1.f);

  /* errors: each names what is wrong */
  EXPECT_ERROR(gb_model_load("/no/such/dir/model.onnx", &bad), GB_ERROR, "/no/such/dir/model.onnx");
  CHECK(bad == NULL);
  EXPECT_ERROR(gb_model_load(NULL, &bad), GB_ERROR_INVALID_ARGUMENT, "path is NULL");
  EXPECT_ERROR(gb_model_load_bytes("not onnx", 8, &bad), GB_ERROR, "gb_model_load_bytes");
  EXPECT_ERROR(gb_session_forward(session, input, shape, small, 3), GB_ERROR_BUFFER_TOO_SMALL, "20 needed");
  EXPECT_ERROR(gb_explain(gradcam, input, shape, 2, NULL, 0, maps, 100, NULL, 0), GB_ERROR_BUFFER_TOO_SMALL,
               "16384 needed");
  EXPECT_ERROR(gb_explain(gradcam, input, shape, 2, NULL, 0, maps, N * 2 * H * W, classes, 1),
               GB_ERROR_BUFFER_TOO_SMALL, "4 needed");
  EXPECT_ERROR(gb_explainer_create(model, "gradkam", NULL, NULL, 1, &no_explainer), GB_ERROR,
               "unknown explanation method 'gradkam' (available: cam, gradcam,");
  CHECK(strstr(gb_last_error(), "scorecam") && strstr(gb_last_error(), "reciprocam") && strstr(gb_last_error(), "rise"));
  CHECK(no_explainer == NULL);
  EXPECT_ERROR(gb_explainer_create(model, "gradcam", "no_such_layer", NULL, 1, &no_explainer), GB_ERROR,
               "no_such_layer");
  EXPECT_ERROR(gb_session_create(model, "tpu:0", 1, &no_session), GB_ERROR, "tpu:0");
  EXPECT_ERROR(gb_session_create(model, "cpu", -1, &no_session), GB_ERROR_INVALID_ARGUMENT, "threads");
  EXPECT_ERROR(gb_explain(reciprocam, input, shape, 0, out_of_range, 1, maps, N * H * W, NULL, 0), GB_ERROR,
               "target class 10 is out of range");
  EXPECT_ERROR(gb_explain(gradcam, input, shape, 0, NULL, 0, maps, N * H * W, NULL, 0), GB_ERROR_INVALID_ARGUMENT,
               "top_k");
  EXPECT_ERROR(gb_model_layer_name(model, 100000, &name), GB_ERROR_INVALID_ARGUMENT, "layer 100000");
  EXPECT_ERROR(gb_model_input_shape(model, dims, 2, &rank), GB_ERROR_BUFFER_TOO_SMALL, "4 needed");
  EXPECT_ERROR(gb_session_forward(NULL, input, shape, logits, N * CLASSES), GB_ERROR_INVALID_ARGUMENT,
               "session is NULL");
  {
    const int64_t bad_shape[4] = {N, C, 0, W};
    EXPECT_ERROR(gb_session_forward(session, input, bad_shape, logits, N * CLASSES), GB_ERROR_INVALID_ARGUMENT,
                 "[2, 3, 0, 64]");
  }
  /* the last error is per thread: another thread has none */
  CHECK(pthread_create(&thread, NULL, other_thread, NULL) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK(other_thread_saw_no_error);
  /* after errors, the handles still work */
  OK(gb_session_forward(session, input, shape, logits2, N * CLASSES));
  for (i = 0; i < N * CLASSES; ++i) CHECK(logits2[i] == logits[i]);

  free(maps);
  gb_explainer_free(reciprocam);
  gb_explainer_free(gradcam);
  gb_session_free(session);
  gb_model_free(model);
  gb_model_free(NULL);
  gb_session_free(NULL);
  gb_explainer_free(NULL);
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("C API: all checks passed\n");
  return failures ? 1 : 0;
}
