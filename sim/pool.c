/* SPDX-License-Identifier: MIT */
/* pool.c — memory pools in the simulator: default and created pools, their attributes and allocations. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

/*
 * A pool is a set of attributes and the allocations made from it; the memory itself comes
 * from the simulator's ordinary allocator (cuMemAllocAsync takes memory at once and gives it
 * back when the stream reaches the free), so "reserved" equals "used": nothing is kept
 * past a free, whatever the release threshold says. Each device has a default pool and a
 * current pool (cuDeviceSetMemPool).
 */

#define MAGIC_POOL 0x504f4f4cu

struct sim_pool {
	uint32_t magic;
	int dev;
	int is_default;
	int reuse[3];                 /* the three REUSE_* attributes */
	cuuint64_t release_threshold;
	cuuint64_t used, used_high;
	CUmemAccess_flags peer_access[SIM_MAX_DEVICES];
};

/* A live allocation made from a pool, so that its free updates the pool's counters. */
struct pool_alloc {
	uint64_t base, size;
	struct sim_pool *pool;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_pool default_pools[SIM_MAX_DEVICES];
/* The current pool is the process's choice: one per address space (sim.h), as each zone's
 * worker is its own process in the proxy. */
#define POOL_SPACES 4
static struct sim_pool *current_pools_by_space[POOL_SPACES][SIM_MAX_DEVICES];
#define current_pools (current_pools_by_space[sim_space % POOL_SPACES])
static struct pool_alloc *allocs;
static size_t nallocs, capallocs;

static struct sim_pool *default_pool(int dev)
{
	struct sim_pool *p = &default_pools[dev];
	if (!p->magic) {
		p->magic = MAGIC_POOL;
		p->dev = dev;
		p->is_default = 1;
		p->reuse[0] = p->reuse[1] = p->reuse[2] = 1;
		p->peer_access[dev] = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	}
	return p;
}

static struct sim_pool *pool_get(CUmemoryPool h, CUresult *rc)
{
	struct sim_pool *p = (struct sim_pool *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!p || p->magic != MAGIC_POOL) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	return *rc ? NULL : p;
}

static int dev_ok(CUdevice dev)
{
	return dev >= 0 && dev < g_ndev;
}

CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *out, CUdevice dev)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (!dev_ok(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&pool_lock);
	*out = (CUmemoryPool)default_pool(dev);
	pthread_mutex_unlock(&pool_lock);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetMemPool(CUmemoryPool *out, CUdevice dev)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (!dev_ok(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&pool_lock);
	*out = (CUmemoryPool)(current_pools[dev] ? current_pools[dev] : default_pool(dev));
	pthread_mutex_unlock(&pool_lock);
	return CUDA_SUCCESS;
}

CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool h)
{
	CUresult rc;
	struct sim_pool *p = pool_get(h, &rc);
	if (!p)
		return rc;
	if (!dev_ok(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	if (p->dev != dev)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_lock);
	current_pools[dev] = p;
	pthread_mutex_unlock(&pool_lock);
	return CUDA_SUCCESS;
}

/* The CUDA 13 location-based forms: device locations only (no host or NUMA pools here). */
static CUresult location_dev(const CUmemLocation *loc, CUmemAllocationType type, int *dev)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!loc || type != CU_MEM_ALLOCATION_TYPE_PINNED)
		return CUDA_ERROR_INVALID_VALUE;
	if (loc->type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!dev_ok(loc->id))
		return CUDA_ERROR_INVALID_DEVICE;
	*dev = loc->id;
	return CUDA_SUCCESS;
}

CUresult cuMemGetDefaultMemPool(CUmemoryPool *out, CUmemLocation *loc, CUmemAllocationType type)
{
	int dev;
	CUresult rc = location_dev(loc, type, &dev);
	return rc ? rc : cuDeviceGetDefaultMemPool(out, dev);
}

