#!/usr/bin/env bash
# Builds the native GEMM measurement (g++ and Node's headers, as node-gyp uses them) and compares it with our
# wasm GEMM on ResNet-18's products. Not part of the product, the tests or `npm run bench`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
headers="$(dirname "$(dirname "$(command -v node)")")/include/node"
[ -f "$headers/node_api.h" ] || headers=/usr/include/node
mkdir -p "$here/build"
g++ -O3 -mavx512f -mfma -shared -fPIC -std=c++17 -I"$headers" -DNODE_GYP_MODULE_NAME=gemm \
  -o "$here/build/gemm.node" "$here/gemm.cc" -lpthread
cd "$here/../.." && node --import tsx bench/native-gemm/compare.ts
