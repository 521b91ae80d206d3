# spectop — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
DEBIAN_PACKAGES := libncursesw5-dev libopenblas-dev liblapacke-dev libarpack2-dev tmux
SWIFT ?= swift
PREFIX ?= /usr/local
RELEASE_BIN = .build/release/spectop

.PHONY: demo test deps build release unit readers integration e2e sanitize bench headless install clean numpy python

## demo: install what is missing, build in release mode, open the monitor on the default preset
demo: deps release
	@$(RELEASE_BIN)

## test: install what is missing, then every tier: unit, the readers without BLAS, integration, the thread-sanitizer run, end-to-end (tmux), the PyTorch probe
test: deps unit readers integration sanitize e2e python

deps:
	@scripts/install-deps.sh $(DEBIAN_PACKAGES)

numpy:
	@python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy 2>/dev/null || echo "numpy not available: the NumPy reference check will be skipped"

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --product spectop

# Unit-target tests that take seconds each (100 random-start trials, a
# spectrum of 10k modes, every hostile number in every line shape, snapshots
# read against four busy workers, teachers of thousands of samples in a debug
# build): they run with the integration tier, keeping `make unit` under 30 s.
SLOW_UNIT_TESTS := ^(SpectralCoreTests\.MatrixFreeSpectrumTrialTests/|SpecTopReadersTests\.RecordMutationTests/|SpecTopReadersTests\.ForeignLogMutationTests/|SpectralCoreTests\.EngineTests/testSnapshotsNeverMixSteps$$|SpectralCoreTests\.DataTests/testTeacher)

## unit: the fast tier (no process spawns, no sleeps): numerics, engine, data, UI buffers, config, records;
## and every instruction-set copy of the eNTK operator's C kernels that this CPU runs
unit:
	@scripts/check-contraction-kernels.sh
	$(SWIFT) build --build-tests
	@python3 scripts/check-module-dependencies.py
	@scripts/readme-screen.sh --check
	@scripts/make-example-report.sh --check
	$(SWIFT) test --skip-build --filter '^(SpecTopRecordTests|SpecTopReadersTests|SpectralCoreTests|SpecTopUITests|SpecTopAppTests)\.' --skip '$(SLOW_UNIT_TESTS)'

## readers: the record readers (contract, UI, replay/watch/claims/export/check) built and tested in a
## package of their own with no engine and no OpenBLAS, LAPACKE or ARPACK (.build-readers/)
readers:
	@scripts/test-readers-without-blas.sh

# The release binary is built after the debug one so the long runs of the
# integration tier (claims reproductions, the CLI battery) pick it up as the newer build.
## integration: the release binary from the command line, claims reproductions, the NumPy reference, timed engine tests
integration: numpy
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product spectop
	$(SWIFT) test --skip-build --filter '^SpecTopIntegrationTests\.'
	$(SWIFT) test --skip-build --filter '$(SLOW_UNIT_TESTS)'

## e2e: the monitor in tmux, driven with keys; `spectop report` rendered by headless Chromium
e2e:
	@scripts/install-deps.sh chromium || echo "chromium could not be installed: the report's browser test will be skipped"
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter '^SpecTopEndToEndTests\.'

# The probe's tests compare it with the release binary (SPECTOP_BIN); without
# python3 they are skipped with a message and the Swift tiers stand alone.
## python: the PyTorch probe's tests (installs torch, scipy, numpy and pytest into python/.venv)
python: release
	@if ! command -v python3 >/dev/null 2>&1; then \
		echo "python3 not found: skipping the PyTorch probe's tests (python/)"; \
	else \
		py=$$(scripts/install-python-deps.sh | tail -1) && \
		SPECTOP_BIN=$${SPECTOP_BIN:-$(CURDIR)/$(RELEASE_BIN)} $$py -m pytest -q -rs -p no:cacheprovider python/tests; \
	fi

## sanitize: the engine's concurrency tests and the export path under the thread sanitizer
sanitize:
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter 'EngineTests|EngineTimingTests.testPause|ExportWhileTrainingTests'

## bench: the benchmark suite (and the PyTorch comparison when torch is installed)
bench: deps release
	$(RELEASE_BIN) bench
	@if python3 -c 'import torch' 2>/dev/null; then python3 bench/torch_peer.py --spectop $(RELEASE_BIN); \
	else echo "PyTorch not installed: skipping the peer comparison (pip install torch to enable it)"; fi
	@py=python3; [ -x python/.venv/bin/python ] && py=python/.venv/bin/python; \
	if $$py -c 'import torch' 2>/dev/null; then $$py bench/probe_cost.py; \
	else echo "PyTorch not installed: skipping the probe's cost (make python installs it into python/.venv)"; fi

## headless: a recorded run of the default preset without the UI
headless: deps release
	$(RELEASE_BIN) run --headless --out run.jsonl

install: release
	install -d $(PREFIX)/bin
	install -m 755 $(RELEASE_BIN) $(PREFIX)/bin/spectop

clean:
	rm -rf .build .build-tsan .build-readers
