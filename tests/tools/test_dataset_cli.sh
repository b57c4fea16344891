#!/usr/bin/env bash
# glassbox explain --dataset end to end on the tiny ViT of tests/data/vit_pointing (64 images of 64x64): one result
# per image; a run stopped after K images (--stop-after, an exit as abrupt as a kill) plus a torn last line resumes,
# computes only the rest and ends with exactly the results of a fresh run; and, where glassbox is built with MPI and
# mpirun exists (the third argument), mpirun -np 2 gives exactly the records and maps of one process. Hostile
# inputs: a resume with other settings is refused naming the setting; deleted or emptied maps are computed again
# and the summary's missing count is true; a second run into a folder being written is refused (flock); an earlier
# output below the dataset is never input, however --out is spelled; bad dataset.json file names are refused naming
# the entry; out-of-range labels are per-image errors. Also glassbox bench --dataset (the runner end to end against
# in-memory throughput) on 3 of the images.
set -u
GB="$1"; DATA="$2"; MPIRUN="${3:-}"
MODEL="$DATA/model.onnx"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fails=0; total=0
check() { total=$((total+1)); if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails+1)); fi; }
records() { cat "$1"/results.rank*.jsonl | grep '}$' | sort; }   # complete lines (a torn one stays, ignored)
same() { diff <(records "$1") <(records "$2") >/dev/null && diff -r "$1/maps" "$2/maps" >/dev/null; }
COMMON=(--method gradcam --batch 4 --threads 1 --quiet)

"$GB" explain "$MODEL" --dataset "$DATA/images" --out "$TMP/full" "${COMMON[@]}" >"$TMP/full.txt" 2>&1; rc=$?
check "a dataset run exits 0" '[ $rc -eq 0 ]'
check "one record and one map per image" '[ $(records "$TMP/full" | wc -l) -eq 64 ] && [ $(ls "$TMP/full/maps/" | wc -l) -eq 64 ]'
check "the summary counts 64 images" 'grep -q "\"images\": 64," "$TMP/full/summary.json"'
check "stage utilization is printed" 'grep -q "utilization: decode .*compute .*write" "$TMP/full.txt"'

"$GB" explain "$MODEL" --dataset "$DATA/images" --out "$TMP/resumed" "${COMMON[@]}" --stop-after 10 \
  >"$TMP/stop.txt" 2>&1; rc=$?
check "--stop-after stops abruptly (exit 3)" '[ $rc -eq 3 ]'
check "10 records survive the stop" '[ $(records "$TMP/resumed" | wc -l) -eq 10 ]'
printf '{"image": "img_5' >>"$TMP/resumed/results.rank0.jsonl"   # a line torn by a kill
"$GB" explain "$MODEL" --dataset "$DATA/images" --out "$TMP/resumed" "${COMMON[@]}" >"$TMP/resume.txt" 2>&1; rc=$?
check "the resumed run exits 0" '[ $rc -eq 0 ]'
check "the torn line is reported" 'grep -q "1 torn lines ignored" "$TMP/resume.txt"'
check "the resumed run skips the 10 and computes 54" 'grep -q "skipped 10 already done; computed 54 images" "$TMP/resume.txt"'
check "resumed results equal a fresh run" 'same "$TMP/full" "$TMP/resumed"'
"$GB" explain "$MODEL" --dataset "$DATA/images" --out "$TMP/resumed" "${COMMON[@]}" >"$TMP/again.txt" 2>&1
check "a finished run computes nothing again" 'grep -q "skipped 64 already done; computed 0 images" "$TMP/again.txt"'

check "the killed run's lock file stayed and did not block the resume" '[ -f "$TMP/resumed/.lock.rank0" ]'

# A small set (4 images) for the hostile cases below.
small() { mkdir -p "$1" && cp "$DATA/images/img_00.png" "$DATA/images/img_01.png" "$DATA/images/img_02.png" "$DATA/images/img_03.png" "$1/"; }
small "$TMP/four"
run4() { "$GB" explain "$MODEL" --dataset "$TMP/four" "${COMMON[@]}" "$@"; }

