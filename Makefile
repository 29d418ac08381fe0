# Two commands for a new user: `make demo` and `make test`. Each bootstraps .venv when missing or
# stale (pyproject.toml newer than the last install).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

.PHONY: venv demo test lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/coretelecoms demo

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Stage benchmarks at full capstone volume (SCALE=1); each prints rows/s and peak RSS.
SCALE ?= 1
bench: venv
	$(BIN)/python benchmarks/bench_simulate.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_extract.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_transform.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_load.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_warehouse.py --scale $(SCALE)

clean:
	rm -rf .coretelecoms warehouse/target warehouse/logs
