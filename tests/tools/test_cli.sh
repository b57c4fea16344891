#!/usr/bin/env bash
# The command line end to end on the bundled model: inspect, run (text and JSON), and bad inputs
# (a missing image, a non-image, a bad model file) giving one-line errors and a non-zero exit while the
# other images are still processed.
set -u
GB="$1"; ASSETS="$2"
MODEL="$ASSETS/models/efficientnet_lite0.onnx"; PHOTOS="$ASSETS/photos"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fails=0; total=0
check() { total=$((total+1)); if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails+1)); fi; }

"$GB" >/dev/null 2>&1; rc=$?; check "no arguments exits 2" '[ $rc -eq 2 ]'
"$GB" inspect "$MODEL" >"$TMP/inspect.txt"; rc=$?; check "inspect exits 0" '[ $rc -eq 0 ]'
check "inspect lists layers with shapes" 'grep -q "Conv.*\[1, 32, 112, 112\]" "$TMP/inspect.txt" && grep -q "logits.*Gemm.*\[1, 1000\]" "$TMP/inspect.txt"'

"$GB" run "$MODEL" "$PHOTOS/chelsea.png" --top 3 >"$TMP/run.txt"; rc=$?; check "run exits 0" '[ $rc -eq 0 ]'
check "run prints a cat class first" 'sed -n 2p "$TMP/run.txt" | grep -Eq "28[1-5]"'

echo "not an image" >"$TMP/notes.jpg"
"$GB" run "$MODEL" "$TMP/missing.png" "$TMP/notes.jpg" "$PHOTOS/coffee.png" --json >"$TMP/run.json" 2>"$TMP/err.txt"
rc=$?; check "bad images give a non-zero exit" '[ $rc -ne 0 ]'
check "one error line per bad image" '[ $(wc -l <"$TMP/err.txt") -eq 2 ] && grep -q "missing.png: cannot open" "$TMP/err.txt" && grep -q "notes.jpg: not a readable image" "$TMP/err.txt"'
check "the good image is still processed" 'grep -q "coffee.png\", \"top\": \[{\"index\": 967" "$TMP/run.json"'
check "json errors are records too" '[ $(grep -c "\"error\"" "$TMP/run.json") -eq 2 ]'
"$GB" run "$MODEL" "$PHOTOS/coffee.png" --json --logits --top 1 >"$TMP/logits.json"
check "--logits adds 1000 logits" '[ $(grep -o "\"logits\": \[[^]]*\]" "$TMP/logits.json" | tr "," "\n" | wc -l) -eq 1000 ]'

head -c 1000 "$MODEL" >"$TMP/truncated.onnx"
"$GB" inspect "$TMP/truncated.onnx" >/dev/null 2>"$TMP/err2.txt"
rc=$?; check "a truncated model is a one-line error" '[ $rc -eq 1 ] && [ $(wc -l <"$TMP/err2.txt") -eq 1 ] && grep -q "truncated.onnx" "$TMP/err2.txt"'
"$GB" run "$MODEL" "$PHOTOS/coffee.png" --preprocess "resize=banana" >/dev/null 2>"$TMP/err3.txt"
rc=$?; check "a bad preprocess spec is a one-line error" '[ $rc -eq 1 ] && grep -q "resize" "$TMP/err3.txt"'

