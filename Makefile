# asr: set-up, tests, demo and benchmarks. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install lock test test-all demo bench seams lint format typecheck clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

install: $(VENV)/.installed  ## create .venv with the locked versions (requirements.lock) and asr

# The stamp is written only once the locked install succeeded and asr imports with its torch pair,
# so a failed or broken install is retried by the next `make`, not taken for done.
$(VENV)/.installed: requirements.lock pyproject.toml
	rm -f $@
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m asr.runtime
	touch $@

lock:  ## re-resolve requirements.lock from pyproject.toml's ranges (needs the network)
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --extra dev --extra bench -o requirements.lock pyproject.toml

test: install  ## run the test suite (fast tests; 4-7.5 minutes on 2 cores shared with other work)
	$(BIN)/pytest -q

test-all: install  ## run every test, slow ones included
	$(BIN)/pytest -q --runslow

demo: install  ## transcribe the sample recordings in data/ with the default model and score them
	$(BIN)/asr transcribe data/samples
	$(BIN)/asr evaluate --manifest data/samples/manifest.jsonl --output-dir build/demo -q

# The synth recipe's CPU-sized model gives the decoding rows on read sentences: the first
# `make bench` trains it (36 minutes on 2 cores here); later ones find it up to date.
SYNTH_BENCH := $(abspath recipes/synth/exp-small)

bench: install  ## speed and accuracy beside peers, printed and written to build/bench.json
	$(MAKE) -C recipes/synth EXP=$(SYNTH_BENCH) CONFIG=small.toml lm
	$(BIN)/python -m benchmarks.bench -o build/bench.json --synth $(SYNTH_BENCH)

DATA ?= ../shared/data

seams: install  ## long file against its clips: 30 speechocean762 digit strings, 2 s gaps (DATA=)
	$(BIN)/python -m benchmarks.seams $(DATA)/speechocean762/manifest.jsonl --gap 2 --out build/seams.wav

lint: install  ## ruff lint and format check
	$(BIN)/ruff check asr tests benchmarks
	$(BIN)/ruff format --check asr tests benchmarks

format: install  ## apply ruff's formatting
	$(BIN)/ruff check --fix asr tests benchmarks
	$(BIN)/ruff format asr tests benchmarks

clean:  ## remove build outputs (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache
