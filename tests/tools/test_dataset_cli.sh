#!/usr/bin/env bash
# glassbox explain --dataset end to end on the tiny ViT of tests/data/vit_pointing (64 images of 64x64): one result
# per image; a run stopped after K images (--stop-after, an exit as abrupt as a kill) plus a torn last line resumes,
# computes only the rest and ends with exactly the results of a fresh run; and, where glassbox is built with MPI and
# mpirun exists (the third argument), mpirun -np 2 gives exactly the records and maps of one process. Also
# glassbox bench --dataset (the runner end to end against in-memory throughput) on 3 of the images.
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
