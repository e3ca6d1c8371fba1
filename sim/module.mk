# SPDX-License-Identifier: MIT
# sim build rules (included by the top-level Makefile): libcudasim.so (CPU test double of
# the CUDA driver), runtime/modimage.o (shared with libvgpu), the vgpu-sim tool, the test
# kernels compiled by nvcc, the simulator tests and its benchmark.

SIM_SRCS := sim/driver.c sim/mem.c sim/stream.c sim/exec.c sim/api_mem.c sim/api_stream.c sim/ptds.c sim/heap.c \
            sim/module.c sim/ptx_parse.c sim/ptx_exec.c sim/ptx_tex.c sim/fround.c sim/procaddr.c \
            sim/api_extra.c sim/link.c sim/shell.c sim/cudart.c sim/graph.c sim/pool.c sim/vmm.c sim/tmap.c sim/api_tex.c sim/ipc.c sim/green.c runtime/darkapi.c runtime/library.c runtime/legacy.c runtime/local_calls.c runtime/graphnodes.c runtime/composite.c runtime/oldlaunch.c runtime/advice.c runtime/procaddr.c runtime/cuerr.c runtime/cuerr_api.c runtime/rdc.c runtime/visible.c runtime/interop.c \
            generated/sim_absent.c
SIM_OBJS := $(SIM_SRCS:%.c=$(B)/%.o) $(B)/runtime/modimage.o
SIM_LIB  := $(B)/sim/libcudasim.so
SIM_LIBS := -lzstd -llz4 -lm -ldl

# Only the interpreter loop benefits from more optimisation than the default; the directed
# rounding helpers must not have their operations moved across rounding-mode changes.
$(B)/sim/ptx_exec.o: CFLAGS += $(if $(filter 1,$(SAN)),,-O3)
$(B)/sim/fround.o: CFLAGS += -frounding-math
# Texture filtering sums weighted texels in the Programming Guide's order: no fused
# multiply-adds, so results are the same bits on every host.
$(B)/sim/ptx_tex.o: CFLAGS += -ffp-contract=off

# -z nodelete: the block pool and stream threads run library code until the process exits,
# so dlclose must never unmap it.
SIM_LINK = $(CC) -shared -o $@ $(filter %.o,$^) -Wl,--version-script=sim/libcudasim.map \
	  -Wl,-soname,libcudasim.so -Wl,-z,nodelete
# SIM_PLAIN=0 puts the sanitized simulator there too, as before (docs/PERFORMANCE.md, "make
# test's own time"); $(B)/sim/mode remembers the choice, so that changing it rebuilds.
SIM_PLAIN ?= 1
SIM_MODE := $(if $(filter 11,$(SAN)$(SIM_PLAIN)),plain,same)
$(shell mkdir -p $(B)/sim && echo $(SIM_MODE) | cmp -s - $(B)/sim/mode || echo $(SIM_MODE) > $(B)/sim/mode)
ifeq ($(SIM_MODE),plain)
# A sanitized build has two: the simulator its own tests (tests/sim) link, built with the
# sanitizers like everything else ($(SIM_SAN_LIB)), and the one vgpu-proxy, the end-to-end
# tests and the demo load, built without them ($(SIM_LIB)): the simulator is the test
# double, not what ASan and UBSan are there for, and under them it was a third of the CPU
# of `make test` (NCCL's test: 74 s, 38 s without; parsing NCCL's PTX most of it). Processes
# built with ASan still check its allocations for leaks.
SIM_SAN_LIB := $(B)/sim/san/libcudasim.so
SIM_PLAIN_CFLAGS := $(filter-out -O1 -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS)) -O2
SIM_PLAIN_OBJS := $(SIM_SRCS:%.c=$(B)/plain/%.o) $(B)/plain/runtime/modimage.o
$(B)/plain/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(B)/gen $(SIM_PLAIN_CFLAGS) -MMD -MP -c $< -o $@
$(B)/plain/runtime/procaddr.o: $(PROCADDR_TABLE)
$(B)/plain/runtime/cuerr.o: $(CUERR_TABLE)
$(B)/plain/sim/ptx_exec.o: SIM_PLAIN_CFLAGS += -O3
$(B)/plain/sim/fround.o: SIM_PLAIN_CFLAGS += -frounding-math
$(B)/plain/sim/ptx_tex.o: SIM_PLAIN_CFLAGS += -ffp-contract=off
$(SIM_LIB): $(SIM_PLAIN_OBJS) sim/libcudasim.map sim/module.mk $(B)/sim/mode
	@mkdir -p $(dir $@)
	$(SIM_LINK) $(filter-out -fsanitize=%,$(LDFLAGS)) $(SIM_LIBS)
