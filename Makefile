# The two commands: `make run` (the app with everything it needs) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export PATH := $(CURDIR)/$(BIN):$(PATH)
# `make run` talks to the local Zoom emulator (devtools/zoom_emulator.py), never to Zoom.
# The emulator signs its webhooks with the demo app's secret token (seed_demo stores the same one, see
# devtools/zoom_emulator.py DEMO_WEBHOOK_SECRET) and sends them to the app: the waiting room shows in the diary.
RUN_ENV := DJANGO_DEBUG=true ZOOM_API_BASE_URL=http://127.0.0.1:8100/v2 \
	ZOOM_OAUTH_TOKEN_URL=http://127.0.0.1:8100/oauth/token \
	ZOOM_EMULATOR_WEBHOOK_URL=http://127.0.0.1:8000/webhooks/zoom/ \
	ZOOM_EMULATOR_WEBHOOK_SECRET=demo-webhook-secret

.PHONY: run test install lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,test]'
	touch $(INSTALLED)

install: $(INSTALLED)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	mkdir -p var/broker var/broker-processed
	@echo "Starting the app at http://127.0.0.1:8000 (Ctrl-C stops everything)"
	$(RUN_ENV) $(BIN)/honcho -f Procfile.dev start

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy practice scheduling telehealth reminders attention options clientpage config devtools

test: install lint
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 .test-db*
