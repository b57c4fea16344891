#!/usr/bin/env bash
# The GPU run of the CUDA backend, on a machine with an NVIDIA GPU, from binaries built on a machine without one:
#
#   here:   make gpu-kit        Release build with CUDA (sm_90 + PTX), stripped binaries in build/gpu-kit/bin
#   there:  tools/gpu_check.sh [STAGE...]     stages: env tests models bench layers kernels peers explain perturb
#                                             vit dataset (default: all)
#
# carrying build/gpu-kit, build/models/efficientnet_lite0.onnx, build/models/efficientnet_lite0_test and
# build/photos (the bundled photos, 3.6 MB, for the dataset runner and evaluate; the device tool's carry list). The
# full-size models (resnet50, mobilenet_v2, ...) are exported there by "models" (PyTorch and ONNX Runtime of that
# machine). Logs, JSON and markdown tables go to $OUT (default build/gpu-check).
#   env     the GPU, driver, CUDA, cuDNN
#   tests   test_cuda_device; the backend harness (every op, every conv variant vs the CPU, guard bytes);
#           whole models on CUDA vs the CPU backend (small models, EfficientNet-Lite0), steady-state memory
#   models  export the six full-size torchvision models (resnet18/50, vgg16, densenet121, mobilenet_v2,
#           mobilenet_v3_small; random weights), then the same model test on them
#   bench   glassbox bench: batch 1/32/256, fp32 and TF32 variants and cuDNN, JSON + markdown
#   layers  resnet50 batch 256 per-layer table: each variant vs cuDNN, TFLOP/s, share of fp32 peak
#   kernels the kernel workbench (glassbox bench kernels; docs/kernels.md) on resnet50's and mobilenet_v2's distinct
#           convolutions at batch 1 and 32: every CUDA conv2d variant checked against the CPU's float64 direct
#           convolution, ms, GFLOP/s, GB/s, share of the fp32 and bandwidth peaks, time ratio to cuDNN
#   peers   tools/python/bench_gpu.py: PyTorch eager (TF32 off/on) and ONNX Runtime, interleaved with glassbox
#   explain resnet50 explanation time against the forward pass (glassbox bench --explain), gradient-ascent steps
#           against forward+backward (--ascent), and Grad-CAM next to
#           torchcam and pytorch-grad-cam (tools/python/bench_explain.py; their wheels come in build/gpu-kit/wheels)
#   perturb resnet50 at layer4: Score-CAM, ReciproCAM and RISE (4,000 masks) per image against F x our forward's
#           per-image time (glassbox bench --perturbation), and Score-CAM next to torchcam and pytorch-grad-cam
#           (chunks of 128)
#   vit     vision transformers (issue 8): export torchvision vit_b_16 (and the timm models where timm is
#           installed), the transformers' CUDA-vs-CPU model, gradient, map and attention tests, then vit_b_16's
#           forward, token Grad-CAM and attention methods (raw, rollout, grad-rollout) against the forward pass
#   dataset datasets and metrics (issue 9): the quality metrics on CUDA against the CPU; the dataset runner end to
#           end on build/photos (Grad-CAM, EfficientNet-Lite0, batch 8) against the in-memory forward and explainer
#           (glassbox bench --dataset), with 2 (the default) and 8 decode threads, and its stage utilization;
#           glassbox evaluate of every CAM method on the 25 photos at Petsiuk et al.'s full resolution (224 pixels
#           per step, SS-CAM and IS-CAM with their 10 samples): the GPU version of docs/evaluation.md's table
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-check}
mkdir -p "$OUT"
BIN=build/gpu-kit/bin
export GLASSBOX_SOURCE_DIR=$PWD
# Open MPI's libraries travel in the kit (make gpu-kit) for a glassbox built with MPI.
export LD_LIBRARY_PATH="$PWD/build/gpu-kit/lib:${LD_LIBRARY_PATH:-}"
STAGES=${*:-env tests models bench layers kernels peers explain perturb vit dataset}
VIT=build/models/full/vit_b_16/model.onnx
RESNET=build/models/full/resnet50/model.onnx
MOBILENET=build/models/full/mobilenet_v2/model.onnx
EFFNET=build/models/efficientnet_lite0.onnx
VARIANTS=implicit_gemm,implicit_gemm_tf32,cudnn,cudnn_tf32

