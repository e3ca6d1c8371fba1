/* SPDX-License-Identifier: MIT */
/* heap.c — the device heap behind kernels' malloc and free (see sim.h). */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_ALIGN 16u

struct sim_heap {
	pthread_mutex_t lock;
	uint64_t base, size;
	struct { uint64_t off, len; } *used;   /* ascending by offset */
	uint32_t n, cap;
};

static struct sim_heap *heap_get(struct sim_ctx *c, unsigned space)
{
	pthread_mutex_lock(&g_lock);
	struct sim_heap *h = c->heap;
	if (!h && (h = calloc(1, sizeof(*h)))) {
		uint64_t base = 0;
		unsigned saved = sim_space;
		sim_space = space;   /* the heap is the launcher's memory */
		int rc = sim_mem_alloc(c, c->dev, c->limits[CU_LIMIT_MALLOC_HEAP_SIZE], &base);
		sim_space = saved;
		if (rc) {
			free(h);
			h = NULL;
		} else {
			pthread_mutex_init(&h->lock, NULL);
			h->base = base;
			h->size = c->limits[CU_LIMIT_MALLOC_HEAP_SIZE];
			c->heap = h;
		}
	}
	pthread_mutex_unlock(&g_lock);
	return h;
}

uint64_t sim_heap_malloc(void *ctx, unsigned space, uint64_t size)
{
	struct sim_heap *h = size ? heap_get(ctx, space) : NULL;
	if (!h || size > h->size)
		return 0;
	uint64_t len = (size + HEAP_ALIGN - 1) & ~(uint64_t)(HEAP_ALIGN - 1), at = 0, p = 0;
	pthread_mutex_lock(&h->lock);
	uint32_t i = 0;
	for (; i <= h->n; i++) {   /* first fit: the gap before block i (or after the last) */
		uint64_t end = i < h->n ? h->used[i].off : h->size;
		if (end >= at && end - at >= len)
			break;
		if (i < h->n)
			at = h->used[i].off + h->used[i].len;
	}
	if (i <= h->n) {
		if (h->n == h->cap) {
			uint32_t nc = h->cap ? 2 * h->cap : 64;
			void *nu = realloc(h->used, nc * sizeof(*h->used));
			if (!nu)
				goto out;
			h->used = nu;
			h->cap = nc;
		}
		memmove(&h->used[i + 1], &h->used[i], (h->n - i) * sizeof(*h->used));
		h->used[i].off = at;
		h->used[i].len = len;
		h->n++;
		p = h->base + at;
	}
out:
	pthread_mutex_unlock(&h->lock);
	return p;
}

int sim_heap_free(void *ctx, uint64_t p)
{
	struct sim_ctx *c = ctx;
	if (!p)
		return 0;    /* free(NULL) */
	pthread_mutex_lock(&g_lock);
	struct sim_heap *h = c->heap;
	pthread_mutex_unlock(&g_lock);
	if (!h || p < h->base || p - h->base >= h->size)
		return -EINVAL;
	uint64_t off = p - h->base;
	int rc = -EINVAL;
	pthread_mutex_lock(&h->lock);
	uint32_t lo = 0, hi = h->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (h->used[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->n && h->used[lo].off == off) {
		memmove(&h->used[lo], &h->used[lo + 1], (h->n - lo - 1) * sizeof(*h->used));
		h->n--;
		rc = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void sim_heap_destroy(struct sim_ctx *c)
{
	struct sim_heap *h = c->heap;
	if (!h)
		return;
	c->heap = NULL;
	sim_mem_free(h->base, ALLOC_DEVICE);
	pthread_mutex_destroy(&h->lock);
	free(h->used);
	free(h);
}
