/* SPDX-License-Identifier: MIT */
/* local_calls.c — driver calls about host facilities a zone cannot reach: profiler, driver log, notifications, core dumps. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cudaProfiler.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "drvtab.h"

/* CUDA_SUCCESS once cuInit has run, else what the context calls then answer (NOT_INITIALIZED). */
static CUresult initialized(void)
{
	CUcontext c;
	CUresult r = vgpu_drv.ctx_get_current(&c);
	return r == CUDA_ERROR_NOT_INITIALIZED || r == CUDA_ERROR_DEINITIALIZED ? r : CUDA_SUCCESS;
}

/*
 * Benchmarks bracket their timed region with cudaProfilerStart/Stop. The driver answers
 * CUDA_SUCCESS when no profiler is attached (and CUDA_ERROR_NOT_INITIALIZED before cuInit),
 * and none can be from inside a zone (profiling the GPU belongs to the host), so libvgpu and
 * the simulator answer the same.
 */
CUresult CUDAAPI cuProfilerStart(void)
{
	return initialized();
}

CUresult CUDAAPI cuProfilerStop(void)
{
	return initialized();
}

/*
 * The driver's log belongs to the host: a zone's log is empty. Callbacks are registered and
 * never called (nothing is ever logged to them); dumps write nothing.
 */
struct CUlogsCallbackEntry_st {
	CUlogsCallback fn;
	void *data;
};

CUresult CUDAAPI cuLogsRegisterCallback(CUlogsCallback callbackFunc, void *userData, CUlogsCallbackHandle *callback_out)
{
	if (!callbackFunc || !callback_out)
		return CUDA_ERROR_INVALID_VALUE;
	struct CUlogsCallbackEntry_st *e = calloc(1, sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->fn = callbackFunc;
	e->data = userData;
	*callback_out = e;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLogsUnregisterCallback(CUlogsCallbackHandle callback)
{
	if (!callback)
		return CUDA_ERROR_INVALID_VALUE;
	free(callback);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLogsCurrent(CUlogIterator *iterator_out, unsigned int flags)
{
	if (!iterator_out || flags)
		return CUDA_ERROR_INVALID_VALUE;
	*iterator_out = 0;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLogsDumpToMemory(CUlogIterator *iterator, char *buffer, size_t *size, unsigned int flags)
{
	if (!buffer || !size || !*size || flags)
		return CUDA_ERROR_INVALID_VALUE;
	buffer[0] = 0;
	*size = 0;
	(void)iterator;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLogsDumpToFile(CUlogIterator *iterator, const char *pathToFile, unsigned int flags)
{
	FILE *f;

	(void)iterator;
	if (!pathToFile || flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(f = fopen(pathToFile, "w")))
		return CUDA_ERROR_INVALID_VALUE;
	fclose(f);
	return CUDA_SUCCESS;
}

/* Asynchronous notifications (e.g. a changed memory budget) come from the host's driver: none reach a zone. */
struct CUasyncCallbackEntry_st {
	CUasyncCallback fn;
	void *data;
};

CUresult CUDAAPI cuDeviceRegisterAsyncNotification(CUdevice device, CUasyncCallback callbackFunc, void *userData,
						   CUasyncCallbackHandle *callback)
{
	int n = 0;

	if (!callbackFunc || !callback)
		return CUDA_ERROR_INVALID_VALUE;
	if (cuDeviceGetCount(&n) != CUDA_SUCCESS || device < 0 || device >= n)
		return CUDA_ERROR_INVALID_DEVICE;
	struct CUasyncCallbackEntry_st *e = calloc(1, sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->fn = callbackFunc;
	e->data = userData;
	*callback = e;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceUnregisterAsyncNotification(CUdevice device, CUasyncCallbackHandle callback)
{
	(void)device;
	if (!callback)
		return CUDA_ERROR_INVALID_VALUE;
	free(callback);
	return CUDA_SUCCESS;
}

/*
 * GPU core dumps are the host's to configure: a zone sees them off (no file, no pipe, default
 * flags) and may not turn them on.
 */
static CUresult coredump_get(CUcoredumpSettings attrib, void *value, size_t *size)
{
	if (!value || !size)
		return CUDA_ERROR_INVALID_VALUE;
	switch (attrib) {
	case CU_COREDUMP_ENABLE_ON_EXCEPTION:
	case CU_COREDUMP_TRIGGER_HOST:
	case CU_COREDUMP_LIGHTWEIGHT:
	case CU_COREDUMP_ENABLE_USER_TRIGGER:
		if (*size < sizeof(bool))
			return CUDA_ERROR_INVALID_VALUE;
		*(bool *)value = false;
		*size = sizeof(bool);
		return CUDA_SUCCESS;
	case CU_COREDUMP_FILE:
	case CU_COREDUMP_PIPE:
		if (*size < 1)
			return CUDA_ERROR_INVALID_VALUE;
		*(char *)value = 0;
		*size = 1;
		return CUDA_SUCCESS;
	case CU_COREDUMP_GENERATION_FLAGS:
		if (*size < sizeof(int))
			return CUDA_ERROR_INVALID_VALUE;
		*(int *)value = CU_COREDUMP_DEFAULT_FLAGS;
		*size = sizeof(int);
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult CUDAAPI cuCoredumpGetAttribute(CUcoredumpSettings attrib, void *value, size_t *size)
{
	return coredump_get(attrib, value, size);
}

CUresult CUDAAPI cuCoredumpGetAttributeGlobal(CUcoredumpSettings attrib, void *value, size_t *size)
{
	return coredump_get(attrib, value, size);
}

CUresult CUDAAPI cuCoredumpSetAttribute(CUcoredumpSettings attrib, void *value, size_t *size)
{
	(void)attrib;
	(void)value;
	(void)size;
	return CUDA_ERROR_NOT_PERMITTED;
}

CUresult CUDAAPI cuCoredumpSetAttributeGlobal(CUcoredumpSettings attrib, void *value, size_t *size)
{
	(void)attrib;
	(void)value;
	(void)size;
	return CUDA_ERROR_NOT_PERMITTED;
}
