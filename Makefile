# supplyflow — the two commands of a new user are `make demo` and `make test`.
# Each does its own set-up on a fresh Debian machine: a Python 3.11 virtualenv with the
# project installed, and the connector and broker jars resolved by Maven into .cache/.

PYTHON ?= python3.11
MVN ?= mvn
VENV ?= .venv
JARS_DIR ?= .cache/jars
SF := $(VENV)/bin/supplyflow
PYTEST_ARGS ?=

.PHONY: help setup venv jars demo test unit faults soak stack-up stack-down lint

help:
	@echo "make demo   start the local stack and stream the demo scenario through the jobs"
	@echo "make test   set up, start the local stack, run every test tier"
	@echo "make unit   only the tests that need no JVM and no services"
	@echo "make faults only the fault-injection suite on the standalone cluster (also part of make test)"
	@echo "make soak   the failure suite, longer: a 30,000-record scenario and nine TaskManager kills"

setup: venv jars

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "supplyflow: $(PYTHON) not found: install Python 3.11 (or run make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@command -v java >/dev/null || { echo "supplyflow: Java not found: install a JDK 17 (apt-get install openjdk-17-jdk-headless) and retry" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]' --config-settings editable_mode=compat
	@touch $@

jars: $(JARS_DIR)/.resolved

$(JARS_DIR)/.resolved: connectors/pom.xml
	@command -v $(MVN) >/dev/null || { echo "supplyflow: Maven ($(MVN)) not found: install it (apt-get install maven) and retry" >&2; exit 1; }
	@echo "resolving connector and broker jars from Maven Central into $(JARS_DIR) ..."
	$(MVN) -q -B -f connectors/pom.xml package -Djars.dir=$(abspath $(JARS_DIR))
	@touch $@

stack-up: setup
	$(SF) stack up

stack-down:
	$(SF) stack down

demo: setup
	$(SF) demo

unit: venv
	$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

test: setup
	$(SF) stack up
	$(VENV)/bin/pytest $(PYTEST_ARGS)

faults: setup
	$(SF) stack up
	$(VENV)/bin/pytest -s -m faults $(PYTEST_ARGS)

soak: setup
	$(SF) stack up
	SUPPLYFLOW_SOAK=1 $(VENV)/bin/pytest -s -m faults $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check supplyflow jobs udfs connectors testdata benchmarks tests
