# Two commands do all set-up: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch/torchvision are installed first and pinned so pip takes the wheels this machine keeps on disk;
# override on other machines, e.g. `make test TORCH_SPEC="torch torchvision"`.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean bench gpu-wheels

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

# The packages a GPU machine without network lacks, as Python 3.12 manylinux x86_64 wheels in .gpu-wheels/ (ignored by
# git; carried to the machine with the working tree), pinned to the versions the tests run with. Needs a registry,
# not the venv. benchmarks/gpu_check.sh installs them there: see benchmarks/README.md, "GPU check".
GPU_WHEELS ?= jsonargparse==4.53.0 docstring-parser==0.18.0 typeshed-client==2.15.0 lpips==0.1.4 dists-pytorch==0.1 \
	piq==0.8.0 google-crc32c==1.9.0
GPU_PYTHON_VERSION ?= 3.12

gpu-wheels:
	rm -rf .gpu-wheels .gpu-wheels.partial
	$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
		--python-version $(GPU_PYTHON_VERSION) --implementation cp --platform manylinux_2_28_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu-wheels.partial $(GPU_WHEELS)
	mv .gpu-wheels.partial .gpu-wheels
	du -sh .gpu-wheels

clean:
	rm -rf $(VENV) build *.egg-info
