# SPDX-License-Identifier: MIT
# Runtime-API test programs (included by the top-level Makefile). Each tests/runtime/NAME.cu is
# built by nvcc with its defaults (fatbin with sm_75 SASS and compute_75 PTX, the CUDA runtime
# linked statically) and again with -cudart shared; tests/runtime/run.sh runs both through
# libvgpu + vgpu-proxy and directly on the backend. Under SAN=1 the host code is sanitized too.

RT_NAMES := $(basename $(notdir $(wildcard tests/runtime/*.cu)))
RT_TESTS := $(RT_NAMES:%=$(B)/tests/runtime/rt_%.sh)
RT_NVCC  := $(NVCC) -Itests/runtime -Xcompiler=-Wall
ifeq ($(SAN),1)
  RT_NVCC += -Xcompiler=-fsanitize=address -Xcompiler=-fsanitize=undefined \
             -Xcompiler=-fno-omit-frame-pointer -Xlinker=-lasan -Xlinker=-lubsan
endif
# Thrust's headers dispatch on execution-policy tags by binding references through null
# pointers (the library's own pattern, in host code vgpu does not own): UBSan's null check
# stays off for that program alone, every other check on.
ifeq ($(SAN),1)
$(B)/tests/runtime/thrust_algos $(B)/tests/runtime/thrust_algos_shared: RT_NVCC += -Xcompiler=-fno-sanitize=null
endif
# Programs for Ampere and later (asynchronous copies into shared memory, bfloat16 tensor-core
# fragments) are built for sm_80, as such programs are: SASS for sm_80 and compute_80 PTX,
# which the simulator and newer GPUs run.
$(B)/tests/runtime/async_copy $(B)/tests/runtime/async_copy_shared $(B)/tests/runtime/wmma_sm80 $(B)/tests/runtime/wmma_sm80_shared \
$(B)/tests/runtime/mma_sync $(B)/tests/runtime/mma_sync_shared $(B)/tests/runtime/mbarrier $(B)/tests/runtime/mbarrier_shared \
$(B)/tests/runtime/cg_multiwarp $(B)/tests/runtime/cg_multiwarp_shared $(B)/tests/runtime/wmma_f64 \
$(B)/tests/runtime/wmma_f64_shared: RT_NVCC += -arch=sm_80
# (cuda::pipeline's shared state and cuda::barrier are __shared__ objects with constructors,
# which nvcc warns it does not run: the programs initialise them, as the CUDA samples do)
$(B)/tests/runtime/mbarrier $(B)/tests/runtime/mbarrier_shared $(B)/tests/runtime/bulk_copy \
$(B)/tests/runtime/bulk_copy_shared: RT_NVCC += -diag-suppress 20054
# Built for Hopper (sm_90 SASS, compute_90 PTX): bfloat16 instructions of its own.
$(B)/tests/runtime/bf16_native $(B)/tests/runtime/bf16_native_shared: RT_NVCC += -arch=sm_90
# Programmatic dependent launch (griddepcontrol), the fp8 conversions and bulk copies are Hopper's too.
$(B)/tests/runtime/pdl $(B)/tests/runtime/pdl_shared $(B)/tests/runtime/fp8_convert $(B)/tests/runtime/fp8_convert_shared \
$(B)/tests/runtime/bulk_copy $(B)/tests/runtime/bulk_copy_shared $(B)/tests/runtime/matrix_store $(B)/tests/runtime/matrix_store_shared \
$(B)/tests/runtime/tensor_copy $(B)/tests/runtime/tensor_copy_shared \
$(B)/tests/runtime/cluster_dsmem $(B)/tests/runtime/cluster_dsmem_shared \
$(B)/tests/runtime/wide_atomics $(B)/tests/runtime/wide_atomics_shared $(B)/tests/runtime/dpx_minmax \
$(B)/tests/runtime/dpx_minmax_shared: RT_NVCC += -arch=sm_90
# Green contexts are made with the driver API.
$(B)/tests/runtime/green_contexts $(B)/tests/runtime/green_contexts_shared: RT_NVCC += -lcuda
# Without sanitizers the programs are linked stripped: they travel in make gpu-kit's tree,
# whose size is bounded, and a third of each is symbols.
ifneq ($(SAN),1)
  RT_NVCC += -Xlinker=-s
endif
# -cudart shared: the runtime from the toolkit, found through the binary's run path.
RT_SHARED := -cudart shared -Xlinker=-rpath=$(CUDA_HOME)/lib64

# Compiled once (device code and host code: most of the time) and linked twice, with the
# runtime linked statically and as a shared library. (Flags given to a program above reach
# its object too: make passes a target's variables on to what it is built from.)
$(B)/tests/runtime/%.o: tests/runtime/%.cu tests/runtime/rt.h
	@mkdir -p $(dir $@)
	$(RT_NVCC) -c $< -o $@
$(B)/tests/runtime/%: $(B)/tests/runtime/%.o
	$(RT_NVCC) $< -o $@
$(B)/tests/runtime/%_shared: $(B)/tests/runtime/%.o
	$(RT_NVCC) $(RT_SHARED) $< -o $@
.PRECIOUS: $(B)/tests/runtime/%.o

# Separate compilation (CMake's CUDA_SEPARABLE_COMPILATION): two units, -rdc=true, device-linked.
# The device link makes SASS only, and only for the architectures named, so the program names
# the GPUs it runs on (sm_75, as nvcc's default, and sm_80, sm_90), as such builds must; the
# units' PTX (compute_75) stays in the program for the simulator.
RT_RDC_SRC := tests/runtime/rdc/parts.cu tests/runtime/rdc/parts.h
RT_RDC_ARCH := -gencode arch=compute_75,code=[sm_75,compute_75] -gencode arch=compute_80,code=sm_80 \
               -gencode arch=compute_90,code=sm_90
$(B)/tests/runtime/separate_compilation: tests/runtime/separate_compilation.cu $(RT_RDC_SRC) tests/runtime/rt.h
	@mkdir -p $(dir $@)
	$(RT_NVCC) -rdc=true $(RT_RDC_ARCH) $< tests/runtime/rdc/parts.cu -o $@
$(B)/tests/runtime/separate_compilation_shared: tests/runtime/separate_compilation.cu $(RT_RDC_SRC) tests/runtime/rt.h
	@mkdir -p $(dir $@)
	$(RT_NVCC) $(RT_SHARED) -rdc=true $(RT_RDC_ARCH) $< tests/runtime/rdc/parts.cu -o $@

# Dynamic parallelism: relocatable device code linked with the device runtime, as nvcc
# requires for kernels that launch kernels.
$(B)/tests/runtime/dynamic_parallelism: tests/runtime/dynamic_parallelism.cu tests/runtime/rt.h
	@mkdir -p $(dir $@)
	$(RT_NVCC) -rdc=true $< -o $@ -lcudadevrt
$(B)/tests/runtime/dynamic_parallelism_shared: tests/runtime/dynamic_parallelism.cu tests/runtime/rt.h
	@mkdir -p $(dir $@)
	$(RT_NVCC) $(RT_SHARED) -rdc=true $< -o $@ -lcudadevrt

$(B)/tests/runtime/rt_%.sh: $(B)/tests/runtime/% $(B)/tests/runtime/%_shared tests/runtime/run.sh $(LIBVGPU) $(SIM_LIB)
	printf '#!/bin/sh\nexec tests/runtime/run.sh %s %s\n' $(B)/tests/runtime/$* $(B)/tests/runtime/$*_shared > $@ && chmod +x $@

# Thread-block clusters, Hopper's wide atomics and DPX functions need a device of capability
# 9.0: on the simulator, VGPU_SIM_CC (which a GPU does not read).
RT_SM90 := cluster_dsmem wide_atomics dpx_minmax
$(RT_SM90:%=$(B)/tests/runtime/rt_%.sh): $(B)/tests/runtime/rt_%.sh: $(B)/tests/runtime/% $(B)/tests/runtime/%_shared \
		tests/runtime/run.sh $(LIBVGPU) $(SIM_LIB)
	printf '#!/bin/sh\nVGPU_SIM_CC=$${VGPU_SIM_CC:-9.0} exec tests/runtime/run.sh %s %s\n' $(B)/tests/runtime/$* \
	  $(B)/tests/runtime/$*_shared > $@ && chmod +x $@

.PRECIOUS: $(RT_NAMES:%=$(B)/tests/runtime/%) $(RT_NAMES:%=$(B)/tests/runtime/%_shared)

TESTS += $(RT_TESTS)

# Programs whose memory is stream-ordered or in module globals, through a proxy that places
# zones' memory at fixed addresses (--device-va fixed): default and created pools' allocations
# in the window (a created pool's usage attributes still its own), a capture's left to the
# driver, outputs identical.
RT_FIXED_VA := malloc_async mem_pools graph_memory constant_symbol
$(B)/tests/runtime/rt_fixed_va.sh: $(RT_FIXED_VA:%=$(B)/tests/runtime/rt_%.sh)
	printf '#!/bin/sh\n# the runtime programs of stream-ordered allocation, memory pools, graph memory nodes and\n# module globals through a proxy with --device-va fixed\nset -e\nfor t in $^; do VGPU_E2E_PROXY_ARGS="--device-va fixed" $$t; done\n' > $@ && chmod +x $@
TESTS += $(B)/tests/runtime/rt_fixed_va.sh

.PHONY: test-runtime
test-runtime: $(ALL) $(RT_TESTS)
	@VGPU_E2E_BACKEND=$(VGPU_E2E_BACKEND) VGPU_BUILD=$(B) tests/run.sh --timeout 300 $(RT_TESTS)