# Resume refuses other settings (naming the first that differs, both values), resumes with the same ones
# (the same model bytes elsewhere, other threads/batch/decoders/queue), and writes no record when it refuses.
run4 --out "$TMP/set" >"$TMP/set.txt" 2>&1; rc=$?
check "a run records its settings in run.json" '[ $rc -eq 0 ] && grep -q "\"target\": \"top 1\"" "$TMP/set/run.json" && grep -q "\"model\": \"[0-9]* bytes, fnv1a64 [0-9a-f]*\"" "$TMP/set/run.json"'
refused() {  # refused NAME PATTERN ARGS...: a resume with ARGS exits 1 with one line matching PATTERN, adds no record
  local name="$1" pattern="$2"; shift 2
  "$GB" explain "${@}" >"$TMP/refused.txt" 2>&1; local rc=$?
  check "a resume with other $name is refused" '[ $rc -eq 1 ] && [ $(grep -c "^glassbox: " "$TMP/refused.txt") -eq 1 ] && grep -q "^glassbox: $TMP/set was written with other settings: $pattern.*: give another --out$" "$TMP/refused.txt" && [ $(records "$TMP/set" | wc -l) -eq 4 ]'
}
cp "$MODEL" "$TMP/other.onnx" && printf '\x32\x01x' >>"$TMP/other.onnx"   # one more doc_string: other bytes
refused "model bytes" 'model "645240 bytes, fnv1a64 [0-9a-f]*" (".*model.onnx") there, "645243 bytes' \
  "$TMP/other.onnx" --dataset "$TMP/four" --out "$TMP/set" "${COMMON[@]}"
refused "--top" 'target "top 1" there, "top 2" in this run' "$MODEL" --dataset "$TMP/four" --out "$TMP/set" "${COMMON[@]}" --top 2
refused "--class" 'target "top 1" there, "class 3" in this run' "$MODEL" --dataset "$TMP/four" --out "$TMP/set" "${COMMON[@]}" --class 3
refused "--probability" 'probability false there, true in this run' "$MODEL" --dataset "$TMP/four" --out "$TMP/set" "${COMMON[@]}" --probability
refused "preprocessing" 'preprocess "resize=64;.*" there, "resize=80;' "$MODEL" --dataset "$TMP/four" --out "$TMP/set" "${COMMON[@]}" --resize 80
refused "--layer" 'layer "/blocks/blocks.3/norm1/LayerNormalization_output_0" there, "/blocks/blocks.2/norm1/LayerNormalization_output_0"' \
  "$MODEL" --dataset "$TMP/four" --out "$TMP/set" "${COMMON[@]}" --layer /blocks/blocks.2/norm1/LayerNormalization_output_0
cp "$MODEL" "$TMP/same.onnx"
"$GB" explain "$TMP/same.onnx" --dataset "$TMP/four" --out "$TMP/set" --method gradcam --quiet --threads 2 --batch 1 \
  --decode-threads 1 --queue 1 >"$TMP/same.txt" 2>&1; rc=$?
check "the same settings resume (another path to the same bytes, other threads/batch/decoders/queue)" \
  '[ $rc -eq 0 ] && grep -q "skipped 4 already done; computed 0 images" "$TMP/same.txt"'

# Deleted and emptied maps are found and computed again; the summary's missing count is true; overlays asked
# for on resume are produced.
cp -r "$TMP/set" "$TMP/set_before"
rm "$TMP/set/maps/img_01.png.gradcam.2.npy"; : >"$TMP/set/maps/img_02.png.gradcam.1.npy"
run4 --out "$TMP/set" >"$TMP/loss.txt" 2>&1; rc=$?
check "deleted or emptied maps are computed again" '[ $rc -eq 0 ] && grep -q "2 recorded images had missing or incomplete outputs: computed again" "$TMP/loss.txt" && grep -q "skipped 2 already done; computed 2 images" "$TMP/loss.txt"'
check "the maps computed again are the lost ones, byte for byte" 'diff -r "$TMP/set/maps" "$TMP/set_before/maps" >/dev/null'
check "the summary counts 4 images and none missing" 'grep -q "\"images\": 4," "$TMP/set/summary.json" && grep -q "\"missing\": 0," "$TMP/set/summary.json"'
run4 --out "$TMP/set" --overlays >"$TMP/ov.txt" 2>&1; rc=$?
check "a resume with --overlays produces the overlays that were not written" '[ $rc -eq 0 ] && grep -q "computed 4 images" "$TMP/ov.txt" && [ $(ls "$TMP/set/maps/"*.gradcam.*.png | wc -l) -eq 4 ]'
rm "$TMP/set/maps/img_03.png.gradcam.3.png"
run4 --out "$TMP/set" >"$TMP/ov2.txt" 2>&1
check "a recorded overlay that is gone is computed again" 'grep -q "skipped 3 already done; computed 1 images" "$TMP/ov2.txt" && [ -s "$TMP/set/maps/img_03.png.gradcam.3.png" ]'
ls -a "$TMP/set/maps" | grep -q '\.tmp$'; leftover=$?
check "no temporary files are left behind" '[ $leftover -ne 0 ]'

