# The two commands of the README: `make render` and `make test`. Both set up ./venv first.
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS := venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: render test lint package-check clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $(TOOLS_STAMP)

## Render every stack offline into build/<stack>/ (what `pulumi up` would create).
render: $(STAMP)
	$(PY) -m offline render

## Lint, format check and the whole test suite.
test: $(STAMP) $(TOOLS_STAMP) lint package-check
	$(PY) -m pytest -n 2

## pip install of this repository into a clean venv, then import of every public component.
package-check:
	scripts/check-package.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf build .pytest_cache .ruff_cache
