# casselastic developer and CI entry points. `make test` is the whole check and CI's command
# (.ci/run runs exactly `make test`); `make quickstart` builds, starts the test bed and loads a
# demo keyspace. Both start what they need of the test bed (only what is not running yet) and
# LEAVE IT RUNNING (`make testbed-stop` ends it).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

VENV          ?= build/venv
PYTHON        := $(VENV)/bin/python
# The full bed: the second Cassandra node and the auth+TLS instance are needed by tests that
# would otherwise fail (`make test` runs with CE_REQUIRE_ALL=1: nothing may skip).
TESTBED_OPTS  ?= --cassandra-nodes 2 --cassandra-auth
# The demo needs only the three main servers.
QUICKSTART_TESTBED_OPTS ?=
CE_REQUIRE_ALL ?=
FUZZ_SECONDS  ?= 20
# A fixed seed: CI's run is the same sequence of inputs on every machine (cut by time), so a
# local `make fuzz FUZZ_SECONDS=60` on a fresh build/fuzz/corpus covers what CI will try.
# FUZZ_SEED=0 lets libFuzzer pick one (exploring: run long, keep what it finds in the corpus).
FUZZ_SEED     ?= 1
PYTEST_ARGS   ?=

# Debian 12 packages for building, testing and the test bed (JDK 17 + Maven only for the bed;
# file: cpack's dpkg-shlibdeps step; time: /usr/bin/time -v for test_sync_memory.py).
DEB_PKGS := cmake ninja-build gcc clang pkg-config libcmocka-dev libjansson-dev liblz4-dev \
            libcurl4-openssl-dev libssl-dev zlib1g-dev libclang-rt-14-dev maven \
            openjdk-17-jdk-headless unzip curl python3 python3-venv openssl ca-certificates \
            libmicrohttpd-dev libsystemd-dev systemd man-db dpkg-dev file time

# The phases of `make test`, in order.
TEST_PHASES := deps venv build build-matrix build-asan testbed-start unit integration fuzz

# build-matrix: every build type with both compilers, warnings as errors, compile only.
MATRIX_COMPILERS := gcc clang
MATRIX_TYPES     := Debug RelWithDebInfo Release

.PHONY: deps venv build build-asan build-matrix testbed-start testbed-stop testbed-status unit \
        integration fuzz test quickstart clean help bench

help:
	@echo "make build | build-asan | build-matrix | deps | venv | testbed-start | testbed-stop | testbed-status"
	@echo "make unit | integration | fuzz | test | quickstart | bench"

deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	echo "deps: installing$$missing"; \
	$$sudo apt-get update -q; \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing

venv:
	scripts/testbed venv

build:
	cmake -S . -B build/ci -G Ninja -DCE_WERROR=ON
	ninja -C build/ci

build-asan:
	cmake -S . -B build/asan -G Ninja -DCE_WERROR=ON -DCE_SANITIZE=ON
	ninja -C build/asan

testbed-start:
	scripts/testbed start $(TESTBED_OPTS)

testbed-stop:
	scripts/testbed stop

testbed-status:
	scripts/testbed status

unit:
	ctest --test-dir build/asan --output-on-failure --no-tests=error -j2
	ctest --test-dir build/ci --output-on-failure --no-tests=error -j2

# Builds every (compiler, type) pair in build/matrix/<compiler>-<type>; goes on after a failure
# and lists every failed pair at the end (exit 1 if any).
build-matrix:
	@mkdir -p build/matrix; failed=""; \
	for cc in $(MATRIX_COMPILERS); do for type in $(MATRIX_TYPES); do \
	  dir="build/matrix/$$cc-$$type"; echo "build-matrix: $$cc $$type ($$dir)"; \
	  if ! cmake -S . -B "$$dir" -G Ninja -DCMAKE_C_COMPILER="$$cc" -DCMAKE_BUILD_TYPE="$$type" \
	         -DCE_WERROR=ON >"$$dir.cmake.log" 2>&1; then \
	    cat "$$dir.cmake.log"; failed="$$failed $$cc-$$type"; continue; \
	  fi; \
	  ninja -k 0 -j2 -C "$$dir" || failed="$$failed $$cc-$$type"; \
	done; done; \
	if [ -n "$$failed" ]; then echo "build-matrix: FAILED:$$failed"; exit 1; fi; \
	echo "build-matrix: all $(words $(MATRIX_COMPILERS)) x $(words $(MATRIX_TYPES)) builds clean"

# pytest exits 5 when it collected no test: that fails here like any other non-zero exit.
integration:
	CE_REQUIRE_ALL="$(CE_REQUIRE_ALL)" CE_BUILD_DIR="$(CURDIR)/build/ci" $(PYTHON) -m pytest tests/integration -ra -p no:cacheprovider --durations=15 \
	  --timeout=900 $(PYTEST_ARGS)

