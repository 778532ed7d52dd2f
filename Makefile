# The two commands a fresh machine needs: `make demo` and `make test`.
# Each creates .venv and installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz faults soak bench lint typecheck clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# ONCE=1 exits 0 once the scenario has drained; otherwise it serves until Ctrl-C.
demo: $(STAMP)
	$(BIN)/closeknit demo $(if $(ONCE),--once,)

# The dashboard test drives a real headless Chromium: Debian's package, installed here.
test: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) || echo "chromium could not be installed: the browser test will skip"
	$(BIN)/pytest

# The standing fuzz test of `make test`, ten times larger (about 100k hostile records);
# CLOSEKNIT_FUZZ_SEED=N picks another seed.
fuzz: $(STAMP)
	CLOSEKNIT_FUZZ_SCALE=10 $(BIN)/pytest tests/integration/test_fuzz.py -s

# The fault suite on Apache Kafka (tests/faults): broker killed and paused, workers killed,
# a rebalance under load, a 100k-event backlog; each checked against a clean run. About
# 15 minutes; CLOSEKNIT_FAULT_BACKLOG=N sizes the backlog case.
faults: $(STAMP)
	$(BIN)/pytest -m faults tests/faults -s --timeout 1800

# Higgs at a fixed rate through one worker for MINUTES (default 10): RSS, lag, dead letters
# and alerts over time, as a table and a PNG plot in bench-results/.
MINUTES ?= 10
soak: $(STAMP)
	$(BIN)/closeknit soak --minutes $(MINUTES)

bench: $(STAMP)
	$(BIN)/closeknit bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .closeknit build *.egg-info
