# The two commands of the README: `make render` and `make test`. Both set up ./venv first; `make test`
# also sets up ./venv-tools (checkov) and ./venv-webui (the real Open WebUI for tests/webui_app), and needs
# `promtool` and `amtool` on the PATH for the alerting tests (Debian/Ubuntu: apt-get install prometheus
# prometheus-alertmanager; .ci/run does it).
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS := venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
WEBUI := venv-webui
WEBUI_STAMP := $(WEBUI)/.installed
BROWSER_STAMP := $(VENV)/.browser-installed

.PHONY: render test unit-test webui-test lint package-check clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $(TOOLS_STAMP)

$(WEBUI_STAMP): requirements-webui.txt
	$(PYTHON) -m venv $(WEBUI)
	$(WEBUI)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-webui.txt
	touch $(WEBUI_STAMP)

# The browser tier's drivers (Playwright, the mock OpenID provider) on top of ./venv; Chromium comes from Debian.
$(BROWSER_STAMP): $(STAMP) requirements-browser.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-browser.txt
	touch $(BROWSER_STAMP)

## Render every stack offline into build/<stack>/ (what `pulumi up` would create).
render: $(STAMP)
	$(PY) -m offline render
	$(PY) -m offline stacks-table --write

## Lint, format check, the whole test suite, the pip-install check and the real-application tier.
test: lint package-check unit-test webui-test

unit-test: $(STAMP) $(TOOLS_STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest -n 2

## pip install of this repository into a clean venv, then import of every public component.
package-check:
	scripts/check-package.sh

## The real Open WebUI (same version as the image) started with the rendered pod's settings (minutes), and the
## browser tier: headless Chromium (`apt-get install -y chromium`) signing in and chatting with two models;
## screenshots in test-artifacts/browser-screenshots/.
webui-test: $(STAMP) $(WEBUI_STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest -m webui_app tests/webui_app

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf build .webui-test test-artifacts .pytest_cache .ruff_cache
