#!/usr/bin/env bash
# An event file written by glassbox, read back by TensorBoard's own EventAccumulator: tags, steps, image sizes and
# scalar values must be exactly those written. Needs the project's Python venv (make deps assets, or make test,
# installs tensorboard from tools/python/requirements.txt): without that venv the test is skipped (exit 77).
# Usage: test_tensorboard_reader.sh WRITER VENV READER_PY
set -euo pipefail
WRITER="$1"; VENV="$2"; READER="$3"
if [ ! -x "$VENV/bin/python" ]; then
  echo "SKIP: no Python venv at $VENV (make assets creates it, with tensorboard)"
  exit 77
fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
"$WRITER" "$TMP/logs"
"$VENV/bin/python" "$READER" "$TMP/logs" \
  --scalar loss 0 1.5 --scalar loss 1 0.75 --scalar loss 2 0.375 --scalar accuracy/top1 2 0.25 \
  --image gradcam/cat 0 7x5 --image gradcam/cat 3 4x9