CUresult cuMemGetMemPool(CUmemoryPool *out, CUmemLocation *loc, CUmemAllocationType type)
{
	int dev;
	CUresult rc = location_dev(loc, type, &dev);
	return rc ? rc : cuDeviceGetMemPool(out, dev);
}

CUresult cuMemSetMemPool(CUmemLocation *loc, CUmemAllocationType type, CUmemoryPool pool)
{
	int dev;
	CUresult rc = location_dev(loc, type, &dev);
	return rc ? rc : cuDeviceSetMemPool(dev, pool);
}

/* Pools made by cuMemPoolCreate not destroyed yet (vgpu_sim_live_objects). */
static long live_pools;

long sim_pool_live(void)
{
	return __atomic_load_n(&live_pools, __ATOMIC_RELAXED);
}

CUresult cuMemPoolCreate(CUmemoryPool *out, const CUmemPoolProps *props)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!out || !props || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    props->location.type != CU_MEM_LOCATION_TYPE_DEVICE || props->win32SecurityAttributes)
		return CUDA_ERROR_INVALID_VALUE;
	if (!dev_ok(props->location.id))
		return CUDA_ERROR_INVALID_DEVICE;
	if (props->handleTypes & ~(unsigned)CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return CUDA_ERROR_NOT_SUPPORTED;   /* Windows and fabric handles */
	struct sim_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	p->magic = MAGIC_POOL;
	p->dev = props->location.id;
	p->reuse[0] = p->reuse[1] = p->reuse[2] = 1;
	p->peer_access[p->dev] = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	__atomic_add_fetch(&live_pools, 1, __ATOMIC_RELAXED);
	*out = (CUmemoryPool)p;
	return CUDA_SUCCESS;
}

CUresult cuMemPoolDestroy(CUmemoryPool h)
{
	CUresult rc;
	struct sim_pool *p = pool_get(h, &rc);
	if (!p)
		return rc;
	if (p->is_default)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_lock);
	for (int sp = 0; sp < POOL_SPACES; sp++)
		for (int d = 0; d < SIM_MAX_DEVICES; d++)
			if (current_pools_by_space[sp][d] == p)
				current_pools_by_space[sp][d] = NULL;
	/* allocations still live stay valid; they no longer count for a pool */
	for (size_t i = 0; i < nallocs; i++)
		if (allocs[i].pool == p)
			allocs[i].pool = NULL;
	pthread_mutex_unlock(&pool_lock);
	p->magic = 0;
	free(p);
	__atomic_sub_fetch(&live_pools, 1, __ATOMIC_RELAXED);
	return CUDA_SUCCESS;
}

CUresult cuMemPoolTrimTo(CUmemoryPool h, size_t keep)
{
	CUresult rc;
	(void)keep;          /* nothing is kept past a free */
	return pool_get(h, &rc) ? CUDA_SUCCESS : rc;
}

CUresult cuMemPoolSetAttribute(CUmemoryPool h, CUmemPool_attribute attr, void *value)
{
	CUresult rc;
	struct sim_pool *p = pool_get(h, &rc);
	if (!p)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_lock);
	rc = CUDA_SUCCESS;
	switch (attr) {
	case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
		p->reuse[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES] = *(int *)value != 0;
		break;
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		p->release_threshold = *(cuuint64_t *)value;
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
	case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
		/* only a reset to the current value is allowed */
		if (*(cuuint64_t *)value != 0)
			rc = CUDA_ERROR_INVALID_VALUE;
		else
			p->used_high = p->used;
		break;
	default:
		rc = CUDA_ERROR_INVALID_VALUE;
		break;
	}
	pthread_mutex_unlock(&pool_lock);
	return rc;
}

CUresult cuMemPoolGetAttribute(CUmemoryPool h, CUmemPool_attribute attr, void *value)
{
	CUresult rc;
	struct sim_pool *p = pool_get(h, &rc);
	if (!p)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_lock);
	rc = CUDA_SUCCESS;
	switch (attr) {
	case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
		*(int *)value = p->reuse[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES];
		break;
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		*(cuuint64_t *)value = p->release_threshold;
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
	case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
		*(cuuint64_t *)value = p->used;
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
	case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
		*(cuuint64_t *)value = p->used_high;
		break;
	default:
		rc = CUDA_ERROR_INVALID_VALUE;
		break;
	}
	pthread_mutex_unlock(&pool_lock);
	return rc;
}

