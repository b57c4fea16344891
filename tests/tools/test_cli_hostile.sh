#!/usr/bin/env bash
# The command line against hostile input (issue 19): each numbered defect of the issue, reproduced, must give a
# clear one-line error or the right result, and the other inputs of the call must still run. Run on the ASan+UBSan
# build by `make test`. Inputs: tests/data/hostile (made by its make_hostile_inputs.py) and the small CNN of
# tests/data/perturbation (x [N, 3, 24, 24] -> 5 classes), so every call is quick.
set -u
GB="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; ASSETS="$2"
DATA="$(cd "$(dirname "$0")/../data" && pwd)"
H="$DATA/hostile"; SMALL="$DATA/perturbation/model.onnx"; PHOTOS="$ASSETS/photos"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fails=0; total=0
check() { total=$((total+1)); if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails+1)); fi; }
one_line() { [ "$(wc -l <"$1")" -eq 1 ]; }   # exactly one line on stderr
cp "$PHOTOS/coffee.png" "$TMP/coffee.png"

# 1. A preprocessing spec from any source is validated before use.
for cmd in run explain saliency features evaluate; do
  "$GB" $cmd "$SMALL" "$TMP/coffee.png" --crop 0 >/dev/null 2>"$TMP/e1_$cmd.txt"; rc=$?
  check "1. $cmd --crop 0 is a one-line error naming the crop" '[ $rc -eq 1 ] && one_line "$TMP/e1_$cmd.txt" && grep -q "crop=0, but the model.s input is 24x24" "$TMP/e1_$cmd.txt"'
done
"$GB" run "$H/preprocess_zero.onnx" "$TMP/coffee.png" >/dev/null 2>"$TMP/e1m.txt"; rc=$?
check "1. a model whose metadata says resize=0;crop=0 is refused" '[ $rc -eq 1 ] && one_line "$TMP/e1m.txt" && grep -q "crop=0" "$TMP/e1m.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --crop 30 >/dev/null 2>"$TMP/e1c.txt"; rc=$?
check "1. a crop larger than the resize is refused" '[ $rc -eq 1 ] && grep -q "crop=30 does not fit in the image resized to 27" "$TMP/e1c.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --mean nan >/dev/null 2>"$TMP/e1n.txt"; rc=$?
check "14. --mean nan is refused" '[ $rc -eq 1 ] && grep -q "not a finite number" "$TMP/e1n.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --std 0 >/dev/null 2>"$TMP/e1s.txt"; rc=$?
check "1. --std 0 is refused" '[ $rc -eq 1 ] && grep -q "std: expected positive" "$TMP/e1s.txt"'

# 2. An empty method list.
for m in "" ","; do
  "$GB" explain "$SMALL" "$TMP/coffee.png" --method "$m" --out "$TMP/x" >/dev/null 2>"$TMP/e2.txt"; rc=$?
  check "2. explain --method '$m' is a one-line error" '[ $rc -eq 1 ] && one_line "$TMP/e2.txt" && grep -q "\-\-method: expected NAME" "$TMP/e2.txt"'
done
"$GB" saliency "$SMALL" "$TMP/coffee.png" --method "gradient," --out "$TMP/x" >/dev/null 2>"$TMP/e2s.txt"; rc=$?
check "2. saliency --method 'gradient,' is a one-line error" '[ $rc -eq 1 ] && one_line "$TMP/e2s.txt"'

# 4. The pixel limit bounds every intermediate image; an image's error never stops the others.
"$GB" run "$ASSETS/models/efficientnet_lite0.onnx" "$H/tall.png" "$TMP/coffee.png" --json >"$TMP/r4.json" 2>"$TMP/e4.txt"; rc=$?
check "4. a 1x20000 PNG is refused before its resize to 256 x 5120000, the next image still runs" '[ $rc -eq 1 ] && one_line "$TMP/e4.txt" && grep -q "tall.png: resizing 1x20000 to 256x5120000 gives 1310720000 pixels, over the limit of 67108864 pixels" "$TMP/e4.txt"'
check "4. ... and the good image is classified" 'grep -q "coffee.png\", \"top\"" "$TMP/r4.json"'
"$GB" run "$SMALL" "$H/tall.png" "$TMP/coffee.png" --max-pixels 100000 >/dev/null 2>"$TMP/e4b.txt"; rc=$?
check "4. --max-pixels bounds the resized image too" '[ $rc -eq 1 ] && grep -q "tall.png: resizing 1x20000 to 27x540000 gives 14580000 pixels, over the limit of 100000" "$TMP/e4b.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --resize 99999 >/dev/null 2>"$TMP/e4c.txt"; rc=$?
check "4. --resize 99999 is out of range" '[ $rc -eq 1 ] && grep -q "\-\-resize: expected an integer from 0 to 16384" "$TMP/e4c.txt"'

