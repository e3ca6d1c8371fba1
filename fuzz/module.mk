# SPDX-License-Identifier: MIT
# fuzz build rules (included by the top-level Makefile): the decoder/dispatch fuzz target in
# three builds, the ring-consumer target, the corpus replay and fuzz smoke tests, and the
# adversarial tests (tests/adversarial/).
#
#   $(B)/fuzz/vgpu-fuzz            gcc, $(CFLAGS) (ASan+UBSan with SAN=1): replays files (make test)
#   $(B)/fuzz/afl/vgpu-fuzz        afl-clang-fast, AFL_USE_ASAN + AFL_USE_UBSAN, persistent mode
#   $(B)/fuzz/afl/vgpu-fuzz-cmplog afl-clang-fast, AFL_LLVM_CMPLOG (for afl-fuzz -c)
#   $(B)/fuzz/afl/libcudasim.so    the simulator without sanitizers (loaded by the AFL builds)
#   $(B)/fuzz/vgpu-fuzz-ring       the ring consumer target (gcc replay build)
#   $(B)/fuzz/afl/vgpu-fuzz-ring   the same for afl-fuzz

AFL_CC ?= afl-clang-fast

# The proxy's call path without the ring, the supervisor or the workers. handles.c comes in
# through fuzz/htab_peek.c (the oracles read its slots).
FZ_PROXY_OBJS := $(filter-out $(addprefix $(B)/proxy/,main.o supervisor.o sv_ctl.o sv_xen.o worker.o handoff.o handles.o adopt.o),$(PROXY_OBJS))
FZ_OBJS := $(addprefix $(B)/fuzz/,harness.o oracles.o alias.o msgpack.o main.o htab_peek.o arena.o waits.o random.o) $(FZ_PROXY_OBJS)
# fuzz/arena.c: each zone thread keeps the channel loop's arena between its channels.
# fuzz/random.c: the zones' keys from a generator seeded once per process, not a system call each.
FZ_LIBS := -ldl -lmsgpackc -lzstd -llz4 -Wl,--wrap=vgpu_arena_init -Wl,--wrap=vgpu_arena_fini -Wl,--wrap=getrandom

FZ := $(B)/fuzz/vgpu-fuzz
$(B)/fuzz/%.o: CPPFLAGS += -Iproxy -DVGPU_HAVE_CODEC=1 -DVGPU_HAVE_DISPATCH=1

$(FZ): $(FZ_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FZ_LIBS)

# ---- AFL++ builds: every source of the call path compiled by afl-clang-fast ----
FZ_AFL_DIR  := $(B)/fuzz/afl
FZ_AFL_SRCS := fuzz/harness.c fuzz/oracles.c fuzz/alias.c fuzz/msgpack.c fuzz/main.c fuzz/htab_peek.c fuzz/arena.c fuzz/waits.c fuzz/random.c $(patsubst $(B)/%.o,%.c,$(FZ_PROXY_OBJS))
FZ_AFL_FLAGS := -D_GNU_SOURCE -Iruntime -Igenerated -Iproxy -I$(B)/gen -I$(CUDA_HOME)/include \
	-DVGPU_HAVE_CODEC=1 -DVGPU_HAVE_DISPATCH=1 -std=gnu11 -g -O2 -fPIC -pthread -Wno-everything
