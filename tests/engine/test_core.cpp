// Engine core: tensors and views, the memory plan, the thread pool.
#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include "engine/memory_plan.h"
#include "engine/model.h"
#include "kernels/cpu/thread_pool.h"

namespace glassbox {
namespace {

TEST(Tensor, ShapesViewsAndCopies) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.dim(-1), 3);
  Tensor r = t.reshape({3, 2});
  EXPECT_EQ(r.data<float>(), t.data<float>());  // a view: same memory
  Tensor s = t.slice(1, 2);
  EXPECT_EQ(s.shape(), (Shape{1, 3}));
  EXPECT_EQ(s.data<float>()[0], 3.f);
  Tensor c = t.clone();
  c.data<float>()[0] = 42.f;
  EXPECT_EQ(t.data<float>()[0], 0.f);  // a copy: separate memory
  EXPECT_THROW(t.reshape({4, 2}), Error);
  EXPECT_THROW(t.slice(1, 3), Error);
  EXPECT_THROW(t.data<double>(), Error);
  Tensor d = Tensor::zeros({2}, DType::f64);
  EXPECT_EQ(d.data<double>()[1], 0.0);
  EXPECT_EQ(shape_str({2, -1}), "[2, ?]");
}

TEST(Device, ParsesAndRejects) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_THROW(Device::parse("tpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
}

// Blocks alive at the same time never overlap, and the arena is no larger than needed by a wide margin.
// A session's pool: a freed block of the same rounded size comes back; different sizes get their own; buffers keep
// the pool alive after its owner has dropped it.
TEST(CachingAllocator, ReusesFreedBlocksAndOutlivesItsOwner) {
  auto pool = std::make_shared<CachingAllocator>(Device::cpu());
  void* a = nullptr;
  {
    Tensor t = Tensor::empty({100}, DType::f32, Device::cpu(), pool);
    a = t.raw();
    EXPECT_EQ(pool->held_bytes(), 512u);  // 400 bytes rounded up to 256-byte multiples
  }
  Tensor same = Tensor::empty({90}, DType::f32, Device::cpu(), pool);  // 360 bytes: the same 512-byte block
  EXPECT_EQ(same.raw(), a);
  Tensor other = Tensor::empty({200}, DType::f32, Device::cpu(), pool);
  EXPECT_NE(other.raw(), a);
  EXPECT_EQ(pool->held_bytes(), 512u + 1024u);
  EXPECT_EQ(pool->peak_bytes(), 512u + 1024u);
  std::weak_ptr<CachingAllocator> watch = pool;
  pool.reset();
  EXPECT_FALSE(watch.expired());  // the two tensors still hold it
  same = Tensor();
  other = Tensor();
  EXPECT_TRUE(watch.expired());
}

TEST(MemoryPlan, NoOverlapWhileAlive) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<MemoryBlock> blocks;
    for (int i = 0; i < 40; ++i) {
      const int first = static_cast<int>(rng() % 30);
      blocks.push_back({1 + rng() % 5000, first, first + static_cast<int>(rng() % 6), 0});
    }
    const size_t arena = plan_memory(blocks);
    for (size_t i = 0; i < blocks.size(); ++i) {
      EXPECT_EQ(blocks[i].offset % 64, 0u);
      EXPECT_LE(blocks[i].offset + blocks[i].bytes, arena);
      for (size_t j = i + 1; j < blocks.size(); ++j) {
        const bool alive_together = blocks[i].first_step <= blocks[j].last_step && blocks[j].first_step <= blocks[i].last_step;
        const bool apart = blocks[i].offset + blocks[i].bytes <= blocks[j].offset ||
                           blocks[j].offset + blocks[j].bytes <= blocks[i].offset;
        EXPECT_TRUE(!alive_together || apart) << "blocks " << i << " and " << j;
      }
    }
  }
}

TEST(MemoryPlan, ReusesAChain) {
  // A chain a -> b -> c -> d: each block dies after the next is written, so two slots suffice.
  std::vector<MemoryBlock> blocks = {{1000, 0, 1, 0}, {1000, 1, 2, 0}, {1000, 2, 3, 0}, {1000, 3, 4, 0}};
  EXPECT_EQ(plan_memory(blocks), 2 * 1024u);
}

TEST(ThreadPool, CoversEveryIndexOnce) {
  kernels::cpu::ThreadPool pool(4);
  for (int64_t n : {0, 1, 3, 17, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    for (auto& h : hits) h = 0;
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(Backend, UnknownVariantListsTheKnownOnes) {
  auto b = kernels::make_cpu_backend(1);
  EXPECT_EQ(b->selected_variant("conv2d"), "im2col_gemm");
  try {
    b->select_variant("conv2d", "winograd");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("im2col_gemm"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("direct"), std::string::npos);
  }
  EXPECT_THROW(kernels::make_backend(Device::cuda(0)), Error);
}

}  // namespace
}  // namespace glassbox