# 5. Unknown options are refused, naming the nearest; a flag never swallows an image; --name=value works.
"$GB" explain "$SMALL" "$TMP/coffee.png" --clas 3 --out "$TMP/x" >/dev/null 2>"$TMP/e5.txt"; rc=$?
check "5. explain --clas is refused with a suggestion" '[ $rc -eq 1 ] && one_line "$TMP/e5.txt" && grep -q "unknown option --clas (did you mean --class?)" "$TMP/e5.txt"'
"$GB" run "$SMALL" --probability "$TMP/coffee.png" "$PHOTOS/chelsea.png" >/dev/null 2>"$TMP/e5b.txt"; rc=$?
check "5. run --probability (a flag run does not know) is refused" '[ $rc -eq 1 ] && grep -q "run: unknown option --probability" "$TMP/e5b.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --top=2 --json >"$TMP/r5.json" 2>&1; rc=$?
check "5. --top=2 works as --top 2" '[ $rc -eq 0 ] && [ $(grep -o "\"index\"" "$TMP/r5.json" | wc -l) -eq 2 ]'
"$GB" run "$SMALL" "$TMP/coffee.png" --json=yes >/dev/null 2>"$TMP/e5c.txt"; rc=$?
check "5. a value given to a flag is refused" '[ $rc -eq 1 ] && grep -q "\-\-json is a flag and takes no value" "$TMP/e5c.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --top 2 --top 3 >/dev/null 2>"$TMP/e5d.txt"; rc=$?
check "5. an option given twice is refused" '[ $rc -eq 1 ] && grep -q "\-\-top is given twice" "$TMP/e5d.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --out --json >/dev/null 2>"$TMP/e5e.txt"; rc=$?
check "5. run --out (not a run option) is refused" '[ $rc -eq 1 ] && grep -q "unknown option --out" "$TMP/e5e.txt"'
"$GB" explain "$SMALL" "$TMP/coffee.png" --out --save-raw >/dev/null 2>"$TMP/e5f.txt"; rc=$?
check "5. an option whose value is missing does not swallow the next option" '[ $rc -eq 1 ] && grep -q "\-\-out needs a value, got the option --save-raw" "$TMP/e5f.txt"'

# 9. Output names stay unique.
mkdir -p "$TMP/a" "$TMP/b"; cp "$PHOTOS/chelsea.png" "$TMP/a/cat.png"; cp "$TMP/coffee.png" "$TMP/b/cat.png"
for cmd in explain saliency; do
  (cd "$TMP" && "$GB" $cmd "$SMALL" a/cat.png b/cat.png --out "$TMP/o9_$cmd" >/dev/null 2>"$TMP/e9_$cmd.txt"); rc=$?
  check "9. $cmd keeps two inputs named cat.png apart and says so" '[ $rc -eq 0 ] && [ $(ls "$TMP/o9_$cmd" | grep -c "^a_cat_") -ge 1 ] && [ $(ls "$TMP/o9_$cmd" | grep -c "^b_cat_") -ge 1 ] && grep -q "a/cat.png is written as a_cat" "$TMP/e9_$cmd.txt"'
done
(cd "$TMP" && "$GB" features "$SMALL" a/cat.png b/cat.png --layer /net/Relu_1_output_0 --out "$TMP/o9f" >/dev/null 2>&1); rc=$?
check "9. features keeps them apart too" '[ $rc -eq 0 ] && [ $(ls "$TMP/o9f" | grep -c "^[ab]_cat_.*_grid.png") -eq 2 ]'

# 10. Class and channel indices are checked against the model.
"$GB" dream "$SMALL" --class 5000 --steps 2 --size 24 --out "$TMP/d" >/dev/null 2>"$TMP/e10.txt"; rc=$?
check "10. dream --class 5000 on a 5-class model is refused" '[ $rc -eq 1 ] && one_line "$TMP/e10.txt" && grep -q "class 5000 is out of range (the model has 5 classes)" "$TMP/e10.txt"'
"$GB" dream "$SMALL" --layer /net/Relu_1_output_0 --channel 8 --steps 2 --size 24 --out "$TMP/d" >/dev/null 2>"$TMP/e10b.txt"; rc=$?
check "10. dream --channel 8 of an 8-channel layer is refused" '[ $rc -eq 1 ] && grep -q "channel 8 of ./net/Relu_1_output_0. is out of range (it has 8 channels)" "$TMP/e10b.txt"'
"$GB" explain "$SMALL" "$TMP/coffee.png" --class 5 --out "$TMP/x" >/dev/null 2>"$TMP/e10c.txt"; rc=$?
check "10. explain --class 5 is refused" '[ $rc -eq 1 ] && grep -q "target class 5 is out of range (5 classes)" "$TMP/e10c.txt"'
"$GB" dream "$SMALL" --class 1,3 --steps 2 --size 24 --out "$TMP/d2" >/dev/null 2>&1; rc=$?
check "15. dream --class K,K takes the list its help shows" '[ $rc -eq 0 ] && [ $(ls "$TMP/d2"/dream_*.png | wc -l) -eq 2 ]'

# 12. Model metadata naming a labels file outside the model's folder.
for m in labels_abs labels_up; do
  "$GB" run "$H/$m.onnx" "$TMP/coffee.png" >"$TMP/r12.txt" 2>"$TMP/e12.txt"; rc=$?
  check "12. $m: the labels path is refused with a warning, classes by number" '[ $rc -eq 0 ] && grep -q "warning: the model.s glassbox.labels" "$TMP/e12.txt" && ! grep -q "root" "$TMP/r12.txt" && grep -q "class [0-4]" "$TMP/r12.txt"'
