# Thin wrapper around CMake. `make run` and `make test` are the two commands of the README.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all deps build build-asan run test test-release test-asan bench soak format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@node scripts/build-wic.mjs
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@node scripts/build-wic.mjs
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DIMSGW_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

run: build
	@scripts/run-demo.sh $(BUILD)

# Every suite, twice: once on the release build, once under ASan + UBSan.
test: build build-asan
	@$(MAKE) --no-print-directory test-release test-asan

test-release:
	ctest --test-dir $(BUILD) --output-on-failure

test-asan:
	ctest --test-dir $(BUILD_ASAN) --output-on-failure

# Every part's benchmark (bench/*-bench.sh), each bounded in time, on loopback.
bench: build
	@for b in bench/*-bench.sh; do "$$b" $(BUILD) || exit 1; done

# Soak (not part of make test): thousands of WebSocket clients register, message, call and flap
# for SOAK_SECONDS (600) against WAF-minted tokens, gateway and stub; fails when fds, RSS,
# transactions or dialogs did not come back (tests/soak/soak.mjs, docs/benchmarks.md).
soak: build
	@ulimit -n $$(ulimit -Hn) && IMSGW_BIN_DIR=$(CURDIR)/$(BUILD) node tests/soak/soak.mjs

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
