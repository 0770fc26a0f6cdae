# Thin wrapper around CMake. `make run` and `make test` are the two commands of the README.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
# Seconds per fuzz target: `make fuzz` (a real run), and `make test` (after the corpus replay).
FUZZ_TIME       ?= 60
FUZZ_CHECK_TIME ?= 15

.PHONY: all deps build build-asan build-fuzz run compose test test-release test-asan test-fuzz fuzz \
	fuzz-merge bench soak format clean

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

# The libFuzzer targets of fuzz/ (clang, ASan + UBSan), in a build directory of their own.
build-fuzz: deps
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DIMSGW_FUZZ=ON -DIMSGW_PARTS='gateway;waf' >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)

# MEDIA=1: with rtpengine as media relay (calls to IMS phones); MEDIA_IP: its RTP address.
run: build
	@MEDIA=$(MEDIA) MEDIA_IP=$(MEDIA_IP) scripts/run-demo.sh $(BUILD)

# The demo stack in containers (podman; docs/deploy.md): WSS + HTTPS with a demo certificate.
compose: deps
	@scripts/containers.sh up

# Every suite, twice: once on the release build, once under ASan + UBSan; then every fuzz
# corpus replayed and each fuzz target run briefly.
test: build build-asan build-fuzz
	@$(MAKE) --no-print-directory test-release test-asan test-fuzz

test-release:
	ctest --test-dir $(BUILD) --output-on-failure

test-asan:
	ctest --test-dir $(BUILD_ASAN) --output-on-failure

test-fuzz:
	@scripts/fuzz.sh check $(BUILD_FUZZ) $(FUZZ_CHECK_TIME)

# Fuzz every target FUZZ_TIME seconds; `make fuzz-merge` then minimises the finds into fuzz/corpus.
fuzz: build-fuzz
	@scripts/fuzz.sh run $(BUILD_FUZZ) $(FUZZ_TIME)

fuzz-merge: build-fuzz
	@scripts/fuzz.sh merge $(BUILD_FUZZ)

# Every part's benchmark (bench/*-bench.sh), each bounded in time, on loopback. A bench that fails
# (scale-bench: a goal missed) does not keep the others from running; make bench fails at the end.
bench: build
	@rc=0; for b in bench/*-bench.sh; do "$$b" $(BUILD) || { echo "$$b failed"; rc=1; }; done; exit $$rc

# Soak (not part of make test): thousands of WebSocket clients register, message, call and flap
# for SOAK_SECONDS (600) against WAF-minted tokens, gateway and stub; fails when fds, RSS,
# transactions or dialogs did not come back (tests/soak/soak.mjs, docs/benchmarks.md).
soak: build
	@ulimit -n $$(ulimit -Hn) && IMSGW_BIN_DIR=$(CURDIR)/$(BUILD) node tests/soak/soak.mjs

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