FZ_AFL_DEPS := $(FZ_AFL_SRCS) $(wildcard fuzz/*.h proxy/*.h runtime/*.h generated/*.h) $(CUERR_TABLE)
# Coverage is the proxy's alone: the harness (fuzz/*.c, and the oracles' walk and digest of
# the handle table in htab_peek.c, whose handles.c stays instrumented) is left out
# (fuzz/afl-denylist.txt). Its loops over tables counted hits that said how large a table
# was, not what the proxy did: 330 of the corpus's 2,626 edges and a third of all counter
# increments (docs/perf/fuzz.md). The CMPLOG build keeps the harness's comparisons (its
# script framing is what input-to-state solves).
FZ_AFL_DENY := $(CURDIR)/fuzz/afl-denylist.txt

$(FZ_AFL_DIR)/vgpu-fuzz: $(FZ_AFL_DEPS) $(FZ_AFL_DENY) | $(FZ_AFL_DIR)/libcudasim.so
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 AFL_LLVM_DENYLIST=$(FZ_AFL_DENY) $(AFL_CC) $(FZ_AFL_FLAGS) -o $@ \
	  $(FZ_AFL_SRCS) $(FZ_LIBS)

$(FZ_AFL_DIR)/vgpu-fuzz-cmplog: $(FZ_AFL_DEPS) | $(FZ_AFL_DIR)/libcudasim.so
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(FZ_AFL_FLAGS) -o $@ $(FZ_AFL_SRCS) $(FZ_LIBS)

# The simulator for the AFL builds: no sanitizer (it would clash with clang's ASan runtime)
# and no coverage instrumentation (the target is the proxy, not the test double).
# (Same sources, include paths and libraries as sim/module.mk's own build.)
$(FZ_AFL_DIR)/libcudasim.so: $(SIM_SRCS) runtime/modimage.c sim/libcudasim.map $(wildcard sim/*.h) \
		$(PROCADDR_TABLE) $(CUERR_TABLE)
	@mkdir -p $(dir $@)
	gcc -D_GNU_SOURCE -Iruntime -I$(B)/sim -I$(B)/gen -I$(CUDA_HOME)/include -std=gnu11 -g -O2 -fPIC -pthread \
	  -shared -o $@ $(SIM_SRCS) runtime/modimage.c -Wl,--version-script=sim/libcudasim.map \
	  -Wl,-soname,libcudasim.so $(SIM_LIBS)

FZ_AFL_ALL := $(FZ_AFL_DIR)/vgpu-fuzz $(FZ_AFL_DIR)/vgpu-fuzz-cmplog $(FZ_AFL_DIR)/libcudasim.so

.PHONY: fuzz-build
fuzz-build: $(FZ) $(FZ_AFL_ALL)

ALL += $(FZ)

# ---- tests ----
# Replay: the seed corpus and every regression input through the sanitizer build (no AFL).
# Smoke: fuzz/run.sh for FUZZ_SMOKE_SECONDS (30) with the AFL builds, when afl++ is installed.
FZ_TESTS := fuzz/test_replay.sh fuzz/test_smoke.sh
fuzz/test_replay.sh: $(FZ) $(SIM_LIB)
# (the smoke test's prerequisites, every AFL build, are named at the end of this file, once
# FZ_AFL_ALL has them all: the smoke test runs fuzz/run.sh --no-build, so the build phase,
# not the test, compiles them)
TESTS += $(FZ_TESTS)

.PHONY: test-fuzz
test-fuzz: $(FZ_TESTS)
	@VGPU_BUILD=$(B) tests/run.sh --timeout 300 $(FZ_TESTS)

# ---- adversarial tests: a real vgpu-proxy (simulator) and a hand-made hostile client ----
ADV_SRCS  := $(wildcard tests/adversarial/adv_*.c)
ADV_TESTS := $(ADV_SRCS:%.c=$(B)/%)
ADV_LINK  := $(patsubst %.c,$(B)/%.o,$(wildcard runtime/codec*.c) runtime/cuerr.c runtime/custom_wire.c) $(B)/generated/vgpu_calls.o $(RING_LIB)

$(B)/tests/adversarial/%.o: CPPFLAGS += -Itests/proxy -Itests/adversarial
$(ADV_SRCS:%.c=$(B)/%.o): tests/adversarial/adv.h
$(ADV_TESTS): $(B)/tests/adversarial/%: $(B)/tests/adversarial/%.o $(ADV_LINK) | $(PROXY) $(SIM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(RING_LIBS) -lmsgpackc
.SECONDARY: $(ADV_SRCS:%.c=$(B)/%.o)

TESTS += $(ADV_TESTS)

.PHONY: test-adversarial
test-adversarial: $(ADV_TESTS) $(PROXY) $(SIM_LIB)
	@VGPU_BUILD=$(B) tests/run.sh --timeout 300 $(ADV_TESTS)

# ---- the ring-consumer target (runtime/chan.c against a hostile shared region) ----
FZ_RING := $(B)/fuzz/vgpu-fuzz-ring
$(FZ_RING): $(B)/fuzz/ring.o $(RING_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)
FZ_RING_SRCS := fuzz/ring.c runtime/chan.c
$(FZ_AFL_DIR)/vgpu-fuzz-ring: $(FZ_RING_SRCS) $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(AFL_CC) $(FZ_AFL_FLAGS) -o $@ $(FZ_RING_SRCS)
$(FZ_AFL_DIR)/vgpu-fuzz-ring-cmplog: $(FZ_RING_SRCS) $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(FZ_AFL_FLAGS) -o $@ $(FZ_RING_SRCS)
ALL += $(FZ_RING)
FZ_AFL_ALL += $(FZ_AFL_DIR)/vgpu-fuzz-ring $(FZ_AFL_DIR)/vgpu-fuzz-ring-cmplog
fuzz-build: $(FZ_RING) $(FZ_AFL_DIR)/vgpu-fuzz-ring $(FZ_AFL_DIR)/vgpu-fuzz-ring-cmplog
fuzz/test_replay.sh: $(FZ_RING)

# ---- the Xen bootstrap target (xenstore claims + grant directory, before any mapping) ----
FZ_XS := $(B)/fuzz/vgpu-fuzz-xs
$(FZ_XS): $(B)/fuzz/xs.o $(RING_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(RING_LIBS)
FZ_XS_SRCS := fuzz/xs.c runtime/xenbus.c runtime/drvenv.c runtime/transport_xen.c runtime/chan.c
$(FZ_AFL_DIR)/vgpu-fuzz-xs: $(FZ_XS_SRCS) $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(AFL_CC) $(FZ_AFL_FLAGS) -o $@ $(FZ_XS_SRCS) $(RING_LIBS)
$(FZ_AFL_DIR)/vgpu-fuzz-xs-cmplog: $(FZ_XS_SRCS) $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(FZ_AFL_FLAGS) -o $@ $(FZ_XS_SRCS) $(RING_LIBS)
ALL += $(FZ_XS)
FZ_AFL_ALL += $(FZ_AFL_DIR)/vgpu-fuzz-xs $(FZ_AFL_DIR)/vgpu-fuzz-xs-cmplog
fuzz-build: $(FZ_XS) $(FZ_AFL_DIR)/vgpu-fuzz-xs $(FZ_AFL_DIR)/vgpu-fuzz-xs-cmplog
fuzz/test_replay.sh: $(FZ_XS)

# ---- checkpoint files (what vgpuctl restore hands a proxy) ----
FZ_CKPT := $(B)/fuzz/vgpu-fuzz-ckpt
FZ_CKPT_CORE := $(addprefix $(B)/proxy/,ckpt.o zone.o handles.o allocmap.o quota.o log.o pool.o ipc.o vmm.o devva.o pinned.o output.o texture.o link.o hostfn.o) \
	$(B)/runtime/modimage.o $(B)/runtime/visible.o $(B)/runtime/drvenv.o
$(FZ_CKPT): $(B)/fuzz/ckpt.o $(FZ_CKPT_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PROXY_CORE_LIBS) -lpthread
FZ_CKPT_SRCS := fuzz/ckpt.c $(patsubst $(B)/%.o,%.c,$(FZ_CKPT_CORE))
$(FZ_AFL_DIR)/vgpu-fuzz-ckpt: $(FZ_CKPT_SRCS) $(wildcard proxy/*.h runtime/*.h)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(AFL_CC) $(FZ_AFL_FLAGS) -Iproxy -o $@ $(FZ_CKPT_SRCS) $(PROXY_CORE_LIBS) -lpthread
$(FZ_AFL_DIR)/vgpu-fuzz-ckpt-cmplog: $(FZ_CKPT_SRCS) $(wildcard proxy/*.h runtime/*.h)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(FZ_AFL_FLAGS) -Iproxy -o $@ $(FZ_CKPT_SRCS) $(PROXY_CORE_LIBS) -lpthread
ALL += $(FZ_CKPT)
FZ_AFL_ALL += $(FZ_AFL_DIR)/vgpu-fuzz-ckpt $(FZ_AFL_DIR)/vgpu-fuzz-ckpt-cmplog
fuzz-build: $(FZ_CKPT) $(FZ_AFL_DIR)/vgpu-fuzz-ckpt $(FZ_AFL_DIR)/vgpu-fuzz-ckpt-cmplog
fuzz/test_replay.sh: $(FZ_CKPT)

# Every AFL build (prerequisites are expanded where the rule is read, so this comes after the
# last FZ_AFL_ALL +=): the smoke test fuzzes the decoder, and building the others here keeps
# them compiling.
ifneq ($(shell command -v $(AFL_CC) 2>/dev/null),)
fuzz/test_smoke.sh: $(FZ_AFL_ALL)
FZ_AFL_BUILDS := $(FZ_AFL_ALL)
endif
