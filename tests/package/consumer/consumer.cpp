// The C++ API from outside: load, forward, Grad-CAM, a glassbox::Error caught by type, and the image functions
// (a synthetic PNG written, read back, preprocessed and classified). Prints a summary that consumer.c's must equal.
// usage: consumer_cpp MODEL.onnx IMAGE_DIR   (a [N, 3, 64, 64] classifier; IMAGE_DIR receives synthetic.png)
#include <glassbox.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: consumer_cpp MODEL.onnx IMAGE_DIR\n");
    return 2;
  }
  try {
    auto model = glassbox::Model::load(argv[1]);
    glassbox::SessionOptions options;
    options.threads = 1;
    // The input consumer.c makes too.
    glassbox::Shape shape = model->input_shape();
    shape[0] = 2;
    glassbox::Tensor x = glassbox::Tensor::empty(shape);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float((i * 7919) % 1000) / 500.f - 1.f;

    glassbox::Session session(model, options);
    const glassbox::Tensor logits = session.run(x).output().to(glassbox::Device::cpu());
    glassbox::explain::NamedExplainer gradcam(model, "gradcam", options);
    glassbox::explain::Target top1;  // the top class of each image
    top1.top = 1;
    const auto e = gradcam.explain(x, top1);
    const glassbox::Tensor maps = e.maps.to(glassbox::Device::cpu());
    double sum = 0;
    for (int64_t i = 0; i < maps.numel(); ++i) sum += maps.data<float>()[i];
    const auto classes = e.targets.class_list();
    std::printf("glassbox %s, layer %s\n", GLASSBOX_VERSION, gradcam.layer().c_str());
    std::printf("logit[0] %.4f, classes %lld %lld, gradcam mean %.4f\n", logits.data<float>()[0],
                static_cast<long long>(classes[0]), static_cast<long long>(classes[1]), sum / double(maps.numel()));

    try {
      glassbox::Model::load("/no/such/model.onnx");
      std::fprintf(stderr, "no error for a missing file\n");
      return 1;
    } catch (const glassbox::Error& error) {  // the library's exception type, across the library's boundary
      std::printf("error caught: %s\n", error.what());
    }

    glassbox::tools::Image image;
    image.width = 96, image.height = 80;
    image.rgb.resize(size_t(image.width * image.height * 3));
    for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>((i * 31) % 251);
    const std::string png = std::string(argv[2]) + "/synthetic.png";
    glassbox::tools::save_png(png, image);
    glassbox::tools::Preprocess pre = glassbox::tools::Preprocess::parse("resize=73;crop=64");
    const glassbox::Tensor batch = glassbox::tools::make_batch({glassbox::tools::load_image(png)}, pre);
    const glassbox::Tensor z = session.run(batch).output().to(glassbox::Device::cpu());
    std::printf("%s: %lld logits\n", png.c_str(), static_cast<long long>(z.numel()));
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "consumer_cpp: %s\n", error.what());
    return 1;
  }
}
