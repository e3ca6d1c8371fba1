# SPDX-License-Identifier: MIT
# GPU checks (included by the top-level Makefile): the CUDA-library programs (cuBLAS, cuFFT,
# cuRAND, cuSPARSE, cuSOLVER, cuDNN), on the simulator (in make test: all but cuBLAS run, cuBLAS is refused), their comparison through vgpu on a GPU
# (make test-gpu), and the one-command GPU run: make gpu-kit builds a self-contained tree,
# make gpu-check runs everything on a GPU machine and writes one report (docs/GPU.md).

# cuBLAS and cuFFT come with the toolkit; without them the programs are not built and the
# tests that need them skip.
GPU_CUDA_LIBS := $(and $(wildcard $(CUDA_HOME)/lib64/libcublas.so),$(wildcard $(CUDA_HOME)/lib64/libcufft.so),$(wildcard $(CUDA_HOME)/lib64/libcurand.so),$(wildcard $(CUDA_HOME)/lib64/libcusparse.so),$(wildcard $(CUDA_HOME)/lib64/libnvrtc.so),$(wildcard $(CUDA_HOME)/lib64/libcusolver.so))
GPU_PROGS := $(B)/tests/gpu/cublas_gemm $(B)/tests/gpu/cufft_c2c $(B)/tests/gpu/curand_host $(B)/tests/gpu/cusparse_spmv \
             $(B)/tests/gpu/nvrtc_jit $(B)/tests/gpu/cusolver_dn
# cuDNN is installed beside the toolkit where it is (Debian's CUDA 13 layout here): without it
# its program is not built and its tests skip saying so.
GPU_CUDNN := $(wildcard $(CUDA_HOME)/lib64/libcudnn.so)
# NCCL likewise (the toolkit's layout here has it; PyTorch's wheels bring their own)
GPU_NCCL  := $(wildcard $(CUDA_HOME)/lib64/libnccl.so)
# VkFFT, a header-only FFT library of its own (Debian's libvkfft-dev, deploy/deps.sh): its CUDA
# backend writes its kernels at plan time and compiles them with NVRTC
GPU_VKFFT := $(wildcard /usr/include/vkFFT.h)
GPU_NVCC  := $(NVCC) -Itests/gpu -Xcompiler=-Wall -Xlinker=-rpath=$(CUDA_HOME)/lib64
ifeq ($(SAN),1)
  # the sanitized libvgpu and simulator need the ASan runtime in the program
  GPU_SAN_CFLAGS := -Xcompiler=-fsanitize=address -Xcompiler=-fsanitize=undefined -Xcompiler=-fno-omit-frame-pointer
  GPU_NVCC += $(GPU_SAN_CFLAGS) -Xlinker=-lasan -Xlinker=-lubsan
else
  # stripped, as the runtime programs: they travel in make gpu-kit's bounded tree
  GPU_NVCC += -Xlinker=-s
endif

$(B)/tests/gpu/cublas_gemm: tests/gpu/cublas_gemm.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lcublas -lcublasLt
$(B)/tests/gpu/cufft_c2c: tests/gpu/cufft_c2c.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lcufft
$(B)/tests/gpu/curand_host: tests/gpu/curand_host.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lcurand
$(B)/tests/gpu/cusparse_spmv: tests/gpu/cusparse_spmv.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lcusparse
$(B)/tests/gpu/cusolver_dn: tests/gpu/cusolver_dn.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lcusolver
# a driver-API program: the stub libcuda.so to link, libvgpu or the driver as libcuda.so.1 to run
$(B)/tests/gpu/nvrtc_jit: tests/gpu/nvrtc_jit.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lnvrtc -L$(CUDA_HOME)/lib64/stubs -lcuda
# (the runtime for its buffers and streams, the driver API for its modules and launches).
# Its host code is VkFFT's own, a 32,000-line kernel writer in one header, not vgpu's: under
# SAN=1 it is compiled without the sanitizers' instrumentation (31 s of nvcc instead of 9, the
# longest build of make test) and still linked with their runtime first, for the sanitized
# libvgpu and simulator it loads.
$(B)/tests/gpu/vkfft: tests/gpu/vkfft.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(filter-out $(GPU_SAN_CFLAGS),$(GPU_NVCC)) $< -o $@ -lnvrtc -L$(CUDA_HOME)/lib64/stubs -lcuda
$(B)/tests/gpu/cudnn_ops: tests/gpu/cudnn_ops.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lcudnn
$(B)/tests/gpu/cudnn_graph: tests/gpu/cudnn_graph.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lcudnn
$(B)/tests/gpu/nccl_ops: tests/gpu/nccl_ops.cu tests/gpu/gpucheck.h
	@mkdir -p $(dir $@)
	$(GPU_NVCC) $< -o $@ -lnccl

