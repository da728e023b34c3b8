# The two commands a newcomer needs: `make demo` and `make test`.

CARGO ?= cargo

.PHONY: test lint unit bench

## Every test: formatting, lints, unit, golden, property and CLI tests.
test: lint unit

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test --all-targets

## The gate's criterion benchmark (figures in README.md).
bench:
	$(CARGO) bench --bench gate
