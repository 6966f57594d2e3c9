# Onyx: build, test and benchmark.
#
#   make test     install what the tests need (as root), then vet and test everything
#   make check    run the ONNX backend suite through the CLI and print pass counts
#   make fuzz     fuzz the model decoder and compiler for longer
#   make bench    compare Onyx with ONNX Runtime, gonnx and onnx-go (benchmarks/README.md);
#                 make bench QUICK=1 is a smoke run, BENCHFLAGS passes flags to the program
#   make train-examples  train the example models of models/ with the full recipes (about 30 min on 2 cores)

GO ?= go
TESTDATA := /usr/share/libonnx-testdata/data
QEMU_ARM64 ?= qemu-aarch64-static
FUZZTIME ?= 20s

.PHONY: test deps vet unit race fuzz check build bench

test: deps vet unit race fuzz-short

# deps installs the ONNX backend suite (Debian's libonnx-testdata) and
# qemu's user-mode emulator (qemu-user-static, which runs the arm64 tests)
# when they are missing and we may install packages.
deps:
	@pkgs=; \
	[ -d $(TESTDATA)/node ] || pkgs="$$pkgs libonnx-testdata"; \
	command -v $(QEMU_ARM64) >/dev/null || pkgs="$$pkgs qemu-user-static"; \
	if [ -n "$$pkgs" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$pkgs; \
		else \
			echo "make: missing Debian packages:$$pkgs (as root: apt-get install$$pkgs)" >&2; \
		fi; \
	fi

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -tags purego ./...
	@# With AVX-512 the default SGEMM is the AVX-512 one: the operators and the suites once
	@# more on the AVX2 kernels (packed-A tiles, fused epilogues), which other CPUs run.
	if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then INFER_KERNELS=avx2 $(GO) test -count=1 ./ops/ ./internal/conformance/ ./runtime/; fi
	cd ops/asm/_gen && $(GO) test -count=1 ./...   # the committed assembly is what the generator writes
	CGO_ENABLED=0 $(GO) build ./...
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...
	@# On arm64 under qemu: the NEON kernels against their Go references (about 2 min),
	@# then the backend suites and this repository's models (seconds; the large models
	@# of ../shared are too slow emulated).
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) test -short -count=1 -exec $(QEMU_ARM64) ./ops/asm/
	ONYX_SUITES=node,simple,pytorch-converted,pytorch-operator,exported,opset18plus,models \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) test -count=1 -exec $(QEMU_ARM64) -run TestSuites ./internal/conformance/
	GOOS=linux GOARCH=arm CGO_ENABLED=0 $(GO) build ./...
	GOOS=js GOARCH=wasm $(GO) build ./...

race:
	$(GO) test -count=1 -race -short ./runtime/... ./ops/...
	$(GO) test -count=1 -race -run TestConcurrentRealModels ./internal/conformance/

fuzz-short:
	$(GO) test -run '^$$' -fuzz FuzzDecodeCompile -fuzztime $(FUZZTIME) ./internal/conformance/

fuzz:
	$(MAKE) fuzz-short FUZZTIME=5m

check:
	@for s in node simple pytorch-converted pytorch-operator; do \
		printf '%-18s ' $$s; $(GO) run ./cmd/infer check $(TESTDATA)/$$s | tail -1; \
	done
	@printf '%-18s ' shared; $(GO) run ./cmd/infer check ../shared/models | tail -1
	@printf '%-18s ' exported; $(GO) run ./cmd/infer check testdata/exported | tail -1
	@printf '%-18s ' opset18plus; $(GO) run ./cmd/infer check testdata/opset18plus | tail -1
	@printf '%-18s ' models; $(GO) run ./cmd/infer check models | tail -1

# bench installs what the benchmark needs, then measures and writes
# benchmarks/results.md and results.json (and, on a full run, the table in
# benchmarks/README.md). benchmarks/ is a Go module of its own, so cgo and
# the peers never enter the main module; `go mod tidy` there keeps its
# go.sum in step with the main module's requirements. Nothing here runs in
# `make test`.
ORT_NODE_VERSION := 1.30.0
BENCHFLAGS ?=
bench:
	@cd benchmarks && \
	if ! grep -qs '"version": "$(ORT_NODE_VERSION)"' .ort/node_modules/onnxruntime-node/package.json; then \
		echo "bench: installing onnxruntime-node $(ORT_NODE_VERSION) into benchmarks/.ort"; \
		mkdir -p .ort && (cd .ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@$(ORT_NODE_VERSION)) || exit 1; \
	fi
	@if ! /usr/bin/python3 -c 'import torch, onnx, torchvision' 2>/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-onnx python3-torchvision; \
		else \
			echo "bench: /usr/bin/python3 lacks torch, onnx or torchvision (as root: apt-get install python3-torch python3-onnx python3-torchvision)" >&2; \
		fi; \
	fi
	@if [ ! -e /usr/lib/$$(gcc -print-multiarch)/libopenblas.so ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libopenblas-dev; \
		else \
			echo "bench: libopenblas.so is missing (as root: apt-get install libopenblas-dev)" >&2; \
		fi; \
	fi
	cd benchmarks && /usr/bin/python3 models/make_models.py
	cd benchmarks && $(GO) mod tidy && CGO_ENABLED=1 $(GO) build -o .bin/ ./cmd/...
	cd benchmarks && ./.bin/bench $(if $(QUICK),-quick) $(BENCHFLAGS)

# train-examples runs the full training recipes of the example models in
# models/ (each writes its models/<name>/model.onnx and prints its test
# accuracy; mnist-cnn replaces its model only if it beats 98.57 %). The
# short versions are ordinary Go tests of those packages (make unit).
.PHONY: train-examples
train-examples:
	$(GO) run ./models/xor-mlp
	$(GO) run ./models/mnist-cnn
	$(GO) run ./models/mnist-transfer
	$(GO) run ./models/speech-cnn
	$(GO) run ./models/imdb-lstm
	$(GO) run ./models/cifar10-cnn
