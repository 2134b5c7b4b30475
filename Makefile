# The README's two commands: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
STAMP := .make
# The project's checkout has MNIST beside it in ../shared/mnist; elsewhere the loader's cache is used.
ifneq ($(wildcard ../shared/mnist),)
export MICROGRADNN_DATA ?= $(abspath ../shared/mnist)
endif

.PHONY: demo test install install-test system-deps bench examples mnist-results clean

demo: $(STAMP)/install
	$(PYTHON) -m microgradnn demo

test: $(STAMP)/install-test system-deps
	$(PYTHON) -m pytest -q

install: $(STAMP)/install
install-test: $(STAMP)/install-test

$(STAMP)/install: pyproject.toml
	@mkdir -p $(STAMP)
	$(PIP) install -q -e .
	@touch $@

$(STAMP)/install-test: pyproject.toml
	@mkdir -p $(STAMP)
	$(PIP) install -q -e '.[test]'
	@touch $@ $(STAMP)/install

# graphviz's `dot` and chromium come from the OS; installed here when we may (root + apt).
system-deps:
	@if ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq graphviz chromium >/dev/null; \
	  else \
	    echo "Please install graphviz and chromium with your OS package manager (e.g. sudo apt-get install graphviz chromium)"; exit 1; \
	  fi; \
	fi

bench: $(STAMP)/install-test
	$(PYTHON) benchmarks/bench_engine.py
	$(PYTHON) benchmarks/bench_stepper.py
	$(PYTHON) benchmarks/bench_graph.py --full-timeout 30
	$(PYTHON) benchmarks/bench_tensor.py
	$(PYTHON) benchmarks/bench_floor.py

# The MNIST accuracy table of README.md and benchmarks/RESULTS.md (about 10 minutes).
mnist-results: $(STAMP)/install
	OPENBLAS_NUM_THREADS=1 $(PYTHON) benchmarks/mnist_results.py

# The learning path, each example in its quick form; pictures go to examples_out/.
examples: $(STAMP)/install
	@for f in examples/0*.py; do echo "== $$f"; $(PYTHON) $$f --quick || exit 1; done

clean:
	rm -rf $(STAMP) build *.egg-info .pytest_cache microgradnn_out examples_out

# The CNN families' table (issue 16): each family trained with its recipe, and the five
# diagrams, in examples_out/10_cnn_families/ (long: see benchmarks/RESULTS.md for times).
.PHONY: cnn-families
cnn-families: $(STAMP)/install
	OPENBLAS_NUM_THREADS=1 $(PYTHON) examples/10_cnn_families.py
