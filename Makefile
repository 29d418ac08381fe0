# Two commands for a new user: `make demo` and `make test`. Each bootstraps .venv when missing or
# stale (pyproject.toml newer than the last install).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

.PHONY: venv demo test lint format bench bench-10x chaos clean

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

# Stage benchmarks at full capstone volume (SCALE=1); each prints rows/s and peak RSS. Then the
# whole pipeline through the DAG for the 4 days (per task and day: rows, wall s, rows/s, peak
# RSS; end-to-end time), results in benchmarks/results/.
SCALE ?= 1
bench: venv
	$(BIN)/python benchmarks/bench_simulate.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_extract.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_transform.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_load.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_warehouse.py --scale $(SCALE)
	$(BIN)/python benchmarks/bench_pipeline.py --scale $(SCALE)

# One day with ten times the complaints (~7 M rows at SCALE=1): peak RSS bounded by the batch size.
bench-10x: venv
	$(BIN)/python benchmarks/bench_pipeline.py --scale $(SCALE) --ten-x

# Crash-anywhere: KILLS x kill -9 across all stages over 4 simulated days, rerun until success,
# silver/gold/lake compared with a clean run; prints trials passed/total.
KILLS ?= 20
CHAOS_SCALE ?= 0.002
chaos: venv
	$(BIN)/python -m coretelecoms.reliability.chaos --kills $(KILLS) --scale $(CHAOS_SCALE) \
		--json benchmarks/results/chaos.json

clean:
	rm -rf .coretelecoms warehouse/target warehouse/logs
