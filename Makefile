# The 365 Hotline. Two commands matter: `make run` and `make test`; both do all the set-up.
# `make check` is the quick loop (lint and the tests that need no PBX or browser).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test durations check deps venv pbx-root softphone lint bench clean

## run: set everything up, start the PBX sandbox, the city simulator and the controller, and
##      place a few sample citizen calls. Ctrl-C stops it all.
run: deps venv pbx-root softphone
	$(BIN)/hotline demo

## test: lint, then the whole test suite, integration tests included (real PBX, PostgreSQL,
##       Vosk, browser), spread over PYTEST_WORKERS processes, each with a sandbox of its own
##       (the tests mostly wait on the PBX's timers, so more workers than cores pay).
##       A worker that dies is reported with the test it ran and not replaced: xdist's
##       group scheduler cannot hand work to a replacement (KeyError, the whole report lost).
PYTEST_WORKERS ?= 6
# Bytecode is cached (under var/, out of the tree) even where the environment turns it off: six
# workers and hundreds of CLI and controller subprocesses otherwise compile the project's modules
# and rewrite the test modules' asserts anew in every process (about a minute of CPU a run).
PYTEST_ENV := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/var/pycache
test: deps venv pbx-root softphone lint
	@$(PYTEST_ENV) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --max-worker-restart=0; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no test; that is a failure" >&2; exit 1; fi; \
	exit $$status

## durations: the whole suite as `make test` runs it, then its long tests' durations written to
##            tests/durations.json (the next runs start the longest first; commit it).
durations: deps venv pbx-root softphone
	@$(PYTEST_ENV) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --max-worker-restart=0 \
		--record-durations

## check: the quick loop: lint and every test that needs no PBX, no browser and no PostgreSQL
##        server, in under two minutes. The same tests' PostgreSQL variants run in `make test`;
##        `make check CHECK_MARKERS="not pbx and not browser"` takes them in (about twice as long).
CHECK_MARKERS ?= not pbx and not browser and not postgres
check: deps venv lint
	@$(PYTEST_ENV) $(BIN)/python -m pytest -m "$(CHECK_MARKERS)" -n 2 --dist loadgroup -q --durations=5; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make check: pytest collected no test; that is a failure" >&2; exit 1; fi; \
	exit $$status

deps:
	@scripts/install-debs

venv: $(STAMP)

# The AMI reader's C steps are compiled in place by the editable install: rebuilt when they change.
$(STAMP): setup.cfg setup.py pyproject.toml hotline/ami/_speedups.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

## pbx-root: build the cached Debian sid root with Asterisk 22 (reused when present).
pbx-root: deps venv
	$(BIN)/hotline pbx build

## softphone: bundle the console's softphone (webrtc/, npm with its pinned lock file) into
##      hotline/softphone/static/, where the controller serves it; rebuilt when its sources change.
SOFTPHONE_BUNDLE := hotline/softphone/static/softphone.js
softphone: $(SOFTPHONE_BUNDLE)

$(SOFTPHONE_BUNDLE): webrtc/package.json webrtc/package-lock.json $(wildcard webrtc/src/*.js) | deps
	cd webrtc && npm ci --no-audit --no-fund && npm run build

lint: venv
	$(BIN)/ruff check hotline scheduler db tests bench

clean:
	-$(BIN)/hotline pbx stop
	rm -rf var
