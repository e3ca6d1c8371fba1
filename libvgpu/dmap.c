/* SPDX-License-Identifier: MIT */
/* dmap.c — the zone's own record of its device allocations, to tell device from host pointers locally. */
#include "client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Sorted array of [base, base+len) ranges. Only used to classify pointers for calls such as
 * cuMemcpy (unified addressing); the proxy enforces the real boundaries itself.
 */
struct drange {
	uint64_t base, len;
};

static struct {
	pthread_mutex_t lock;
	struct drange *r;
	size_t n, cap;
} dmap = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Index of the first range whose base is > p. */
static size_t dmap_upper(uint64_t p)
{
	size_t lo = 0, hi = dmap.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dmap.r[mid].base <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void vgpu_dmap_add(CUdeviceptr p, size_t len)
{
	size_t i;

	pthread_mutex_lock(&dmap.lock);
	if (dmap.n == dmap.cap) {
		size_t cap = dmap.cap ? dmap.cap * 2 : 64;
		struct drange *r = realloc(dmap.r, cap * sizeof(*r));
		if (!r) {
			/* Only classification is lost: such a pointer is then treated as a host pointer. */
			pthread_mutex_unlock(&dmap.lock);
			return;
		}
		dmap.r = r;
		dmap.cap = cap;
	}
	i = dmap_upper(p);
	memmove(&dmap.r[i + 1], &dmap.r[i], (dmap.n - i) * sizeof(*dmap.r));
	dmap.r[i] = (struct drange){ p, len ? len : 1 };
	dmap.n++;
	pthread_mutex_unlock(&dmap.lock);
}

void vgpu_dmap_del(CUdeviceptr p)
{
	size_t i;

	pthread_mutex_lock(&dmap.lock);
	i = dmap_upper(p);
	if (i > 0 && dmap.r[i - 1].base == p) {
		memmove(&dmap.r[i - 1], &dmap.r[i], (dmap.n - i) * sizeof(*dmap.r));
		dmap.n--;
	}
	pthread_mutex_unlock(&dmap.lock);
}

int vgpu_dmap_contains(CUdeviceptr p, size_t len)
{
	int hit = 0;
	size_t i;

	pthread_mutex_lock(&dmap.lock);
	i = dmap_upper(p);
	if (i > 0) {
		const struct drange *r = &dmap.r[i - 1];
		uint64_t off = p - r->base;
		hit = off < r->len && len <= r->len - off;
	}
	pthread_mutex_unlock(&dmap.lock);
	return hit;
}

int vgpu_dmap_find(CUdeviceptr p, uint64_t *base, uint64_t *len)
{
	int rc = -1;
	size_t i;

	pthread_mutex_lock(&dmap.lock);
	i = dmap_upper(p);
	if (i > 0 && p - dmap.r[i - 1].base < dmap.r[i - 1].len) {
		*base = dmap.r[i - 1].base;
		*len = dmap.r[i - 1].len;
		rc = 0;
	}
	pthread_mutex_unlock(&dmap.lock);
	return rc;
}
