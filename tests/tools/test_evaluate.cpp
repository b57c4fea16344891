// glassbox evaluate's library (tools/dataset/evaluate.h): the percentile bootstrap on cases computed by hand and
// against the normal approximation, and evaluate() against direct NamedExplainer + metric calls on the same
// images (batches of 4 over 6 images, boxes through box_in_crop), with its table and files. On the tiny ViT of
// tests/data/vit_pointing (64x64 images with labels and one box each).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "explain/named.h"
#include "tests/support/testdata.h"
#include "tools/dataset/evaluate.h"

namespace fs = std::filesystem;

namespace glassbox::test {
namespace {

namespace ds = tools::dataset;

TEST(Bootstrap, SmallCasesByHand) {
  EXPECT_TRUE(std::isnan(ds::bootstrap_mean({}).mean));
  EXPECT_EQ(ds::bootstrap_mean({}).n, 0);
  const ds::Interval one = ds::bootstrap_mean({2.5});
  EXPECT_EQ(one.mean, 2.5);
  EXPECT_EQ(one.lo, 2.5);
  EXPECT_EQ(one.hi, 2.5);
  const ds::Interval same = ds::bootstrap_mean({4, 4, 4, 4}, 200, 7);
  EXPECT_EQ(same.lo, 4);
  EXPECT_EQ(same.hi, 4);
  // {0, 1}: a resample's mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4, so the 2.5% quantile of 10,000
  // resample means is 0 and the 97.5% quantile 1 (P(fewer than 250 zeros) ~ 1e-50).
  const ds::Interval two = ds::bootstrap_mean({0, 1}, 10000, 1);
  EXPECT_EQ(two.mean, 0.5);
  EXPECT_EQ(two.lo, 0);
  EXPECT_EQ(two.hi, 1);
  // A 50% interval of the same: the 25% and 75% quantiles sit inside the atom at 1/2 (mass 1/2 around the
  // middle), give or take sampling: 0 <= lo <= 1/2 <= hi <= 1 and both within 1/2 of the centre.
  const ds::Interval half = ds::bootstrap_mean({0, 1}, 10000, 1, 0.5);
  EXPECT_GE(half.lo, 0);
  EXPECT_LE(half.lo, 0.5);
  EXPECT_GE(half.hi, 0.5);
  EXPECT_LE(half.hi, 1);
  // The same seed gives the same interval.
  const ds::Interval again = ds::bootstrap_mean({0, 1}, 10000, 1);
  EXPECT_EQ(again.lo, two.lo);
  EXPECT_EQ(again.hi, two.hi);
}

// n = 400 values 0, 1, 0, 1, ...: mean 1/2, the bootstrap's standard error sqrt(p (1 - p) / n) = 0.025, so the 95%
// interval is 1/2 -+ 1.96 * 0.025 = [0.451, 0.549] up to the resampling's own noise (~0.002 with 4,000 resamples).
TEST(Bootstrap, MatchesTheNormalApproximation) {
  std::vector<double> v(400);
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i % 2);
  const ds::Interval r = ds::bootstrap_mean(v, 4000, 3);
  EXPECT_DOUBLE_EQ(r.mean, 0.5);
  EXPECT_NEAR(r.lo, 0.5 - 1.96 * 0.025, 0.006);
  EXPECT_NEAR(r.hi, 0.5 + 1.96 * 0.025, 0.006);
  EXPECT_EQ(r.n, 400);
}

std::string vit_dir() { return source_dir() + "/tests/data/vit_pointing"; }

TEST(Evaluate, EqualsDirectMetricCalls) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  ds::Dataset data = ds::Dataset::open(vit_dir() + "/boxes.json");
  data.items.resize(6);
  // An image whose box the crop cuts away entirely counts in no pointing game: with a resize to 80 before the
  // 64-pixel crop, the crop starts at (8, 8) and image 5's box, moved to the corner, covers [0, 2.5) there.
  data.items[5].boxes = {{0, 0, 1, 1}};

  ds::EvaluateOptions o;
  o.methods = {"gradcam", "rollout"};
  o.session.threads = 1;
  o.batch = 4;
  o.metrics.pixels_per_step = 512;  // 8 steps over 64 x 64
  o.preprocess = tools::Preprocess::for_model(model->input_shape(), model->metadata("glassbox.preprocess"));
  o.preprocess.resize = 80;
  const ds::Evaluation e = ds::evaluate(model, data, o);
  EXPECT_EQ(e.steps, 8);
  EXPECT_TRUE(e.failed.empty());
  EXPECT_TRUE(e.boxes);
  ASSERT_EQ(e.images.size(), 6u);
  ASSERT_EQ(e.methods.size(), 2u);

