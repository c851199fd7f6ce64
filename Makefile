# `make help` lists the targets. Everything runs inside .venv, built from requirements.lock.
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help install run test test-all params lint lock ui clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

install: $(VENV)/.installed  ## create .venv from the lock file

run: install  ## install, then run the whole DVC pipeline on the default data
	dvc repro

test: install  ## install, then run the tests (the slow ones excluded)
	$(PY) -m pytest -m "not slow"

test-all: install  ## every test, the slow ones included
	$(PY) -m pytest

params: install  ## recompose params.yaml from conf/ (dvc repro never does)
	$(PY) -m pipeline.compose

lint: install  ## ruff
	$(VENV)/bin/ruff check pipeline tests benchmarks

lock:  ## re-resolve requirements.lock from pyproject.toml
	uv pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11 --python-platform x86_64-unknown-linux-gnu

ui: install  ## open the MLflow UI on http://127.0.0.1:5000
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000
