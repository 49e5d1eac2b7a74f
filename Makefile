# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Each bootstraps its own virtualenv (.venv) first; the Kafka jars are fetched once by `mvn`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test chaos fuzz lint format kafka-up kafka-down clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,rocksdb]'
	touch $(STAMP)

## run: the local broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and the whole pipeline
run: $(STAMP)
	$(BIN)/okrate run

## test: the whole suite, against a real broker started for the session
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## chaos: faults survived (issue 18): kill -9 of each service and a broker restart during a load,
## then every count must add up; exits 1 on any loss. Run by .ci/run after `make test` (about 5-6 minutes).
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos

## fuzz: hostile input at volume (issue 26): generated webhooks and Telegram updates against the whole
## pipeline, then every answer, store, lag, decision and log line checked; exits 1 on any finding.
## FUZZ_SCALE=1 (default) is the full campaign (100,000 requests, 20,000 updates); CI runs a fraction.
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz

## lint: ruff, and the direction of imports (import-linter's contracts in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .

kafka-up: $(STAMP)
	$(BIN)/okrate kafka up

kafka-down: $(STAMP)
	$(BIN)/okrate kafka down

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
