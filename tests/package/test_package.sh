#!/usr/bin/env bash
# The installed package from outside (ctest label `package`): installs BUILD_DIR to a temporary prefix, checks what
# was installed (one include directory, no protobuf headers, only glassbox's symbols exported), then builds
# tests/package/consumer against it with find_package(glassbox) — C++ and C programs, each against the shared and
# the static library, and the example application — and runs them on a small model, on the CPU.
# usage: test_package.sh BUILD_DIR SOURCE_DIR C_COMPILER CXX_COMPILER
set -euo pipefail
build=$1 src=$2 cc=$3 cxx=$4
model=$src/tests/data/models/resnet_basic/model.onnx
work=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "test_package: $*" >&2; exit 1; }

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log"

# Headers: the entry points at the top of the one include directory, nothing that needs protobuf or the sources.
inc=$prefix/include/glassbox
for h in glassbox.h glassbox_c.h engine/version.h engine/model.h explain/named.h tools/glassbox/image.h; do
  [ -f "$inc/$h" ] || fail "$inc/$h was not installed"
done
if grep -rlE 'google/protobuf|\.pb\.h|onnx/' "$inc"; then fail "installed headers refer to protobuf"; fi

# The shared library's dynamic symbols: those tools/package/api_symbols.txt keeps global (glassbox's namespace and
# the C API) alone — besides the standard library's GNU_UNIQUE objects (nm type u: static locals of its inline
# functions, one per process by design); protobuf's, stb_image's and the CUDA runtime's stay inside.
lib=$(find "$prefix" -name 'libglassbox.so' | head -n 1)
[ -n "$lib" ] && [ -f "$(find "$prefix" -name 'libglassbox.a' | head -n 1)" ] || fail "libraries not installed"
kept=$(sed -e 's/#.*//' -e '/^ *$/d' -e 's/\*/.*/g' -e 's/^/^/' -e 's/$/$/' "$src/tools/package/api_symbols.txt" |
       paste -sd'|')
nm -D --defined-only "$lib" | awk '$2 != "u" {print $3}' | grep -vE "$kept" |
  grep -vE '^(_init|_fini|_edata|_end|__bss_start)$' > "$work/foreign_symbols" || true
if [ -s "$work/foreign_symbols" ]; then
  head -n 20 "$work/foreign_symbols" | c++filt >&2
  fail "libglassbox.so exports $(wc -l < "$work/foreign_symbols") symbols outside tools/package/api_symbols.txt"
fi
echo "libglassbox.so exports $(nm -D --defined-only "$lib" | wc -l) symbols, all glassbox:: or gb_*"

cmake -S "$src/tests/package/consumer" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
      -DGLASSBOX_EXAMPLES_DIR="$src/tools/examples" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
grep 'glassbox .* from' "$work/configure.log"
cmake --build "$work/consumer" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }

bin=$work/consumer
mkdir -p "$work/images"
for form in shared static; do
  "$bin/consumer_cpp_$form" "$model" "$work/images" > "$work/cpp_$form.out"
  "$bin/consumer_c_$form" "$model" > "$work/c_$form.out"
done
cat "$work/cpp_shared.out" "$work/c_shared.out"
cmp "$work/cpp_shared.out" "$work/cpp_static.out" || fail "the C++ consumer differs between shared and static"
cmp "$work/c_shared.out" "$work/c_static.out" || fail "the C consumer differs between shared and static"
# The C API gives what the C++ API gives (the first two lines: version, layer, logit, classes, Grad-CAM mean).
diff <(head -n 2 "$work/cpp_shared.out") <(head -n 2 "$work/c_shared.out") || fail "the C and C++ APIs differ"

# The shared programs load the installed library; the static ones need no libglassbox at run time.
ldd "$bin/consumer_c_shared" > "$work/ldd_shared"
ldd "$bin/consumer_c_static" > "$work/ldd_static"
grep "$prefix/.*libglassbox.so" "$work/ldd_shared" || fail "consumer_c_shared does not use $lib"
if grep libglassbox "$work/ldd_static"; then fail "consumer_c_static needs libglassbox.so"; fi

# The example application over the folder the C++ consumer wrote a PNG into, two workers.
"$bin/explain_folder" "$model" "$work/images" --threads 2 --top 2 --out "$work/maps"
[ "$(ls "$work/maps"/synthetic_gradcam_*.png | wc -l)" = 2 ] || fail "explain_folder did not write 2 overlays"
echo "package test passed"
