// The vector instruction set of the CPU kernels (context.h): what this CPU supports and which one a session uses.
#include <cstdlib>

#include "engine/error.h"
#include "kernels/cpu/context.h"

namespace glassbox::kernels::cpu {

bool isa_supported(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::avx512: return __builtin_cpu_supports("avx512f");
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::generic: return true;
  }
  return false;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::generic: return "generic";
  }
  return "?";
}

Isa isa_named(const std::string& name) {
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic})
    if (name == isa_name(isa)) {
      GB_CHECK(isa_supported(isa), "instruction set '", name, "' is not supported by this CPU");
      return isa;
    }
  fail("unknown instruction set '", name, "' (avx512, avx2, generic)");
}

Isa default_isa() {
  if (const char* forced = std::getenv("GLASSBOX_CPU_ISA"); forced && *forced) {
    try {
      return isa_named(forced);
    } catch (const Error& e) {
      fail("GLASSBOX_CPU_ISA: ", e.what());
    }
  }
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (isa_supported(isa)) return isa;
  return Isa::generic;
}

}  // namespace glassbox::kernels::cpu