"$GB" bench "$MODEL" --batch 1,2 --iters 1 --warmup 0 --conv-variant im2col_gemm,direct --json "$TMP/bench.json" >"$TMP/bench.txt"
check "bench tables every batch and variant" '[ $(grep -c "^| efficientnet_lite0 | [12] | cpu | " "$TMP/bench.txt") -eq 4 ] && [ $(grep -c "images_per_s" "$TMP/bench.json") -eq 4 ]'
"$GB" bench "$MODEL" --batch 1,x >/dev/null 2>"$TMP/err4.txt"
rc=$?; check "bench rejects a bad batch list" '[ $rc -eq 1 ] && grep -q "batch" "$TMP/err4.txt"'
KMODEL="$(dirname "$0")/../data/models/resnet_basic/model.onnx"
"$GB" bench kernels "$KMODEL" --iters 1 --sample-ms 1 --json "$TMP/kernels.json" >"$TMP/kernels.txt" 2>&1
rc=$?; check "bench kernels checks every conv2d variant on the model's convolutions" '[ $rc -eq 0 ] && for v in im2col_gemm direct winograd_f2x3; do [ $(grep -c "| $v | ok " "$TMP/kernels.txt") -eq 9 ] || exit 1; done && ! grep -q FAIL "$TMP/kernels.txt" && grep -q "all checks passed" "$TMP/kernels.txt" && [ $(grep -c "\"check\": \"ok\"" "$TMP/kernels.json") -eq $(grep -c "\"check\": " "$TMP/kernels.json") ] && [ $(grep -c "\"check\": \"ok\"" "$TMP/kernels.json") -ge 27 ]'
check "bench kernels reports the measured CPU peaks and the cuDNN note" 'grep -q "measured on this machine" "$TMP/kernels.txt" && grep -q "no cuDNN ratio" "$TMP/kernels.txt" && grep -q "1x64x16x16 \* 64x64x3x3 s1 p1 +Relu | 1 |" "$TMP/kernels.txt"'
"$GB" bench kernels --op sgemm --shapes "64,100,30;7,5,3" --variants generic_6x16 --iters 1 >"$TMP/sgemm.txt" 2>&1
rc=$?; check "bench kernels --op sgemm checks given GEMM shapes" '[ $rc -eq 0 ] && [ $(grep -c "| generic_6x16 | ok " "$TMP/sgemm.txt") -eq 2 ] && grep -q "no cuBLAS ratio" "$TMP/sgemm.txt"'
"$GB" bench kernels --shapes "1,64,56:64,3,3" >/dev/null 2>"$TMP/err_kernels.txt"
rc=$?; check "bench kernels rejects a bad --shapes spec and says what it expected" '[ $rc -eq 1 ] && [ $(wc -l <"$TMP/err_kernels.txt") -eq 1 ] && grep -q "bad entry .1,64,56:64,3,3.: expected N,C,H,W:M,KH,KW" "$TMP/err_kernels.txt"'
"$GB" bench kernels --shapes "1,8,8,8:8,3,3" --variants winograd >/dev/null 2>"$TMP/err_kernels2.txt"
rc=$?; check "bench kernels names the registered variants for an unknown one" '[ $rc -eq 1 ] && grep -q "registered: im2col_gemm, direct, winograd_f2x3" "$TMP/err_kernels2.txt"'
"$GB" run "$MODEL" "$PHOTOS/coffee.png" --device cuda:7 >/dev/null 2>"$TMP/err5.txt"
rc=$?; check "an absent CUDA device is a one-line error" '[ $rc -eq 1 ] && [ $(wc -l <"$TMP/err5.txt") -eq 1 ] && grep -q "CUDA device 7\|cuda:7" "$TMP/err5.txt"'

"$GB" explain "$MODEL" "$PHOTOS/coffee.png" "$TMP/missing.png" --method gradcam,gradcampp --top 2 --out "$TMP/ex" --save-raw \
  --html "$TMP/ex/index.html" >"$TMP/explain.txt" 2>"$TMP/err6.txt"
rc=$?; check "explain writes an overlay and a map per method and class" '[ $rc -eq 1 ] && [ $(ls "$TMP/ex"/coffee_*_96[78].png | wc -l) -eq 4 ] && [ $(ls "$TMP/ex"/coffee_*.npy | wc -l) -eq 4 ] && grep -q "missing.png" "$TMP/err6.txt"'
check "explain's .npy maps are float32 224x224" 'head -c 128 "$TMP/ex/coffee_gradcam_967.npy" | grep -q "<f4.*(224, 224)"'
check "explain's page lists the top-5 and every map" '[ $(grep -o "<img" "$TMP/ex/index.html" | wc -l) -eq 5 ] && grep -q "espresso" "$TMP/ex/index.html"'
"$GB" explain "$MODEL" "$PHOTOS/coffee.png" --method layercam --fuse-layers blocks.3,blocks.5 --out "$TMP/fused" --save-raw \
  >/dev/null 2>"$TMP/err8.txt"
