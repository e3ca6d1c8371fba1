/* SPDX-License-Identifier: MIT */
/* rt.h — shared helpers of the runtime-API test programs: checked calls and host-side verification. */
#ifndef VGPU_TESTS_RT_H
#define VGPU_TESTS_RT_H

#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cuda_runtime.h>

/* A failed runtime call ends the program with the call, the file:line and the error's name. */
#define CHECK(call)                                                                          \
	do {                                                                                 \
		cudaError_t e_ = (call);                                                     \
		if (e_ != cudaSuccess) {                                                     \
			printf("FAIL %s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,     \
			       cudaGetErrorName(e_), cudaGetErrorString(e_));               \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

/* A false condition ends the program saying what was expected. */
#define EXPECT(cond, ...)                                                                    \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
			printf(__VA_ARGS__);                                                 \
			printf("\n");                                                        \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

/* Index of the first element where got and want differ by more than tol, or -1. */
template <typename T> static long first_mismatch(const T *got, const T *want, size_t n, double tol = 0)
{
	for (size_t i = 0; i < n; i++)
		if (std::fabs((double)got[i] - (double)want[i]) > tol)
			return (long)i;
	return -1;
}

#define VERIFY(got, want, n, tol, what)                                                      \
	do {                                                                                 \
		long i_ = first_mismatch((got), (want), (n), (tol));                         \
		EXPECT(i_ < 0, "%s: element %ld is %g, expected %g", (what), i_,             \
		       (double)(got)[i_ < 0 ? 0 : i_], (double)(want)[i_ < 0 ? 0 : i_]);     \
		printf("%s: %zu values verified\n", (what), (size_t)(n));                    \
	} while (0)

#endif
