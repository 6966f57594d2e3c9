# Onyx: build, test and benchmark.
#
#   make test     install what the tests need (as root), then vet and test everything
#   make check    run the ONNX backend suite through the CLI and print pass counts
#   make fuzz     fuzz the model decoder and compiler for longer

GO ?= go
TESTDATA := /usr/share/libonnx-testdata/data
FUZZTIME ?= 20s

.PHONY: test deps vet unit race fuzz check build

test: deps vet unit race fuzz-short

# deps installs the ONNX backend suite (Debian's libonnx-testdata) when it
# is missing and we may install packages.
deps:
	@if [ ! -d $(TESTDATA)/node ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libonnx-testdata; \
		else \
			echo "make: $(TESTDATA) is missing; install Debian's libonnx-testdata (as root: apt-get install libonnx-testdata)" >&2; \
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
	CGO_ENABLED=0 $(GO) build ./...
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...

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
	@printf '%-18s ' models; $(GO) run ./cmd/infer check models | tail -1
