/* SPDX-License-Identifier: MIT */
/* devva.c — a zone's device memory in a fixed window of addresses (see devva.h). */
#include "devva.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "zone.h"   /* vgpu_room_for_one */

#define MIN_GRAN (2ull << 20)
#define MAX_TRIES 16   /* ranges the driver refuses before the window is given up for a call */

void vgpu_devva_init(struct vgpu_devva *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
}

int vgpu_devva_enable(struct vgpu_devva *d, uint64_t base, uint64_t size)
{
	if (!size || base % MIN_GRAN || size % MIN_GRAN || base + size < base)
		return -EINVAL;
	d->base = base;
	d->size = size;
	return 0;
}

void vgpu_devva_set_idle(struct vgpu_devva *d, uint64_t mem_limit)
{
	d->idle_cap = mem_limit && mem_limit / 8 < VGPU_DEVVA_IDLE_MAX ? mem_limit / 8 : VGPU_DEVVA_IDLE_MAX;
}

int vgpu_devva_in_window(const struct vgpu_devva *d, uint64_t p)
{
	return d->size && p >= d->base && p - d->base < d->size;
}

static void chunk_free(struct vgpu_devva_chunk *c)
{
	free(c->used);
	free(c->head);
}

void vgpu_devva_destroy(struct vgpu_devva *d)
{
	for (uint32_t i = 0; i < d->n; i++)
		chunk_free(&d->v[i]);
	free(d->v);
	free(d->later);
	free(d->ord);
	free(d->pu);
	pthread_mutex_destroy(&d->lock);
	memset(d, 0, sizeof(*d));
}

/* Under the lock: the chunk holding p, or NULL. */
static struct vgpu_devva_chunk *chunk_of(struct vgpu_devva *d, uint64_t p)
{
	uint32_t lo = 0, hi = d->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p < d->v[mid].base)
			hi = mid;
		else if (p - d->v[mid].base >= d->v[mid].size)
			lo = mid + 1;
		else
			return &d->v[mid];
	}
	return NULL;
}

/* Under the lock: insert c keeping the order. Its index, or -ENOMEM. */
static int64_t chunk_add(struct vgpu_devva *d, const struct vgpu_devva_chunk *c)
{
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 16;
		struct vgpu_devva_chunk *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	uint32_t i = d->n;
	while (i && d->v[i - 1].base > c->base)
		i--;
	memmove(&d->v[i + 1], &d->v[i], (d->n - i) * sizeof(*d->v));
	d->v[i] = *c;
	d->n++;
	return i;
}

static void unmap_chunk(const struct vgpu_backend_fns *f, const struct vgpu_devva_chunk *c)
{
	if (!c->handle)
		return;   /* blocked: nothing of ours there */
	f->cuMemUnmap(c->base, c->size);
	f->cuMemRelease((CUmemGenericAllocationHandle)c->handle);
	f->cuMemAddressFree(c->base, c->size);
}

/* Under the lock: chunk i leaves the array, unmapped and released. */
static void chunk_drop(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint32_t i)
{
	struct vgpu_devva_chunk gone = d->v[i];
	memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(*d->v));
	d->n--;
	d->bytes -= gone.handle ? gone.size : 0;
	if (gone.idle)
		d->idle_bytes -= gone.size;
	unmap_chunk(f, &gone);
	chunk_free(&gone);
}

static void reap_locked(struct vgpu_devva *d, const struct vgpu_backend_fns *f, int wait);

/* Under the lock: every idle chunk unmapped and released. */
static void trim_locked(struct vgpu_devva *d, const struct vgpu_backend_fns *f)
{
	for (uint32_t i = 0; i < d->n && d->idle_bytes;)
		if (d->v[i].idle)
			chunk_drop(d, f, i);
		else
			i++;
}

void vgpu_devva_trim(struct vgpu_devva *d, const struct vgpu_backend_fns *f)
{
	if (!d->size)
		return;
	pthread_mutex_lock(&d->lock);
	reap_locked(d, f, 0);
	trim_locked(d, f);
	pthread_mutex_unlock(&d->lock);
}

/* Under the lock: the lowest address of the window where len bytes touch no chunk, or 0. */
static uint64_t gap_for(const struct vgpu_devva *d, uint64_t len)
{
	uint64_t at = d->base, end = d->base + d->size;
	for (uint32_t i = 0; i < d->n; i++) {
		if (d->v[i].base >= at + len)
			break;
		if (d->v[i].base + d->v[i].size > at)
			at = d->v[i].base + d->v[i].size;
	}
	return at <= end && len <= end - at ? at : 0;
}


