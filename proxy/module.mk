# SPDX-License-Identifier: MIT
# proxy build rules (included by the top-level Makefile).

# Per-zone data structures: no driver, no ring; unit-tested on their own.
PROXY_CORE_OBJS := $(addprefix $(B)/proxy/,handles.o allocmap.o quota.o zone.o log.o pool.o ipc.o vmm.o devva.o pinned.o ckpt.o texture.o link.o hostfn.o \
	output.o devsel.o) \
	$(B)/runtime/modimage.o $(B)/runtime/visible.o $(B)/runtime/drvenv.o
PROXY_CORE_LIBS := -lzstd -llz4   # modimage.o: compressed fatbin members

PROXY_UNIT_TESTS := $(addprefix $(B)/tests/proxy/,test_handles test_allocmap test_zone test_ckpt test_pinned test_hostfn test_devva test_devsel test_pool)

$(PROXY_UNIT_TESTS): $(B)/tests/proxy/%: $(B)/tests/proxy/%.o $(PROXY_CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PROXY_CORE_LIBS)

PROXY_TESTS := $(PROXY_UNIT_TESTS)

# vgpu-proxy itself. The generic call path needs the codec (runtime/codec*.c) and the
# generated tables; until they exist the proxy builds without them and refuses every call
# with CUDA_ERROR_NOT_SUPPORTED (the supervisor, workers and channels still work).
PROXY := $(B)/proxy/vgpu-proxy
PROXY_OBJS := $(PROXY_CORE_OBJS) $(addprefix $(B)/proxy/,main.o supervisor.o worker.o handoff.o \
	backend.o chanloop.o custom.o dispatch.o ctlclient.o sv_ctl.o sv_xen.o adopt.o) \
	$(patsubst %.c,$(B)/%.o,$(wildcard proxy/custom_*.c))
PROXY_LIBS := $(RING_LIBS) -ldl
# The hand-written calls' handlers (proxy/custom_calls.c) share the wire tables with libvgpu
# and check module images with the same parser the simulator uses.
ifneq ($(wildcard proxy/custom_calls.c),)
  PROXY_OBJS += $(B)/runtime/custom_wire.o
  PROXY_LIBS += -lzstd -llz4
endif

PROXY_CODEC_SRCS := $(wildcard runtime/codec*.c)
ifneq ($(PROXY_CODEC_SRCS),)
  PROXY_FEATURES += -DVGPU_HAVE_CODEC=1
  PROXY_OBJS += $(patsubst %.c,$(B)/%.o,$(PROXY_CODEC_SRCS) $(wildcard runtime/cuerr.c))
  PROXY_LIBS += -lmsgpackc
  ifneq ($(wildcard generated/vgpu_dispatch.c),)
    PROXY_FEATURES += -DVGPU_HAVE_DISPATCH=1
    PROXY_OBJS += $(B)/generated/vgpu_dispatch.o $(B)/generated/vgpu_calls.o
  endif
endif

$(B)/proxy/%.o: CPPFLAGS += $(PROXY_FEATURES)

# Objects built before the codec or generated/ appeared lack the generic path: rebuild them
# when the feature set changes (the stamp is rewritten only when it differs).
PROXY_STAMP := $(B)/proxy/.features
$(shell mkdir -p $(B)/proxy && (echo '$(PROXY_FEATURES)' | cmp -s - $(PROXY_STAMP) || echo '$(PROXY_FEATURES)' > $(PROXY_STAMP)))
$(filter $(B)/proxy/%.o,$(PROXY_OBJS)): $(PROXY_STAMP)

$(PROXY): $(PROXY_OBJS) $(RING_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PROXY_LIBS)

ALL += $(PROXY)

# vgpuctl: the orchestrator's client of the control socket (register/unregister/list/stats).
VGPUCTL := $(B)/proxy/vgpuctl
# (inspect reads checkpoints with the proxy's own reader: the core objects, from an archive so
# that only what the reader needs is linked)
$(B)/proxy/libcore.a: $(PROXY_CORE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
$(VGPUCTL): $(addprefix $(B)/proxy/,vgpuctl.o vgpuctl_ckpt.o vgpuctl_inspect.o ctlclient.o quota.o) $(B)/proxy/libcore.a $(RING_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/proxy/libcore.a $(RING_LIB) $(RING_LIBS) $(PROXY_CORE_LIBS)
ALL += $(VGPUCTL)

# A stand-in driver library for the supervisor tests (cuInit, one device, a few calls), so
# they run before (and independently of) the simulator.
PROXY_FAKEDRV := $(B)/tests/proxy/libfakedrv.so
$(PROXY_FAKEDRV): tests/proxy/fakedrv.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $< $(LDFLAGS)

PROXY_SUP_TESTS := $(addprefix $(B)/tests/proxy/,test_supervisor)
$(PROXY_SUP_TESTS): $(B)/tests/proxy/%: $(B)/tests/proxy/%.o $(RING_LIB) | $(PROXY) $(PROXY_FAKEDRV)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(RING_LIB) $(RING_LIBS)

PROXY_TESTS += $(PROXY_SUP_TESTS)

# Generic calls through a real proxy, encoded by the codec as libvgpu would: needs the codec.
ifneq ($(PROXY_CODEC_SRCS),)
ifneq ($(wildcard generated/vgpu_calls.c),)
PROXY_CALL_TEST := $(B)/tests/proxy/test_calls $(B)/tests/proxy/test_hostile
$(PROXY_CALL_TEST): $(B)/tests/proxy/%: $(B)/tests/proxy/%.o $(patsubst %.c,$(B)/%.o,$(PROXY_CODEC_SRCS) $(wildcard runtime/cuerr.c)) \
		$(B)/generated/vgpu_calls.o $(RING_LIB) | $(PROXY) $(PROXY_FAKEDRV)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(RING_LIBS) -lmsgpackc
PROXY_TESTS += $(PROXY_CALL_TEST) tests/proxy/test_calls_sim.sh tests/proxy/test_hostile_sim.sh

# Benchmark: calls through the proxy vs the same driver in-process (make bench runs it).
PROXY_BENCH := $(B)/bench/proxy_calls
$(PROXY_BENCH): $(B)/tests/proxy/bench_proxy.o $(patsubst %.c,$(B)/%.o,$(PROXY_CODEC_SRCS) $(wildcard runtime/cuerr.c)) \
		$(B)/generated/vgpu_calls.o $(RING_LIB) | $(PROXY) $(PROXY_FAKEDRV)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(RING_LIBS) -lmsgpackc -ldl
BENCHES += $(PROXY_BENCH)
endif
endif
TESTS += $(PROXY_TESTS)

.PHONY: test-proxy
test-proxy: $(filter-out %.sh,$(PROXY_TESTS)) $(PROXY) $(PROXY_FAKEDRV)
	@VGPU_BUILD=$(B) tests/run.sh --timeout 120 $(PROXY_TESTS)
