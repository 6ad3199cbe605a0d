# Two commands do all set-up: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch/torchvision are installed first and pinned so pip takes the wheels this machine keeps on disk;
# override on other machines, e.g. `make test TORCH_SPEC="torch torchvision"`.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean bench

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_SPEC)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m beautygan.demo

test: $(STAMP)
	$(PY) -m pytest -q -rs

# ruff (lint and formatting) over the code, mypy over the perceptual package; both configured in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check perceptual experiments tests benchmarks
	$(VENV)/bin/ruff format --check perceptual experiments tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/loss_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
