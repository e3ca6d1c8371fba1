/* SPDX-License-Identifier: MIT */
/* e2e.h — helpers for the end-to-end driver-API programs (run through libvgpu+proxy and on the simulator directly). */
#ifndef VGPU_E2E_H
#define VGPU_E2E_H

#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fail the test (exit 1) with the call, its CUresult name and the line. */
#define CK(call) do { \
	CUresult ck_r_ = (call); \
	if (ck_r_ != CUDA_SUCCESS) { \
		const char *ck_n_ = NULL; \
		cuGetErrorName(ck_r_, &ck_n_); \
		fprintf(stderr, "FAIL %s:%d: %s -> %s (%d)\n", __FILE__, __LINE__, #call, ck_n_ ? ck_n_ : "?", (int)ck_r_); \
		exit(1); \
	} \
} while (0)

/* Expect a specific error code. */
#define CK_ERR(call, want) do { \
	CUresult ck_r_ = (call); \
	if (ck_r_ != (want)) { \
		const char *ck_n_ = NULL, *ck_w_ = NULL; \
		cuGetErrorName(ck_r_, &ck_n_); \
		cuGetErrorName((want), &ck_w_); \
		fprintf(stderr, "FAIL %s:%d: %s -> %s (%d), expected %s\n", __FILE__, __LINE__, #call, \
			ck_n_ ? ck_n_ : "?", (int)ck_r_, ck_w_ ? ck_w_ : "?"); \
		exit(1); \
	} \
} while (0)

#define EXPECT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
		exit(1); \
	} \
} while (0)

/* Path of a compiled test kernel image: $VGPU_KERNELS/<name> (built from tests/kernels/). */
static inline const char *e2e_kernel_path(const char *name)
{
	static char buf[4096];
	const char *dir = getenv("VGPU_KERNELS");
	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "build/san/tests/kernels", name);
	return buf;
}

/* Read a whole file (plus a NUL) into memory; exits on failure. */
static inline void *e2e_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;
	char *buf;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "FAIL: cannot read %s\n", path);
		exit(1);
	}
	buf = calloc(1, (size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "FAIL: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* A deterministic pseudo-random sequence (same on every run and backend). */
/* 1 when the program calls the NVIDIA driver itself (VGPU_E2E_BACKEND=cuda, not through vgpu):
 * checks of what vgpu guarantees beyond the driver (a destroyed handle refused, CUDA in a
 * forked child) are left out there, where the driver's behaviour differs or is undefined. */
static inline int e2e_real_driver_direct(void)
{
	const char *b = getenv("VGPU_E2E_BACKEND");
	return !getenv("VGPU_E2E_PROXY") && b && strcmp(b, "cuda") == 0;
}

static inline unsigned e2e_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

#endif
