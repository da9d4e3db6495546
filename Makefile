# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo
DEMO_DATA := $(DEMO)/market
DEMO_REGISTRY := $(DEMO)/registry
DEMO_REGION ?= 将乐县
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint demo-data demo-model bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,dask]"
	touch $@ $(VENV)/.installed

$(DEMO_DATA)/workers.csv: | $(VENV)/.installed
	$(BIN)/gigmatch simulate --region $(DEMO_REGION) --workers 5000 --jobs 1500 --days 30 --seed 7 --out $(DEMO_DATA)

$(DEMO_REGISTRY)/current: $(DEMO_DATA)/workers.csv | $(VENV)/.installed
	$(BIN)/gigmatch train --data $(DEMO_DATA) --registry $(DEMO_REGISTRY) --seed 7

demo-data: $(DEMO_DATA)/workers.csv
demo-model: $(DEMO_REGISTRY)/current

run: $(VENV)/.installed demo-data demo-model
	$(BIN)/gigmatch demo --data $(DEMO_DATA) --registry $(DEMO_REGISTRY) --out $(DEMO)/assign --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(VENV)/.installed-dev
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO)