CUresult cuMemPoolSetAccess(CUmemoryPool h, const CUmemAccessDesc *map, size_t count)
{
	CUresult rc;
	struct sim_pool *p = pool_get(h, &rc);
	if (!p)
		return rc;
	if (!map && count)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < count; i++)
		if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || !dev_ok(map[i].location.id) ||
		    map[i].flags > CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_lock);
	for (size_t i = 0; i < count; i++)
		if (map[i].location.id != p->dev)   /* the owning device keeps read-write access */
			p->peer_access[map[i].location.id] = map[i].flags;
	pthread_mutex_unlock(&pool_lock);
	return CUDA_SUCCESS;
}

CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool h, CUmemLocation *loc)
{
	CUresult rc;
	struct sim_pool *p = pool_get(h, &rc);
	if (!p)
		return rc;
	if (!flags || !loc || loc->type != CU_MEM_LOCATION_TYPE_DEVICE || !dev_ok(loc->id))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_lock);
	*flags = p->peer_access[loc->id];
	pthread_mutex_unlock(&pool_lock);
	return CUDA_SUCCESS;
}

static CUresult pool_alloc(CUdeviceptr *dptr, size_t size, struct sim_pool *p, CUstream h)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	/* inside a stream capture the allocation is the graph's: an alloc node, not pool memory */
	if (sim_graph_capture_alloc(c, h, p->dev, size, dptr, &rc))
		return rc;
	rc = sim_mem_alloc_async(dptr, size, h);
	if (rc != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&pool_lock);
	if (nallocs == capallocs) {
		size_t nc = capallocs ? capallocs * 2 : 64;
		struct pool_alloc *n = realloc(allocs, nc * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&pool_lock);
			cuMemFree(*dptr);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		allocs = n;
		capallocs = nc;
	}
	allocs[nallocs++] = (struct pool_alloc){ .base = *dptr, .size = size, .pool = p };
	p->used += size;
	if (p->used > p->used_high)
		p->used_high = p->used;
	pthread_mutex_unlock(&pool_lock);
	return CUDA_SUCCESS;
}

CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t size, CUmemoryPool h, CUstream hs)
{
	CUresult rc;
	struct sim_pool *p = pool_get(h, &rc);
	return p ? pool_alloc(dptr, size, p, hs) : rc;
}

/* cuMemAllocAsync allocates from the current pool of the context's device. */
CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t size, CUstream hs)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	pthread_mutex_lock(&pool_lock);
	struct sim_pool *p = current_pools[c->dev] ? current_pools[c->dev] : default_pool(c->dev);
	pthread_mutex_unlock(&pool_lock);
	return pool_alloc(dptr, size, p, hs);
}

CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t size, CUmemoryPool h, CUstream hs);
CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t size, CUmemoryPool h, CUstream hs)
{
	return cuMemAllocFromPoolAsync(dptr, size, h, hs ? hs : CU_STREAM_PER_THREAD);
}

long sim_pool_live_allocs(void)
{
	pthread_mutex_lock(&pool_lock);
	long n = (long)nallocs;
	pthread_mutex_unlock(&pool_lock);
	return n;
}

/* Called by the allocator when device memory at base is freed (any way it is freed). */
void sim_pool_forget(uint64_t base)
{
	pthread_mutex_lock(&pool_lock);
	for (size_t i = 0; i < nallocs; i++)
		if (allocs[i].base == base) {
			if (allocs[i].pool)
				allocs[i].pool->used -= allocs[i].size;
			allocs[i] = allocs[--nallocs];
			break;
		}
	pthread_mutex_unlock(&pool_lock);
}
