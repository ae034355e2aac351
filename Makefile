# Interlocality — one region of the platform on this machine.
#   make run        start a demo region (broker, topics, five services, demo data)
#   make test       lint, type-check and run the whole test suite
#   make contracts  regenerate JSON Schemas and AsyncAPI documents from the contracts
#   make manifests  regenerate the Kafka topic manifests of every k8s overlay
#   make migration SERVICE=matching MESSAGE="what changed"   add a schema revision
#   make bench      run the benchmarks in bench/

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
RUN := $(UV) run --frozen

.PHONY: uv install run test lint typecheck pytest contracts manifests migration bench clean

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

typecheck:
	$(RUN) mypy contracts/src libs/common/src services/*/src

pytest:
	$(RUN) pytest

contracts: install
	$(RUN) python -m interlocality.common.schemas contracts

manifests: install
	$(RUN) python -m interlocality.common.manifests write

migration: install
	$(RUN) python -m interlocality.common.migrations revision $(SERVICE) "$(MESSAGE)"

bench: install
	$(RUN) python bench/skill_search.py
	$(RUN) python bench/company_dating.py
	$(RUN) python bench/import_region.py
	$(RUN) python bench/matching_quality.py
	$(RUN) python bench/matching_speed.py
	$(RUN) python bench/notifications_speed.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