# One run at a time per output folder: a held lock (its holder's pid in the file) refuses a second run, which
# writes nothing; two runs started together compute each image once.
mkdir -p "$TMP/busy"
flock "$TMP/busy/.lock.rank0" -c 'echo $$ >"'"$TMP"'/busy/.lock.rank0"; sleep 4' & holder=$!
for _ in $(seq 50); do [ -s "$TMP/busy/.lock.rank0" ] && break; sleep 0.1; done
run4 --out "$TMP/busy" >"$TMP/busy.txt" 2>&1; rc=$?
check "a second run into a folder being written is refused, naming the holder's pid" \
  '[ $rc -eq 1 ] && grep -q "^glassbox: $TMP/busy is being written by another run (pid $(cat "$TMP/busy/.lock.rank0"))" "$TMP/busy.txt" && [ ! -e "$TMP/busy/results.rank0.jsonl" ]'
wait $holder
"$GB" explain "$MODEL" --dataset "$DATA/images" --out "$TMP/twice" "${COMMON[@]}" >"$TMP/twice1.txt" 2>&1 & first=$!
"$GB" explain "$MODEL" --dataset "$DATA/images" --out "$TMP/twice" "${COMMON[@]}" >"$TMP/twice2.txt" 2>&1; rc2=$?
wait $first; rc1=$?
check "two runs into one folder at once: 64 records, each image once" \
  '[ $(records "$TMP/twice" | wc -l) -eq 64 ] && [ $(records "$TMP/twice" | sed "s/,.*//" | sort -u | wc -l) -eq 64 ]'
check "two runs into one folder at once: one succeeds, the other refuses or finds all done" \
  '{ [ $rc1 -eq 0 ] && { [ $rc2 -eq 0 ] && grep -q "computed 0 images" "$TMP/twice2.txt" || grep -q "is being written by another run" "$TMP/twice2.txt"; }; } || { [ $rc2 -eq 0 ] && grep -q "is being written by another run" "$TMP/twice1.txt"; }'

# An earlier run's output inside the dataset folder is never input, however --out is spelled.
small "$TMP/nest"
"$GB" explain "$MODEL" --dataset "$TMP/nest" --out "$TMP/nest/out1" "${COMMON[@]}" --overlays >"$TMP/n1.txt" 2>&1
"$GB" explain "$MODEL" --dataset "$TMP/nest" --out "$TMP/nest/out2" "${COMMON[@]}" --overlays >"$TMP/n2.txt" 2>&1
check "a second output folder beside the first does not list the first's overlays" 'grep -q ": 4 images;" "$TMP/n1.txt" && grep -q ": 4 images;" "$TMP/n2.txt" && grep -q "computed 4 images" "$TMP/n2.txt"'
ln -s "$TMP/nest/out1" "$TMP/link"
ABS_GB=$(realpath "$GB"); ABS_MODEL=$(realpath "$MODEL")
(cd "$TMP" && "$ABS_GB" explain "$ABS_MODEL" --dataset nest --out nest/./out1/ "${COMMON[@]}" --overlays) >"$TMP/n3.txt" 2>&1
"$GB" explain "$MODEL" --dataset "$TMP/nest" --out "$TMP/link" "${COMMON[@]}" --overlays >"$TMP/n4.txt" 2>&1
check "--out spelled relative with a trailing slash, or through a symlink: 4 images, all done" \
  'grep -q ": 4 images;" "$TMP/n3.txt" && grep -q "skipped 4 already done; computed 0" "$TMP/n3.txt" && grep -q ": 4 images;" "$TMP/n4.txt" && grep -q "skipped 4 already done; computed 0" "$TMP/n4.txt"'

