# One-command set-up: `make run` starts the app, `make test` runs every test.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast bench clean samples browser

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install it, or run make PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned and installed first: a bare `torch` requirement would pull several GB of CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[text,test,samples,bench,distributed,tracking,pipeline]"
	touch $(STAMP)

install: $(STAMP)

# Listens on 127.0.0.1 unless the operator chooses: `make run WORKBENCH_ADDRESS=0.0.0.0` serves every
# interface, and the app then turns off local paths and folder writes (README: Serving the app).
run: install
	WORKBENCH_ADDRESS="$(WORKBENCH_ADDRESS)" $(BIN)/python -m core.cli app

test: install browser
	$(BIN)/python -m pytest -q

# The library's tests without the app, the browser and the slow ones: under 2 minutes on 2 idle cores.
# `make test` (what CI runs) still runs everything.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not browser and not app"

# The real-browser test drives Debian's chromium (playwright cannot download browsers here). As root
# it is installed here; otherwise make stops at once with the one command to run.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser test (apt-get)..."; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || exit 2; \
	  else \
	    echo "The browser test needs Debian's chromium. Run:  sudo apt-get install -y chromium  then make test again."; \
	    exit 2; \
	  fi; \
	fi

bench: install
	$(BIN)/python benchmarks/scorers.py
	$(BIN)/python benchmarks/scorers.py --estimate --repeats 3
	$(BIN)/python benchmarks/scorers.py --versus --rows 50000,200000 --repeats 1
	$(BIN)/python benchmarks/live.py
	$(BIN)/python benchmarks/estimate.py
	$(BIN)/python benchmarks/pruning.py
	$(BIN)/python benchmarks/app.py
	$(BIN)/python benchmarks/app.py --rows 20000x784,100000x128 --map-rows 0
	$(BIN)/python benchmarks/search.py

samples: install
	$(BIN)/python sample_data/make_samples.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
