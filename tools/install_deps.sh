#!/usr/bin/env bash
# Installs the Debian packages glassbox builds with, only those missing (safe to run again). Extra packages may be
# named as arguments (make fuzz adds clang and libclang-rt-dev, libFuzzer's runtime).
set -euo pipefail
pkgs=(cmake g++ make libonnx-dev libprotobuf-dev protobuf-compiler libstb-dev libgtest-dev libbenchmark-dev
      nlohmann-json3-dev libopenmpi-dev openmpi-bin "$@")
python3 -m venv --help >/dev/null 2>&1 || pkgs+=(python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
