# The two commands a newcomer needs: `make demo` and `make test`. Both set up what they use
# (Python venvs with moto, boto3 and the MCP SDKs; the AWS SDK for JavaScript) on first run.

CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
AWSGATE := $(TARGET_DIR)/debug/awsgate

.PHONY: test lint unit integration demo bench bench-e2e python-env build differential fuzz

## Every test: formatting, lints, Rust unit/golden/property/CLI tests, then the
## integration tests against moto with real MCP clients.
test: lint python-env unit integration

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test --all-targets

build:
	$(CARGO) build

python-env:
	scripts/python-env.sh
	scripts/browser-env.sh
	scripts/js-env.sh
	scripts/replica-env.sh

## The binary the integration tests run is the one `cargo test` builds (with the features
## the dev-dependencies turn on), so `make test` compiles the AWS SDK crates once, not twice.
integration:
	$(CARGO) test --all-targets --no-run
	AWSGATE_BIN=$(AWSGATE) .venv/bin/python -m pytest tests/integration -q -p no:cacheprovider

## A local emulator, seeded; awsgate on a starter policy, driven by a real MCP client.
demo: build
	scripts/python-env.sh --main-only
	.venv/bin/python scripts/demo.py $(AWSGATE)

## The gate's criterion benchmark.
bench:
	$(CARGO) bench --bench gate

## End-to-end figures against moto (release build); BASELINE=path/to/an/older/awsgate also
## measures the denied call of that build, alternating with this one.
bench-e2e:
	$(CARGO) build --release
	scripts/python-env.sh --main-only
	.venv/bin/python scripts/bench_e2e.py $(TARGET_DIR)/release/awsgate $(if $(BASELINE),--baseline $(BASELINE))

## The gate against the reference evaluator of the documented IAM rules, long run
## (release build; DIFF_CASES per property, default 200,000).
DIFF_CASES ?= 200000
differential:
	AWSGATE_DIFF_CASES=$(DIFF_CASES) $(CARGO) test --release --test differential -- --nocapture

## Fuzz the policy loader and the gate (cargo-fuzz and libFuzzer; nightly, or stable with
## RUSTC_BOOTSTRAP=1 as here). FUZZ_SECONDS bounds the run; the seeds are fuzz/seeds/policy.
FUZZ_SECONDS ?= 300
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/policy
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run policy corpus/policy seeds/policy -- -max_total_time=$(FUZZ_SECONDS)
