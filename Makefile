# Parta — `make help` lists the targets. Everything a fresh machine needs is installed by these targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE   := $(CURDIR)/.cache
UV      := $(CACHE)/tools/bin/uv
PY      := $(CURDIR)/.venv/bin/python
PROTOS  := $(shell find proto -name '*.proto' | sort)
GEN     := libs/contracts/src
STAMP   := $(CACHE)/stamps
export UV_PYTHON_DOWNLOADS := never
export UV_CACHE_DIR := $(CACHE)/uv

.PHONY: help setup webapp proto lint test test-unit test-integration test-e2e run stop infra-up infra-down bench profile loadtest render images run-containers test-containers clean replay-dlq test-stress test-faults

help: ## Show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	python3 -m venv $(CACHE)/tools
	$(CACHE)/tools/bin/pip install -q uv==0.13.9

$(STAMP)/sync: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --all-packages --locked --python 3.11
	@mkdir -p $(STAMP) && touch $@

WEBAPP  := services/web/app
WEBSRC  := $(shell find $(WEBAPP)/src -type f 2>/dev/null) $(WEBAPP)/index.html $(WEBAPP)/vite.config.ts $(WEBAPP)/tsconfig.json

setup: $(STAMP)/sync proto $(STAMP)/webapp ## Create .venv with every package, generate code, build the web app

$(STAMP)/proto: $(PROTOS) $(STAMP)/sync
	$(PY) deploy/local/gen_proto.py
	@touch $@

# The web app (docs/web.md): npm ci from package-lock.json, type check and vite build into dist/,
# which the gateway serves. Rebuilt when a source or the lock file changes.
$(STAMP)/webapp-deps: $(WEBAPP)/package.json $(WEBAPP)/package-lock.json
	cd $(WEBAPP) && npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/webapp: $(STAMP)/webapp-deps $(WEBSRC)
	cd $(WEBAPP) && npm run --silent build
	@touch $@

webapp: $(STAMP)/webapp ## Build the web app (services/web/app → dist/)

proto: $(STAMP)/proto ## Generate Python code from proto/ into libs/contracts (git-ignored)

lint: setup ## ruff, mypy (strict on the kit, the client, every domain/ and every app/), buf lint
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict libs/common/src libs/client/src $$(ls -d services/*/src/*/domain services/*/src/*/app 2>/dev/null)
	$(PY) deploy/local/buf.py lint

test: setup ## Start the local infrastructure and run unit, integration and e2e tiers
	$(PY) deploy/local/testrun.py all

test-unit: setup ## Unit tier only (no infrastructure)
	$(PY) deploy/local/testrun.py unit

test-integration: setup ## Integration tier (starts Kafka and the store if needed)
	$(PY) deploy/local/testrun.py integration

test-e2e: setup ## End-to-end tier (starts Kafka and the store if needed)
	$(PY) deploy/local/testrun.py e2e

test-faults: setup ## Fault tests: Kafka killed and chat replicas SIGKILLed/SIGTERMed under load (minutes)
	$(PY) deploy/local/testrun.py faults

test-stress: setup ## Integration + e2e tiers with one core kept busy by a CPU hog: make test-stress [RUNS=3]
	$(PY) deploy/local/testrun.py stress $(or $(RUNS),1)

infra-up: setup ## Install and start Kafka and the Mongo-wire store on loopback
	$(PY) deploy/local/infra.py up

infra-down: ## Stop the local infrastructure started by infra-up
	python3 deploy/local/infra.py down

run: setup ## Bring up infrastructure, every service and a demo school
	$(PY) deploy/local/stack.py up

stop: ## Stop everything `make run` started
	python3 deploy/local/stack.py down

bench: setup ## Benchmarks: each service beside the bare grpc.aio echo ceiling and the store alone
	$(PY) deploy/local/testrun.py bench

profile: setup ## Where chat's CPU goes during SendMessage at concurrency 16 (py-spy; docs/chat.md)
	$(PY) deploy/local/testrun.py profile

loadtest: setup ## Load-test one service on loopback with ghz: make loadtest SERVICE=chat [DURATION=10s] [ARGS=...]
	@test -n "$(SERVICE)" || { echo "usage: make loadtest SERVICE=identity|school|chat|media-signal [DURATION=10s] [ARGS='--concurrency 16']"; exit 2; }
	$(PY) deploy/loadtest/run.py $(SERVICE) --duration $(or $(DURATION),10s) $(ARGS)

replay-dlq: setup ## Replay a dead-letter topic into its origin topic once the cause is fixed: make replay-dlq TOPIC=<topic>.dlq [KAFKA=127.0.0.1:9092]
	@test -n "$(TOPIC)" || { echo "usage: make replay-dlq TOPIC=school.class.v1.dlq [KAFKA=host:port] [GROUP=parta-dlq-replay]"; exit 2; }
	$(PY) -m parta_common.events.replay --bootstrap $(or $(KAFKA),$(PARTA_KAFKA_BOOTSTRAP),127.0.0.1:9092) --topic $(TOPIC) $(if $(GROUP),--group $(GROUP))

render: setup ## Render every Kustomize overlay into .cache/render/ and validate it offline (Kubernetes schemas)
	$(PY) deploy/render.py

images: setup ## Build the service images with podman from a Debian base made here (no registry): .cache/images/
	$(PY) deploy/images.py build

test-containers: setup ## Run the built images as hardened containers (host network): probes + a smoke flow
	$(PY) deploy/local/testrun.py containers

run-containers: images test-containers ## make images, then the container smoke run (Kafka and the store on the host)

clean: ## Remove generated code and caches (keeps downloaded infrastructure)
	rm -rf $(GEN)/parta $(STAMP) .venv
