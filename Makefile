# golora's build, test and serve targets. Every target pins the Go toolchain:
# these machines start on an older Go with GOTOOLCHAIN=local.
export GOTOOLCHAIN := go1.27.3
GO        ?= go
GOROOT    := $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
ADDR      ?= 127.0.0.1:8080
SIMD      := GOEXPERIMENT=simd

.PHONY: all test vet test-native test-wasm test-e2e bench bench-wasm wasm serve build fuzz clean

all: build wasm

build:
	$(SIMD) $(GO) build -o bin/golora ./cmd/golora

## test: everything a fresh machine can run: vet, native and wasm tests, scalar and SIMD builds, browser end to end.
test: vet test-native test-wasm test-e2e

vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./...
	$(SIMD) $(GO) vet ./core/...

test-native:
	$(GO) test -count=1 ./core/... ./cmd/...
	$(SIMD) $(GO) test -count=1 ./core/...

test-wasm:
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" ./core/...
	$(SIMD) GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" ./core/...

## test-e2e: the browser app in headless Chromium (apt-get install -y chromium), screenshots in e2e/screenshots/.
test-e2e: wasm
	$(GO) test -count=1 -timeout 20m ./e2e/...

## bench: `golora bench` natively (JSON lines, each figure next to its baseline).
bench:
	$(SIMD) $(GO) run ./cmd/golora bench -json

## bench-wasm: the same benchmark compiled to wasm and run under Node.
bench-wasm:
	$(SIMD) GOOS=js GOARCH=wasm $(GO) run -exec="$(WASM_EXEC)" ./cmd/golora bench -json

wasm:
	@mkdir -p web/dist
	$(SIMD) GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o web/dist/golora.wasm ./wasm
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o web/dist/golora-scalar.wasm ./wasm
	cp "$(GOROOT)/lib/wasm/wasm_exec.js" web/dist/wasm_exec.js
	gzip -9kf web/dist/golora.wasm web/dist/golora-scalar.wasm
	@ls -l web/dist/*.wasm web/dist/*.wasm.gz | awk '{print "  " $$5 " bytes  " $$9}'

serve: wasm
	$(SIMD) $(GO) run ./cmd/golora serve -addr $(ADDR)

clean:
	rm -rf bin web/dist