# make test: on the simulator's default device (7.5) cuBLAS must stop cleanly at its SASS-only
# kernels (no crash, no hang); cuFFT, cuRAND, cuSPARSE and cuDNN, which ship PTX for what these
# programs use, and NVRTC's kernels compiled at run time, must run and verify, directly and
# through vgpu.
GPU_SASS_ONLY := $(B)/tests/gpu/sass_only.sh
$(GPU_SASS_ONLY): $(if $(GPU_CUDA_LIBS),$(GPU_PROGS)) $(LIBVGPU) $(SIM_LIB) $(PROXY) tests/gpu/sass_only.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec tests/gpu/sass_only.sh --strict\n' > $@ && chmod +x $@
GPU_SIM_LIBS := $(B)/tests/gpu/sim_cufft_c2c.sh $(B)/tests/gpu/sim_curand_host.sh $(B)/tests/gpu/sim_cusparse_spmv.sh \
                $(B)/tests/gpu/sim_cudnn_ops.sh $(B)/tests/gpu/sim_nvrtc_jit.sh $(B)/tests/gpu/sim_vkfft.sh
# (VkFFT's program only where its header is: without it the test skips saying so)
$(B)/tests/gpu/sim_vkfft.sh: $(if $(GPU_VKFFT),$(B)/tests/gpu/vkfft) $(LIBVGPU) $(SIM_LIB) $(PROXY) tests/gpu/lib_compare.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/lib_compare.sh --must-run %s\n' $(B)/tests/gpu/vkfft > $@ && chmod +x $@
$(B)/tests/gpu/sim_%.sh: $(if $(GPU_CUDA_LIBS),$(B)/tests/gpu/%) $(LIBVGPU) $(SIM_LIB) $(PROXY) tests/gpu/lib_compare.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/lib_compare.sh --must-run %s\n' $(B)/tests/gpu/$* > $@ && chmod +x $@
# cuDNN on a device newer than any it ships SASS for (VGPU_SIM_CC=13.0), as its PTX is for
# (compute_120): its FFT convolutions run cuBLAS's kernels, which at that capability are PTX,
# and every engine its backend API's heuristics offer runs (at 7.5 most are SASS only).
$(B)/tests/gpu/sim_cudnn_ops.sh $(B)/tests/gpu/sim_cudnn_graph.sh: $(B)/tests/gpu/sim_cudnn_%.sh: \
		$(if $(GPU_CUDNN),$(B)/tests/gpu/cudnn_%) $(LIBVGPU) $(SIM_LIB) $(PROXY) tests/gpu/lib_compare.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nVGPU_SIM_CC=13.0 VGPU_E2E_BACKEND=sim exec tests/gpu/lib_compare.sh --must-run %s\n' \
	  $(B)/tests/gpu/cudnn_$* > $@ && chmod +x $@
TESTS += $(GPU_SASS_ONLY) $(GPU_SIM_LIBS) $(B)/tests/gpu/sim_cudnn_graph.sh
# NCCL on the simulator: its communicators (NVML included: libvgpu/nvml/), one rank's
# collectives and a ring of sends, which runs NCCL's own kernels: their image is SASS only, so
# the simulator links the compute_120 PTX of NCCL's relocatable objects (runtime/rdc.c), and
# NCCL sizes their shared memory by the device's capability, which must be the PTX's
# (VGPU_SIM_CC=12.0; at 7.5 the kernels would overrun it).
$(B)/tests/gpu/sim_nccl_ops.sh: $(if $(GPU_NCCL),$(B)/tests/gpu/nccl_ops) $(LIBVGPU) $(LIBVGPU_NVML) $(SIM_LIB) $(PROXY) \
		tests/gpu/lib_compare.sh tests/gpu/nccl.lsan
	printf '#!/bin/sh\nLSAN_OPTIONS=suppressions=$$PWD/tests/gpu/nccl.lsan VGPU_SIM_CC=12.0 VGPU_E2E_BACKEND=sim LIB_COMPARE_TIMEOUT=300 exec tests/gpu/lib_compare.sh --must-run %s\n' \
	  $(B)/tests/gpu/nccl_ops > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_nccl_ops.sh
