# taiko-preconf: common tasks. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
FORGE := tools/node_modules/.bin/forge
CARGO ?= cargo

.PHONY: tools contracts contracts-check test test-rust test-contracts lint fmt bench gas devnet clean

tools:
	@tools/install.sh

## Build the contracts and refresh the committed ABI/bytecode the Rust side uses.
contracts: tools
	cd contracts && ../$(FORGE) build
	node contracts/export-artifacts.mjs

## Fail if the committed artifacts are not what the sources compile to.
contracts-check: tools
	cd contracts && ../$(FORGE) build
	node contracts/export-artifacts.mjs --check

test-contracts: tools
	cd contracts && ../$(FORGE) test

## The devnet infrastructure (anvil L1, beacon and Bolt simulators, contracts), until Ctrl-C.
devnet: tools contracts-check
	cargo run --release -p taiko-preconf -- devnet

## Gas figures of the L1 contracts (docs/gas.md).
gas: tools
	cd contracts && ../$(FORGE) test --match-test gas -vv
	cd contracts && ../$(FORGE) test --match-path 'test/l1/*' --no-match-contract Invariant --gas-report

test-rust: tools
	$(CARGO) test --workspace

## Everything: contract artifacts fresh, forge tests, Rust tests.
test: contracts-check test-contracts test-rust

lint: tools
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd contracts && ../$(FORGE) fmt --check

fmt: tools
	$(CARGO) fmt --all
	cd contracts && ../$(FORGE) fmt

bench: tools
	$(CARGO) run --release -p taiko-preconf -- bench import
	$(CARGO) run --release -p taiko-preconf -- bench pool
	$(CARGO) run --release -p taiko-preconf -- bench rpc

clean:
	$(CARGO) clean
	rm -rf contracts/out contracts/cache
