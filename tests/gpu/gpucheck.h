/* SPDX-License-Identifier: MIT */
/* gpucheck.h — shared helpers of the cuBLAS/cuFFT programs: checked calls, the "no usable kernel image" exit, error buckets. */
#ifndef VGPU_TESTS_GPUCHECK_H
#define VGPU_TESTS_GPUCHECK_H

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

/* Exit status when the device cannot run the library's kernels (no SASS or PTX it accepts). */
#define EXIT_NO_KERNEL_IMAGE 3

/* True for the runtime errors that mean "this device has no kernel image it can run". */
static inline bool no_kernel_image(cudaError_t e)
{
	return e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidKernelImage ||
	       e == cudaErrorUnsupportedPtxVersion || e == cudaErrorJitCompilerNotFound ||
	       e == cudaErrorInvalidPtx;
}

/* One clear line, then exit 3: the library's kernels cannot run on this device. */
static inline void exit_no_kernel_image(const char *lib, const char *call, const char *why)
{
	printf("NO KERNEL IMAGE: %s: %s: %s (the device has no binary for the library's kernels)\n",
	       lib, call, why);
	fflush(stdout);
	exit(EXIT_NO_KERNEL_IMAGE);
}

/* A failed runtime call ends the program with the call, the file:line and the error's name. */
#define CHECK_RT(call)                                                                       \
	do {                                                                                 \
		cudaError_t e_ = (call);                                                     \
		if (e_ != cudaSuccess) {                                                     \
			if (no_kernel_image(e_))                                             \
				exit_no_kernel_image("cudart", #call, cudaGetErrorName(e_)); \
			printf("FAIL %s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,     \
			       cudaGetErrorName(e_), cudaGetErrorString(e_));               \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

/* A failed call of a CUDA library (status type T, success value ok, name(status) its name)
 * ends the program with the call, the file:line, the status and the last runtime error;
 * one whose runtime error says the kernel image is unusable is the "no binary" exit (3). */
#define CHECK_LIB(lib, T, ok, name, call)                                                    \
	do {                                                                                 \
		T s_ = (call);                                                               \
		if (s_ != (ok)) {                                                            \
			cudaError_t e_ = cudaGetLastError();                                 \
			if (no_kernel_image(e_))                                             \
				exit_no_kernel_image(lib, #call, cudaGetErrorName(e_));      \
			printf("FAIL %s:%d: %s: %s (last runtime error %s)\n", __FILE__,    \
			       __LINE__, #call, name(s_), cudaGetErrorName(e_));            \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

/* The error bucket printed for a check: the next power of ten at or above err, so that two
 * runs of the same kernels print the same line even if the last bits differ. */
static inline void print_error_bucket(const char *what, double err, double tol)
{
	if (!(err <= tol)) {
		printf("FAIL %s: max relative error %.3g above the tolerance %.0e\n", what, err, tol);
		exit(1);
	}
	if (err == 0)
		printf("%s: verified, max relative error 0\n", what);
	else
		printf("%s: verified, max relative error <= 1e%d\n", what, (int)std::ceil(std::log10(err)));
}

#endif