$(SIM_SAN_LIB): $(SIM_OBJS) sim/libcudasim.map sim/module.mk
	@mkdir -p $(dir $@)
	$(SIM_LINK) $(LDFLAGS) $(SIM_LIBS)
SIM_SAN_RPATH := '$$ORIGIN/../../sim/san'
else
SIM_SAN_LIB := $(SIM_LIB)
$(SIM_LIB): $(SIM_OBJS) sim/libcudasim.map sim/module.mk $(B)/sim/mode
	@mkdir -p $(dir $@)
	$(SIM_LINK) $(LDFLAGS) $(SIM_LIBS)
SIM_SAN_RPATH := '$$ORIGIN/../../sim'
endif

$(B)/sim/vgpu-sim: $(B)/sim/main.o $(SIM_LIB)
	$(CC) -o $@ $< -L$(B)/sim -lcudasim -Wl,-rpath,'$$ORIGIN' $(LDFLAGS)

ALL += $(SIM_LIB) $(B)/sim/vgpu-sim

# ---- kernels (nvcc): PTX, default fatbin (compressed PTX + sm_75 SASS), SASS-only ----
KERNEL_DIR := $(B)/tests/kernels
SIM_KERNELS := $(KERNEL_DIR)/basic.ptx $(KERNEL_DIR)/basic.fatbin $(KERNEL_DIR)/basic.cubin \
               $(KERNEL_DIR)/basic_lz4.fatbin $(KERNEL_DIR)/basic_sm90.fatbin \
               $(KERNEL_DIR)/unsupported.ptx $(KERNEL_DIR)/math.ptx $(KERNEL_DIR)/tex.ptx \
               $(KERNEL_DIR)/link_a.rdc.ptx $(KERNEL_DIR)/link_b.rdc.ptx $(KERNEL_DIR)/link_b.rdc.fatbin \
               $(KERNEL_DIR)/link_b.rdc.o $(KERNEL_DIR)/liblink_b.a $(KERNEL_DIR)/dp_parent.rdc.ptx

$(KERNEL_DIR)/%.ptx: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -ptx -arch=compute_75 $< -o $@
$(KERNEL_DIR)/%.fatbin: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -fatbin $< -o $@
$(KERNEL_DIR)/%.cubin: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -cubin -arch=sm_75 $< -o $@
$(KERNEL_DIR)/%_lz4.fatbin: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -fatbin -Xfatbin -compress-mode=speed $< -o $@
$(KERNEL_DIR)/%_sm90.fatbin: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -fatbin -gencode arch=compute_90,code=sm_90 $< -o $@
# relocatable device code (extern __device__ across files) for the JIT linker test
$(KERNEL_DIR)/%.rdc.ptx: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -rdc=true -ptx -arch=compute_75 $< -o $@
$(KERNEL_DIR)/%.rdc.fatbin: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -rdc=true -fatbin -gencode arch=compute_75,code=[sm_75,compute_75] $< -o $@
# the same as a host object and in a static library beside an object with no device code, as
# programs hand the JIT linker objects and archives (CU_JIT_INPUT_OBJECT, _LIBRARY)
$(KERNEL_DIR)/%.rdc.o: tests/kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -rdc=true -c -gencode arch=compute_75,code=[sm_75,compute_75] $< -o $@
$(KERNEL_DIR)/liblink_b.a: $(KERNEL_DIR)/link_b.rdc.o
	printf 'int vgpu_link_host_only(void) { return 1; }\n' | $(CC) -x c -c - -o $(KERNEL_DIR)/host_only.o
	rm -f $@ && $(AR) rcs $@ $< $(KERNEL_DIR)/host_only.o

# ---- tests ----
SIM_TEST_NAMES := test_sim_basic test_sim_kernels test_sim_errors test_sim_streams \
                  test_sim_modimage test_sim_abi test_sim_math test_sim_threads \
                  test_sim_cudart test_sim_cuerr test_sim_texture test_ptx_tex test_sim_link \
                  test_sim_graphmem test_sim_managed_var test_sim_wmma test_sim_cpasync \
                  test_sim_shared32 test_sim_bf16 test_sim_libptx test_sim_cond test_sim_fp8 test_sim_elect test_sim_param \
                  test_sim_indirect test_sim_barriers test_sim_cluster test_sim_cdp test_sim_stack \
                  test_sim_shared_layout test_sim_ipc test_sim_mipmap test_sim_green test_sim_ptx_cache
