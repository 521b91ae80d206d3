# spectop — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
DEBIAN_PACKAGES := libncursesw5-dev libopenblas-dev liblapacke-dev tmux
SWIFT ?= swift
PREFIX ?= /usr/local
RELEASE_BIN = .build/release/spectop

.PHONY: demo test deps build release unit e2e sanitize bench headless install clean numpy

## demo: install what is missing, build in release mode, open the monitor on the default preset
demo: deps release
	@$(RELEASE_BIN)

## test: install what is missing, then unit tests, end-to-end tmux tests and the thread-sanitizer run
test: deps unit sanitize e2e

deps:
	@scripts/install-deps.sh $(DEBIAN_PACKAGES)

numpy:
	@python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy 2>/dev/null || echo "numpy not available: the NumPy reference check will be skipped"

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --product spectop

# The release binary is built after the debug one so the long claims runs
# (ReproductionTests) pick it up as the newer build.
unit: numpy
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product spectop
	$(SWIFT) test --skip EndToEndTests

e2e:
	$(SWIFT) test --filter EndToEndTests

sanitize:
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter 'EngineTests'

## bench: the benchmark suite (and the PyTorch comparison when torch is installed)
bench: deps release
	$(RELEASE_BIN) bench
	@if python3 -c 'import torch' 2>/dev/null; then python3 bench/torch_peer.py --spectop $(RELEASE_BIN); \
	else echo "PyTorch not installed: skipping the peer comparison (pip install torch to enable it)"; fi

## headless: a recorded run of the default preset without the UI
headless: deps release
	$(RELEASE_BIN) run --headless --out run.jsonl

install: release
	install -d $(PREFIX)/bin
	install -m 755 $(RELEASE_BIN) $(PREFIX)/bin/spectop

clean:
	rm -rf .build .build-tsan
