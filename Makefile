# asr: set-up, tests, demo and benchmarks. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install test test-all demo bench lint format typecheck clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

install: $(VENV)/.installed  ## create .venv and install asr with test and benchmark extras

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

test: install  ## run the test suite (fast tests; about 5 minutes on 2 cores)
	$(BIN)/pytest -q

test-all: install  ## run every test, slow ones included
	$(BIN)/pytest -q --runslow

demo: install  ## transcribe the sample recordings in data/ with the default model and score them
	$(BIN)/asr transcribe data/samples
	$(BIN)/asr evaluate --manifest data/samples/manifest.jsonl --out build/demo -q

# The synth recipe's CPU-sized model gives the decoding rows on read sentences: the first
# `make bench` trains it (36 minutes on 2 cores here); later ones find it up to date.
SYNTH_BENCH := $(abspath recipes/synth/exp-small)

bench: install  ## speed and accuracy beside peers, printed and written to build/bench.json
	$(MAKE) -C recipes/synth EXP=$(SYNTH_BENCH) CONFIG=small.toml lm
	$(BIN)/python -m asr.bench --out build/bench.json --synth $(SYNTH_BENCH)

lint: install  ## ruff lint and format check
	$(BIN)/ruff check asr tests
	$(BIN)/ruff format --check asr tests

format: install  ## apply ruff's formatting
	$(BIN)/ruff check --fix asr tests
	$(BIN)/ruff format asr tests

clean:  ## remove build outputs (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache
