# Two commands do all the set-up on a fresh machine:
#   make run    create .venv, install requirements.txt, start the dashboard on http://127.0.0.1:5000
#   make test   create .venv, install requirements-dev.txt and Debian's chromium, run ruff and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo test lint bench browser vendor clean

run: $(VENV)/.run-installed
	$(BIN)/python server.py $(ARGS)

demo: $(VENV)/.run-installed
	$(BIN)/python server.py --demo $(ARGS)

test: $(VENV)/.dev-installed browser
	$(BIN)/ruff check .
	$(BIN)/pytest $(ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

# the benchmark suite (bench/run.py): every row, JSON in bench/results/; ARGS="ingest --seconds 10"
bench: $(VENV)/.dev-installed browser
	$(BIN)/python -m bench.run $(ARGS)

browser:
	scripts/install-chromium.sh

vendor:
	scripts/vendor-assets.sh

$(VENV)/.run-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
