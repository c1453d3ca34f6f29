# Genos build. Two commands set everything up on a fresh machine:
#   make run    build and start the tray app (the headless gateway without a display)
#   make test   install missing build packages, then run every check and test
SHELL := /bin/bash
GO ?= go
# Fyne parses the locale when the binary starts and complains about "C".
ifeq ($(filter-out C C.UTF-8 POSIX,$(LANG)),)
export LANG := en_US.UTF-8
endif
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/genos

.PHONY: all run build build-gateway deps test lint fmt-check vet deps-rule test-race test-all test-nocgo bench package clean

all: build

deps:
	@packaging/install-build-deps.sh
	@# The local ONNX embedder's tests load ONNX Runtime; without npm they
	@# skip and say so, which must not stop the build.
	@packaging/fetch-onnxruntime.sh >/dev/null || echo "make: ONNX Runtime not fetched; the ONNX embedder tests will skip" >&2

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

# A pure-Go server binary without the desktop app.
build-gateway:
	CGO_ENABLED=0 $(GO) build -tags nogui -ldflags '$(LDFLAGS)' -o bin/genos-gateway .

# The binary itself picks the tray app or, without a usable display, the
# headless gateway, and says which.
run: build
	exec $(BIN)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

deps-rule:
	$(GO) test -count=1 -run 'TestDependencyRules|TestCoreBuildsWithoutCgo' .

test-race:
	$(GO) test -race ./core/...

test-all:
	$(GO) test ./...

test-nocgo:
	CGO_ENABLED=0 $(GO) test ./core/...

lint: fmt-check vet deps-rule

test: deps fmt-check vet deps-rule test-race test-all test-nocgo
	@echo "make test: all checks passed"

# The gateway numbers are for the headless server build; the desktop build's
# idle footprint is reported beside them.
bench: build build-gateway
	$(GO) run ./bench -bin bin/genos-gateway -desktop-bin $(BIN) -out bench/RESULTS.md

package:
	@echo "packaging is not set up yet (see packaging/)" >&2; exit 1

clean:
	rm -rf bin
