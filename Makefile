# The README's two commands: `make demo` and `make test`. Both install what they need into
# their own virtual environment, .venv/, so nothing is installed into the system's Python
# (Debian and Ubuntu refuse that: PEP 668, "externally-managed-environment").
#
# PYTHON is the interpreter the environment is made with (the first python3 on PATH);
# everything afterwards runs with the environment's own python, $(VENV)/bin/python.
# Use the environment in your shell with `. .venv/bin/activate` (then `microgradnn --help`).
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
ifeq ($(filter-out . .. ./ ../ /,$(strip $(VENV))),)
$(error VENV must name a folder of its own (it is removed and remade), e.g. VENV=.venv)
endif
# The project's checkout has MNIST beside it in ../shared/mnist; elsewhere the loader's cache is used.
ifneq ($(wildcard ../shared/mnist),)
export MICROGRADNN_DATA ?= $(abspath ../shared/mnist)
endif

.PHONY: demo test docs venv install install-test install-docs system-deps bench examples \
        mnist-results pictures course-pictures clean distclean

demo: $(VENV)/.installed
	$(VPY) -m microgradnn demo

# on every core (up to 4): the suite takes about 3 minutes on 2 cores instead of 5 on one
test: $(VENV)/.installed-test system-deps
	$(VPY) -m pytest -q -n auto --maxprocesses 4

venv: $(VPY)
install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-docs: $(VENV)/.installed-docs

# The documentation site, built into site/ with no network (open site/index.html): strict,
# so a warning or a broken link fails it. mkdocs.yml says what is on it.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(VPY) -m mkdocs build --strict --clean

# Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a package of its own,
# python3-venv: without it `python3 -m venv` fails. Installed here as root with apt-get,
# otherwise the one command to run is printed.
$(VPY):
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found: install Python 3.9 or newer"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 9))' || \
	  { echo "make: microgradnn needs Python >= 3.9; $(PYTHON) is $$($(PYTHON) -V 2>&1)"; exit 1; }
	@rm -rf $(VENV)
	@echo "make: creating the virtual environment $(VENV) with $$($(PYTHON) -V 2>&1) ($$(command -v $(PYTHON)))"
	@if ! $(PYTHON) -m venv $(VENV) >$(VENV).log 2>&1; then \
	  rm -rf $(VENV); \
	  pkg="python3-venv $$($(PYTHON) -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: $(PYTHON) cannot make a virtual environment; installing $$pkg with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null && \
	    $(PYTHON) -m venv $(VENV) >$(VENV).log 2>&1 || \
	    { rm -rf $(VENV); cat $(VENV).log; echo "make: could not create $(VENV) with $(PYTHON)"; exit 1; }; \
	  else \
	    cat $(VENV).log; \
	    echo "make: $(PYTHON) cannot make a virtual environment (venv/ensurepip missing). Run this once, then make again:"; \
	    if command -v apt-get >/dev/null; then echo "  sudo apt-get install $$pkg"; \
	    else echo "  install your OS's venv package for Python, or set PYTHON=/path/to/python3"; fi; \
	    exit 1; \
	  fi; \
	fi
	@rm -f $(VENV).log

# pip reads the same configuration inside the environment as outside (pip.conf files, PIP_*
# variables), so a local index or wheel folder set up for this machine is used here too.
$(VENV)/.installed: pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e .
	@touch $@

# The tests build the documentation site too, so the test environment has the docs extra.
$(VENV)/.installed-test: pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[test,docs]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-docs

$(VENV)/.installed-docs: pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[docs]'
	@touch $@ $(VENV)/.installed

# graphviz's `dot` and chromium come from the OS; installed here when we may (root + apt).
system-deps:
	@if ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq graphviz chromium >/dev/null; \
	  else \
	    echo "Please install graphviz and chromium with your OS package manager (e.g. sudo apt-get install graphviz chromium)"; exit 1; \
	  fi; \
	fi

bench: $(VENV)/.installed-test
	$(VPY) benchmarks/bench_engine.py
	$(VPY) benchmarks/bench_stepper.py
	$(VPY) benchmarks/bench_graph.py --full-timeout 30
	$(VPY) benchmarks/bench_tensor.py
	$(VPY) benchmarks/bench_floor.py

# The MNIST accuracy table of README.md and benchmarks/RESULTS.md (about 10 minutes).
mnist-results: $(VENV)/.installed
	OPENBLAS_NUM_THREADS=1 $(VPY) benchmarks/mnist_results.py

# The README's two pictures of the explain page (trains an MLP with --loss mse and a CNN if
# microgradnn_out/explain/ holds no checkpoints yet; needs MNIST and chromium).
.PHONY: explain-screenshots
explain-screenshots: $(VENV)/.installed-test system-deps
	OPENBLAS_NUM_THREADS=1 $(VPY) docs/explain_screenshots.py

# The README's picture of a quiz step (the stepper with practice=True; needs chromium).
.PHONY: practice-screenshot
practice-screenshot: $(VENV)/.installed-test system-deps
	$(VPY) docs/practice_screenshot.py

# The README's picture of the playground (trains the network live for one epoch in chromium).
.PHONY: playground-screenshot
playground-screenshot: $(VENV)/.installed-test system-deps
	OPENBLAS_NUM_THREADS=1 $(VPY) docs/playground_screenshot.py

# The README's picture of the 2-D playground (trains a circles network for a few seconds).
.PHONY: playground2d-screenshot
playground2d-screenshot: $(VENV)/.installed-test system-deps
	OPENBLAS_NUM_THREADS=1 $(VPY) docs/playground2d_screenshot.py

# The learning path, each example in its quick form; pictures go to examples_out/.
examples: $(VENV)/.installed
	@for f in examples/[0-9][0-9]_*.py; do echo "== $$f"; $(VPY) $$f --quick || exit 1; done

# The notebooks of examples/notebooks/, run top to bottom and stored with their outputs
# (the only way their outputs change; examples/notebooks/run.py says what is stored).
.PHONY: notebooks
notebooks: $(VENV)/.installed-test system-deps
	$(VPY) examples/notebooks/run.py

# The README's pictures in docs/ (a stepper screenshot needs chromium and playwright).
pictures: $(VENV)/.installed-test system-deps
	$(VPY) docs/make_pictures.py --out docs

# The course pages' pictures in docs/course/pictures/: the examples in their --quick form.
course-pictures: $(VENV)/.installed
	$(VPY) docs/course_pictures.py

# Outputs and build leftovers; the environment stays (`make distclean` removes it too).
clean:
	rm -rf build site .cache *.egg-info .pytest_cache .hypothesis microgradnn_out examples_out .make $(VENV).log

distclean: clean
	rm -rf $(VENV)

# The CNN families' table (issue 16): each family trained with its recipe, and the five
# diagrams, in examples_out/10_cnn_families/ (long: see benchmarks/RESULTS.md for times).
.PHONY: cnn-families
cnn-families: $(VENV)/.installed
	OPENBLAS_NUM_THREADS=1 $(VPY) examples/10_cnn_families.py
