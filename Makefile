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
CLUSTER := tools/cluster
DEMO_CLUSTER := $(DEMO_DIR)/cluster
# The demo cluster's Prometheus, from the ports up.sh chose (read when a recipe uses it).
DEMO_PROMETHEUS = http://127.0.0.1:$$(awk -F= '$$1 == "prometheus" { print $$2 }' $(DEMO_CLUSTER)/ports)

.PHONY: help setup demo demo-down serve test lint unit e2e e2e-release build release watch bench-release bench-cluster bench-inventory bench-jobs bench-serving bench-outage bench-logs bench-search bench-charts bench-metrics bench-mlflow bench-mlflow-s3

help: ## List the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## Install what is missing (toolchain, tools, Chromium, npm packages, the local cluster's binaries)
	@bash tools/setup.sh

demo: setup build ## Run Gantry on embedded defaults: a seeded local cluster (left running), SQLite in data/demo
	@mkdir -p $(DEMO_DIR)
	@kubeconfig="$$($(CLUSTER)/up.sh $(DEMO_CLUSTER) | tail -n 1)" && $(CLUSTER)/seed.sh "$$kubeconfig" && \
	  "$$($(CLUSTER)/build.sh)/kubectl" --kubeconfig="$$kubeconfig" apply -f $(CLUSTER)/demo/idle-job.yaml >/dev/null && \
	  printf '[{"targets": ["127.0.0.1:3000"]}]\n' > $(DEMO_CLUSTER)/prometheus/targets/gantry.json && \
	  printf '\nThe demo cluster keeps running (stop it with make demo-down). To look at it:\n  export KUBECONFIG=%s\n  %s/kubectl get nodes\nIts Prometheus: %s\n\n' \
	    "$$kubeconfig" "$$($(CLUSTER)/build.sh)" "$(DEMO_PROMETHEUS)"
	@# The demo's admin password: random, made once, kept beside the demo's database.
	@[ -s $(DEMO_DIR)/admin-password ] || (umask 077 && openssl rand -hex 12 > $(DEMO_DIR)/admin-password)
	@printf 'Log in as admin with the password %s (kept in %s/admin-password).\n\n' \
	  "$$(cat $(DEMO_DIR)/admin-password)" "$(DEMO_DIR)"
	@# Once Gantry answers: the data scientist alice and her MLflow token (printed).
	@$(CLUSTER)/demo/alice.sh http://127.0.0.1:3000 $(DEMO_DIR) &
	$(ENV) GANTRY_DATA_DIR=$(DEMO_DIR) KUBECONFIG=$(DEMO_CLUSTER)/gantry.kubeconfig \
	  GANTRY_ADMIN_PASSWORD="$$(cat $(DEMO_DIR)/admin-password)" \
	  GANTRY_PROMETHEUS_URL="$(DEMO_PROMETHEUS)" GANTRY_IDLE_MINUTES=5 \
	  GANTRY_TRACKING_URI=http://127.0.0.1:3000 \
	  GANTRY_MLFLOW_SERVICE_HOST=gantry.gantry.svc.cluster.local \
	  GANTRY_SITE_ROOT=target/site exec $(TARGET_DIR)/debug/gantry

demo-down: ## Stop the demo's local cluster (its data stays in data/demo/cluster)
	@$(CLUSTER)/down.sh $(DEMO_CLUSTER)

serve: setup build ## Run Gantry against your own cluster (current kubeconfig context, or in-cluster)
	$(ENV) GANTRY_SITE_ROOT=target/site exec $(TARGET_DIR)/debug/gantry

# The release build comes after the debug build's browser tests: both write target/site, and
# e2e-release lays out whichever was built last.
test: setup lint ## Everything CI checks: formatting, clippy, then Rust tests (SQLite and PostgreSQL) and browser tests on the debug and the release build against a fresh local cluster
	@$(CLUSTER)/with-cluster.sh $(MAKE) --no-print-directory unit build e2e release e2e-release

lint: ## Formatting, no module cycles, shellcheck, Prometheus rules, clippy for the server and the wasm, warnings denied
	$(ENV) cargo fmt --all --check
	python3 tools/modules.py
	shellcheck -x $$(git ls-files '*.sh')
	"$$($(CLUSTER)/build.sh)/promtool" check rules --lint=all $(CLUSTER)/prometheus-rules.yml
	$(ENV) cargo clippy --locked -p gantry-app -p gantry-server -p gantry-gpu-sim --all-targets -- -D warnings
	$(ENV) cargo clippy --locked -p gantry-app -p gantry-frontend --target wasm32-unknown-unknown -- -D warnings

