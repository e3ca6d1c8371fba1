/* SPDX-License-Identifier: MIT */
/* hostmem.c — page-locked host memory calls, answered in the zone (its memory never leaves it). */
#include "client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * A zone's "pinned" host memory is ordinary memory of the zone: the GPU can never DMA into a
 * guest's pages directly (that is the point of the isolation), so every copy goes through
 * the ring's bulk area, which the proxy pins on its side. We still honour the API: memory
 * from cuMemHostAlloc is page-aligned and locked (best effort), and registered ranges are
 * remembered so cuMemHostGetFlags and cuPointerGetAttribute answer as the driver would.
 */
struct hrange {
	void *base;
	size_t len;
	unsigned flags;
	int owned; /* allocated by cuMemHostAlloc (freed by cuMemFreeHost) vs registered */
};

static struct {
	pthread_mutex_t lock;
	struct hrange *r;
	size_t n, cap;
} hmap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int hmap_add(void *p, size_t len, unsigned flags, int owned)
{
	pthread_mutex_lock(&hmap.lock);
	if (hmap.n == hmap.cap) {
		size_t cap = hmap.cap ? hmap.cap * 2 : 16;
		struct hrange *r = realloc(hmap.r, cap * sizeof(*r));
		if (!r) {
			pthread_mutex_unlock(&hmap.lock);
			return -1;
		}
		hmap.r = r;
		hmap.cap = cap;
	}
	hmap.r[hmap.n++] = (struct hrange){ p, len, flags, owned };
	pthread_mutex_unlock(&hmap.lock);
	return 0;
}

/* Remove the range starting at p; returns it through *out. 0 found, -1 not. */
static int hmap_take(void *p, int owned, struct hrange *out /* out */)
{
	int rc = -1;

	pthread_mutex_lock(&hmap.lock);
	for (size_t i = 0; i < hmap.n; i++) {
		if (hmap.r[i].base == p && hmap.r[i].owned == owned) {
			*out = hmap.r[i];
			hmap.r[i] = hmap.r[--hmap.n];
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&hmap.lock);
	return rc;
}

int vgpu_hostmem_lookup(const void *p, unsigned *flags /* out */)
{
	int rc = -1;

	pthread_mutex_lock(&hmap.lock);
	for (size_t i = 0; i < hmap.n; i++) {
		const char *b = hmap.r[i].base;
		if ((const char *)p >= b && (const char *)p < b + hmap.r[i].len) {
			if (flags)
				*flags = hmap.r[i].flags;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&hmap.lock);
	return rc;
}

static CUresult need_init(void)
{
	CUresult err = CUDA_SUCCESS;
	return vgpu_conn_get(&err) ? CUDA_SUCCESS : err;
}

CUresult CUDAAPI cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
	CUresult r = need_init();
	void *p;

	if (r != CUDA_SUCCESS)
		return r;
	if (!pp || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (Flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED))
		return CUDA_ERROR_INVALID_VALUE;
	p = mmap(NULL, bytesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	(void)mlock(p, bytesize); /* best effort: RLIMIT_MEMLOCK may forbid it */
	if (hmap_add(p, bytesize, Flags, 1) < 0) {
		munmap(p, bytesize);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*pp = p;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost_v2(void **pp, size_t bytesize)
{
	return cuMemHostAlloc(pp, bytesize, 0);
}

CUresult CUDAAPI cuMemFreeHost(void *p)
{
	struct hrange h;

	if (hmap_take(p, 1, &h) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	munmap(h.base, h.len);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
	CUresult r = need_init();

	if (r != CUDA_SUCCESS)
		return r;
	if (!p || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (Flags & CU_MEMHOSTREGISTER_IOMEMORY)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (vgpu_hostmem_lookup(p, NULL) == 0)
		return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	return hmap_add(p, bytesize, Flags, 0) < 0 ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostUnregister(void *p)
{
	struct hrange h;

	return hmap_take(p, 0, &h) < 0 ? CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED : CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
	unsigned f;

	if (!pFlags || vgpu_hostmem_lookup(p, &f) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	*pFlags = f;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
	(void)pdptr;
	(void)p;
	(void)Flags;
	/* Mapped pinned memory would let the GPU reach the zone's pages directly: never offered. */
	return vgpu_client_unsupported("cuMemHostGetDevicePointer");
}
