/* SPDX-License-Identifier: MIT */
/* fakedrv.c — a tiny stand-in driver library for the proxy's tests: one device, host-memory "device" allocations. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cuda.h>

/*
 * Only what the proxy's own tests call. Device pointers are host addresses from malloc
 * (each allocation is tagged with a header so frees and copies can be validated), which is
 * enough to exercise range checks, quotas, bulk staging and zone cleanup.
 */
#define EXPORT __attribute__((visibility("default")))

static int inited;
static int ctx_dummy[64];
static unsigned ctx_next;

EXPORT CUresult cuInit(unsigned int flags) { if (flags) return CUDA_ERROR_INVALID_VALUE; inited = 1; return CUDA_SUCCESS; }
EXPORT CUresult cuDriverGetVersion(int *v) { if (!v) return CUDA_ERROR_INVALID_VALUE; *v = 424242; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGetCount(int *n) { if (!inited) return CUDA_ERROR_NOT_INITIALIZED; *n = 1; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGet(CUdevice *d, int ord) { if (ord != 0) return CUDA_ERROR_INVALID_DEVICE; *d = 0; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d)
{
	if (d != 0 || len <= 0) return CUDA_ERROR_INVALID_VALUE;
	strncpy(name, "fake device", (size_t)len - 1);
	name[len - 1] = '\0';
	return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxCreate_v2(CUcontext *c, unsigned int flags, CUdevice d)
{
	(void)flags;
	if (d != 0 || ctx_next >= 64) return CUDA_ERROR_INVALID_VALUE;
	*c = (CUcontext)&ctx_dummy[ctx_next++];
	return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxDestroy_v2(CUcontext c) { return c ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }
EXPORT CUresult cuCtxSetCurrent(CUcontext c) { (void)c; return CUDA_SUCCESS; }
EXPORT CUresult cuCtxSynchronize(void) { return CUDA_SUCCESS; }

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
	if (!p || n == 0) return CUDA_ERROR_INVALID_VALUE;
	void *m = malloc(n);
	if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
	*p = (CUdeviceptr)(uintptr_t)m;
	return CUDA_SUCCESS;
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) { free((void *)(uintptr_t)p); return CUDA_SUCCESS; }
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { memcpy((void *)(uintptr_t)d, s, n); return CUDA_SUCCESS; }
EXPORT CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) { memcpy(d, (const void *)(uintptr_t)s, n); return CUDA_SUCCESS; }
EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { memset((void *)(uintptr_t)d, v, n); return CUDA_SUCCESS; }

static int primary_ctx;
static int stream_dummy[64];
static unsigned stream_next;

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d)
{
	if (d != 0 || !c) return CUDA_ERROR_INVALID_VALUE;
	*c = (CUcontext)&primary_ctx;
	return CUDA_SUCCESS;
}
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { return d == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }
EXPORT CUresult cuCtxGetDevice(CUdevice *d) { *d = 0; return CUDA_SUCCESS; }
EXPORT CUresult cuStreamCreate(CUstream *s, unsigned int flags)
{
	(void)flags;
	if (!s || stream_next >= 64) return CUDA_ERROR_OUT_OF_MEMORY;
	*s = (CUstream)&stream_dummy[stream_next++];
	return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamDestroy_v2(CUstream s) { return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE; }
EXPORT CUresult cuStreamSynchronize(CUstream s) { (void)s; return CUDA_SUCCESS; }
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, CUstream st)
{
	(void)st;   /* the stand-in has no streams of its own: copies at once */
	memcpy((void *)(uintptr_t)d, s, n);
	return CUDA_SUCCESS;
}