# The same packages in both runs: cargo unifies their features, so the second run reuses the
# first's build (with only gantry-server named, gantry-app would be compiled again).
TEST_PACKAGES := -p gantry-app -p gantry-server -p gantry-gpu-sim
unit: ## Rust unit and integration tests on SQLite beside an S3-compatible server, then the integration tests again on PostgreSQL (cluster tests skip unless GANTRY_TEST_KUBECONFIG is set)
	$(ENV) tools/s3/with-s3.sh cargo test --locked $(TEST_PACKAGES)
	$(ENV) tools/postgres/with-postgres.sh cargo test --locked $(TEST_PACKAGES) --test integration

# The debug front end is gzipped beside itself (brotli at its size would take a minute a
# build), so the demo's 11 MB main wasm module crosses the network as 1.8 MB (and its 30 MB
# in all, with every page's chunk, as 4.7 MB); the release build's precompression writes
# both. --split: every page is a lazy route with its own chunk (app/src/routes.rs).
build: ## Build the server and the wasm front end (debug) into target/site
	$(ENV) cargo leptos build --split
	find target/site/pkg -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' \) -exec gzip -kf {} +

release: ## Build optimised: the server binary and the size-optimised wasm (wasm-opt -Oz), precompressed
	$(ENV) cargo leptos build --release --precompress --split

# Both fail, too, when a server panicked during the run (end2end/no-server-panics.sh).
e2e: ## Playwright in Debian's Chromium against freshly started servers (the debug build)
	$(ENV) cd end2end && GANTRY_BIN="$$(cd .. && realpath $(TARGET_DIR))/debug/gantry" npx playwright test 2>&1 | ./no-server-panics.sh

e2e-release: ## Playwright against the release build, run from the container image's layout
	@layout="$$(tools/release/layout.sh "$(TARGET_DIR)" "$(TARGET_DIR)/image-layout")" && \
	  $(ENV) cd end2end && GANTRY_BIN="$$layout/usr/local/bin/gantry" GANTRY_SITE="$$layout/srv/gantry/site" npx playwright test 2>&1 | \
	  ./no-server-panics.sh

bench-release: setup ## Release sizes per asset (raw, gzip, brotli) and the first load of / as a browser fetches it (after make release)
	$(ENV) tools/bench/release-sizes.sh

bench-cluster: setup ## Seed time and API server memory for 1,000 and 5,000 fake GPU nodes (minutes)
	@tools/bench/cluster.sh

bench-inventory: setup ## GPU inventory at 5,000 nodes and 50,000 pods: memory, latency, LIST baseline, bind to page (about 30 min)
	$(ENV) tools/bench/gpu-inventory.sh

bench-jobs: setup ## Training jobs: launch to list, 200 status changes to the page, 1,000 log lines/s (minutes)
	$(ENV) tools/bench/jobs.sh

bench-serving: setup ## Serving: scale to the open page, the list of 1,000 services at 50 clients (minutes)
	$(ENV) tools/bench/serving.sh

bench-outage: setup ## The API server stopped (SIGSTOP) for a minute: cached reads, writes, /readyz, recovery (minutes)
	$(ENV) tools/bench/outage.sh

bench-mlflow: setup ## The registry under MLflow clients: log-batch, 50 clients, a 1 GiB artifact (memory), searches over 10,000 models and 100,000 versions
	$(ENV) tools/bench/mlflow.sh

bench-mlflow-s3: setup ## A 1 GiB artifact up and down with the artifact store on SeaweedFS's S3 (Gantry's memory, throughput)
	$(ENV) ARTIFACTS=s3 ONLY=artifact tools/bench/mlflow.sh

bench-logs: setup ## A 40-pod job's 10 MiB logs downloaded: bytes, time, Gantry's memory (minutes)
	$(ENV) tools/bench/logs.sh

bench-search: setup ## Hostile node searches: p99 of other requests before and during them (minutes)
	$(ENV) tools/bench/search.sh

bench-charts: setup ## Drawing the largest chart (10 series x 600 points) to SVG: time and size (seconds)
	$(ENV) cargo bench -q -p gantry-server --bench charts

bench-metrics: setup ## 24 h node and 64-GPU job charts against 7 days of 5,000 backfilled GPUs; 50 clients on one page (about 15 min)
	$(ENV) tools/bench/metrics.sh

watch: setup ## Rebuild and reload the page on every change (development)
	$(ENV) cargo leptos watch --split