# Short libFuzzer runs (FUZZ_SECONDS each) of every tests/fuzz/fuzz_*.c, built with clang in
# build/fuzz (CE_FUZZ: ASan/UBSan and coverage on the whole library; warnings are the gcc builds'
# business). Seeds come from tests/fuzz/corpus/<target> when present; new inputs go to build/fuzz/corpus.
# Each target's failing inputs are kept in tests/fuzz/corpus/<target> once fixed.
fuzz:
	@targets=$$(for f in tests/fuzz/fuzz_*.c; do if [ -e "$$f" ]; then basename "$$f" .c; fi; done); \
	if [ -z "$$targets" ]; then echo "fuzz: no tests/fuzz/fuzz_*.c targets yet; skipping"; exit 0; fi; \
	cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCE_FUZZ=ON || exit 1; \
	ninja -C build/fuzz $$targets || exit 1; \
	for t in $$targets; do \
	  mkdir -p "build/fuzz/corpus/$$t" build/fuzz/artifacts; seeds=""; \
	  [ -d "tests/fuzz/corpus/$$t" ] && seeds="tests/fuzz/corpus/$$t"; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  "build/fuzz/$$t" -seed=$(FUZZ_SEED) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ \
	    "build/fuzz/corpus/$$t" $$seeds || { echo "fuzz: $$t FAILED (input in build/fuzz/artifacts/)"; exit 1; }; \
	done

# Runs the phases in order and prints how long each took; stops at the first failure. Nothing
# may skip (CE_REQUIRE_ALL=1): a test missing a server or a file fails and says how to get it.
test:
	@declare -a times=(); total0=$$(date +%s); \
	for phase in $(TEST_PHASES); do \
	  t0=$$(date +%s); echo "=== make $$phase"; \
	  if ! $(MAKE) --no-print-directory $$phase TESTBED_OPTS="$(TESTBED_OPTS)" CE_REQUIRE_ALL=1; then \
	    times+=("$$phase FAILED after $$(( $$(date +%s) - t0 )) s"); \
	    printf '=== %s\n' "$${times[@]}"; exit 1; \
	  fi; \
	  times+=("$$phase $$(( $$(date +%s) - t0 )) s"); \
	done; \
	printf '=== %s\n' "$${times[@]}"; \
	echo "=== make test passed in $$(( $$(date +%s) - total0 )) s; the test bed is left running (make testbed-stop)"

quickstart:
	@for phase in deps venv build testbed-start; do \
	  $(MAKE) --no-print-directory $$phase TESTBED_OPTS="$(QUICKSTART_TESTBED_OPTS)"; \
	done
	PYTHON="$(PYTHON)" scripts/quickstart
	@echo "quickstart: test bed left running (scripts/testbed status; make testbed-stop to end it)"

# The benchmark suite (docs/performance.md): prepares data once, runs every scenario with its
# comparison points, writes build/bench/results.csv, summary.csv and the PNG plots. Sizes from
# BENCH_ROWS ("200000 1000000"), BENCH_WIDTHS ("150 1500"), BENCH_REPEAT (3), BENCH_CHANGES
# (200), BENCH_MODES, BENCH_ONLY, BENCH_OUT (build/bench), BENCH_KEEP=1 (keep the data); a smoke
# run: make bench BENCH_ROWS=5000 BENCH_REPEAT=1.
bench: venv build testbed-start
	@req=bench/requirements.txt; stamp="$(VENV)/.bench-requirements.sha"; sum=$$(sha256sum $$req | cut -d' ' -f1); \
	if [ "$$(cat $$stamp 2>/dev/null)" != "$$sum" ]; then \
	  $(PYTHON) -m pip install -q --disable-pip-version-check -r $$req && echo "$$sum" >$$stamp; fi
	$(PYTHON) bench/suite/run.py --build build/ci --out build/bench \
	  $(if $(BENCH_ROWS),--rows "$(BENCH_ROWS)") $(if $(BENCH_WIDTHS),--widths "$(BENCH_WIDTHS)") \
	  $(if $(BENCH_REPEAT),--repeat $(BENCH_REPEAT)) $(if $(BENCH_CHANGES),--changes $(BENCH_CHANGES)) \
	  $(if $(BENCH_MODES),--modes "$(BENCH_MODES)") $(if $(BENCH_ONLY),--only "$(BENCH_ONLY)") \
	  $(if $(BENCH_OUT),--out $(BENCH_OUT)) $(if $(BENCH_KEEP),--keep)

clean:
	rm -rf build/ci build/asan build/fuzz build/matrix
