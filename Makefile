# The two commands a newcomer needs:  make run   and   make test
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install install-dev run test test-slow test-all lint lock clean cluster

DEV_STAMP := $(VENV)/.installed-dev

# trackers, ultralytics and ipycam are installed with --no-deps: they ask for
# opencv-python (GUI build), and we keep only opencv-python-headless. Their other
# requirements are listed in requirements*.in. Every version comes from constraints.txt.
# The server's install (make run): no PyTorch, no ultralytics.
$(STAMP): requirements.in constraints.txt pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -r requirements.in
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -c constraints.txt trackers
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

# Tests and lint add the test tools and the export path (PyTorch, ultralytics): the
# tests export a model and compare every runtime with ultralytics.
$(DEV_STAMP): $(STAMP) requirements-dev.in requirements-export.in
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt \
		-r requirements-export.in -r requirements-dev.in
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -c constraints.txt ultralytics
	# ipycam (the ONVIF tests' virtual camera) also asks for opencv-python: same reason.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -c constraints.txt ipycam
	touch $@

install: $(STAMP)

install-dev: $(DEV_STAMP)

run: install
	# The simulator's two photos, from ultralytics' wheel (the install has no ultralytics).
	$(BIN)/python -m camera_sim.assets
	$(BIN)/camera-center migrate
	$(BIN)/camera-center demo

# The compose file's topology as processes on this machine (docs/cluster.md): PostgreSQL
# and NATS from this machine, one API server, three workers, 60 simulated cameras.
cluster: install
	$(BIN)/python -m camera_sim.assets
	$(BIN)/python -m bench.cluster_topology

# Two workers: most tests wait on sockets, servers and the simulator, not on the CPU.
TEST_WORKERS ?= 2

test: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

# The slow soak/scale tests only, and everything.
test-slow: install-dev
	$(BIN)/pytest -m slow

test-all: install-dev
	$(BIN)/pytest -m ""

# Style, types (strict on ingest/ and detectors/), the layer contracts in pyproject.toml,
# and every runtime import declared in pyproject.toml (none missing, none unused).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/deptry .

# Re-resolve every pin after changing requirements*.in.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q -r requirements.in -r requirements-export.in \
		-r requirements-dev.in
	.lock-venv/bin/pip install -q --no-deps trackers ultralytics ipycam
	(echo "# Exact versions for every install (make lock regenerates). Python 3.11."; \
	 .lock-venv/bin/pip freeze | sort -f) > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
