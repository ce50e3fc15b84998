# Spyglass: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ./data
# Peers the tests and benchmarks compare against, from Debian.
DEBIAN_PEERS := prometheus prometheus-node-exporter prometheus-alertmanager chromium chromium-driver

.PHONY: run install test test-fast system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

## make run: install into .venv and start the all-in-one stack on embedded storage
run: install
	$(BIN)/spyglass up --data-dir $(DATA)

system-deps:
	@missing=""; for p in $(DEBIAN_PEERS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## make test: install everything the tests need and run the whole suite
test: system-deps install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not peer and not slow"

## make bench: Spyglass side by side with the real peers; writes bench/out/
bench: system-deps install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
