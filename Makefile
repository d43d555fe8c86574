# make run: install, create instance/ with keys and database, load demo data, serve.
# make test: the whole suite (browser tests need Debian's chromium; CI=true requires them).
# Parts while you work: .venv/bin/pytest tests/cases -m "not browser and not slow" -n 2
VENV ?= .venv
# The interpreter of .venv: the system's own Python 3.11+ where it can make one (Debian's is
# built with profile-guided and link-time optimisation; a page takes a tenth to a fifth less
# time on it than on a Python built from source without them, as pyenv builds by default:
# bench/README.md), else python3 on the PATH. PYTHON=… picks another.
PYTHON ?= $(or $(shell for candidate in /usr/bin/python3 python3; do "$$candidate" -c \
	'import ensurepip, sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo "$$candidate" && break; done),python3)
FLASK := $(VENV)/bin/flask --app referral
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint bench install translations messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

translations: $(STAMP)
	$(VENV)/bin/pybabel -q compile -d translations

run: install translations
	$(FLASK) init
	$(FLASK) demo load
	@echo "Serving on http://$(HOST):$(PORT) — log in with one of the demo logins above."
	@echo "Mail the tool sends is shown at http://$(HOST):$(PORT)/dev/mail (development only)."
	$(FLASK) run --host $(HOST) --port $(PORT)

# The suite: everything but the failure tests in parallel processes (pytest-xdist), then the
# failure tests on their own, since they restart the PostgreSQL server under everyone's feet.
test: install translations
	$(VENV)/bin/pytest -n auto -m "not reliability"
	$(VENV)/bin/pytest -m reliability

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/bandit -q -r referral

# Every page under gunicorn beside a bare Flask app, driven by Debian's wrk (installed when
# missing), on SQLite and PostgreSQL, demo and municipal scale; writes bench/report.md.
# BENCH_ARGS=--national adds PostgreSQL at national scale (slow to load); see bench/README.md.
# (bench/directory.py and bench/monitor.py still run on their own.)
bench: install translations
	command -v wrk >/dev/null || apt-get install -y -q wrk
	$(VENV)/bin/python bench/pages.py $(BENCH_ARGS)

# Extract new strings from the code and templates into the catalogs (then translate nl).
messages: install
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k _l -o translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