rc=$?
"$GB" explain "$MODEL" "$PHOTOS/coffee.png" --method layercam --out "$TMP/plain" --save-raw >/dev/null 2>&1
check "explain fuses LayerCAM over layers" '[ $rc -eq 0 ] && [ -f "$TMP/fused/coffee_layercam_967.npy" ] && ! cmp -s "$TMP/fused/coffee_layercam_967.npy" "$TMP/plain/coffee_layercam_967.npy"'
"$GB" explain "$MODEL" "$PHOTOS/coffee.png" --method reciprocam,rise,gradcam --rise-masks 8 --chunk 4 --out "$TMP/pert" \
  --save-raw >"$TMP/pert.txt" 2>"$TMP/err9.txt"
rc=$?; check "explain runs perturbation methods next to gradient ones, with progress" '[ $rc -eq 0 ] && [ -f "$TMP/pert/coffee_reciprocam_967.npy" ] && [ -f "$TMP/pert/coffee_rise_967.npy" ] && [ -f "$TMP/pert/coffee_gradcam_967.npy" ] && grep -q "forward passes queued" "$TMP/err9.txt"'
"$GB" explain "$MODEL" "$PHOTOS/coffee.png" --method gradcam --layer blockz --out "$TMP/ex" >/dev/null 2>"$TMP/err7.txt"
rc=$?; check "a wrong layer name lists the nearest names" '[ $rc -eq 1 ] && grep -q "nearest names" "$TMP/err7.txt"'

png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $3*256+$4 "x" $7*256+$8}'; }
"$GB" features "$MODEL" "$PHOTOS/coffee.png" "$PHOTOS/chelsea.png" "$TMP/missing.png" --layer blocks.3 --out "$TMP/feat" \
  >"$TMP/features.txt" 2>"$TMP/err_features.txt"
rc=$?; check "features writes a grid of every channel and an energy overlay per image" '[ $rc -eq 1 ] && [ "$(png_size "$TMP/feat/coffee_blocks.3_grid.png")" = 400x343 ] && [ "$(png_size "$TMP/feat/chelsea_blocks.3_energy.png")" = 224x224 ] && grep -q "missing.png" "$TMP/err_features.txt"'
check "features prints the layer statistics over the batch" 'grep -q "statistics of blocks.3 \[40, 28, 28\] over 2 images" "$TMP/features.txt" && grep -q "dead channels .* of 40" "$TMP/features.txt" && grep -q "zeros .*%" "$TMP/features.txt"'
"$GB" features "$MODEL" "$PHOTOS/coffee.png" --layer stem --top 8 --rank max --normalize shared --colormap gray --out "$TMP/feat" >"$TMP/features2.txt"
rc=$?; check "features --top ranks channels per image" '[ $rc -eq 0 ] && [ "$(png_size "$TMP/feat/coffee_stem_grid.png")" = 340x340 ] && grep -q "top 8 by max" "$TMP/features2.txt"'
"$GB" filters "$MODEL" --layer stem --out "$TMP/filt" >"$TMP/filters.txt"
rc=$?; check "filters draws the first convolution as RGB tiles, BatchNorm folded" '[ $rc -eq 0 ] && [ "$(png_size "$TMP/filt/stem_filters.png")" = 151x151 ] && grep -q "\[32, 3, 3, 3\] (BatchNormalization folded" "$TMP/filters.txt" && grep -q "RGB" "$TMP/filters.txt"'
"$GB" filters "$MODEL" --layer blocks.3 --max-filters 8 --max-channels 4 --out "$TMP/filt" >"$TMP/filters2.txt"
rc=$?; check "filters draws deeper layers as filters x channels, capped" '[ $rc -eq 0 ] && [ "$(png_size "$TMP/filt/blocks.3_filters.png")" = 101x201 ] && grep -q "8 of 40 filters (rows) x 4 of 144" "$TMP/filters2.txt"'
"$GB" filters "$MODEL" --layer blocks.2 --out "$TMP/filt" >/dev/null 2>"$TMP/err_filters.txt"
rc=$?; check "filters names a layer that is not a convolution" '[ $rc -eq 1 ] && [ $(wc -l <"$TMP/err_filters.txt") -eq 1 ] && grep -q "blocks.2.*(Add), not by a convolution" "$TMP/err_filters.txt"'

