PYTHON ?= python3
VENV := .venv
EMU_VENV := .venv-ministack
PY := $(VENV)/bin/python

.PHONY: install run test lint browser-tools scanner-tools bench migrate clean messages screenshots wheel

install: $(VENV)/.installed $(EMU_VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(EMU_VENV)/.installed: requirements-emulator.txt
	test -x $(EMU_VENV)/bin/python || $(PYTHON) -m venv $(EMU_VENV)
	$(EMU_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-emulator.txt
	touch $@

# Translations: uploader/locale/ko/*.po are the source; the compiled .mo beside them are committed
# (a deployment needs no tool) and rebuilt here with Babel whenever a .po is newer.
MO := $(patsubst %.po,%.mo,$(wildcard uploader/locale/*/LC_MESSAGES/*.po))
$(MO): %.mo: %.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile -i $< -o $@

# After changing texts: collect new strings into the .po files (needs GNU gettext's xgettext,
# for whoever translates), then compile them.
messages: install
	$(PY) manage.py makemessages -l ko -i ".venv*" -i tests -i var -i node_modules --no-obsolete
	$(PY) manage.py makemessages -d djangojs -l ko -i ".venv*" -i tests -i var -i node_modules --no-obsolete
	$(MAKE) $(MO)

migrate: install $(MO)
	mkdir -p var
	$(PY) manage.py migrate --noinput

# Emulator, provisioning, worker and web server; Ctrl-C stops them all.
run: migrate
	$(PY) manage.py runlocal

# What the browser tests load from npm: stock Uppy, bundled (tests/e2e/test_uppy.py), and axe-core
# (tests/e2e/test_accessibility.py). Without npm they are missing and those tests say how to get
# them (they fail; UPLOADER_SKIP_BROWSER=1 skips them instead).
NPM_DEPS := tests/e2e/npm
$(NPM_DEPS)/dist/uppy.js: $(NPM_DEPS)/package.json $(NPM_DEPS)/package-lock.json $(NPM_DEPS)/entry.js
	if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(NPM_DEPS) --no-audit --no-fund --silent && npm run --prefix $(NPM_DEPS) --silent build; \
	else echo "npm not found: the Uppy and accessibility browser tests cannot run (apt-get install -y npm)"; fi

# Lint and format check (ruff), the type check of services and selectors (mypy with django-stubs),
# both configured in pyproject.toml (`ruff format .` fixes the format), and the CloudFormation
# template's lint (cfn-lint).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint infra/uploader.yaml

# The browser tests need Chromium and npm: installed here where we may (root with apt-get);
# otherwise the browser tests fail and say what to run (UPLOADER_SKIP_BROWSER=1 skips them).
browser-tools:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ] && [ -z "$$UPLOADER_SKIP_BROWSER" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing$$missing for the browser tests"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "the browser tests need:$$missing (sudo apt-get install -y$$missing)"; fi; \
	fi

# clamd for the malware scan (Debian's clamav-daemon): installed here where we may (root with
# apt-get); the test session starts its own clamd with it. Without it the scan tests fail and say so.
scanner-tools:
	@if ! command -v clamd >/dev/null 2>&1 && ! [ -x /usr/sbin/clamd ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing clamav-daemon for the malware scan"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon >/dev/null; \
		else echo "the scan tests need clamav-daemon (sudo apt-get install -y clamav-daemon)"; fi; \
	fi

# The suite under coverage (branches too, and the worker, web and CLI processes the tests start:
# pyproject.toml's [tool.coverage]); the report ends the run, and uploader/ must keep 90 %.
test: lint browser-tools scanner-tools $(MO) $(NPM_DEPS)/dist/uppy.js
	mkdir -p var/coverage  # the SQLite test database and the coverage data live there
	rm -f var/coverage/data*
	$(PY) -m coverage run -m pytest
	$(PY) -m coverage combine -q
	rm -f var/coverage/data.*  # what a SIGKILLed process (a test's doing) left half-written
	$(PY) -m coverage report
	$(PY) -m coverage report --include="uploader/*" --format=total --fail-under=90 >/dev/null || \
		{ echo "coverage of uploader/ fell below 90 % (coverage html shows where)"; exit 1; }

# Throughput and cost ratios (not a test); prints them and writes var/bench.json.
bench: install
	$(PY) -m tests.bench.run

# The README's pictures of the upload page (docs/screenshots/), taken in headless Chromium; Korean
# text needs a Hangul font (fonts-nanum, installed here where we may).
screenshots: install browser-tools
	@fc-list 2>/dev/null | grep -qi nanum || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null; } || true
	$(PY) -m pytest -p no:cacheprovider -q tests/e2e/screenshots.py

# The app's wheel (dist/), as another project installs it (README: Use it in your project).
wheel: install
	$(VENV)/bin/pip wheel --no-deps --no-build-isolation -w dist .

clean:
	rm -rf $(VENV) $(EMU_VENV) var build dist *.egg-info
