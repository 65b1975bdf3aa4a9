# dnssync: `make demo` and `make test` each set up what they need on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: demo test test-unit bench lint lab-deps venv clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

# Debian packages of the real servers (PowerDNS, BIND 9, Knot, Unbound), installed when root.
lab-deps:
	@sh tests/lab/install-deps.sh

demo: venv
	$(BIN)/dnssync demo

test: venv lab-deps
	$(BIN)/pytest -q

test-unit: venv
	$(BIN)/pytest -q -m "not lab and not slow"

bench: venv lab-deps
	@command -v dnsperf >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q dnsperf >/dev/null || true
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py

lint: venv
	$(BIN)/ruff check dnssync tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
