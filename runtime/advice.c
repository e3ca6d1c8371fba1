/* SPDX-License-Identifier: MIT */
/* advice.c — managed memory's advice and prefetch locations, page by page, and cuMemRangeGetAttribute(s) over them (see advice.h). */
#define __CUDA_API_VERSION_INTERNAL 1
#include "advice.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u
#define HOST_BIT 31u   /* accessed-by the host (CU_DEVICE_CPU); devices 0-30 by their bit */

/* One page's state: what was advised about it and where it was last prefetched. */
struct page {
	uint8_t read_mostly;
	uint8_t pref_type;     /* CUmemLocationType; CU_MEM_LOCATION_TYPE_INVALID (0): none */
	uint8_t pf_type;       /* the same for the last prefetch */
	uint8_t pad;
	int32_t pref_id, pf_id;
	uint32_t accessed;     /* devices with SET_ACCESSED_BY */
};

struct alloc {
	uint64_t base, len;
	struct page *pg;       /* (len + PAGE - 1) / PAGE pages */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct alloc *tab;
static size_t n_tab, cap_tab;

static uint64_t npages(uint64_t len) { return (len + PAGE - 1) / PAGE; }

static void drop(size_t i)
{
	free(tab[i].pg);
	tab[i] = tab[--n_tab];
}

int vgpu_advice_track(uint64_t base, uint64_t len)
{
	struct page *pg = calloc(npages(len) ? npages(len) : 1, sizeof(*pg));
	if (!pg)
		return -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tab;)
		if (tab[i].base < base + len && base < tab[i].base + tab[i].len)
			drop(i);   /* a stale record of memory freed without untrack (its context went) */
		else
			i++;
	if (n_tab == cap_tab) {
		size_t cap = cap_tab ? 2 * cap_tab : 16;
		struct alloc *t = realloc(tab, cap * sizeof(*t));
		if (!t) {
			pthread_mutex_unlock(&lock);
			free(pg);
			return -1;
		}
		tab = t;
		cap_tab = cap;
	}
	tab[n_tab++] = (struct alloc){ base, len, pg };
	pthread_mutex_unlock(&lock);
	return 0;
}

void vgpu_advice_untrack(uint64_t base)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_tab; i++)
		if (tab[i].base == base) {
			drop(i);
			break;
		}
	pthread_mutex_unlock(&lock);
}

/* Under lock: the pages [*first, *last] of the allocation holding [p, p + n), or NULL. */
static struct page *pages_of(uint64_t p, uint64_t n, uint64_t *first, uint64_t *last)
{
	if (!n)
		return NULL;
	for (size_t i = 0; i < n_tab; i++) {
		const struct alloc *a = &tab[i];
		if (p >= a->base && p - a->base < a->len && n <= a->len - (p - a->base)) {
			*first = (p - a->base) / PAGE;
			*last = (p - a->base + n - 1) / PAGE;
			return a->pg;
		}
	}
	return NULL;
}

static uint32_t location_bit(CUmemLocation loc)
{
	if (loc.type == CU_MEM_LOCATION_TYPE_DEVICE)
		return loc.id >= 0 && loc.id < (int)HOST_BIT ? 1u << loc.id : 0;
	return 1u << HOST_BIT;   /* the host, any NUMA node of it */
}

int vgpu_advice_advise(uint64_t p, uint64_t n, CUmem_advise advice, CUmemLocation loc)
{
	uint64_t first, last;
	pthread_mutex_lock(&lock);
	struct page *pg = pages_of(p, n, &first, &last);
	for (uint64_t i = first; pg && i <= last; i++) {
		struct page *x = &pg[i];
		switch (advice) {
		case CU_MEM_ADVISE_SET_READ_MOSTLY: x->read_mostly = 1; break;
		case CU_MEM_ADVISE_UNSET_READ_MOSTLY: x->read_mostly = 0; break;
		case CU_MEM_ADVISE_SET_PREFERRED_LOCATION:
			x->pref_type = (uint8_t)loc.type;
			x->pref_id = loc.type == CU_MEM_LOCATION_TYPE_DEVICE || loc.type == CU_MEM_LOCATION_TYPE_HOST_NUMA ? loc.id : 0;
			break;
		case CU_MEM_ADVISE_UNSET_PREFERRED_LOCATION: x->pref_type = CU_MEM_LOCATION_TYPE_INVALID; break;
		case CU_MEM_ADVISE_SET_ACCESSED_BY: x->accessed |= location_bit(loc); break;
		case CU_MEM_ADVISE_UNSET_ACCESSED_BY: x->accessed &= ~location_bit(loc); break;
		default: break;
		}
	}
	pthread_mutex_unlock(&lock);
	return pg ? 0 : -1;
}

int vgpu_advice_location_ok(CUmemLocation loc)
{
	return loc.type == CU_MEM_LOCATION_TYPE_DEVICE || loc.type == CU_MEM_LOCATION_TYPE_HOST ||
	       loc.type == CU_MEM_LOCATION_TYPE_HOST_NUMA || loc.type == CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT;
}

