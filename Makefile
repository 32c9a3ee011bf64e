# musestudio: the two commands the README names.
#   make run   install everything (Debian packages included) and open the app
#   make test  install everything and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test setup lint bench clean

setup:
	@PYTHON=$(PYTHON) VENV=$(VENV) bash packaging/bootstrap.sh

run: setup
	$(PY) -m musestudio gui $(FILE)

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q
	$(VENV)/bin/lint-imports

lint: setup
	$(VENV)/bin/ruff check musestudio training tests

bench: setup
	$(PY) -m pytest -q tests/benchmarks -p no:cacheprovider --timeout=3600 -s

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