  // All six images in one batch, explained and scored directly.
  std::vector<tools::Image> images;
  std::vector<std::vector<explain::Box>> boxes;
  for (const auto& item : data.items) {
    images.push_back(tools::load_image(item.path));
    std::vector<explain::Box> bx;
    for (const auto& b : item.boxes) {
      std::array<int64_t, 4> c{};
      if (tools::box_in_crop(b, images.back().width, images.back().height, o.preprocess, c))
        bx.push_back({c[0], c[1], c[2], c[3]});
    }
    boxes.push_back(bx);
  }
  ASSERT_FALSE(boxes[0].empty());
  ASSERT_TRUE(boxes[5].empty());
  const Tensor x = tools::make_batch(images, o.preprocess);
  for (size_t m = 0; m < 2; ++m) {
    const ds::MethodEvaluation& me = e.methods[m];
    EXPECT_EQ(me.method, o.methods[m]);
    ASSERT_EQ(me.maps.size(), 6u);
    explain::NamedExplainer ex(model, o.methods[m], o.session);
    const auto r = ex.explain(x, {});
    const explain::Curves c = explain::deletion_insertion(ex.session(), x, r.maps, r.targets.classes, o.metrics);
    const explain::ConfidenceChange cc = explain::confidence_change(ex.session(), x, r.maps, r.targets.classes);
    const explain::Pointing p = explain::pointing_game(ex.session(), r.maps, boxes);
    const Tensor del = c.deletion_auc.to(Device::cpu()), ins = c.insertion_auc.to(Device::cpu());
    const Tensor curve = c.insertion.to(Device::cpu());
    const auto classes = r.targets.class_list();
    for (size_t i = 0; i < 6; ++i) {
      const ds::MapScore& s = me.maps[i];
      EXPECT_EQ(s.image, data.items[i].file);
      EXPECT_EQ(s.cls, classes[i]);
      EXPECT_NEAR(s.deletion, del.data<float>()[i], 1e-5) << me.method << " " << i;
      EXPECT_NEAR(s.insertion, ins.data<float>()[i], 1e-5) << me.method << " " << i;
      EXPECT_NEAR(s.drop, cc.drop[i], 1e-3) << me.method << " " << i;
      EXPECT_EQ(s.increase, cc.increase[i]) << me.method << " " << i;
      EXPECT_EQ(s.hit, p.hit[i]) << me.method << " " << i;
      if (i == 5) EXPECT_TRUE(std::isnan(s.energy));
      else EXPECT_NEAR(s.energy, p.energy[i], 1e-5) << me.method << " " << i;
      ASSERT_EQ(me.insertion[i].size(), 9u);
      for (size_t k = 0; k < 9; ++k) EXPECT_NEAR(me.insertion[i][k], curve.data<float>()[i * 9 + k], 1e-5);
    }
  }

  // The table: a row per method, the pointing columns (the dataset has boxes), "mean [lo, hi]" cells.
  const ds::Summary summary = ds::summarize(e, 200, 0);
  const std::string table = ds::evaluation_table(e, summary);
  EXPECT_NE(table.find("| gradcam | "), std::string::npos) << table;
  EXPECT_NE(table.find("| rollout | "), std::string::npos) << table;
  EXPECT_NE(table.find("pointing game %"), std::string::npos) << table;
  double hits = 0;
  for (int i = 0; i < 5; ++i) hits += e.methods[1].maps[size_t(i)].hit;
  char cell[32];
  std::snprintf(cell, sizeof cell, "| %.1f [", 100 * hits / 5);  // 5 maps with a box count
  EXPECT_NE(table.find(cell), std::string::npos) << cell << "\n" << table;

  // The files: evaluation.json's summary equals the table's means; one PNG per method; the mean curves.
  const fs::path out = fs::path(::testing::TempDir()) / "glassbox_evaluate";
  fs::remove_all(out);
  const auto written = ds::write_evaluation(e, summary, out.string());
  EXPECT_EQ(written.size(), 4u);
  std::ifstream f(out / "evaluation.json");
  const auto doc = nlohmann::json::parse(f);
  double mean_del = 0;
  for (const auto& s : e.methods[0].maps) mean_del += s.deletion / 6;
  EXPECT_NEAR(doc["methods"][0]["summary"]["deletion AUC"]["mean"].get<double>(), mean_del, 1e-12);
  EXPECT_EQ(doc["methods"][1]["summary"]["pointing game %"]["n"].get<int>(), 5);
  EXPECT_EQ(doc["methods"][0]["maps"].size(), 6u);
  EXPECT_TRUE(fs::file_size(out / "curves" / "rollout.png") > 0);
  std::ifstream csv(out / "curves.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header, "method,curve,point,fraction,mean_probability");
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 2 * 2 * 9);
}

TEST(Evaluate, ErrorsSayWhatIsWrong) {
  auto model = Model::load(vit_dir() + "/model.onnx");
  ds::Dataset data = ds::Dataset::open(vit_dir() + "/images");
  data.items.resize(2);
  ds::EvaluateOptions o;
  o.session.threads = 1;
  o.methods = {"gradcam"};
  o.target_label = true;
  try {
    ds::evaluate(model, data, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has none"), std::string::npos) << e.what();
  }
  o.target_label = false;
  o.methods = {"gradcan"};
  try {
    ds::evaluate(model, data, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gradcampp"), std::string::npos) << e.what();  // lists the names
  }
  for (auto& item : data.items) item.path += ".missing";
  o.methods = {"gradcam"};
  try {
    ds::evaluate(model, data, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("decoded"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glassbox::test