int vgpu_advice_prefetch(uint64_t p, uint64_t n, CUmemLocation loc)
{
	uint64_t first, last;
	pthread_mutex_lock(&lock);
	struct page *pg = pages_of(p, n, &first, &last);
	for (uint64_t i = first; pg && i <= last; i++) {
		pg[i].pf_type = (uint8_t)loc.type;
		pg[i].pf_id = loc.type == CU_MEM_LOCATION_TYPE_DEVICE || loc.type == CU_MEM_LOCATION_TYPE_HOST_NUMA ? loc.id : 0;
	}
	pthread_mutex_unlock(&lock);
	return pg ? 0 : -1;
}

/* The location every page of [first, last] shares (its type INVALID if they differ or one has
 * none); pf: the last prefetch location, else the preferred one. */
static CUmemLocation common_location(const struct page *pg, uint64_t first, uint64_t last, int pf)
{
	CUmemLocation l = { pf ? (CUmemLocationType)pg[first].pf_type : (CUmemLocationType)pg[first].pref_type,
			    pf ? pg[first].pf_id : pg[first].pref_id };
	for (uint64_t i = first + 1; i <= last && l.type != CU_MEM_LOCATION_TYPE_INVALID; i++) {
		int t = pf ? pg[i].pf_type : pg[i].pref_type, id = pf ? pg[i].pf_id : pg[i].pref_id;
		if (t != (int)l.type || id != l.id)
			l.type = CU_MEM_LOCATION_TYPE_INVALID;
	}
	return l;
}

/* A location as the device-numbered answers give it: a device id, CU_DEVICE_CPU, CU_DEVICE_INVALID. */
static int device_of(CUmemLocation l)
{
	switch (l.type) {
	case CU_MEM_LOCATION_TYPE_DEVICE: return l.id;
	case CU_MEM_LOCATION_TYPE_INVALID: return CU_DEVICE_INVALID;
	default: return CU_DEVICE_CPU;
	}
}