/* Under the lock: pool's usage row, made when make is set (NULL: none, or out of memory). */
static struct vgpu_devva_pooluse *pool_row(struct vgpu_devva *d, const void *pool, int make)
{
	for (uint32_t i = 0; i < d->npu; i++)
		if (d->pu[i].pool == pool)
			return &d->pu[i];
	if (!make || !pool || vgpu_room_for_one(&d->pu, &d->cappu, d->npu, sizeof(*d->pu), 4) < 0)
		return NULL;
	d->pu[d->npu] = (struct vgpu_devva_pooluse){ .pool = pool };
	return &d->pu[d->npu++];
}

int vgpu_devva_pool_charge(struct vgpu_devva *d, const void *pool, uint64_t size, uint64_t max)
{
	int rc = 0;
	pthread_mutex_lock(&d->lock);
	struct vgpu_devva_pooluse *u = pool_row(d, pool, 1);
	if (!u)
		rc = -ENOMEM;
	else if (max && (size > max || u->used > max - size))
		rc = -ENOMEM;   /* past the pool's maxSize, as the driver's pool would refuse */
	else if ((u->used += size) > u->high)
		u->high = u->used;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* Under the lock. */
static void uncharge_locked(struct vgpu_devva *d, const void *pool, uint64_t size)
{
	struct vgpu_devva_pooluse *u = pool_row(d, pool, 0);
	if (u)
		u->used -= size <= u->used ? size : u->used;
}

void vgpu_devva_pool_uncharge(struct vgpu_devva *d, const void *pool, uint64_t size)
{
	pthread_mutex_lock(&d->lock);
	uncharge_locked(d, pool, size);
	pthread_mutex_unlock(&d->lock);
}

void vgpu_devva_note_ordered(struct vgpu_devva *d, uint64_t base, uint64_t size, const void *pool)
{
	pthread_mutex_lock(&d->lock);
	if (vgpu_room_for_one(&d->ord, &d->capord, d->nord, sizeof(*d->ord), 16) < 0)
		uncharge_locked(d, pool, size);   /* (uncounted: only the pool's usage attributes would tell) */
	else
		d->ord[d->nord++] = (struct vgpu_devva_ordered){ base, size, pool };
	pthread_mutex_unlock(&d->lock);
}

void vgpu_devva_pool_usage(struct vgpu_devva *d, const void *pool, uint64_t *used, uint64_t *high)
{
	*used = *high = 0;
	pthread_mutex_lock(&d->lock);
	const struct vgpu_devva_pooluse *u = pool_row(d, pool, 0);
	if (u) {
		*used = u->used;
		*high = u->high;
	}
	pthread_mutex_unlock(&d->lock);
}

void vgpu_devva_pool_reset_high(struct vgpu_devva *d, const void *pool)
{
	pthread_mutex_lock(&d->lock);
	struct vgpu_devva_pooluse *u = pool_row(d, pool, 0);
	if (u)
		u->high = u->used;
	pthread_mutex_unlock(&d->lock);
}

void vgpu_devva_pool_forget(struct vgpu_devva *d, const void *pool)
{
	pthread_mutex_lock(&d->lock);
	for (uint32_t i = 0; i < d->nord; i++)
		if (d->ord[i].pool == pool)
			d->ord[i].pool = NULL;
	for (uint32_t i = 0; i < d->npu; i++)
		if (d->pu[i].pool == pool) {
			d->pu[i] = d->pu[--d->npu];
			break;
		}
	pthread_mutex_unlock(&d->lock);
}

void vgpu_devva_block(struct vgpu_devva *d, uint64_t base, uint64_t size)
{
	if (!d->size || !size || base + size < base || base >= d->base + d->size || base + size <= d->base)
		return;
	pthread_mutex_lock(&d->lock);
	int clear = 1;
	for (uint32_t i = 0; i < d->n && clear; i++)
		clear = d->v[i].base >= base + size || d->v[i].base + d->v[i].size <= base;
	struct vgpu_devva_chunk b = { .base = base, .size = size, .dev = -1 };
	if (clear)
		chunk_add(d, &b);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Under the lock: reserve, back and open len bytes (whole granules) of the window on dev.
 * CUDA_SUCCESS with *c filled, the driver's error, or CUDA_ERROR_NOT_SUPPORTED when the
 * window has no room the driver gives.
 */
static CUresult map_chunk(struct vgpu_devva *d, const struct vgpu_backend_fns *f, int dev, uint64_t len,
			  struct vgpu_devva_chunk *c)
{
	CUdeviceptr got = 0;
	uint64_t at = 0;
	CUresult r;

	for (int tries = 0; tries < MAX_TRIES; tries++) {
		if (!(at = gap_for(d, len)))
			return CUDA_ERROR_NOT_SUPPORTED;
		got = 0;
		r = f->cuMemAddressReserve(&got, len, 0, at, 0);
		if (r == CUDA_SUCCESS && got == at)
			break;
		if (r == CUDA_SUCCESS)
			f->cuMemAddressFree(got, len);
		else if (r == CUDA_ERROR_OUT_OF_MEMORY)
			return r;
		d->asked = at;
		d->offered = r == CUDA_SUCCESS ? got : 0;
		d->refusal = (int)r;
		/* taken (the zone's own reservation, a restored allocation's): not asked for again */
		struct vgpu_devva_chunk blocked = { .base = at, .size = len, .dev = -1 };
		if (chunk_add(d, &blocked) < 0)
			return CUDA_ERROR_OUT_OF_MEMORY;
		vgpu_debug("device addresses [0x%llx, +0x%llx) of the fixed window are taken (CUresult %d)",
			   (unsigned long long)at, (unsigned long long)len, (int)r);
		at = 0;
	}
	if (!at)
		return CUDA_ERROR_NOT_SUPPORTED;
	uint64_t h;
	int created;
	if ((r = vgpu_devva_back(f, at, len, dev, &h, &created)) != CUDA_SUCCESS) {
		f->cuMemAddressFree(at, len);
		return created ? r : CUDA_ERROR_OUT_OF_MEMORY;   /* cuMemAlloc's answer for memory the device has not */
	}
	*c = (struct vgpu_devva_chunk){ .base = at, .size = len, .handle = h, .dev = dev };
	return CUDA_SUCCESS;
}

CUresult vgpu_devva_back(const struct vgpu_backend_fns *f, uint64_t at, uint64_t len, int dev, uint64_t *handle,
			 int *created)
{
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev } };
	CUmemAccessDesc acc = { .location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	CUmemGenericAllocationHandle h = 0;
	CUresult r;

	*created = 0;
	if ((r = f->cuMemCreate(&h, len, &prop, 0)) != CUDA_SUCCESS)
		return r;
	*created = 1;
	if ((r = f->cuMemMap(at, len, 0, h, 0)) != CUDA_SUCCESS) {
		f->cuMemRelease(h);
		return r;
	}
	if ((r = f->cuMemSetAccess(at, len, &acc, 1)) != CUDA_SUCCESS) {
		f->cuMemUnmap(at, len);
		f->cuMemRelease(h);
		return r;
	}
	*handle = (uint64_t)h;
	return CUDA_SUCCESS;
}

static int bit(const uint64_t *b, uint64_t i) { return (b[i / 64] >> (i % 64)) & 1; }
static void bit_set(uint64_t *b, uint64_t i) { b[i / 64] |= 1ull << (i % 64); }
static void bit_clear(uint64_t *b, uint64_t i) { b[i / 64] &= ~(1ull << (i % 64)); }

/* Under the lock: n free units in slab c (first fit), taken; the first one's index, or -1. */
static int64_t slab_take(struct vgpu_devva_chunk *c, uint64_t n)
{
	uint64_t units = c->size / VGPU_DEVVA_UNIT, run = 0;
	for (uint64_t i = 0; i < units; i++) {
		if (i % 64 == 0 && c->used[i / 64] == ~0ull) {
			run = 0;
			i += 63;   /* a full word */
			continue;
		}
		if (bit(c->used, i)) {
			run = 0;
			continue;
		}
		if (++run < n)
			continue;
		uint64_t first = i + 1 - n;
		for (uint64_t k = first; k <= i; k++)
			bit_set(c->used, k);
		bit_set(c->head, first);
		c->users++;
		return (int64_t)first;
	}
	return -1;
}

static int learn_granularity(struct vgpu_devva *d, const struct vgpu_backend_fns *f, int dev)
{
	if (d->gran)
		return 0;
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev } };
	size_t g = 0;
	if (!f->cuMemGetAllocationGranularity ||
	    f->cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) != CUDA_SUCCESS || !g)
		return -1;
	d->gran = g < MIN_GRAN ? MIN_GRAN : g;
	if (d->gran % MIN_GRAN || d->gran / VGPU_DEVVA_UNIT > (1u << 20))
		return -1;
	return 0;
}