SIM_TESTS := $(SIM_TEST_NAMES:%=$(B)/tests/sim/%)

$(B)/tests/sim/test_sim_modimage: $(B)/tests/sim/test_sim_modimage.o $(B)/runtime/modimage.o $(SIM_KERNELS)
	$(CC) -o $@ $< $(B)/runtime/modimage.o $(LDFLAGS) -lzstd -llz4

# the texture instructions' test drives the PTX parser and executor directly, with its own
# device memory and texture views
$(B)/tests/sim/test_ptx_tex: $(B)/tests/sim/test_ptx_tex.o $(B)/sim/ptx_parse.o $(B)/sim/ptx_exec.o \
                             $(B)/sim/ptx_tex.o $(B)/sim/fround.o $(KERNEL_DIR)/tex.ptx
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS) -lm
$(B)/tests/sim/test_ptx_tex.o: CFLAGS += -ffp-contract=off

# the export-table test also calls the hash helpers of runtime/darkapi.o directly
$(B)/tests/sim/test_sim_cudart: $(B)/tests/sim/test_sim_cudart.o $(B)/runtime/darkapi.o $(SIM_SAN_LIB) $(SIM_KERNELS)
	$(CC) -o $@ $< $(B)/runtime/darkapi.o -L$(dir $(SIM_SAN_LIB)) -lcudasim -Wl,-rpath,$(SIM_SAN_RPATH) $(LDFLAGS)

# the error-string test also reads runtime/cuerr.o's table directly, and the list of CUresult
# names made from cuda.h (runtime/tables.mk); it needs no kernels
$(B)/tests/sim/test_sim_cuerr.o: $(CUERR_NAMES)
$(B)/tests/sim/test_sim_cuerr.o: CPPFLAGS += -I$(B)/gen
$(B)/tests/sim/test_sim_cuerr: $(B)/tests/sim/test_sim_cuerr.o $(B)/runtime/cuerr.o $(SIM_SAN_LIB)
	$(CC) -o $@ $< $(B)/runtime/cuerr.o -L$(dir $(SIM_SAN_LIB)) -lcudasim -Wl,-rpath,$(SIM_SAN_RPATH) $(LDFLAGS)

# the ABI test dlopens the library the way vgpu-proxy does
$(B)/tests/sim/test_sim_abi: $(B)/tests/sim/test_sim_abi.o $(SIM_LIB)
	$(CC) -o $@ $< $(LDFLAGS) -ldl

$(B)/tests/sim/%: $(B)/tests/sim/%.o $(SIM_SAN_LIB) $(SIM_KERNELS)
	$(CC) -o $@ $< -L$(dir $(SIM_SAN_LIB)) -lcudasim -Wl,-rpath,$(SIM_SAN_RPATH) $(LDFLAGS) -lm

$(SIM_TESTS:%=%.o): tests/sim/simtest.h

TESTS += $(SIM_TESTS)

.PHONY: test-sim
test-sim: $(SIM_LIB) $(SIM_SAN_LIB) $(SIM_TESTS)
	@VGPU_BUILD=$(B) tests/run.sh --timeout 180 $(SIM_TESTS)

# ---- benchmark ----
$(B)/bench/sim: $(B)/bench/sim.o $(SIM_LIB) $(KERNEL_DIR)/basic.ptx
	$(CC) -o $@ $< -L$(B)/sim -lcudasim -Wl,-rpath,'$$ORIGIN/../sim' $(LDFLAGS) -lm

BENCHES += $(B)/bench/sim

# bench/modimage: a PTX module image's check against the byte-by-byte one it replaced.
$(B)/bench/modimage: $(B)/bench/modimage.o $(B)/runtime/modimage.o $(KERNEL_DIR)/math.ptx
	$(CC) -o $@ $< $(B)/runtime/modimage.o $(LDFLAGS) -lzstd -llz4

ALL     += $(B)/bench/modimage
BENCHES += $(B)/bench/modimage
.SECONDARY: $(SIM_TESTS:%=%.o)
