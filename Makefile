# golora's build, test and serve targets. Every target pins the Go toolchain:
# these machines start on an older Go with GOTOOLCHAIN=local.
export GOTOOLCHAIN := go1.27.3
GO        ?= go
GOROOT    := $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
ADDR      ?= 127.0.0.1:8080
SIMD      := GOEXPERIMENT=simd

.PHONY: all test vet test-native test-wasm test-e2e chromium bench bench-wasm wasm serve build fuzz clean base bench-data bench-heldout bench-methods e2e-default e2e-methods e2e-analyse-cost vendor

all: build wasm

build:
	$(SIMD) $(GO) build -o bin/golora ./cmd/golora

## test: everything a fresh machine can run: vet, native and wasm tests, scalar and SIMD builds, browser end to end.
## It installs Debian's Chromium first when /usr/bin/chromium is missing (target chromium).
test: vet test-native test-wasm chromium test-e2e

## chromium: the browser test's Chromium, installed with apt-get (through sudo when not root) when it is missing.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "make: $(CHROMIUM) is missing; installing Debian's chromium for the browser test (apt-get update && apt-get install -y chromium)"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; \
	fi

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
## The test builds both wasm engines itself; GOLORA_E2E_REQUIRE=1 turns its skip (no Chromium) into a failure.
test-e2e:
	GOLORA_E2E_REQUIRE=1 $(GO) test -count=1 -timeout 20m ./e2e/...

## bench: `golora bench` natively (JSON lines, each figure next to its baseline).
bench:
	$(SIMD) $(GO) run ./cmd/golora bench -json

## bench-wasm: the same benchmark compiled to wasm and run under Node.
bench-wasm:
	$(SIMD) GOOS=js GOARCH=wasm $(GO) run -exec="$(WASM_EXEC)" ./cmd/golora bench -json

## fuzz: every fuzz target of the module, FUZZTIME each (make fuzz FUZZTIME=10s), then the runs per target.
## A short -fuzzminimizetime keeps the time on fuzzing: the default (60s) spends a 60 s run minimising new inputs.
FUZZTIME         ?= 60s
FUZZMINIMIZETIME ?= 1s
fuzz:
	@set -e; log=$$(mktemp); summary=$$(mktemp); trap 'rm -f $$log $$summary' EXIT; \
	for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			if ! $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg >$$log 2>&1; then \
				cat $$log; echo "make fuzz: $$pkg $$target failed (the failing input is in its testdata/fuzz/$$target/)"; exit 1; \
			fi; \
			runs=$$(grep -o 'execs: [0-9]*' $$log | tail -1 | cut -d' ' -f2); \
			printf '%-24s %-24s %12s runs in %s\n' $$pkg $$target "$$runs" $(FUZZTIME) | tee -a $$summary; \
		done; \
	done; \
	echo; echo "make fuzz: every target passed"; cat $$summary

