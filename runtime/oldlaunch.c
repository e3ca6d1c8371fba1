/* SPDX-License-Identifier: MIT */
/* oldlaunch.c — the pre-CUDA 4.0 execution control API (block shape, parameter buffer, cuLaunchGrid) over cuLaunchKernel. */
#define CUDA_ENABLE_DEPRECATED 1
#include <cuda.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Old programs set a function's block shape, dynamic shared memory and a packed parameter
 * buffer with separate calls, then launch a grid. The state is kept here per function, and a
 * launch is cuLaunchKernel with the buffer as its `extra` form: one implementation for
 * libvgpu and the simulator, checked through vgpu as any launch is.
 */

/* The parameter space: a kernel's parameters may take 32,764 bytes since CUDA 12.1, and the
 * driver takes cuParamSetv up to there (an 8-byte value at offset 4090 is accepted on an H200). */
#define PARAM_MAX 32764

struct old_state {
	CUfunction f;
	int bx, by, bz;
	unsigned int shmem, psize;
	unsigned char params[PARAM_MAX];
	struct old_state *next;
};

static pthread_mutex_t old_lock = PTHREAD_MUTEX_INITIALIZER;
static struct old_state *olds;

/* The function's state, made on first use. Under old_lock; NULL when out of memory. */
static struct old_state *state_of(CUfunction f)
{
	struct old_state *s;
	for (s = olds; s; s = s->next)
		if (s->f == f)
			return s;
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	s->f = f;
	s->bx = s->by = s->bz = 1;
	s->next = olds;
	olds = s;
	return s;
}

CUresult CUDAAPI cuFuncSetBlockShape(CUfunction hfunc, int x, int y, int z)
{
	if (!hfunc)
		return CUDA_ERROR_INVALID_HANDLE;
	if (x <= 0 || y <= 0 || z <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&old_lock);
	struct old_state *s = state_of(hfunc);
	if (s) {
		s->bx = x;
		s->by = y;
		s->bz = z;
	}
	pthread_mutex_unlock(&old_lock);
	return s ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult CUDAAPI cuFuncSetSharedSize(CUfunction hfunc, unsigned int bytes)
{
	if (!hfunc)
		return CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&old_lock);
	struct old_state *s = state_of(hfunc);
	if (s)
		s->shmem = bytes;
	pthread_mutex_unlock(&old_lock);
	return s ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult CUDAAPI cuParamSetSize(CUfunction hfunc, unsigned int numbytes)
{
	if (!hfunc)
		return CUDA_ERROR_INVALID_HANDLE;
	if (numbytes > PARAM_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&old_lock);
	struct old_state *s = state_of(hfunc);
	if (s)
		s->psize = numbytes;
	pthread_mutex_unlock(&old_lock);
	return s ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult CUDAAPI cuParamSetv(CUfunction hfunc, int offset, void *ptr, unsigned int numbytes)
{
	if (!hfunc)
		return CUDA_ERROR_INVALID_HANDLE;
	if (offset < 0 || !ptr || numbytes > PARAM_MAX || (unsigned)offset > PARAM_MAX - numbytes)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&old_lock);
	struct old_state *s = state_of(hfunc);
	if (s)
		memcpy(s->params + offset, ptr, numbytes);
	pthread_mutex_unlock(&old_lock);
	return s ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult CUDAAPI cuParamSeti(CUfunction hfunc, int offset, unsigned int value)
{
	return cuParamSetv(hfunc, offset, &value, sizeof(value));
}

CUresult CUDAAPI cuParamSetf(CUfunction hfunc, int offset, float value)
{
	return cuParamSetv(hfunc, offset, &value, sizeof(value));
}

CUresult CUDAAPI cuLaunchGridAsync(CUfunction f, int grid_width, int grid_height, CUstream hStream)
{
	unsigned char params[PARAM_MAX];
	int bx = 1, by = 1, bz = 1;
	unsigned int shmem = 0;
	size_t size = 0;

	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (grid_width <= 0 || grid_height <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&old_lock);
	struct old_state *s = state_of(f);
	if (s) {   /* a copy of what is set (the bytes in use only), taken under the lock */
		bx = s->bx, by = s->by, bz = s->bz, shmem = s->shmem, size = s->psize;
		memcpy(params, s->params, size);
	}
	pthread_mutex_unlock(&old_lock);
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, params, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
			  CU_LAUNCH_PARAM_END };
	return cuLaunchKernel(f, (unsigned)grid_width, (unsigned)grid_height, 1, (unsigned)bx, (unsigned)by,
			      (unsigned)bz, shmem, hStream, NULL, size ? extra : NULL);
}

CUresult CUDAAPI cuLaunchGrid(CUfunction f, int grid_width, int grid_height)
{
	return cuLaunchGridAsync(f, grid_width, grid_height, NULL);
}

CUresult CUDAAPI cuLaunch(CUfunction f)
{
	return cuLaunchGridAsync(f, 1, 1, NULL);
}