# hashcat (Debian's, deploy/deps.sh) on its CUDA backend: NVRTC-compiled kernels, every NVML
# monitoring call loaded at start, an MD5 cracked directly and through vgpu (the SHA-256 too
# in gpu-check: on the sanitized simulator each run takes about a minute).
$(B)/tests/gpu/sim_hashcat.sh: $(LIBVGPU) $(LIBVGPU_NVML) $(SIM_LIB) $(PROXY) tests/gpu/hashcat.sh tests/gpu/app_lib.sh
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/hashcat.sh --modes 0\n' > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_hashcat.sh
# FFmpeg (Debian's, deploy/deps.sh) with its CUDA filters: PTX modules, pitched 2D copies and
# texture objects, directly and through vgpu.
$(B)/tests/gpu/sim_ffmpeg.sh: $(LIBVGPU) $(LIBVGPU_NVML) $(SIM_LIB) $(PROXY) tests/gpu/ffmpeg.sh tests/gpu/app_lib.sh
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/ffmpeg.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_ffmpeg.sh
# cuBLAS on the simulator: on a device of a capability newer than any it ships SASS for
# (VGPU_SIM_CC=13.0) it takes the GEMM kernels it ships as PTX, which run (on the default 7.5
# its kernels are SASS only: sass_only.sh). Verified, not timed (--reps 0).
$(B)/tests/gpu/sim_cublas_gemm.sh: $(if $(GPU_CUDA_LIBS),$(B)/tests/gpu/cublas_gemm) $(LIBVGPU) $(SIM_LIB) $(PROXY) \
		tests/gpu/lib_compare.sh
	printf '#!/bin/sh\nVGPU_SIM_CC=13.0 VGPU_E2E_BACKEND=sim LIB_COMPARE_TIMEOUT=300 exec tests/gpu/lib_compare.sh --must-run --arg --reps --arg 0 %s\n' \
	  $(B)/tests/gpu/cublas_gemm > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_cublas_gemm.sh
# cuSOLVER on the simulator: LU, Cholesky and the symmetric eigensolver run on its own kernels;
# its SVD runs cuBLAS's, so the device is one cuBLAS takes its PTX kernels on (VGPU_SIM_CC=13.0).
$(B)/tests/gpu/sim_cusolver_dn.sh: $(if $(GPU_CUDA_LIBS),$(B)/tests/gpu/cusolver_dn) $(LIBVGPU) $(SIM_LIB) $(PROXY) \
		tests/gpu/lib_compare.sh
	printf '#!/bin/sh\nVGPU_SIM_CC=13.0 VGPU_E2E_BACKEND=sim exec tests/gpu/lib_compare.sh --must-run %s\n' \
	  $(B)/tests/gpu/cusolver_dn > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_cusolver_dn.sh

# Where the driver places device memory and whether a fresh process gets another's addresses
# back (what a restore into a new worker needs): on the simulator it must (make test); on a
# GPU, make gpu-check records the answers.
$(B)/tests/gpu/va_probe: $(B)/tests/gpu/va_probe.o $(LIBVGPU)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B)/libvgpu -lcuda
$(B)/tests/gpu/sim_va_probe.sh: $(B)/tests/gpu/va_probe $(SIM_LIB) tests/gpu/va_probe.sh
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/va_probe.sh --expect-honoured\n' > $@ && chmod +x $@
.PRECIOUS: $(B)/tests/gpu/va_probe.o
TESTS += $(B)/tests/gpu/sim_va_probe.sh

# gpu-check's migration step on the simulator (make test): zones whose device memory is at
# fixed addresses (--device-va fixed) moved, saved and restored by a new proxy.
$(B)/tests/gpu/sim_migrate_check.sh: $(B)/tests/restart/stream_app $(B)/tests/migrate/rt_loop $(PROXY) $(VGPUCTL) \
		$(SIM_LIB) $(E2E_KERNELS) tests/gpu/migrate_check.sh
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/migrate_check.sh --device-va fixed\n' > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_migrate_check.sh

