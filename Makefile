# Two commands do all the set-up on a fresh machine:
#   make run    create .venv, install requirements.txt, start the dashboard on http://127.0.0.1:5000
#   make test   create .venv, install requirements-dev.txt, Debian's chromium, redis-server and nginx,
#               run ruff and pytest (tests/e2e twice: under eventlet, then under gevent)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo test lint bench screenshots browser servers vendor clean

run: $(VENV)/.run-installed
	$(BIN)/python server.py $(ARGS)

demo: $(VENV)/.run-installed
	$(BIN)/python server.py --demo $(ARGS)

test: $(VENV)/.dev-installed browser servers
	$(BIN)/ruff check .
	$(BIN)/pytest $(ARGS)
	# the end-to-end tests again, every server under ASYNC_MODE=gevent (about 4 minutes)
	E2E_ASYNC_MODE=gevent $(BIN)/pytest tests/e2e $(ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

# the benchmark suite (bench/run.py): every row, JSON in bench/results/; ARGS="ingest --seconds 10"
bench: $(VENV)/.dev-installed browser servers
	$(BIN)/python -m bench.run $(ARGS)

# the README's pictures (docs/img/wall.png, phone.png) from a minute of --demo; ARGS="--warmup 120"
screenshots: $(VENV)/.dev-installed browser
	$(BIN)/python scripts/screenshots.py $(ARGS)

browser:
	scripts/install-chromium.sh

servers:
	scripts/install-servers.sh

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
