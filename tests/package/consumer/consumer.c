/* The C API from outside: load, forward, Grad-CAM; prints the summary line consumer.cpp prints for the same input.
 * usage: consumer_c MODEL.onnx   (a [N, 3, 64, 64] classifier) */
#include <glassbox_c.h>
#include <stdio.h>
#include <stdlib.h>

#define TRY(call)                                                                      \
  do {                                                                                 \
    if ((call) != GB_OK) {                                                             \
      fprintf(stderr, "consumer_c: %s\n", gb_last_error());                            \
      return 1;                                                                        \
    }                                                                                  \
  } while (0)

int main(int argc, char** argv) {
  const int64_t shape[4] = {2, 3, 64, 64};
  const size_t n = 2 * 3 * 64 * 64;
  gb_model *model = NULL, *missing = NULL;
  gb_session* session = NULL;
  gb_explainer* gradcam = NULL;
  const char* layer = NULL;
  size_t i, logit_count = 0, map_count = 0, target_count = 0;
  float *input, *logits, *maps;
  int64_t classes[2];
  double sum = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: consumer_c MODEL.onnx\n");
    return 2;
  }
  input = (float*)malloc(n * sizeof(float));
  for (i = 0; i < n; ++i) input[i] = (float)((i * 7919) % 1000) / 500.f - 1.f;

  TRY(gb_model_load(argv[1], &model));
  TRY(gb_session_create(model, "cpu", 1, &session));
  TRY(gb_session_output_size(session, shape, &logit_count));
  logits = (float*)malloc(logit_count * sizeof(float));
  TRY(gb_session_forward(session, input, shape, logits, logit_count));

  TRY(gb_explainer_create(model, "gradcam", NULL, "cpu", 1, &gradcam));
  TRY(gb_explainer_layer(gradcam, &layer));
  TRY(gb_explainer_output_size(gradcam, shape, 1, 0, &map_count, &target_count));
  maps = (float*)malloc(map_count * sizeof(float));
  TRY(gb_explain(gradcam, input, shape, 1, NULL, 0, maps, map_count, classes, 2));
  for (i = 0; i < map_count; ++i) sum += maps[i];

  printf("glassbox %s, layer %s\n", gb_version(), layer);
  printf("logit[0] %.4f, classes %lld %lld, gradcam mean %.4f\n", logits[0], (long long)classes[0],
         (long long)classes[1], sum / (double)map_count);
  if (gb_model_load("/no/such/model.onnx", &missing) != GB_ERROR || missing) return 1;
  printf("error: %s\n", gb_last_error());

  free(maps);
  free(logits);
  free(input);
  gb_explainer_free(gradcam);
  gb_session_free(session);
  gb_model_free(model);
  return 0;
}