# make test-gpu: each program directly and through vgpu on the real driver, and PyTorch.
GPU_LIB_TESTS := $(B)/tests/gpu/lib_cublas_gemm.sh $(B)/tests/gpu/lib_cufft_c2c.sh $(B)/tests/gpu/lib_curand_host.sh $(B)/tests/gpu/lib_cusparse_spmv.sh \
                 $(B)/tests/gpu/lib_cudnn_ops.sh $(B)/tests/gpu/lib_cudnn_graph.sh $(B)/tests/gpu/lib_nvrtc_jit.sh $(B)/tests/gpu/lib_nccl_ops.sh \
                 $(B)/tests/gpu/lib_cusolver_dn.sh $(B)/tests/gpu/lib_vkfft.sh
$(B)/tests/gpu/lib_vkfft.sh: $(if $(GPU_VKFFT),$(B)/tests/gpu/vkfft) tests/gpu/lib_compare.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec tests/gpu/lib_compare.sh %s\n' $(B)/tests/gpu/vkfft > $@ && chmod +x $@
$(B)/tests/gpu/lib_cudnn_ops.sh: $(if $(GPU_CUDNN),$(B)/tests/gpu/cudnn_ops)
$(B)/tests/gpu/lib_cudnn_graph.sh: $(if $(GPU_CUDNN),$(B)/tests/gpu/cudnn_graph)
$(B)/tests/gpu/lib_nccl_ops.sh: $(if $(GPU_NCCL),$(B)/tests/gpu/nccl_ops)
$(B)/tests/gpu/lib_%.sh: $(if $(GPU_CUDA_LIBS),$(B)/tests/gpu/%) tests/gpu/lib_compare.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec tests/gpu/lib_compare.sh %s\n' $(B)/tests/gpu/$* > $@ && chmod +x $@
GPU_TORCH_TEST := $(B)/tests/gpu/pytorch_compare.sh
$(GPU_TORCH_TEST): tests/gpu/pytorch_compare.sh tests/gpu/pytorch_step.py tests/gpu/pytorch_ipc.py
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec tests/gpu/pytorch_compare.sh\n' > $@ && chmod +x $@

# NCCL with two ranks on two simulated devices, both devices' kernels at once waiting on each
# other, directly and through vgpu (about 3 minutes on 2 vCPUs, so not in make test, which
# runs one rank): make test-nccl.
.PHONY: test-nccl
test-nccl: $(if $(GPU_NCCL),$(B)/tests/gpu/nccl_ops) $(LIBVGPU) $(LIBVGPU_NVML) $(SIM_LIB) $(PROXY)
	@VGPU_SIM_DEVICES=2 VGPU_SIM_CC=12.0 VGPU_E2E_BACKEND=sim LIB_COMPARE_TIMEOUT=600 VGPU_BUILD=$(B) \
	  LSAN_OPTIONS=suppressions=$$PWD/tests/gpu/nccl.lsan tests/gpu/lib_compare.sh --must-run $(B)/tests/gpu/nccl_ops

.PHONY: test-gpu-libs gpu-kit gpu-check
test-gpu-libs: $(PROXY) $(LIBVGPU) $(GPU_LIB_TESTS) $(GPU_TORCH_TEST)
	@VGPU_E2E_BACKEND=$(VGPU_E2E_BACKEND) VGPU_BUILD=$(B) tests/run.sh --timeout 300 $(GPU_LIB_TESTS) $(GPU_TORCH_TEST)

# Everything make gpu-check runs, built into $(B) and made self-contained (tests/gpu/kit.sh):
# build it here, carry $(B) to the GPU machine, run make gpu-check there (docs/GPU.md).
GPU_KIT_FILES := $(PROXY) $(VGPUCTL) $(LIBVGPU) $(SIM_LIB) $(SIM_KERNELS) \
	$(E2E_PROGS) $(E2E_TESTS) $(ISO_PROGS) $(B)/tests/isolation/isolation.sh $(B)/tests/isolation/ipc.sh \
	$(RT_NAMES:%=$(B)/tests/runtime/%) $(RT_NAMES:%=$(B)/tests/runtime/%_shared) $(RT_TESTS) \
	$(B)/bench/ring $(B)/bench/zone_app $(B)/bench/handoff $(B)/bench/zone.sh \
	$(B)/tests/restart/stream_app $(B)/tests/migrate/rt_loop $(B)/tests/gpu/va_probe \
	$(if $(GPU_CUDA_LIBS),$(GPU_PROGS) $(GPU_LIB_TESTS)) $(if $(GPU_CUDNN),$(B)/tests/gpu/cudnn_ops $(B)/tests/gpu/cudnn_graph) \
	$(if $(GPU_NCCL),$(B)/tests/gpu/nccl_ops) $(if $(GPU_VKFFT),$(B)/tests/gpu/vkfft) $(LIBVGPU_NVML) \
	$(GPU_SASS_ONLY) $(GPU_SIM_LIBS) $(GPU_TORCH_TEST) $(B)/tests/gpu/cudart_abi $(KERNEL_DIR)/cudart_abi.fatbin
