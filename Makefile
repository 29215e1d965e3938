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

test: install
	$(PY) -m pytest

# Throughput and cost ratios (not a test); prints them and writes var/bench.json.
bench: install
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) $(EMU_VENV) var