static CUresult query(void *data, size_t size, CUmem_range_attribute attr, const struct page *pg, uint64_t first,
		      uint64_t last)
{
	int32_t *out = data;
	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	if (attr == CU_MEM_RANGE_ATTRIBUTE_ACCESSED_BY) {
		uint32_t all = ~0u;
		if (!size || size % 4)
			return CUDA_ERROR_INVALID_VALUE;
		for (uint64_t i = first; i <= last; i++)
			all &= pg[i].accessed;
		size_t k = 0, cap = size / 4;
		for (uint32_t d = 0; d < HOST_BIT && k < cap; d++)
			if (all >> d & 1)
				out[k++] = (int32_t)d;
		if ((all >> HOST_BIT & 1) && k < cap)
			out[k++] = CU_DEVICE_CPU;
		while (k < cap)
			out[k++] = CU_DEVICE_INVALID;
		return CUDA_SUCCESS;
	}
	if (size != 4)
		return CUDA_ERROR_INVALID_VALUE;
	int pf = attr == CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION ||
		 attr == CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_TYPE ||
		 attr == CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_ID;
	CUmemLocation l = common_location(pg, first, last, pf);
	switch (attr) {
	case CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY: {
		int all = 1;
		for (uint64_t i = first; i <= last; i++)
			all &= pg[i].read_mostly;
		*out = all;
		return CUDA_SUCCESS;
	}
	case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION:
	case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION:
		*out = device_of(l);
		return CUDA_SUCCESS;
	case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_TYPE:
	case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_TYPE:
		*out = (int32_t)l.type;
		return CUDA_SUCCESS;
	case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_ID:
	case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_ID:
		*out = l.id;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult CUDAAPI cuMemRangeGetAttributes(void **data, size_t *dataSizes, CUmem_range_attribute *attributes,
					 size_t numAttributes, CUdeviceptr devPtr, size_t count)
{
	uint64_t first, last;
	CUresult r = CUDA_SUCCESS;

	if (!numAttributes || !data || !dataSizes || !attributes)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	const struct page *pg = pages_of(devPtr, count, &first, &last);
	for (size_t i = 0; i < numAttributes && r == CUDA_SUCCESS; i++)
		r = pg ? query(data[i], dataSizes[i], attributes[i], pg, first, last) : CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuMemRangeGetAttribute(void *data, size_t dataSize, CUmem_range_attribute attribute,
					CUdeviceptr devPtr, size_t count)
{
	return cuMemRangeGetAttributes(&data, &dataSize, &attribute, 1, devPtr, count);
}

/* ---------------------------------------------------------------- batches (CUDA 13) */

/*
 * A batch of prefetches and discards: each element is the single call, in order (the driver
 * runs a batch in stream order but promises no order inside it). Location k of prefetchLocs
 * applies from element prefetchLocIdxs[k] up to the next entry's first; the indices start at
 * 0 and rise, the last below count. Discarding managed memory makes its contents undefined:
 * where nothing migrates, keeping them is one of the allowed outcomes, so a discard checks
 * its range and leaves the bytes.
 */
static CUresult batch_check(CUdeviceptr *dptrs, size_t *sizes, size_t count, CUmemLocation *locs, size_t *idxs,
			    size_t nlocs, int with_locs, unsigned long long flags, CUstream s)
{
	if (!count || !dptrs || !sizes || flags || !s || s == CU_STREAM_LEGACY)
		return CUDA_ERROR_INVALID_VALUE;   /* (not the legacy default stream, as the driver says) */
	if (!with_locs)
		return CUDA_SUCCESS;
	if (!locs || !idxs || !nlocs || nlocs > count || idxs[0] != 0 || idxs[nlocs - 1] >= count)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t k = 1; k < nlocs; k++)
		if (idxs[k] <= idxs[k - 1])
			return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

static CUresult discard_all(CUdeviceptr *dptrs, size_t *sizes, size_t count)
{
	CUresult r = CUDA_SUCCESS;
	uint64_t first, last;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count && r == CUDA_SUCCESS; i++)
		if (!pages_of(dptrs[i], sizes[i], &first, &last))
			r = CUDA_ERROR_INVALID_VALUE;   /* not managed memory of one allocation */
	pthread_mutex_unlock(&lock);
	return r;
}

static CUresult prefetch_all(CUdeviceptr *dptrs, size_t *sizes, size_t count, CUmemLocation *locs, size_t *idxs,
			     size_t nlocs, CUstream s, int ptsz)
{
	CUresult r = CUDA_SUCCESS;
	for (size_t i = 0, k = 0; i < count && r == CUDA_SUCCESS; i++) {
		while (k + 1 < nlocs && idxs[k + 1] <= i)
			k++;
		r = ptsz ? cuMemPrefetchAsync_v2_ptsz(dptrs[i], sizes[i], locs[k], 0, s)
			 : cuMemPrefetchAsync_v2(dptrs[i], sizes[i], locs[k], 0, s);
	}
	return r;
}

static CUresult batch(CUdeviceptr *dptrs, size_t *sizes, size_t count, CUmemLocation *locs, size_t *idxs,
		      size_t nlocs, unsigned long long flags, CUstream s, int discard, int prefetch, int ptsz)
{
	if (ptsz && !s)
		s = CU_STREAM_PER_THREAD;
	CUresult r = batch_check(dptrs, sizes, count, locs, idxs, nlocs, prefetch, flags, s);
	if (r == CUDA_SUCCESS && discard)
		r = discard_all(dptrs, sizes, count);
	if (r == CUDA_SUCCESS && prefetch)
		r = prefetch_all(dptrs, sizes, count, locs, idxs, nlocs, s, ptsz);
	return r;
}

CUresult CUDAAPI cuMemPrefetchBatchAsync(CUdeviceptr *dptrs, size_t *sizes, size_t count, CUmemLocation *prefetchLocs,
					 size_t *prefetchLocIdxs, size_t numPrefetchLocs, unsigned long long flags,
					 CUstream hStream)
{
	return batch(dptrs, sizes, count, prefetchLocs, prefetchLocIdxs, numPrefetchLocs, flags, hStream, 0, 1, 0);
}

CUresult CUDAAPI cuMemPrefetchBatchAsync_ptsz(CUdeviceptr *dptrs, size_t *sizes, size_t count,
					      CUmemLocation *prefetchLocs, size_t *prefetchLocIdxs,
					      size_t numPrefetchLocs, unsigned long long flags, CUstream hStream)
{
	return batch(dptrs, sizes, count, prefetchLocs, prefetchLocIdxs, numPrefetchLocs, flags, hStream, 0, 1, 1);
}

CUresult CUDAAPI cuMemDiscardBatchAsync(CUdeviceptr *dptrs, size_t *sizes, size_t count, unsigned long long flags,
					CUstream hStream)
{
	return batch(dptrs, sizes, count, NULL, NULL, 0, flags, hStream, 1, 0, 0);
}

CUresult CUDAAPI cuMemDiscardBatchAsync_ptsz(CUdeviceptr *dptrs, size_t *sizes, size_t count,
					     unsigned long long flags, CUstream hStream)
{
	return batch(dptrs, sizes, count, NULL, NULL, 0, flags, hStream, 1, 0, 1);
}

CUresult CUDAAPI cuMemDiscardAndPrefetchBatchAsync(CUdeviceptr *dptrs, size_t *sizes, size_t count,
						   CUmemLocation *prefetchLocs, size_t *prefetchLocIdxs,
						   size_t numPrefetchLocs, unsigned long long flags, CUstream hStream)
{
	return batch(dptrs, sizes, count, prefetchLocs, prefetchLocIdxs, numPrefetchLocs, flags, hStream, 1, 1, 0);
}

CUresult CUDAAPI cuMemDiscardAndPrefetchBatchAsync_ptsz(CUdeviceptr *dptrs, size_t *sizes, size_t count,
							CUmemLocation *prefetchLocs, size_t *prefetchLocIdxs,
							size_t numPrefetchLocs, unsigned long long flags, CUstream hStream)
{
	return batch(dptrs, sizes, count, prefetchLocs, prefetchLocIdxs, numPrefetchLocs, flags, hStream, 1, 1, 1);
}