# cuDNN for the cudnn variants (opened at run time): the system's, else the one in PyTorch's wheels.
if ! ldconfig -p 2>/dev/null | grep -q 'libcudnn.so.9'; then
  d=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(os.path.dirname(nvidia.cudnn.__file__), "lib"))' 2>/dev/null)
  [ -n "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
fi

run() {  # run NAME SECONDS COMMAND...: output to $OUT/NAME.log, status line to $OUT/summary.txt
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
  tail -3 "$OUT/$name.log"
}

for stage in $STAGES; do
  case $stage in
    env)
      { nvidia-smi; nvcc --version; python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
        echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; } > "$OUT/env.log" 2>&1
      head -20 "$OUT/env.log" ;;
    tests)
      run test_cuda_device 120 "$BIN/test_cuda_device"
      run test_backends 300 "$BIN/test_backends"
      run test_cuda_models 400 "$BIN/test_cuda_models" --gtest_filter='-*full_*' ;;
    models)
      run export_full_models 400 python3 tools/python/export_full_models.py --out build/models/full
      run test_cuda_models_full 400 "$BIN/test_cuda_models" --gtest_filter='*full_*' ;;
    bench)
      for m in "$RESNET" "$MOBILENET" "$EFFNET"; do
        n=$(basename "$(dirname "$m")"); [ "$n" = models ] && n=efficientnet_lite0
        run "bench_$n" 400 "$BIN/glassbox" bench "$m" --device cuda --batch 1,32,256 --conv-variant "$VARIANTS" \
          --iters 5 --json "$OUT/bench_$n.json"
      done ;;
    layers)
      run layers_resnet50 500 "$BIN/glassbox" bench "$RESNET" --device cuda --batch 256 --per-layer --iters 3 \
        --conv-variant implicit_gemm_128x128,implicit_gemm_64x64,implicit_gemm_tf32,direct,cudnn,cudnn_tf32 ;;
    kernels)
      for m in "$RESNET" "$MOBILENET"; do
        n=$(basename "$(dirname "$m")")
        for b in 1 32; do
          run "kernels_${n}_b$b" 500 "$BIN/glassbox" bench kernels "$m" --device cuda --batch "$b" --iters 5 \
            --json "$OUT/kernels_${n}_b$b.json"
        done
      done ;;
    peers)
      run peers 550 python3 tools/python/bench_gpu.py --glassbox "$BIN/glassbox" --batch 1 32 256 --pairs 5 \
        --conv-variants implicit_gemm implicit_gemm_tf32 --json "$OUT/peers.json" \
        --models resnet50="$RESNET" mobilenet_v2="$MOBILENET" efficientnet_lite0="$EFFNET" ;;
    explain)
      run explain_resnet50 400 "$BIN/glassbox" bench "$RESNET" --device cuda --batch 1,32,256 --iters 5 \
        --explain gradcam,gradcampp,layercam
      run ascent_resnet50 300 "$BIN/glassbox" bench "$RESNET" --device cuda --batch 1,16 --ascent 16 --iters 3
      python3 -m pip install -q --no-deps --target build/pylib build/gpu-kit/wheels/*.whl > "$OUT/wheels.log" 2>&1
      export PYTHONPATH="$PWD/build/pylib:${PYTHONPATH:-}"
      run explain_peers 500 python3 tools/python/bench_explain.py --glassbox "$BIN/glassbox" \
        --model "$RESNET" --device cuda --batch 1 32 256 --pairs 5 --json "$OUT/explain_peers.json" ;;
    perturb)
      run perturb_resnet50 400 "$BIN/glassbox" bench "$RESNET" --device cuda --perturbation scorecam,reciprocam,rise \
        --chunk 128 --iters 3
      python3 -m pip install -q --no-deps --target build/pylib build/gpu-kit/wheels/*.whl > "$OUT/wheels.log" 2>&1
      export PYTHONPATH="$PWD/build/pylib:${PYTHONPATH:-}"
      run perturb_peers 500 python3 tools/python/bench_explain.py --glassbox "$BIN/glassbox" --model "$RESNET" \
        --device cuda --method scorecam --chunk 128 --batch 1 --pairs 3 --json "$OUT/perturb_peers.json" ;;
    vit)
      run export_vit 300 python3 tools/python/export_full_models.py --out build/models/full \
        --only vit_b_16 vit_tiny_patch16_224 deit_tiny_distilled_patch16_224
      run test_cuda_vit 400 "$BIN/test_cuda_models" --gtest_filter='*vit*:*deit*:*Attention*'
      run bench_vit 300 "$BIN/glassbox" bench "$VIT" --device cuda --batch 1,32 --iters 5
      run explain_vit 300 "$BIN/glassbox" bench "$VIT" --device cuda --batch 1,32 --iters 5 --explain gradcam
      run attention_vit 400 "$BIN/glassbox" bench "$VIT" --device cuda --batch 1,32 --iters 5 \
        --attention raw,rollout,grad-rollout ;;
    dataset)
      run test_cuda_metrics 200 "$BIN/test_cuda_models" --gtest_filter='*Metrics*'
      for d in 2 8; do
        run "bench_dataset_d$d" 300 "$BIN/glassbox" bench "$EFFNET" --dataset build/photos --explain gradcam \
          --batch 8 --rounds 5 --decode-threads "$d" --device cuda --json "$OUT/bench_dataset_d$d.json"
      done
      run dataset_effnet 300 "$BIN/glassbox" explain "$EFFNET" --dataset build/photos --device cuda --batch 8 \
        --decode-threads 8 --out "$OUT/dataset_run" --quiet
      run evaluate_effnet 550 "$BIN/glassbox" evaluate "$EFFNET" build/photos --methods cams --device cuda \
        --out "$OUT/evaluate" --quiet ;;
    *) echo "unknown stage $stage (env tests models bench layers kernels peers explain perturb vit dataset)"; exit 2 ;;
  esac
done
