# Paved: `make run` starts the portal on embedded defaults; `make test` runs the whole suite.
# Both set up everything they need first (.venv, Python and npm packages, static assets).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Production processes (`make serve`, `make worker`, `make beat`); see "Running in production" in README.md.
HOST ?= 0.0.0.0
WEB_CONCURRENCY ?= 2
WEB_THREADS ?= 2
PAVED_WORKER_CONCURRENCY ?= 2
export PAVED_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test setup assets lint typecheck migrate demo bench serve worker beat clean help

help:
	@echo "make run    - set up, migrate, load the demo organisation, start web + worker + beat on 127.0.0.1:$(PORT)"
	@echo "make test   - set up, lint, type-check, check migrations, run the whole test suite"
	@echo "make bench  - the catalog over HTTP at 10k entities (tests/bench/bench_catalog_http.py) beside its targets;"
	@echo "              BENCH=scaffolder runs another, BENCH=all every one; BENCH_ARGS='--entities 100000' passes options."
	@echo "              HTTP benchmarks start the production processes on PostgreSQL (PAVED_BENCH_DATABASE_URL) and"
	@echo "              Redis (PAVED_BENCH_BROKER_URL); see tests/bench/stack.py"
	@echo "make serve  - production web tier: Granian on \$$HOST:\$$PORT (0.0.0.0:8000), \$$WEB_CONCURRENCY workers (2)"
	@echo "make worker - production Celery worker, \$$PAVED_WORKER_CONCURRENCY processes (2)"
	@echo "make beat   - production Celery beat; run exactly one"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Paved needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Front-end libraries come from npm and are served as our own static files, never from a CDN. Each file is copied
# with the source map it names (sourceMappingURL): collectstatic's manifest storage rewrites that reference to the
# hashed map and fails when the map is missing. highlight.js's main bundle has YAML, JSON and GraphQL; protobuf is
# the one definition language it lacks.
portal/static/vendor/.installed: node_modules/.installed Makefile
	rm -rf portal/static/vendor && mkdir -p portal/static/vendor/tabler portal/static/vendor/htmx portal/static/vendor/swagger-ui \
	   portal/static/vendor/highlight/languages
	cp node_modules/@tabler/core/dist/css/tabler.min.css node_modules/@tabler/core/dist/css/tabler.min.css.map \
	   node_modules/@tabler/core/dist/js/tabler.min.js node_modules/@tabler/core/dist/js/tabler.min.js.map \
	   portal/static/vendor/tabler/
	cp node_modules/htmx.org/dist/htmx.min.js portal/static/vendor/htmx/
	cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui.css.map \
	   node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js \
	   portal/static/vendor/swagger-ui/
	cp node_modules/@highlightjs/cdn-assets/highlight.min.js node_modules/@highlightjs/cdn-assets/LICENSE \
	   node_modules/@highlightjs/cdn-assets/styles/github.min.css portal/static/vendor/highlight/
	cp node_modules/@highlightjs/cdn-assets/languages/protobuf.min.js portal/static/vendor/highlight/languages/
	touch $@

setup: $(VENV)/.installed portal/static/vendor/.installed

assets: portal/static/vendor/.installed

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	DEBUG=$${DEBUG:-true} $(PY) manage.py demo_setup

run: setup
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py demo_setup
	DEBUG=$${DEBUG:-true} PORT=$(PORT) PY=$(PY) scripts/run-all

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache
	DEBUG=true $(PY) manage.py check
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	DEBUG=true $(PY) manage.py spectacular --file /dev/null --validate --fail-on-warn

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The production processes run what is already installed and set up: no pip, npm, migrate or collectstatic here,
# so a restart is only a restart. `exec` leaves make with nothing to do but pass signals on (a TERM to make reaches
# Granian, gunicorn or Celery, which shut down gracefully). The web server is Granian (README: "The web tier on a
# 2-core box"); PAVED_WEB_SERVER=gunicorn runs gunicorn's gthread worker instead (the profiler's hooks are gunicorn's).
serve:
	@case "$$PAVED_WEB_SERVER" in ""|granian|gunicorn) ;; *) echo "PAVED_WEB_SERVER is granian or gunicorn, found '$$PAVED_WEB_SERVER'" >&2; exit 2;; esac
	if [ "$$PAVED_WEB_SERVER" = gunicorn ]; then \
	  exec $(VENV)/bin/gunicorn portal.wsgi --bind $(HOST):$(PORT) --workers $(WEB_CONCURRENCY) \
	    --worker-class gthread --threads $(WEB_THREADS); \
	else \
	  exec $(VENV)/bin/granian --interface wsgi portal.wsgi:application --host $(HOST) --port $(PORT) \
	    --workers $(WEB_CONCURRENCY) --blocking-threads $(WEB_THREADS) --no-ws --respawn-failed-workers; \
	fi

worker:
	exec $(VENV)/bin/celery -A portal worker --loglevel=INFO --concurrency $(PAVED_WORKER_CONCURRENCY)

beat:
	exec $(VENV)/bin/celery -A portal beat --loglevel=INFO

# BENCH picks one benchmark by name (tests/bench/bench_$BENCH.py; the catalog over HTTP by default, `all` for every
# one); BENCH_ARGS go to each benchmark run. Both are read from the environment inside the recipe, so their text is
# never part of the shell command.
export BENCH ?= catalog_http
export BENCH_ARGS ?=
bench: setup
	@case "$$BENCH" in *[!a-z0-9_]*) echo "BENCH is a benchmark's name (letters, digits, _), found '$$BENCH'" >&2; exit 2;; esac; \
	if [ "$$BENCH" != all ]; then files="tests/bench/bench_$$BENCH.py"; else files=$$(ls tests/bench/bench_*.py); fi; \
	for f in $$files; do \
	  test -f "$$f" || { echo "No benchmark $$f; there are: $$(ls tests/bench/bench_*.py | sed 's|.*/bench_||; s|\.py$$||' | xargs)" >&2; exit 2; }; \
	  echo "== $$f"; $(PY) "$$f" $$BENCH_ARGS || exit 1; \
	done

clean:
	rm -rf $(VENV) node_modules portal/static/vendor staticfiles
