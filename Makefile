# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
FMNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test data browser venv clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[test,web]"
	touch $(STAMP)

venv: $(STAMP)

# Fashion-MNIST from Debian (optional: the zoo ships trained weights; tests that need the data skip without it).
data:
	@if [ ! -d $(FMNIST) ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) || echo "note: could not install dataset-fashion-mnist; data-dependent checks will skip"; \
	  else echo "note: $(FMNIST) missing and apt-get unavailable; data-dependent checks will skip"; fi; \
	fi

# Headless Chromium from Debian for the web page's browser test (skipped, with its reason, without it).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "note: could not install chromium; the browser test will skip"; \
	  else echo "note: /usr/bin/chromium missing and apt-get unavailable (or not root); the browser test will skip"; fi; \
	fi

demo: $(STAMP) data
	$(BIN)/doodl demo --out outputs/demo --overwrite

test: $(STAMP) data browser
	$(BIN)/python -m pytest -q -p no:cacheprovider

# CPU benchmarks (minutes); the GPU rows of BENCHMARKS.md come from `benchmarks/doodl_step.py --sd15 --device cuda`.
bench: $(STAMP)
	$(BIN)/python benchmarks/grad_cost.py
	$(BIN)/python benchmarks/doodl_step.py
	$(BIN)/python benchmarks/roundtrip.py

clean:
	rm -rf $(VENV) outputs