# dataset.json file names: a NUL, an absolute path, a ".." component: one line naming the entry, escaped.
for bad in 'a\u0000b.png' '/etc/passwd' 'x/../img_00.png'; do
  mkdir -p "$TMP/names" && printf '[{"file": "img_00.png"}, {"file": "%s"}]' "$bad" >"$TMP/names/dataset.json"
  cp "$DATA/images/img_00.png" "$TMP/names/"
  "$GB" explain "$MODEL" --dataset "$TMP/names" --out "$TMP/names_out" "${COMMON[@]}" >"$TMP/names.txt" 2>&1; rc=$?
  check "dataset.json file $bad is refused naming the entry" \
    '[ $rc -eq 1 ] && [ $(grep -c "^glassbox: " "$TMP/names.txt") -eq 1 ] && grep -qF "dataset.json: images[1]: \"file\" \"$bad\" " "$TMP/names.txt" && [ ! -e "$TMP/names_out/results.rank0.jsonl" ]'
done

# Labels that are no class of the model (4 classes), and a file that does not decode, are errors of their images
# (a record naming the image and the range); the other images run, and the exit status says something failed.
small "$TMP/labels"; echo "not a png" >"$TMP/labels/broken.png"
cat >"$TMP/labels/dataset.json" <<'JSON'
[{"file": "img_00.png", "label": 1}, {"file": "img_01.png", "label": 5000}, {"file": "img_02.png", "label": -3},
 {"file": "broken.png", "label": 0}, {"file": "img_03.png", "label": 2}]
JSON
"$GB" explain "$MODEL" --dataset "$TMP/labels" --out "$TMP/labels_out" "${COMMON[@]}" --class label >"$TMP/labels.txt" 2>&1; rc=$?
check "out-of-range labels: the run goes on and exits 1" '[ $rc -eq 1 ] && grep -q "computed 2 images (3 failed) of 5" "$TMP/labels.txt"'
check "out-of-range labels: error records name the image and the range" \
  'grep -q "{\"image\":\"img_01.png\",\"index\":1,\"label\":5000,\"method\":\"gradcam\",\"error\":\"label 5000 is not a class of the model (0..3)\"" "$TMP/labels_out/results.rank0.jsonl" && grep -q "\"image\":\"img_02.png\".*\"error\":\"label -3 is not a class of the model (0..3)\"" "$TMP/labels_out/results.rank0.jsonl"'
check "out-of-range labels: stderr names the image" 'grep -q "^glassbox: \"img_01.png\": label 5000 is not a class of the model (0..3)" "$TMP/labels.txt"'
check "out-of-range labels: the summary counts 2 images and 3 errors" 'grep -q "\"images\": 2," "$TMP/labels_out/summary.json" && grep -q "\"errors\": 3," "$TMP/labels_out/summary.json"'

# glassbox evaluate on the labelled, boxed dataset.json: a row per method with every metric column (pointing
# games included: the dataset has boxes), 64 maps each, and the files; an unknown method lists the names.
"$GB" evaluate "$MODEL" "$DATA/boxes.json" --methods gradcam,rollout --pixels-per-step 1024 --bootstrap 200 \
  --threads 1 --quiet --out "$TMP/eval" >"$TMP/eval.txt" 2>&1; rc=$?
check "evaluate exits 0" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || cat "$TMP/eval.txt"
check "evaluate prints 4 steps per curve over 64 images" 'grep -q "^64 images, 4 steps per curve" "$TMP/eval.txt"'
check "evaluate's table has the pointing games" 'grep -q "| energy pointing game (higher is better) |" "$TMP/eval.txt"'
check "a row per method, 8 cells of mean [lo, hi], 64 maps" '[ $(grep -cE "^\| (gradcam|rollout) \|( [0-9.]+ \[[0-9.]+, [0-9.]+\] \|){6} 64 \|" "$TMP/eval.txt") -eq 2 ]'
check "evaluate writes the JSON, the CSV and a PNG per method" '[ -s "$TMP/eval/evaluation.json" ] && [ -s "$TMP/eval/curves.csv" ] && [ -s "$TMP/eval/curves/gradcam.png" ] && [ -s "$TMP/eval/curves/rollout.png" ]'
"$GB" evaluate "$MODEL" "$DATA/boxes.json" --methods gradcan --threads 1 --quiet --out "$TMP/bad" >"$TMP/bad.txt" 2>&1; rc=$?
check "an unknown method fails and lists the names" '[ $rc -eq 1 ] && grep -q "unknown explanation method .gradcan.*gradcampp" "$TMP/bad.txt"'