static void fall_back(struct vgpu_devva *d, const char *why)
{
	char refused[160];
	if (d->fell_back)
		return;
	if (!why) {   /* the driver would not give the window's addresses: which, and what instead */
		snprintf(refused, sizeof(refused), "the driver would not give its addresses (asked for 0x%llx, it "
			 "offered 0x%llx, CUresult %d)", (unsigned long long)d->asked, (unsigned long long)d->offered,
			 d->refusal);
		why = refused;
	}
	d->fell_back = 1;
	vgpu_warn("device memory outside the fixed window [0x%llx, +0x%llx): %s; this zone's allocations from now on "
		  "cannot be restored into another worker", (unsigned long long)d->base, (unsigned long long)d->size, why);
}

/*
 * Under the lock: a chunk of len bytes on dev, an idle one of that size taken again or a new
 * one mapped (the idle ones given back first when the device has no memory left); *idx gets
 * its index. CUDA_SUCCESS, or map_chunk's answer.
 */
static CUresult take_chunk(struct vgpu_devva *d, const struct vgpu_backend_fns *f, int dev, uint64_t len,
			   uint32_t *idx)
{
	for (uint32_t i = 0; i < d->n; i++)
		if (d->v[i].idle && d->v[i].dev == dev && d->v[i].size == len) {
			d->v[i].idle = 0;
			d->idle_bytes -= len;
			*idx = i;
			return CUDA_SUCCESS;
		}
	struct vgpu_devva_chunk c;
	CUresult r = map_chunk(d, f, dev, len, &c);
	if (r == CUDA_ERROR_OUT_OF_MEMORY && (d->idle_bytes || d->nlater)) {
		reap_locked(d, f, 1);   /* the frees streams have yet to pass, then what is idle */
		trim_locked(d, f);
		r = map_chunk(d, f, dev, len, &c);
	}
	if (r != CUDA_SUCCESS)
		return r;
	int64_t i = chunk_add(d, &c);
	if (i < 0) {
		unmap_chunk(f, &c);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	d->bytes += len;
	*idx = (uint32_t)i;
	return CUDA_SUCCESS;
}

CUresult vgpu_devva_alloc(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint64_t size, uint64_t *out)
{
	CUdevice dev;
	CUresult r;

	if (!size)
		return CUDA_ERROR_INVALID_VALUE;
	if (d->fell_back)
		return CUDA_ERROR_NOT_SUPPORTED;   /* the driver's from then on: no retries per call */
	if (!f->cuCtxGetDevice || !f->cuMemAddressReserve || !f->cuMemCreate || !f->cuMemMap || !f->cuMemSetAccess ||
	    !f->cuMemUnmap || !f->cuMemRelease || !f->cuMemAddressFree) {
		fall_back(d, "the driver lacks the virtual memory management calls");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if ((r = f->cuCtxGetDevice(&dev)) != CUDA_SUCCESS)
		return r;   /* no current context: cuMemAlloc's own answer */
	pthread_mutex_lock(&d->lock);
	reap_locked(d, f, 0);   /* memory stream-ordered frees gave back since */
	if (learn_granularity(d, f, (int)dev) < 0) {
		fall_back(d, "the driver gave no usable allocation granularity");
		pthread_mutex_unlock(&d->lock);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (size < d->gran / 2) {
		uint64_t n = (size + VGPU_DEVVA_UNIT - 1) / VGPU_DEVVA_UNIT;
		for (uint32_t i = 0; i < d->n; i++) {
			struct vgpu_devva_chunk *c = &d->v[i];
			int64_t u;
			if (c->used && c->dev == (int)dev && (u = slab_take(c, n)) >= 0) {
				*out = c->base + (uint64_t)u * VGPU_DEVVA_UNIT;
				pthread_mutex_unlock(&d->lock);
				return CUDA_SUCCESS;
			}
		}
		uint64_t words = (d->gran / VGPU_DEVVA_UNIT + 63) / 64;
		uint64_t *used = calloc(words, 8), *head = calloc(words, 8);
		uint32_t i = 0;
		r = used && head ? take_chunk(d, f, (int)dev, d->gran, &i) : CUDA_ERROR_OUT_OF_MEMORY;
		if (r != CUDA_SUCCESS) {
			free(used);
			free(head);
		} else {
			d->v[i].used = used;
			d->v[i].head = head;
			*out = d->v[i].base + (uint64_t)slab_take(&d->v[i], n) * VGPU_DEVVA_UNIT;
		}
		pthread_mutex_unlock(&d->lock);
		if (r == CUDA_ERROR_NOT_SUPPORTED)
			fall_back(d, NULL);
		return r;
	}
	if (size > UINT64_MAX - d->gran) {
		pthread_mutex_unlock(&d->lock);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	uint32_t i = 0;
	if ((r = take_chunk(d, f, (int)dev, (size + d->gran - 1) / d->gran * d->gran, &i)) == CUDA_SUCCESS) {
		d->v[i].users = 1;
		*out = d->v[i].base;
	}
	pthread_mutex_unlock(&d->lock);
	if (r == CUDA_ERROR_NOT_SUPPORTED)
		fall_back(d, NULL);
	return r;
}

/* Under the lock: is a stream-ordered free of base waiting? */
static int later_has(const struct vgpu_devva *d, uint64_t base)
{
	for (uint32_t i = 0; i < d->nlater; i++)
		if (d->later[i].base == base)
			return 1;
	return 0;
}

/*
 * Under the lock: the chunk of the window's allocation that starts at base, with base's
 * offset in it; NULL with *res set when base is in the window's memory but starts no live
 * allocation (cuMemFree's answer), or NULL and *res 0 when the memory is not the window's.
 */
static struct vgpu_devva_chunk *alloc_at(struct vgpu_devva *d, uint64_t base, uint64_t *off, int *res)
{
	struct vgpu_devva_chunk *c = chunk_of(d, base);
	*res = 0;
	if (!c || !c->handle)
		return NULL;
	*off = base - c->base;
	if (c->idle || (c->used ? *off % VGPU_DEVVA_UNIT || !bit(c->head, *off / VGPU_DEVVA_UNIT) : *off != 0) ||
	    later_has(d, base)) {
		*res = CUDA_ERROR_INVALID_VALUE;
		return NULL;
	}
	return c;
}

/* Under the lock: the allocation at base is no stream-ordered one any more. */
static void ordered_gone(struct vgpu_devva *d, uint64_t base)
{
	for (uint32_t i = 0; i < d->nord; i++)
		if (d->ord[i].base == base) {
			uncharge_locked(d, d->ord[i].pool, d->ord[i].size);
			d->ord[i] = d->ord[--d->nord];
			return;
		}
}

/* Under the lock: the allocation at off in c gives its memory back (a chunk left without any
 * stays mapped, idle, within the cap). */
static void release_locked(struct vgpu_devva *d, const struct vgpu_backend_fns *f, struct vgpu_devva_chunk *c,
			   uint64_t off)
{
	if (c->used) {
		uint64_t u = off / VGPU_DEVVA_UNIT, units = c->size / VGPU_DEVVA_UNIT;
		bit_clear(c->head, u);
		for (uint64_t k = u; k < units && bit(c->used, k) && (k == u || !bit(c->head, k)); k++)
			bit_clear(c->used, k);
	}
	if (--c->users == 0) {
		if (d->idle_bytes + c->size <= d->idle_cap) {
			/* kept mapped for the zone's next allocation of its size (a slab no longer) */
			chunk_free(c);
			c->used = c->head = NULL;
			c->idle = 1;
			d->idle_bytes += c->size;
		} else {
			chunk_drop(d, f, (uint32_t)(c - d->v));
		}
	}
}

/*
 * A free's start: the chunk of the window's live allocation at base, with the lock held and
 * *off set; or NULL, unlocked, with *res the refusal (1 returned to the caller's caller) or 0
 * (not the window's memory).
 */
static struct vgpu_devva_chunk *lock_alloc(struct vgpu_devva *d, uint64_t base, uint64_t *off, int *res)
{
	*res = 0;
	if (!vgpu_devva_in_window(d, base))
		return NULL;
	pthread_mutex_lock(&d->lock);
	struct vgpu_devva_chunk *c = alloc_at(d, base, off, res);
	if (!c)
		pthread_mutex_unlock(&d->lock);
	return c;
}

int vgpu_devva_free(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint64_t base, int sync, int *res)
{
	uint64_t off = 0;
	struct vgpu_devva_chunk *c = lock_alloc(d, base, &off, res);
	if (!c)
		return *res != 0;
	if (sync && f->cuCtxSynchronize)
		f->cuCtxSynchronize();   /* like cuMemFree: the device is done with it first */
	ordered_gone(d, base);
	release_locked(d, f, c, off);
	*res = CUDA_SUCCESS;
	pthread_mutex_unlock(&d->lock);
	return 1;
}

int vgpu_devva_free_async(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint64_t base, CUstream s, int *res)
{
	uint64_t off = 0;
	struct vgpu_devva_chunk *c = lock_alloc(d, base, &off, res);
	if (!c)
		return *res != 0;
	CUcontext ctx = NULL;
	CUevent ev = NULL;
	*res = CUDA_SUCCESS;
	ordered_gone(d, base);   /* freed for the program now, given back once the stream is past */
	if (f->cuEventCreate && f->cuEventRecord && f->cuEventQuery && f->cuEventDestroy_v2 && f->cuCtxGetCurrent &&
	    vgpu_room_for_one(&d->later, &d->caplater, d->nlater, sizeof(*d->later), 16) == 0 &&
	    f->cuCtxGetCurrent(&ctx) == CUDA_SUCCESS && f->cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS) {
		if (f->cuEventRecord(ev, s) == CUDA_SUCCESS) {
			d->later[d->nlater++] = (struct vgpu_devva_later){ base, ev, ctx };
			pthread_mutex_unlock(&d->lock);
			return 1;
		}
		f->cuEventDestroy_v2(ev);
	}
	/* no event to tell when the stream is past the free: wait for it, as cuMemFree would */
	if (f->cuStreamSynchronize)
		f->cuStreamSynchronize(s);
	else if (f->cuCtxSynchronize)
		f->cuCtxSynchronize();
	release_locked(d, f, c, off);
	pthread_mutex_unlock(&d->lock);
	return 1;
}

/* Under the lock: later entry i is done; its memory goes back (event: destroyed first). */
static void later_done(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint32_t i, int destroy)
{
	struct vgpu_devva_later l = d->later[i];
	d->later[i] = d->later[--d->nlater];
	if (destroy && f->cuEventDestroy_v2)
		f->cuEventDestroy_v2((CUevent)l.event);
	struct vgpu_devva_chunk *c = chunk_of(d, l.base);
	if (c && c->handle && !c->idle)
		release_locked(d, f, c, l.base - c->base);
}

/* wait: for up to WAIT_MS in all (a stream may be held for ever, by a wait on a value) */
#define WAIT_MS 1000
static void reap_locked(struct vgpu_devva *d, const struct vgpu_backend_fns *f, int wait)
{
	for (int waited = 0;; waited++) {
		for (uint32_t i = 0; i < d->nlater;) {
			if (f->cuEventQuery((CUevent)d->later[i].event) == CUDA_ERROR_NOT_READY)
				i++;
			else
				later_done(d, f, i, 1);   /* (an error: its stream is broken, the work will not run) */
		}
		if (!wait || !d->nlater || waited == WAIT_MS)
			return;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

void vgpu_devva_forget_ctx(struct vgpu_devva *d, const struct vgpu_backend_fns *f, const void *ctx)
{
	pthread_mutex_lock(&d->lock);
	for (uint32_t i = 0; i < d->nlater;)
		if (d->later[i].ctx == ctx)
			later_done(d, f, i, 0);
		else
			i++;
	pthread_mutex_unlock(&d->lock);
}

unsigned vgpu_devva_release_all(struct vgpu_devva *d, const struct vgpu_backend_fns *f)
{
	unsigned n = 0;
	pthread_mutex_lock(&d->lock);
	for (uint32_t i = 0; i < d->nlater; i++)
		if (f->cuEventDestroy_v2)
			f->cuEventDestroy_v2((CUevent)d->later[i].event);
	d->nlater = 0;
	d->nord = 0;
	d->npu = 0;
	for (uint32_t i = 0; i < d->n; i++) {
		n += d->v[i].handle != 0;
		unmap_chunk(f, &d->v[i]);
		chunk_free(&d->v[i]);
	}
	d->n = 0;
	d->bytes = 0;
	d->idle_bytes = 0;
	pthread_mutex_unlock(&d->lock);
	return n;
}
