# `make help` lists the targets. Everything runs inside .venv, built from requirements.lock.
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help install install-ray run test test-slow test-all params lint lock exp-show ui clean check-lock lessons notebooks

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip sync --quiet --compile-bytecode --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

# The Ray extra (`hydra/launcher=ray`) has its own lock, a superset of requirements.lock with
# the same versions; the tests use it because a test runs a sweep on a local Ray cluster.
$(VENV)/.installed-ray: requirements-ray.lock requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip sync --quiet --compile-bytecode --python $(PY) requirements-ray.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed  ## create .venv from the lock file

install-ray: $(VENV)/.installed-ray  ## .venv with the Ray launcher too (sweeps on a Ray cluster)

run: install  ## install, then run the whole DVC pipeline on the default data
	dvc repro

test: install-ray  ## install (Ray extra included), then run the tests (the slow ones excluded)
	$(PY) -m pytest -m "not slow" --durations=25

test-slow: install-ray  ## only the slow tests (Ray cluster, tracking server, DVC queue, resume, big presets)
	$(PY) -m pytest -m slow --durations=25

test-all: install-ray  ## every test, the slow ones included
	$(PY) -m pytest

# Run in a clean checkout (CI's fresh clone). Fails when the committed dvc.lock is stale (a
# stage's code, data or params differ from what it records) or when the outputs differ and the
# metrics moved by more than 1e-6 relative; passes, saying so, when only the outputs' last digits
# differ, as on another CPU (oneDNN's kernels follow the instruction set). Restores nothing:
# `git diff` shows what dvc repro wrote (pipeline/stages/lock.py).
check-lock: install  ## dvc repro in a clean checkout, then fail if dvc.lock is stale or the metrics moved
	@test -z "$$(git status --porcelain)" || { echo "error: check-lock needs a clean checkout (git status shows changes)"; exit 2; }
	dvc repro
	@$(PY) -m pipeline.stages.lock

lessons: install  ## run every lesson's preset, check its finding: reports/lessons.md (18 min on 2 quiet cores)
	$(PY) -m pipeline.lessons

# The lab notebooks (notebooks/*.ipynb), each in a fresh kernel of .venv, at the small sizes of
# their parameters cell; `python -m pipeline.notebooks` alone runs them at the lessons' sizes.
notebooks: install  ## execute the lab notebooks (small sizes) into reports/notebooks/*.html
	$(PY) -m pipeline.notebooks --small

params: install  ## recompose params.yaml from conf/ (dvc repro never does)
	$(PY) -m pipeline.compose

lint: install  ## ruff
	$(VENV)/bin/ruff check pipeline tests benchmarks

LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-unknown-linux-gnu
lock:  ## re-resolve both lock files from pyproject.toml (same versions in both)
	uv pip compile pyproject.toml --extra dev --extra ray --extra server -o requirements-ray.lock $(LOCK_FLAGS)
	uv pip compile pyproject.toml --extra dev -c requirements-ray.lock -o requirements.lock $(LOCK_FLAGS)

# `dvc exp show` within 120 columns: the params that differ, validation and test RMSE (or accuracy)
# (reports/headline.json); every metric stays in `dvc exp show` and reports/metrics.json
EXP_SHOW := dvc exp show --only-changed --drop 'Created|^tracking\.|^(train|validation|test)\.|^(?!Experiment$$)[\w-]+(/[\w.-]+)*$$' --keep '^(val|test)_(rmse|accuracy)$$'
exp-show: install  ## compare DVC experiments: the params that differ and the headline metrics
	$(VENV)/bin/$(EXP_SHOW)

ui: install  ## open the MLflow UI on http://127.0.0.1:5000
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

# A team's tracking server (README "A team's tracking server"): PostgreSQL, basic auth, served
# artifacts. Needs MLFLOW_AUTH_ADMIN_PASSWORD and MLFLOW_FLASK_SERVER_SECRET_KEY set.
SERVER_DB ?= postgresql://mlflow@127.0.0.1:5432/mlflow
SERVER_ARTIFACTS ?= $(CURDIR)/mlartifacts-server
SERVER_HOST ?= 127.0.0.1
.PHONY: server
server: install-ray  ## a team tracking server on $(SERVER_HOST):5000 (SERVER_DB=postgresql://..., basic auth)
	mlflow server --backend-store-uri $(SERVER_DB) --artifacts-destination $(SERVER_ARTIFACTS) \
	  --serve-artifacts --app-name basic-auth --host $(SERVER_HOST) --port 5000 --workers 2

.PHONY: reliability
reliability: install-ray  ## the failure scenarios (bad data and config, crashes, parallel runs), with a summary line
	$(PY) -m pytest -q tests/reliability

.PHONY: audit
audit: install  ## pip-audit both lock files, strict: a package it cannot check fails (docs/reliability.md)
	$(VENV)/bin/uv tool run --quiet pip-audit==2.10.1 -r requirements-ray.lock --no-deps --disable-pip --strict