# glassbox bench --dataset on 3 of the images: the table's header and one row whose throughputs and ratios are
# positive numbers.
mkdir -p "$TMP/few" && cp "$DATA/images/img_00.png" "$DATA/images/img_01.png" "$DATA/images/img_02.png" "$TMP/few/"
"$GB" bench "$MODEL" --dataset "$TMP/few" --rounds 1 --batch 2 --threads 1 >"$TMP/bench.txt" 2>&1; rc=$?
check "bench --dataset exits 0" '[ $rc -eq 0 ]'
check "bench --dataset prints the table header" \
  'grep -q "| dataset images/s | in-memory forward images/s | in-memory explain images/s | dataset / forward | dataset / in-memory explain |" "$TMP/bench.txt"'
row=$(grep "^| model" -A2 "$TMP/bench.txt" | tail -1)
positive() { echo "$row" | awk -F'|' -v c="$1" '{ v = $c; gsub(/ /, "", v); exit !(v ~ /^[0-9]+(\.[0-9]+)?$/ && v + 0 > 0) }'; }
check "bench --dataset: 3 images, gradcam, batch 2" 'echo "$row" | grep -q "| gradcam | 2 | 3 |"'
check "bench --dataset: the images/s and ratio cells are positive" \
  'positive 7 && positive 8 && positive 9 && positive 10 && positive 11'
mkdir "$TMP/empty"
"$GB" bench "$MODEL" --dataset "$TMP/empty" >"$TMP/bench_empty.txt" 2>&1; rc_empty=$?
check "bench --dataset: an empty folder is an error naming it" \
  '[ $rc_empty -ne 0 ] && grep -q "$TMP/empty: no .png" "$TMP/bench_empty.txt"'
"$GB" bench "$MODEL" --dataset "$TMP/missing" >"$TMP/bench_missing.txt" 2>&1; rc_missing=$?
check "bench --dataset: a missing folder is an error naming it" \
  '[ $rc_missing -ne 0 ] && grep -q "$TMP/missing: no such file or folder" "$TMP/bench_missing.txt"'
[ $rc -eq 0 ] || cat "$TMP/bench.txt"

if [ -z "$MPIRUN" ]; then
  echo "skip mpirun -np 2: glassbox built without MPI (GLASSBOX_MPI=OFF) or no mpirun"
else
  # Open MPI refuses root without --allow-run-as-root; --oversubscribe: 2 ranks on a machine of any size. LSan
  # reports Open MPI's own allocations kept until exit, so leak checking is off for the ranks (sanitizer builds).
  ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_rmaps_base_oversubscribe=1 "$MPIRUN" --oversubscribe --allow-run-as-root \
    -np 2 "$GB" explain "$MODEL" --dataset "$DATA/images" --out "$TMP/mpi" "${COMMON[@]}" >"$TMP/mpi.txt" 2>&1; rc=$?
  check "mpirun -np 2 exits 0" '[ $rc -eq 0 ]'
  check "each rank wrote its own shard of 32" '[ $(wc -l <"$TMP/mpi/results.rank0.jsonl") -eq 32 ] && [ $(wc -l <"$TMP/mpi/results.rank1.jsonl") -eq 32 ]'
  check "rank 0 wrote the summary with both ranks" 'grep -q "\"images\": 64," "$TMP/mpi/summary.json" && grep -q "\"rank\": 1" "$TMP/mpi/summary.json"'
  check "mpirun -np 2 gives exactly the one-process results" 'same "$TMP/full" "$TMP/mpi"'
  [ $rc -eq 0 ] || cat "$TMP/mpi.txt"
fi
echo "$((total-fails)) of $total checks passed"
[ $fails -eq 0 ]