gpu-kit: $(GPU_KIT_FILES)
	@tests/gpu/kit.sh $(B) $(GPU_KIT_FILES)

# One command on a GPU machine: every GPU check, one report. Uses a complete prebuilt $(B)
# (make gpu-kit) as it is; $(OUT) (when set) is where everything is written.
gpu-check:
	@tests/gpu/check.sh --build $(B) $(if $(OUT),--out $(OUT))

# PyCUDA (Debian's, from contrib: deploy/debfetch.sh) directly and as a zone: driver-API calls
# from its extension, nvcc-compiled SourceModule kernels, gpuarray, scans, cuRAND's device API,
# dynamic parallelism linked with libcudadevrt.a at run time.
$(B)/tests/gpu/sim_pycuda.sh: $(LIBVGPU) $(SIM_LIB) $(PROXY) tests/gpu/pycuda.sh tests/gpu/pycuda_check.py tests/gpu/app_lib.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/pycuda.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_pycuda.sh

# Programs built against older CUDA runtimes (CUDA 11.8's libcudart.so.11.0, fetched from
# Debian's non-free component) and the toolkit's, directly and as a zone.
$(B)/tests/gpu/cudart_abi: tests/gpu/cudart_abi.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -ldl
$(B)/tests/gpu/sim_cudart_abi.sh: $(LIBVGPU) $(SIM_LIB) $(PROXY) $(B)/tests/gpu/cudart_abi $(KERNEL_DIR)/cudart_abi.fatbin \
                                  tests/gpu/cudart_abi.sh tests/gpu/app_lib.sh
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/cudart_abi.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_cudart_abi.sh

# mumax3 (Debian's, a micromagnetic simulator in Go, with CUDA 11.8's cuFFT; from contrib and
# non-free: deploy/debfetch.sh) directly and as a zone, checked against known physics. make test
# runs the two short scripts (standard problem 4 takes minutes in the sanitized build: make
# test-mumax3 runs all three on the release build).
$(B)/tests/gpu/sim_mumax3.sh: $(LIBVGPU) $(SIM_LIB) $(PROXY) tests/gpu/mumax3.sh $(wildcard tests/gpu/mumax3/*.mx3) tests/gpu/app_lib.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/mumax3.sh --scripts larmor,demag\n' > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_mumax3.sh
.PHONY: test-mumax3
test-mumax3: $(LIBVGPU) $(SIM_LIB) $(PROXY)
	@VGPU_BUILD=$(B) VGPU_E2E_BACKEND=$(VGPU_E2E_BACKEND) tests/gpu/mumax3.sh

# NVIDIA's CUDA samples (11.8's sources, Debian's nvidia-cuda-samples from non-free: deploy/
# debfetch.sh) built with this toolkit and run directly and as zones: make test runs a quick
# set, make test-cuda-samples every one that CUDA 13 builds and the simulator runs.
$(B)/tests/gpu/sim_cuda_samples.sh: $(LIBVGPU) $(SIM_LIB) $(PROXY) tests/gpu/cuda_samples.sh tests/gpu/app_lib.sh
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nVGPU_E2E_BACKEND=sim exec tests/gpu/cuda_samples.sh\n' > $@ && chmod +x $@
TESTS += $(B)/tests/gpu/sim_cuda_samples.sh
.PHONY: test-cuda-samples
test-cuda-samples: $(LIBVGPU) $(SIM_LIB) $(PROXY)
	@VGPU_BUILD=$(B) VGPU_E2E_BACKEND=$(VGPU_E2E_BACKEND) tests/gpu/cuda_samples.sh --all --jobs $(JOBS)
