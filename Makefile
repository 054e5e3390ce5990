# GPT from scratch: `make lab` opens the series in JupyterLab, `make test` runs every check.
# Both create a virtual environment in $(VENV) and install everything into it first.
#
#   TORCH_SPEC   what `pip install` is given for torch, e.g. "torch==2.13.0" or
#                "torch --index-url https://download.pytorch.org/whl/cpu" (see the README); unset:
#                the torch already in $(VENV), or else tools/torch_spec.py chooses (the CPU build on
#                Linux without an NVIDIA GPU)
#   PYTHON       the Python (3.10+) that creates the virtual environment
#   EDITION      which edition `make lab` opens: en (default) or zh, the Chinese one (notebooks/zh/)
#   NB           the notebook(s) `make outputs` re-executes and `make slides` builds (default: all of them)
#
# `make outputs` also rebuilds the Chinese edition (notebooks/zh/) from the new outputs; `make zh` rebuilds it
# alone, after a translation file changed.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?=
CONSTRAINTS ?= constraints.txt
NB ?=
EDITION ?= en

BIN := $(VENV)/bin
PY := $(BIN)/python
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 300

.PHONY: install lab test outputs zh book slides constraints clean

install:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "this series needs Python 3.10 or newer; $(PYTHON) is " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_SPEC)" ] || ! $(PY) -c 'import torch' 2>/dev/null; then \
	    spec="$$(TORCH_SPEC="$(TORCH_SPEC)" $(PY) tools/torch_spec.py)" && \
	    echo "$(PY) -m pip install --quiet $$spec" && $(PY) -m pip install --quiet $$spec; \
	else \
	    echo "torch: keeping torch $$($(PY) -c 'import torch; print(torch.__version__)') in $(VENV) (set TORCH_SPEC to change it)"; \
	fi
	@if [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$$(sed -n 's/^# python: *//p' $(CONSTRAINTS))" ]; then \
	    echo "installing the exact versions pinned in $(CONSTRAINTS)"; flags="-c $(CONSTRAINTS)"; \
	else \
	    echo "note: $(CONSTRAINTS) pins versions for another Python; installing from the ranges in requirements.txt"; flags=""; \
	fi; \
	$(PY) -m pip install --quiet $$flags -r requirements.txt -e .

lab: install
	$(PY) tools/lab.py --edition $(EDITION)

test: install
	$(PY) -m pytest tests gptlib notebooks --doctest-modules $(NBVAL)

outputs: install
	$(PY) tools/run_notebooks.py $(NB)

zh: install
	$(PY) tools/build_zh.py

book: install
	$(PY) tools/build_book.py

slides: install
	$(PY) tools/build_slides.py $(NB)

constraints:
	@{ echo "# Exact versions the committed notebook outputs were produced with (torch: see TORCH_SPEC)."; \
	   echo "# Regenerate with 'make constraints' after upgrading, then re-run 'make outputs'."; \
	   echo "# python: $$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')"; \
	   $(PY) -m pip freeze --exclude-editable | grep -v -i -E '^(torch|triton|nvidia-|gptlib)\b'; } > $(CONSTRAINTS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
