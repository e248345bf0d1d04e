# Stillpoint: `make demo` renders output/hip-release.mp3, `make test` runs every check.
# Both set up what is missing first: system packages (Debian/Ubuntu), then .venv with the project.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint system-deps sounds bench bench-voices clean

demo: $(STAMP)
	$(BIN)/stillpoint render hip-release -o output/hip-release.mp3

test: $(STAMP)
	@bash tools/install-system-deps.sh --test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

system-deps:
	@bash tools/install-system-deps.sh

$(STAMP): pyproject.toml tools/install-system-deps.sh
	@bash tools/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,piper]'
	touch $@

# Remake the synthesised bells in sounds/ (they are committed; run after editing the script).
sounds: $(STAMP)
	$(BIN)/python sounds/make_sounds.py

# Render time and memory of a generated 60-minute session against ffmpeg alone: warm and cold
# caches, eSpeak NG and piper (1 and 2 workers), 180 minutes, a one-line edit. About 5 minutes;
# prints a markdown table for README's "Performance".
bench: $(STAMP)
	$(BIN)/python tools/bench_render.py

# Word error rate (pocketsphinx) and speed of every installed English voice (see README, "Voices").
bench-voices: $(STAMP)
	$(BIN)/python tools/bench_voices.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
