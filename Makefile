# SPDX-License-Identifier: MIT
# vgpu top-level build: one module.mk per directory adds its targets to ALL, TESTS and BENCHES.
#
#   make            build everything (release flags) into build/rel
#   make demo       install missing packages, build, run the demo
#   make test       install missing packages, build with ASan+UBSan into build/san, run all tests;
#                   then the whole-system tests: test-k8s (containerd + the shim, through the
#                   CRI) and test-xen (Xen 4.17 under QEMU, zones as PV guests)
#   make regen      run vgpu-codegen over cuda.h + spec/cuda.spec, rewrite generated/
#   make bench      run the benchmarks (release build), print ratios
#   make fuzz       run the AFL++ campaign (FUZZ_SECONDS, default 60)
#   make test-nccl  NCCL with two ranks on two simulated devices, directly and through vgpu
#   make gpu-kit    build a self-contained tree for a GPU machine; make gpu-check runs every
#                   GPU check from it and writes one report (docs/GPU.md)
#   make clean      remove build/

CUDA_HOME    ?= /usr/local/cuda
CUDA_H       ?= $(CUDA_HOME)/include/cuda.h
NVCC         ?= $(CUDA_HOME)/bin/nvcc
CC           ?= gcc
SAN          ?= 0
B            ?= build/rel
TEST_TIMEOUT ?= 300

CPPFLAGS += -D_GNU_SOURCE -Iruntime -Igenerated -I$(CUDA_HOME)/include
CFLAGS   += -std=gnu11 -g -Wall -Wextra -Werror -fPIC -pthread
LDFLAGS  += -pthread
ifeq ($(SAN),1)
  # Tests always keep assertions (no NDEBUG) and run under ASan+UBSan.
  CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else
  CFLAGS  += -O2
endif

ALL     :=
TESTS   :=
BENCHES :=

.PHONY: all deps demo test check regen bench bench-run fuzz clean
.DEFAULT_GOAL := all

include runtime/tables.mk
include runtime/module.mk
include codegen/module.mk
include sim/module.mk
include proxy/module.mk
include libvgpu/module.mk
include tests/module.mk
include tests/runtime/module.mk
include tests/gpu/module.mk
include bench/module.mk
include fuzz/module.mk
# Whole-system tests (Xen under QEMU, Kubernetes through the CRI); each file adds its own target.
-include tests/xen/module.mk
-include tests/k8s/module.mk

all: $(ALL)

deps:
	@deploy/deps.sh

demo: deps
	@$(MAKE) --no-print-directory B=build/rel all
	@tests/demo.sh build/rel

# make test builds with every CPU (nvcc's builds of the runtime programs, compiled once and linked twice, are most
# of its time); make -jN test keeps N. Everything it runs is built first, in one parallel
# build: the sanitized tree with every test, the release tree of the whole-system tests and
# the CRI shim side by side (built one after the other, each of the last two left a CPU idle).
# Then the tests, then test-k8s beside test-xen (QEMU is the long pole; the CRI checks take
# seconds).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
GIVEN_JOBS = $(strip $(filter -j%,$(MAKEFLAGS)) $(filter j%,$(firstword $(MAKEFLAGS))))
test:
	@deploy/deps.sh --all
	@$(MAKE) --no-print-directory $(if $(GIVEN_JOBS),,-j$(JOBS)) test-build
	@$(MAKE) --no-print-directory $(if $(GIVEN_JOBS),,-j$(JOBS)) B=build/san SAN=1 check
	@$(MAKE) --no-print-directory test-system

.PHONY: test-build test-build-san test-build-rel test-build-shim test-system check-build
test-build: test-build-san test-build-rel test-build-shim
test-build-san:
	@$(MAKE) --no-print-directory B=build/san SAN=1 check-build
test-build-rel:
	@$(MAKE) --no-print-directory B=build/rel SAN=0 xen-progs
test-build-shim:
	@deploy/shim/build.sh --test build/shim

# test-k8s and test-xen at once; test-k8s's output, kept in build/test-k8s.log, follows test-xen's.
test-system:
	@mkdir -p build; rc=0; \
	$(MAKE) --no-print-directory test-k8s >build/test-k8s.log 2>&1 & k8s=$$!; \
	echo "test-system: test-k8s runs beside test-xen; its output follows test-xen's (build/test-k8s.log)"; \
	$(MAKE) --no-print-directory test-xen || rc=$$?; \
	wait $$k8s || rc=$$?; \
	echo "== test-k8s (build/test-k8s.log)"; cat build/test-k8s.log; exit $$rc

# Builds every test, then runs them all through one runner with a per-test timeout.
# TEST_JOBS at a time (most tests wait on a proxy, a child or a timer much of the time);
# the long ones first, so that the rest fill in beside them.
TEST_JOBS ?= 2
TESTS_LONG = $(filter %/sim_cuda_samples.sh %/migrate.sh %/test_smoke.sh %/demo.sh %/restart.sh %/rt_async_streams.sh \
	%/sim_nccl_ops.sh %/sim_ffmpeg.sh %/sim_curand_host.sh %/sim_cudnn_ops.sh %/sim_cudnn_graph.sh %/sim_pycuda.sh \
	%/sim_migrate_check.sh %/sim_hashcat.sh %/sim_mumax3.sh,$(TESTS))
# The AFL builds first: each is one long compiler run over every source of the call path
# (40 s for the sanitized target), and started last, as the smoke test's prerequisites, they
# were the build's last half-minute with the other CPU idle.
check-build: $(FZ_AFL_BUILDS) $(ALL) $(TESTS)
check: check-build
	@VGPU_BUILD=$(B) tests/run.sh --timeout $(TEST_TIMEOUT) --jobs $(TEST_JOBS) $(TESTS_LONG) $(filter-out $(TESTS_LONG),$(TESTS))

bench: deps
	@$(MAKE) --no-print-directory B=build/rel bench-run

bench-run: $(ALL) $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; VGPU_BUILD=$(B) $$b || exit 1; done

fuzz: deps
	@fuzz/run.sh

clean:
	rm -rf build

# Generic rules: object files mirror the source tree under $(B).
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(B) -name '*.d' 2>/dev/null)
