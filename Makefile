# pairdesk: the two commands.
#   make run   install what is missing, build the release binary, serve on http://127.0.0.1:3000
#   make test  install what is missing, then fmt, clippy (ssr + hydrate), cargo tests, browser tests,
#              and a bounded schemathesis run against the HTTP API (api-fuzz)
SHELL := /bin/bash
# npm's binaryen (wasm-opt) must win over any Debian one; cargo's bin for
# wasm-bindgen and cargo-leptos.
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run test install build dev check unit e2e api-fuzz fmt clippy

run: install build
	./target/release/pairdesk serve

test: install check unit build e2e api-fuzz

install:
	./scripts/install.sh

# cargo, wasm-bindgen and wasm-opt directly (what cargo-leptos would run);
# cargo-leptos itself is installed only for `make dev`.
build:
	./scripts/build.sh

dev:
	./scripts/install.sh --dev
	cargo leptos watch

check:
	cargo fmt --all -- --check
	cargo clippy --all-targets --features ssr -- -D warnings
	cargo clippy --all-targets --features hydrate -- -D warnings

unit:
	cargo test --features ssr

e2e:
	cd end2end && npx playwright test

# Property-based API check (schemathesis from PyPI, installed under ./tools by
# scripts/install.sh) against the release binary on the simulated market.
api-fuzz:
	./scripts/api-fuzz.sh
