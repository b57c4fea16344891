#include "engine/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace glassbox {

size_t plan_memory(std::vector<MemoryBlock>& blocks) {
  constexpr size_t kAlign = 64;
  std::vector<size_t> order(blocks.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return blocks[a].bytes > blocks[b].bytes; });
  std::vector<size_t> placed;
  size_t arena = 0;
  for (size_t i : order) {
    MemoryBlock& b = blocks[i];
    const size_t need = (b.bytes + kAlign - 1) / kAlign * kAlign;
    // Intervals [offset, offset+size) of placed blocks whose lifetimes overlap this one, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      const MemoryBlock& o = blocks[j];
      if (o.first_step <= b.last_step && b.first_step <= o.last_step)
        busy.emplace_back(o.offset, o.offset + (o.bytes + kAlign - 1) / kAlign * kAlign);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [lo, hi] : busy) {
      if (offset + need <= lo) break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    arena = std::max(arena, offset + need);
    placed.push_back(i);
  }
  return arena;
}

}  // namespace glassbox
