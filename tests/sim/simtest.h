/* SPDX-License-Identifier: MIT */
/* Helpers shared by the simulator tests: checked driver calls, file loading, kernel paths. */
#ifndef VGPU_SIMTEST_H
#define VGPU_SIMTEST_H

#ifdef NDEBUG
#error "tests keep their assertions: build without NDEBUG"
#endif

/* the tests exercise the deprecated-but-exported calls too */
#define CUDA_ENABLE_DEPRECATED 1
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *st_name(CUresult r)
{
	const char *n = NULL;
	cuGetErrorName(r, &n);
	return n ? n : "(unknown CUresult)";
}

/* A call that must succeed. */
#define CK(call) do { \
	CUresult r_ = (call); \
	if (r_ != CUDA_SUCCESS) { \
		fprintf(stderr, "%s:%d: %s returned %s\n", __FILE__, __LINE__, #call, st_name(r_)); \
		exit(1); \
	} } while (0)

/* A call that must return exactly want. */
#define CK_RC(call, want) do { \
	CUresult r_ = (call); \
	if (r_ != (want)) { \
		fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, #call, \
		        st_name(r_), st_name(want)); \
		exit(1); \
	} } while (0)

#define EXPECT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
		exit(1); \
	} } while (0)

/* Every PTX text of the array `ptx` is refused at load as invalid PTX. */
#define ST_REFUSED(ptx) do { \
	for (unsigned i_ = 0; i_ < sizeof(ptx) / sizeof((ptx)[0]); i_++) { \
		CUmodule m_; \
		CK_RC(cuModuleLoadData(&m_, (ptx)[i_]), CUDA_ERROR_INVALID_PTX); \
	} } while (0)

/* f launched on one thread of one block, then the context synchronised: the first error. */
static inline CUresult st_launch1(CUfunction f, void **args)
{
	CUresult r = cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL);
	return r != CUDA_SUCCESS ? r : cuCtxSynchronize();
}

/* Path of a build artefact under $VGPU_BUILD (default build/rel). */
static inline const char *st_path(const char *rel)
{
	static __thread char buf[4][1024];
	static __thread int i;
	const char *b = getenv("VGPU_BUILD");
	char *p = buf[i++ & 3];
	snprintf(p, sizeof(buf[0]), "%s/%s", b ? b : "build/rel", rel);
	return p;
}

/* Whole file, NUL-terminated, malloc'd; exits on failure. */
static inline void *st_read(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s (build it with make test-sim)\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)len + 1);
	if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	b[len] = 0;
	if (n)
		*n = (size_t)len;
	return b;
}

#endif