wasm:
	@mkdir -p web/dist
	$(SIMD) GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o web/dist/golora.wasm ./wasm
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o web/dist/golora-scalar.wasm ./wasm
	cp "$(GOROOT)/lib/wasm/wasm_exec.js" web/dist/wasm_exec.js
	gzip -9kf web/dist/golora.wasm web/dist/golora-scalar.wasm
	@ls -l web/dist/*.wasm web/dist/*.wasm.gz | awk '{print "  " $$5 " bytes  " $$9}'

## vendor: refresh the page's vendored libraries in web/vendor/ from npm, at the versions pinned here (README, Design:
## uPlot draws the charts, fflate writes the adapter zip). Each file keeps its licence beside it; VERSIONS records what came.
UPLOT_VERSION  := 1.6.32
FFLATE_VERSION := 0.8.3
vendor:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	(cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) fflate@$(FFLATE_VERSION) >/dev/null); \
	mkdir -p $$tmp/uplot $$tmp/fflate web/vendor; \
	tar xzf $$tmp/uplot-$(UPLOT_VERSION).tgz -C $$tmp/uplot; tar xzf $$tmp/fflate-$(FFLATE_VERSION).tgz -C $$tmp/fflate; \
	cp $$tmp/uplot/package/dist/uPlot.esm.js web/vendor/uPlot.esm.js; \
	cp $$tmp/uplot/package/dist/uPlot.min.css web/vendor/uPlot.min.css; \
	cp $$tmp/uplot/package/LICENSE web/vendor/uPlot.LICENSE; \
	cp $$tmp/fflate/package/esm/browser.js web/vendor/fflate.js; \
	cp $$tmp/fflate/package/LICENSE web/vendor/fflate.LICENSE; \
	{ echo "# web/vendor: what \`make vendor\` copied from npm (package@version, licence, files)"; \
	  echo "uplot@$(UPLOT_VERSION) MIT dist/uPlot.esm.js dist/uPlot.min.css LICENSE -> uPlot.esm.js uPlot.min.css uPlot.LICENSE"; \
	  echo "fflate@$(FFLATE_VERSION) MIT esm/browser.js LICENSE -> fflate.js fflate.LICENSE"; } > web/vendor/VERSIONS; \
	ls -l web/vendor | awk 'NR>1 {print "  " $$5 " bytes  web/vendor/" $$9}'

serve: wasm
	$(SIMD) $(GO) run ./cmd/golora serve -addr $(ADDR)

## e2e-default: time the page's default run in headless Chromium (a few minutes; not part of make test).
e2e-default:
	GOLORA_E2E_REQUIRE=1 GOLORA_E2E_DEFAULT=1 $(GO) test -count=1 -timeout 30m -run TestBrowserDefaultRun -v ./e2e/...

## e2e-methods: time the page's methods sweep (every method at its smallest size, on e2e) in headless Chromium (an
## hour or more; not part of make test).
e2e-methods:
	GOLORA_E2E_REQUIRE=1 GOLORA_E2E_METHODS=1 $(GO) test -count=1 -timeout 5h -run TestBrowserMethodsSweep -v ./e2e/...
## e2e-analyse-cost: time the Analyse panel's SVDs in the tab against native Go (a few minutes; not part of make test).
e2e-analyse-cost:
	GOLORA_E2E_REQUIRE=1 GOLORA_E2E_ANALYSE_COST=1 $(GO) test -count=1 -timeout 30m -run TestBrowserAnalyseCost -v ./e2e/...

## base: the shipped base, continued from the previous base (models/base-v1.safetensors) in two stages: the new corpus
## with its prose from Debian's fortunes package (installed here when missing), then the same with exercises and
## copying drills over digits, capitals and punctuation; about 45 + 45 minutes on 2 idle cores (models/README.md).
FORTUNES := /usr/share/games/fortunes
STAGES   := .scratch/base-stages
base: build
	@test -f $(FORTUNES)/fortunes || { echo "make base: installing Debian's fortunes package for the corpus's prose (apt-get install -y fortunes)"; apt-get install -y fortunes >/dev/null; }
	mkdir -p $(STAGES)
	bin/golora pretrain -init models/base-v1.safetensors -prose $(FORTUNES) -exercises 0 -copy-mix 0.2 -copy-alphabet 8 -copy-period 30 \
		-copy-periodic 0.3 -steps 3000 -lr 2e-3 -lr-min 2e-4 -warmup 100 -save-every 500 -out $(STAGES)/base-formats.safetensors
	bin/golora pretrain -init $(STAGES)/base-formats.safetensors -prose $(FORTUNES) -exercises 160000 -copy-mix 0.25 \
		-copy-mixed 0.6 -copy-alphabet 8 -copy-period 30 -copy-periodic 0.5 -steps 3000 -lr 2e-3 -lr-min 2e-4 -warmup 100 \
		-save-every 500 -out $(STAGES)/base.safetensors
	cp $(STAGES)/base.safetensors models/base.safetensors

## bench-data: the own-data benchmark: a sweep of LoRA ranks on q,v plus full fine-tuning on each task of testdata/owndata.
OWNDATA := $(wildcard testdata/owndata/*.jsonl)
bench-data: build
	@for f in $(OWNDATA); do echo "== $$f"; bin/golora sweep -data $$f -ranks 1,2,4,8,16 -eval-every 0 -json $(SWEEPFLAGS) || exit 1; done

## bench-heldout: the same sweep on the two tasks of testdata/heldout (dates, acronyms), operations the base's
## pretraining exercises leave out on purpose (models/README.md): does what they taught carry over?
HELDOUT := $(wildcard testdata/heldout/*.jsonl)
bench-heldout: build
	@for f in $(HELDOUT); do echo "== $$f"; bin/golora sweep -data $$f -ranks 1,2,4,8,16 -eval-every 0 -json $(SWEEPFLAGS) || exit 1; done

## bench-methods: the LoRA paper's Figure 2 at our scale: every method at its ladder of sizes on e2e, facts and the
## own-data task field (hours on the shared 2-core machine); JSON lines in .scratch/, figures in docs/figures/.
METHODS := lora,dora,full,top,bitfit,ia3,adapter-h,adapter-l,prefix-embed,prefix-layer
bench-methods: build
	mkdir -p .scratch docs/figures
	bin/golora sweep -task e2e -methods $(METHODS) -size prefix-embed=1,2,4,6 -size prefix-layer=1,2,4,6 -eval-every 0 -json \
		-png docs/figures/methods-e2e.png > .scratch/methods-e2e.jsonl
	bin/golora sweep -task facts -methods $(METHODS) -eval-every 0 -json -png docs/figures/methods-facts.png > .scratch/methods-facts.jsonl
	bin/golora sweep -data testdata/owndata/field.jsonl -methods $(METHODS) -eval-every 0 -json \
		-png docs/figures/methods-field.png > .scratch/methods-field.jsonl

clean:
	rm -rf bin web/dist
