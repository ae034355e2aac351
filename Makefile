# Interlocality — one region of the platform on this machine.
#   make run        start a demo region (broker, topics, five services, demo data)
#   make test       lint (style, architecture rules), type-check and run the whole test suite
#   make browser    install the Chromium the browser tests drive, when none is found
#   make promtool   install Prometheus' promtool (checks infra/prometheus), when none is found
#   make contracts  regenerate JSON Schemas and AsyncAPI documents from the contracts
#   make manifests  regenerate the k8s base and the Kafka topics and users of every overlay
#   make migration SERVICE=matching MESSAGE="what changed"   add a schema revision
#   make bench      run the benchmarks in bench/
#   make chaos      a region on PostgreSQL under faults (replicas and the broker killed),
#                   checked against the ground truth of its load (bench/chaos.py)
#   make soak       the same region under a steady load for 10 minutes, no faults: memory
#                   and consumer lag sampled, judged flat or not (bench/soak.py)

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
RUN := $(UV) run --frozen

.PHONY: uv install run test lint typecheck browser promtool pytest contracts manifests migration bench chaos soak clean

uv:
	@$(UV) --version >/dev/null 2>&1 || { \
	  echo "uv not found: installing it with pip"; \
	  $(PYTHON) -m pip install --quiet uv \
	  || $(PYTHON) -m pip install --quiet --user --break-system-packages uv; }

install: uv
	$(UV) sync --frozen

run: install
	$(RUN) interlocality up

test: install lint typecheck pytest

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports --no-logo --no-cache

typecheck:
	$(RUN) mypy contracts/src libs/common/src services/*/src tools/operator/src

# Pages are tested in Chromium driven by Playwright: Playwright's own build where it can be
# downloaded, else the distribution's chromium (apt-get, as root or through sudo).
browser: install
	@$(RUN) python -m interlocality.common.testing >/dev/null 2>&1 && exit 0; \
	echo "No Chromium for the browser tests: installing Playwright's own build"; \
	$(RUN) playwright install chromium && $(RUN) python -m interlocality.common.testing && exit 0; \
	echo "Playwright's Chromium could not be installed: installing the distribution's chromium"; \
	if command -v apt-get >/dev/null 2>&1; then \
	  as_root=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  { $$as_root apt-get install -y chromium \
	    || { $$as_root apt-get update && $$as_root apt-get install -y chromium; }; } \
	  && $(RUN) python -m interlocality.common.testing && exit 0; \
	fi; \
	echo "No Chromium could be installed for the browser tests: install Chromium (Debian:" \
	  "apt-get install chromium) or set INTERLOCALITY_CHROMIUM to its binary." >&2; \
	exit 1

# The alert rules and Prometheus' configuration are checked with promtool: the
# distribution's prometheus package ships it (apt-get, as root or through sudo).
promtool:
	@command -v promtool >/dev/null 2>&1 && exit 0; \
	echo "No promtool for the Prometheus checks: installing the distribution's prometheus"; \
	if command -v apt-get >/dev/null 2>&1; then \
	  as_root=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  { $$as_root apt-get install -y --no-install-recommends prometheus \
	    || { $$as_root apt-get update && \
	         $$as_root apt-get install -y --no-install-recommends prometheus; }; } \
	  && command -v promtool >/dev/null 2>&1 && exit 0; \
	fi; \
	echo "No promtool could be installed: install Prometheus' promtool (Debian:" \
	  "apt-get install prometheus)." >&2; \
	exit 1

# Most tests wait on a broker, a database or a process rather than compute: three workers
# keep two cores busy. Each test module stays on one worker (its region is started once).
PYTEST_WORKERS ?= 3
pytest: browser promtool
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadfile

contracts: install
	$(RUN) python -m interlocality.operator.schemas contracts

manifests: install
	$(RUN) python -m interlocality.operator.manifests write

migration: install
	$(RUN) python -m interlocality.operator.migrations revision $(SERVICE) "$(MESSAGE)"

bench: install
	$(RUN) python bench/skill_search.py
	$(RUN) python bench/company_dating.py
	$(RUN) python bench/import_region.py
	$(RUN) python bench/matching_quality.py
	$(RUN) python bench/matching_speed.py
	$(RUN) python bench/notifications_speed.py

CHAOS_ARGS ?= --kills 100 --students 600 --vacancies 24
chaos: install
	$(RUN) python bench/chaos.py $(CHAOS_ARGS)

SOAK_ARGS ?= --minutes 10 --rate 8 --population 300
soak: install
	$(RUN) python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