done

# 13. Sizes bounded before allocation.
"$GB" dream "$SMALL" --class 1 --size 99999 --out "$TMP/d" >/dev/null 2>"$TMP/e13.txt"; rc=$?
check "13. dream --size 99999 is out of range" '[ $rc -eq 1 ] && grep -q "\-\-size: expected an integer from 8 to 4096" "$TMP/e13.txt"'

# 14. Non-finite outputs are reported, with the first step that made one.
"$GB" run "$H/nan.onnx" "$TMP/coffee.png" "$PHOTOS/chelsea.png" --json >"$TMP/r14.json" 2>"$TMP/e14.txt"; rc=$?
check "14. NaN logits are an error per image naming the first step that made one" '[ $rc -eq 1 ] && [ $(wc -l <"$TMP/e14.txt") -eq 2 ] && grep -q "coffee.png: the model.s output holds 4 non-finite values (NaN or infinity); the first step producing one is .logits. (Sqrt)" "$TMP/e14.txt" && [ $(grep -c "\"error\"" "$TMP/r14.json") -eq 2 ] && ! grep -q "nan" "$TMP/r14.json"'

# 15. Clear errors.
"$GB" run "$SMALL" "$H/huge_header.png" >/dev/null 2>"$TMP/e15a.txt"; rc=$?
check "15. a 20000x20000 PNG is said to be too large" '[ $rc -eq 1 ] && grep -q "huge_header.png: the image is 20000x20000 pixels, over the limit of 67108864 pixels" "$TMP/e15a.txt"'
"$GB" run "$SMALL" "$TMP" >/dev/null 2>"$TMP/e15b.txt"; rc=$?
check "15. a folder given as an image is said to be a folder" '[ $rc -eq 1 ] && grep -q "is a folder, expected an image file" "$TMP/e15b.txt"'
mkfifo "$TMP/fifo.png"
timeout 60 "$GB" run "$SMALL" "$TMP/fifo.png" "$TMP/coffee.png" >/dev/null 2>"$TMP/e15fifo.txt"; rc=$?
check "15. a FIFO given as an image is refused without waiting for a writer" '[ $rc -eq 1 ] && one_line "$TMP/e15fifo.txt" && grep -q "fifo.png: not a regular file, expected an image file" "$TMP/e15fifo.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --top 0 >/dev/null 2>"$TMP/e15c.txt"; rc=$?
check "15. --top 0 is out of range" '[ $rc -eq 1 ] && grep -q "\-\-top: expected an integer from 1 to" "$TMP/e15c.txt"'
"$GB" run "$SMALL" "$TMP/coffee.png" --resize 4294967520 >/dev/null 2>"$TMP/e15d.txt"; rc=$?
check "15. --resize 4294967520 does not wrap" '[ $rc -eq 1 ] && grep -q "\-\-resize: expected an integer from 0 to 16384, got .4294967520." "$TMP/e15d.txt"'
"$GB" evaluate "$SMALL" "$TMP/coffee.png" --pixels-per-step 0 >/dev/null 2>"$TMP/e15e.txt"; rc=$?
check "15. --pixels-per-step 0 is out of range" '[ $rc -eq 1 ] && grep -q "\-\-pixels-per-step: expected an integer from 1" "$TMP/e15e.txt"'
"$GB" bench "$SMALL" --explain gradcam --json "$TMP/b.json" >/dev/null 2>"$TMP/e15f.txt"; rc=$?
check "15. bench --explain --json is refused instead of writing nothing" '[ $rc -eq 1 ] && grep -q "\-\-json does not apply to the --explain table" "$TMP/e15f.txt"'
mkdir -p "$TMP/boxes"; cp "$TMP/coffee.png" "$TMP/boxes/c.png"
W=$(od -An -tu1 -j16 -N4 "$TMP/coffee.png" | awk '{print $3*256+$4}')
printf '{"images": [{"file": "c.png", "boxes": [[50, 50, 10, 10], [%d, 0, %d, 5], [0, 0, 3, 3], [100, 100, 200, 200]]}]}' "$((W+10))" "$((W+20))" \
  >"$TMP/boxes/dataset.json"
"$GB" evaluate "$SMALL" "$TMP/boxes" --methods gradcam --bootstrap 10 --pixels-per-step 200 --out "$TMP/ev" --quiet \
  >/dev/null 2>"$TMP/e15g.txt"; rc=$?
check "15. evaluate says which boxes it cannot score and why" '[ $rc -eq 0 ] && grep -q "box \[50, 50, 10, 10\] is inverted" "$TMP/e15g.txt" && grep -q "lies outside the image" "$TMP/e15g.txt" && grep -q "lies outside the centre crop" "$TMP/e15g.txt" && [ $(grep -c "warning" "$TMP/e15g.txt") -eq 3 ]'

echo "$((total - fails)) passed, $fails failed"
[ $fails -eq 0 ]
