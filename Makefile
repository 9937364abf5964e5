# tscrm — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DB ?= $(CURDIR)/.demo/tscrm-demo.db
DEMO_SIZE ?= 2000
PYTEST_ARGS ?=
LOCALES := $(wildcard tscrm/locale/*/LC_MESSAGES/tscrm.po)
MO_FILES := $(LOCALES:.po=.mo)

.PHONY: demo test install locales i18n-extract services bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP) locales

%.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile -D tscrm -i $< -o $@ --statistics 2>&1 | grep -v '^$$' || true

locales: $(MO_FILES)

# Re-extract the strings and merge them into the catalogues (run after adding UI text).
i18n-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --no-location --sort-output -o tscrm/locale/tscrm.pot tscrm
	$(BIN)/pybabel update -D tscrm -i tscrm/locale/tscrm.pot -d tscrm/locale --no-fuzzy-matching

demo: install
	@mkdir -p $(dir $(DEMO_DB))
	@if [ ! -f "$(DEMO_DB)" ]; then $(BIN)/tscrm --db "sqlite:///$(DEMO_DB)" demo --size $(DEMO_SIZE); fi
	$(BIN)/tscrm --db "sqlite:///$(DEMO_DB)"

services:
	@bash tests/services/start.sh

test: install services
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/search.py

clean:
	rm -rf $(VENV) .demo .pytest_cache
