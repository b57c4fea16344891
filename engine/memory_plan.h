// Memory planning: intermediate values share one arena; a value's bytes are reused once its last reader has run.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace glassbox {

struct MemoryBlock {
  size_t bytes = 0;
  int first_step = 0, last_step = 0;  // alive from the step that writes it through the last step that reads it
  size_t offset = 0;                  // filled by plan_memory
};

// Assigns offsets so that blocks alive at the same time never overlap (greedy: largest first, lowest fitting
// offset); returns the arena size. Offsets are 64-byte aligned.
size_t plan_memory(std::vector<MemoryBlock>& blocks);

}  // namespace glassbox
