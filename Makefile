# Gantry's tasks. `make help` lists them. Every recipe sources tools/env.sh, which picks the
# toolchain that can build the wasm front end (see the README's "Building" section).
#
# CARGO_TARGET_DIR is honoured when set (CI puts it under ~/.cache so a fresh clone reuses
# earlier builds); otherwise cargo's default target/ is used.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := . tools/env.sh &&
TARGET_DIR = $${CARGO_TARGET_DIR:-target}
DEMO_DIR := data/demo

.PHONY: help setup demo serve test lint unit e2e build release watch

help: ## List the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## Install what is missing (toolchain, wasm-bindgen, cargo-leptos, Chromium, npm packages)
	@bash tools/setup.sh

demo: setup build ## Run Gantry on embedded defaults: SQLite in data/demo, the demo cluster's kubeconfig
	@mkdir -p $(DEMO_DIR)
	$(ENV) GANTRY_DATA_DIR=$(DEMO_DIR) KUBECONFIG=$(DEMO_DIR)/kubeconfig \
	  GANTRY_SITE_ROOT=target/site exec $(TARGET_DIR)/debug/gantry

serve: setup build ## Run Gantry against your own cluster (current kubeconfig context, or in-cluster)
	$(ENV) GANTRY_SITE_ROOT=target/site exec $(TARGET_DIR)/debug/gantry

test: setup lint unit build e2e ## Everything CI checks: formatting, clippy, Rust tests, browser tests

lint: ## Formatting check and clippy for the server and the wasm, warnings denied
	$(ENV) cargo fmt --all --check
	$(ENV) cargo clippy --locked -p gantry-app -p gantry-server --all-targets -- -D warnings
	$(ENV) cargo clippy --locked -p gantry-app -p gantry-frontend --target wasm32-unknown-unknown -- -D warnings

unit: ## Rust unit and integration tests
	$(ENV) cargo test --locked -p gantry-app -p gantry-server

build: ## Build the server and the wasm front end (debug) into target/site
	$(ENV) cargo leptos build

release: ## Build optimised: the server binary and the size-optimised wasm
	GANTRY_RUSTFLAGS= $(ENV) cargo leptos build --release

e2e: ## Playwright in Debian's Chromium against a freshly started server
	$(ENV) cd end2end && GANTRY_BIN="$$(cd .. && realpath $(TARGET_DIR))/debug/gantry" npx playwright test

watch: setup ## Rebuild and reload the page on every change (development)
	$(ENV) cargo leptos watch
