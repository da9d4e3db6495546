# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo
DEMO_DATA := $(DEMO)/market
DEMO_REGISTRY := $(DEMO)/registry
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_REGION ?= 将乐县

.PHONY: run test lint postgres-server demo-data demo-model demo-assign bench fuzz-nightly clean notebook notebook-lab

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,dask]"
	touch $@ $(VENV)/.installed

# The demo market's log ends three days ahead of today, so some of its jobs are still open.
$(DEMO_DATA)/workers.csv: | $(VENV)/.installed
	$(BIN)/gigmatch simulate --region $(DEMO_REGION) --workers 5000 --jobs 1500 --days 30 --seed 7 \
		--start $$($(BIN)/python -c "import datetime as d; print(d.date.today() - d.timedelta(days=27))") --out $(DEMO_DATA)

$(DEMO_REGISTRY)/current: $(DEMO_DATA)/workers.csv | $(VENV)/.installed
	$(BIN)/gigmatch train --data $(DEMO_DATA) --out $(DEMO_REGISTRY) --seed 7

demo-data: $(DEMO_DATA)/workers.csv
demo-model: $(DEMO_REGISTRY)/current

# The service on 127.0.0.1:8000 over an embedded SQLite store seeded with the demo market.
run: $(VENV)/.installed demo-data demo-model
	$(BIN)/gigmatch serve --data $(DEMO_DATA) --model $(DEMO_REGISTRY) --db $(DEMO)/gigmatch.db \
		--host $(HOST) --port $(PORT) --demo

# The operators' batch run on the demo market, with its HTML report.
demo-assign: $(VENV)/.installed demo-data demo-model
	$(BIN)/gigmatch assign --data $(DEMO_DATA) --model $(DEMO_REGISTRY) --out $(DEMO)/assign --max-km 15
	@echo "open $(DEMO)/assign/report.html in a browser"

# The tests start their own PostgreSQL server (issue #16): make sure its programs exist. On a fresh
# Debian/Ubuntu machine they come from apt (a package registry); as root directly, else through sudo.
postgres-server:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
		|| [ -n "$$GIGMATCH_PG_BIN" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing the PostgreSQL server (apt-get install postgresql) for the store tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else echo "no PostgreSQL server programs and no apt-get: the PostgreSQL tests will skip (fail under CI=true)"; fi
# The retraining notebook: `make notebook` installs its runner (the notebook extra) and executes it into
# demo/retrain.ipynb, figures included (NB_WORKERS/NB_JOBS/NB_DAYS size its market); `make notebook-lab`
# also installs JupyterLab and opens the notebook in it.
NB_WORKERS ?= 20000
NB_JOBS ?= 8000
NB_DAYS ?= 60

$(VENV)/.installed-notebook: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[notebook]"
	touch $@ $(VENV)/.installed

notebook: $(VENV)/.installed-notebook
	mkdir -p $(DEMO)
	cp notebooks/retrain.ipynb $(DEMO)/retrain.ipynb
	cd $(DEMO) && GIGMATCH_NB_WORKERS=$(NB_WORKERS) GIGMATCH_NB_JOBS=$(NB_JOBS) GIGMATCH_NB_DAYS=$(NB_DAYS) \
		$(abspath $(BIN))/jupyter execute --inplace --timeout=3600 retrain.ipynb
	@echo "executed with its figures: $(DEMO)/retrain.ipynb (open it in JupyterLab: make notebook-lab)"

notebook-lab: $(VENV)/.installed-notebook
	$(BIN)/pip install --quiet "jupyterlab>=4"
	$(BIN)/jupyter lab notebooks/retrain.ipynb

# The layer rule (import-linter, contracts in pyproject.toml), then the whole suite.
test: $(VENV)/.installed-dev postgres-server
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

# Property tests and both schemathesis phases, nightly size, fresh seeds (benchmarks/fuzz_nightly.sh).
fuzz-nightly: $(VENV)/.installed-dev
	PYTHON=$(BIN)/python bash benchmarks/fuzz_nightly.sh

bench: $(VENV)/.installed-dev
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO)
