# One entry point for people and CI.  `make run`: the service with a live demo.  `make test`: the suite.
# Both set everything up on a fresh Debian 12 machine (system packages, the venv, Asterisk 22).

PYTHON ?= python3
TEST_JOBS ?= 2   # pytest-xdist workers (worksteal: the slow tests with real calls spread), each with its own Asterisk and ports (tests/helpers/realparts.py)
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help system-deps venv asterisk run test test-fast lint format bench clean

help:
	@echo "make run        start Asterisk 22, the bridge and the web app, with demo calls (http://127.0.0.1:8080/)"
	@echo "make test       the whole suite against real Asterisk, sipp, PostgreSQL and Redis"
	@echo "make test-fast  only the tests that need no Asterisk"
	@echo "make lint       ruff, mypy and the import contracts (lint-imports)"
	@echo "make bench      print the bridge's speed figures"
	@echo "make asterisk   install Asterisk 22 (debootstrap'd, cached in /var/cache/hotline) and check it"

system-deps:
	@missing=""; \
	command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	command -v sipp >/dev/null || missing="$$missing sip-tester"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v sox >/dev/null || missing="$$missing sox"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing \
		|| { echo "could not install$$missing: run as root (or with sudo) on Debian with apt reaching its package source"; exit 1; }; \
	fi

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

asterisk: system-deps venv
	$(BIN)/hotline asterisk provision

run: asterisk
	$(BIN)/hotline run --demo

test: asterisk
	$(BIN)/pytest -n $(TEST_JOBS) --dist worksteal

test-fast: venv
	$(BIN)/pytest -n $(TEST_JOBS) --dist worksteal -m 'not asterisk'

lint: venv
	@! git grep -n -E '^(<<<<<<<|>>>>>>>) ' -- . || { echo 'merge conflict markers left (above)'; exit 1; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: asterisk
	$(BIN)/python -m bench.bridge
	$(BIN)/python -m bench.ring
	$(BIN)/python -m bench.pops
	$(BIN)/python -m bench.recordings
	$(BIN)/python -m bench.callbacks
	$(BIN)/python -m bench.access
	$(BIN)/python -m bench.restart

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
