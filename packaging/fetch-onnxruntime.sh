#!/usr/bin/env bash
# Makes the ONNX Runtime shared library that the local ONNX embedder
# (core/embed/onnx) loads available in the user's cache dir, and prints its
# path on stdout (messages go to stderr).
#
# Debian ships no ONNX Runtime, and github.com/yalue/onnxruntime_go v1.27
# needs ORT >= 1.24. The npm package onnxruntime-node carries the official
# prebuilt libraries, so we fetch its tarball with `npm pack` (never
# `npm install`, whose postinstall script tries to download CUDA files) and
# extract only the library for this OS and CPU. npm checks the tarball
# against the registry's integrity hash. ONNX Runtime is MIT-licensed.
#
# Usage: packaging/fetch-onnxruntime.sh            -> prints the library path
#        GENOS_ONNXRUNTIME_LIB=$(packaging/fetch-onnxruntime.sh) go test ./core/embed/onnx/
set -euo pipefail

version=1.24.3
cache="${XDG_CACHE_HOME:-$HOME/.cache}/genos/onnxruntime/$version"

# Where the library lives in the tarball, and the name we give it in the
# cache (core/embed/onnx looks for exactly these names).
os="$(uname -s)"
arch="$(uname -m)"
case "$os/$arch" in
Linux/x86_64 | Linux/amd64) src="package/bin/napi-v6/linux/x64/libonnxruntime.so.1" dst="libonnxruntime.so.1" ;;
Linux/aarch64 | Linux/arm64) src="package/bin/napi-v6/linux/arm64/libonnxruntime.so.1" dst="libonnxruntime.so.1" ;;
Darwin/arm64) src="package/bin/napi-v6/darwin/arm64/libonnxruntime.$version.dylib" dst="libonnxruntime.dylib" ;;
*)
  echo "fetch-onnxruntime: onnxruntime-node@$version has no library for $os/$arch;" >&2
  echo "install ONNX Runtime >= 1.24 yourself and set GENOS_ONNXRUNTIME_LIB to its path." >&2
  exit 1
  ;;
esac

target="$cache/$dst"
if [ -s "$target" ]; then
  echo "$target"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-onnxruntime: npm is not installed; install Node.js/npm (Debian: apt-get install npm)," >&2
  echo "or install ONNX Runtime >= 1.24 yourself and set GENOS_ONNXRUNTIME_LIB to its path." >&2
  exit 1
fi

mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch-onnxruntime: downloading onnxruntime-node@$version (about 86 MB) with npm pack..." >&2
(cd "$work" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tgz="$work/onnxruntime-node-$version.tgz"
if [ ! -s "$tgz" ]; then
  echo "fetch-onnxruntime: npm pack did not produce $tgz" >&2
  exit 1
fi
if ! tar -xzf "$tgz" -C "$work" "$src"; then
  echo "fetch-onnxruntime: $src is not in onnxruntime-node@$version" >&2
  exit 1
fi

# Atomic install: copy beside the target, fsync, rename, fsync the dir, so a
# concurrent run or a crash never leaves a half-written library behind.
tmp="$(mktemp "$cache/.$dst.XXXXXX")"
cp "$work/$src" "$tmp"
chmod 0644 "$tmp"
sync "$tmp" 2>/dev/null || sync
mv -f "$tmp" "$target"
sync "$cache" 2>/dev/null || sync
echo "$target"
