#!/usr/bin/env bash
# llama-cpp-python (the `llm` extra: stage 2's llama.cpp backend and OpenAI-compatible server),
# built once from source with a portable instruction set and cached as a wheel, then installed.
#
#   scripts/llama-setup.sh [PIP]    install into PIP's environment (default .venv/bin/pip)
#   scripts/llama-setup.sh --wheel  only make sure the cached wheel exists; print its path
#
#   VAD_LLAMA_VERSION  llama-cpp-python version (default 0.3.36)
#   VAD_WHEEL_CACHE    where the wheel is kept (default ~/.cache/vad/wheels)
#
# Why not `pip install llama-cpp-python`: its default build enables every instruction set the
# build machine reports (GGML_NATIVE: AVX-512, AMX), and on CPUs that advertise AMX it dies with
# SIGILL at the first inference. The flags below (AVX2/FMA/F16C, no AVX-512/AMX) run on any
# x86-64 CPU of the last decade. The build takes ~20 min on 2 cores, once; with the cache it is
# a few seconds. Nothing is downloaded except through pip.
set -euo pipefail

VERSION="${VAD_LLAMA_VERSION:-0.3.36}"
WHEELS="${VAD_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vad/wheels}"
FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
MODE="install"
PIP=".venv/bin/pip"
if [ "${1:-}" = "--wheel" ]; then MODE="wheel"; elif [ -n "${1:-}" ]; then PIP="$1"; fi
if [ "$MODE" = "install" ] && [ ! -x "$PIP" ]; then
  echo "llama-setup: no pip at $PIP (create the venv first: make test / make run)" >&2
  exit 1
fi
BUILD_PIP="$PIP"
[ -x "$BUILD_PIP" ] || BUILD_PIP="python3 -m pip"

# The first cached wheel's path, or nothing. A glob, not `ls | head`: under `set -e -o pipefail`
# a failing `ls` (no wheel yet, on a fresh machine) would end the script before the build.
cached_wheel() {
  local found
  for found in "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl; do
    if [ -e "$found" ]; then echo "$found"; return 0; fi
  done
  return 0
}

wheel="$(cached_wheel)"
if [ -z "$wheel" ]; then
  mkdir -p "$WHEELS"
  echo "llama-setup: building llama-cpp-python $VERSION for a portable x86-64 set (~20 min, once)" >&2
  # --no-cache-dir: pip's own cache may hold a wheel built with the native (crashing) flags
  CMAKE_ARGS="$FLAGS" $BUILD_PIP wheel --quiet --no-deps --no-cache-dir \
    --no-binary llama-cpp-python --wheel-dir "$WHEELS" "llama-cpp-python==$VERSION" >&2
  wheel="$(cached_wheel)"
  [ -n "$wheel" ] || { echo "llama-setup: build produced no wheel in $WHEELS" >&2; exit 1; }
fi
if [ "$MODE" = "wheel" ]; then
  echo "$wheel"
  exit 0
fi
# [server]: uvicorn, fastapi, sse-starlette, starlette-context, pydantic-settings (`vad up` runs
# llama.cpp's server); the runtime dependencies (numpy, jinja2, diskcache) come along.
"$PIP" install --quiet "${wheel}[server]"
echo "llama-setup: llama-cpp-python $VERSION installed from $wheel" >&2
