# The 365 Hotline. Two commands matter: `make run` and `make test`; both do all the set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test deps venv pbx-root softphone lint bench clean

## run: set everything up, start the PBX sandbox, the city simulator and the controller, and
##      place a few sample citizen calls. Ctrl-C stops it all.
run: deps venv pbx-root softphone
	$(BIN)/hotline demo

## test: the whole test suite, integration tests included (real PBX, PostgreSQL, Vosk, browser).
test: deps venv pbx-root softphone
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no test; that is a failure" >&2; exit 1; fi; \
	exit $$status

deps:
	@scripts/install-debs

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
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
