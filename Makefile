# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo
DEMO_DATA := $(DEMO)/market
DEMO_REGION ?= 将乐县

.PHONY: run test lint demo-data bench clean

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

demo-data: $(DEMO_DATA)/workers.csv

# Until the scoring service lands (issue #6), `make run` runs the end-to-end demo that exists:
# simulate a county market (once), then the operators' batch assignment with its report.
run: $(VENV)/.installed demo-data
	$(BIN)/gigmatch assign --data $(DEMO_DATA) --out $(DEMO)/assign --max-km 15
	@echo "open $(DEMO)/assign/report.html in a browser; CSVs and summary.json are beside it"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(VENV)/.installed-dev
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO)
