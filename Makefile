PYTHON ?= python3
VENV := .venv
EMU_VENV := .venv-ministack
PY := $(VENV)/bin/python

.PHONY: install run test bench migrate clean

install: $(VENV)/.installed $(EMU_VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(EMU_VENV)/.installed: requirements-emulator.txt
	test -x $(EMU_VENV)/bin/python || $(PYTHON) -m venv $(EMU_VENV)
	$(EMU_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-emulator.txt
	touch $@

migrate: install
	mkdir -p var
	$(PY) manage.py migrate --noinput

# Emulator, provisioning, worker and web server; Ctrl-C stops them all.
run: migrate
	$(PY) manage.py runlocal

# Stock Uppy from npm, bundled for the browser test that drives it (tests/e2e/test_uppy.py). Without
# npm the bundle is missing and that test says how to get it (and fails under UPLOADER_REQUIRE_BROWSER).
UPPY := tests/e2e/uppy
$(UPPY)/dist/uppy.js: $(UPPY)/package.json $(UPPY)/package-lock.json $(UPPY)/entry.js
	if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(UPPY) --no-audit --no-fund --silent && npm run --prefix $(UPPY) --silent build; \
	else echo "npm not found: the Uppy browser test cannot run (apt-get install -y npm)"; fi

test: install $(UPPY)/dist/uppy.js
	$(PY) -m pytest

# Throughput and cost ratios (not a test); prints them and writes var/bench.json.
bench: install
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) $(EMU_VENV) var