"$GB" saliency "$MODEL" "$PHOTOS/coffee.png" --method gradient,guided --out "$TMP/sal" >"$TMP/sal.txt" 2>&1
rc=$?; check "saliency writes a map per method and guided's signal picture" '[ $rc -eq 0 ] && [ -f "$TMP/sal/coffee_gradient_967.png" ] && [ -f "$TMP/sal/coffee_guided_967.png" ] && [ -f "$TMP/sal/coffee_guided_967_signal.png" ]'
"$GB" saliency "$MODEL" "$PHOTOS/coffee.png" --layer blocks.5 --project-channel 3 --peak --out "$TMP/proj" >/dev/null 2>&1
rc=$?; check "saliency projects one channel back to pixels" '[ $rc -eq 0 ] && [ $(ls "$TMP/proj"/coffee_project_*_3.png | wc -l) -eq 1 ]'
"$GB" saliency "$MODEL" "$PHOTOS/coffee.png" --method lrp >/dev/null 2>"$TMP/err10.txt"
rc=$?; check "an unknown saliency method lists the methods" '[ $rc -eq 1 ] && grep -q "guided-gradcam" "$TMP/err10.txt"'

"$GB" explain "$MODEL" "$PHOTOS/coffee.png" --method gradcam --out "$TMP/tbex" --tensorboard "$TMP/tb" >/dev/null 2>&1
rc=$?; check "explain --tensorboard writes an event file" '[ $rc -eq 0 ] && [ $(find "$TMP/tb" -name "events.out.tfevents.*" -size +1k | wc -l) -eq 1 ]'

"$GB" attention "$MODEL" "$PHOTOS/coffee.png" >/dev/null 2>"$TMP/err11.txt"
rc=$?; check "attention on a CNN says it has no attention layers" '[ $rc -eq 1 ] && grep -q "no attention layers" "$TMP/err11.txt"'
"$GB" attention "$MODEL" "$PHOTOS/coffee.png" --head-fusion median >/dev/null 2>"$TMP/err12.txt"
rc=$?; check "an unknown head fusion lists the fusions" '[ $rc -eq 1 ] && grep -q "mean, max, min" "$TMP/err12.txt"'
"$GB" attention "$MODEL" "$PHOTOS/coffee.png" --discard-ratio 1.5 >/dev/null 2>"$TMP/err13.txt"
rc=$?; check "a discard ratio above 1 is an error giving the range" '[ $rc -eq 1 ] && grep -q "discard-ratio: expected a number from 0 to 1" "$TMP/err13.txt"'
VIT="$(dirname "$0")/../data/attention/timm_vit/model.onnx"
if [ -f "$VIT" ]; then
  "$GB" attention "$VIT" "$PHOTOS/coffee.png" "$PHOTOS/chelsea.png" --method grad-rollout --top 2 --out "$TMP/att" >"$TMP/att.txt" 2>&1
  rc=$?; check "attention grad-rollout writes a map per image and class" '[ $rc -eq 0 ] && [ $(ls "$TMP/att"/coffee_grad_rollout_*.png | wc -l) -eq 2 ] && [ $(ls "$TMP/att"/chelsea_grad_rollout_*.png | wc -l) -eq 2 ] && grep -q "patch grid 4 x 4, 1 prefix" "$TMP/att.txt"'
  "$GB" attention "$VIT" "$PHOTOS/coffee.png" --method rollout --discard-ratio 0.9 --head-fusion max --save-raw --out "$TMP/att2" >/dev/null 2>&1
  rc=$?; check "attention rollout writes the overlay and the raw map" '[ $rc -eq 0 ] && [ $(ls "$TMP/att2"/coffee_rollout_*.png | wc -l) -eq 1 ] && [ $(ls "$TMP/att2"/coffee_rollout_*.npy | wc -l) -eq 1 ]'
fi

SMALL="$(dirname "$0")/../data/perturbation/model.onnx"
"$GB" dream "$SMALL" --batch-classes 1,3 --steps 8 --size 24 --out "$TMP/dream" --tensorboard "$TMP/tbd" >"$TMP/dream.txt" 2>&1
rc=$?; check "dream renders one image per class and logs the objective" '[ $rc -eq 0 ] && [ $(ls "$TMP/dream"/dream_*.png | wc -l) -eq 2 ] && grep -q "step    7" "$TMP/dream.txt" && [ $(find "$TMP/tbd" -name "events.out.tfevents.*" | wc -l) -eq 1 ]'

echo "$((total - fails)) passed, $fails failed"
[ $fails -eq 0 ]
