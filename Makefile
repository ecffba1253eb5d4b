# One target per habit; a newcomer and CI run the same thing.
#   make demo   embedded broker + fleet API on SQLite + simulated exhibits
#   make test   install what the tests need, lint, type-check, import rules, then every suite
#   make check  lint, types, import rules only
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST := $(BIN)/pytest

.PHONY: help venv system-deps check test test-unit test-prometheus test-integration test-e2e test-reliability test-campaign test-browser test-ansible demo bench soak translations clean

help:
	@echo "make demo   start the embedded broker, the fleet API on SQLite and simulated exhibits"
	@echo "make test   install test needs, run ruff, mypy, import rules and all test suites"
	@echo "make bench  throughput, latency and footprint next to same-run baselines"
	@echo "make soak   many fault-campaign seeds on SQLite and PostgreSQL: a table in sim-runs/"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP)

# Real components the tests talk to. Installed when we are root (CI, a fresh
# container); otherwise the tests say what is missing and how to install it.
system-deps:
	@bash scripts/system-deps.sh

check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Stages, fastest first. Each test belongs to exactly one stage.
test-unit: venv
	$(PYTEST) -m "not integration and not e2e and not browser and not reliability and not campaign and not ansible and not prometheus" -q

# ops/prometheus: promtool check rules and promtool test rules (Debian's prometheus package).
test-prometheus: venv
	$(PYTEST) -m "prometheus" -q

test-integration: venv
	$(PYTEST) -m "integration and not e2e and not browser and not reliability and not campaign and not ansible" -q

test-e2e: venv
	$(PYTEST) -m "e2e and not browser and not reliability and not ansible" -q

test-reliability: venv
	$(PYTEST) -m "reliability and not ansible" -q

# The fault campaign's fixed seeds (tests/campaign): generated scenarios against real
# Mosquitto and the fleet API, judged from the ledger. `make soak` runs many more.
test-campaign: venv
	$(PYTEST) -m "campaign and not ansible" -q

test-browser: venv
	$(PYTEST) -m "browser and not ansible" -q

# The Ansible suite boots Debian roots with systemd-nspawn (root, debootstrap); the root
# and the wheelhouse are cached in /var/cache/exhibit-fleet-tests (cold: ~7 min, 2 cores).
test-ansible: venv
	$(PYTEST) -m ansible -q

test: system-deps venv check test-unit test-prometheus test-integration test-e2e test-reliability test-campaign test-browser test-ansible

demo: venv
	$(BIN)/exhibit-sim demo

# Refresh the Latvian catalogue after changing page texts (the compiled .mo is committed).
translations: venv
	$(BIN)/pybabel extract -F fleet_api/translations/babel.cfg -k gettext -k ngettext:1,2 --sort-by-file --project=exhibit-fleet --copyright-holder="exhibit-fleet contributors" -o fleet_api/translations/messages.pot .
	$(BIN)/pybabel update -i fleet_api/translations/messages.pot -d fleet_api/translations -l lv --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d fleet_api/translations --statistics

# Not part of `make test`: figures, not pass/fail. Writes docs/benchmarks.md.
bench: system-deps venv
	$(BIN)/python -m bench

# Not part of `make test`: many campaign seeds (SOAK_SEEDS, from SOAK_FIRST) on SQLite and
# PostgreSQL, and the issue-16 scenarios (also in make test-campaign), judged by the checker. Writes the
# table (seeds, faults, interactions, lost, duplicated, misattributed, unplaced) to
# sim-runs/soak-*.md; a failing seed prints the one command that replays it.
SOAK_SEEDS ?= 50
SOAK_FIRST ?= 1
soak: system-deps venv
	status=0; \
	$(BIN)/exhibit-sim campaign --seeds $(SOAK_SEEDS) --first $(SOAK_FIRST) --work-dir sim-runs/soak-sqlite --table sim-runs/soak-sqlite.md || status=1; \
	$(BIN)/exhibit-sim campaign --seeds $(SOAK_SEEDS) --first $(SOAK_FIRST) --database postgresql --work-dir sim-runs/soak-pg --table sim-runs/soak-postgresql.md || status=1; \
	$(BIN)/exhibit-sim campaign $(foreach f,$(wildcard simulator/scenarios/issue-16/*.yaml),--scenario $(f)) --work-dir sim-runs/soak-issue-16 --table sim-runs/soak-issue-16.md || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-data test-artifacts sim-runs
