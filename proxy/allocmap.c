/* SPDX-License-Identifier: MIT */
/* allocmap.c — sorted array of a zone's device allocations (see allocmap.h). */
#include "allocmap.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

uint64_t vgpu_table_gen_next(void)
{
	static _Atomic uint64_t last;
	return atomic_fetch_add(&last, 1) + 1;
}

static void changed(struct vgpu_allocmap *m)
{
	__atomic_store_n(&m->gen, vgpu_table_gen_next(), __ATOMIC_RELEASE);
}

void vgpu_allocmap_init(struct vgpu_allocmap *m)
{
	memset(m, 0, sizeof(*m));
}

void vgpu_allocmap_destroy(struct vgpu_allocmap *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* Number of allocations whose base is <= p (so v[result-1] is the candidate container). */
static uint32_t upper_bound(const struct vgpu_allocmap *m, uint64_t p)
{
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].base <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int vgpu_allocmap_add(struct vgpu_allocmap *m, uint64_t base, uint64_t size)
{
	return vgpu_allocmap_add_owned(m, base, size, NULL);
}

int vgpu_allocmap_add_owned(struct vgpu_allocmap *m, uint64_t base, uint64_t size, const void *owner)
{
	if (size == 0 || base > UINT64_MAX - size + 1)  /* last byte base+size-1 must not wrap */
		return -EINVAL;
	uint32_t i = upper_bound(m, base);
	/* Previous allocation must end at or before base; the next must start after our end. */
	if (i > 0 && base - m->v[i - 1].base < m->v[i - 1].size)
		return -EEXIST;
	if (i < m->n && m->v[i].base - base < size)
		return -EEXIST;
	if (m->n == m->cap) {
		uint32_t ncap = m->cap ? m->cap * 2 : 16;
		if (ncap < m->cap)
			return -ENOMEM;
		struct vgpu_alloc *nv = realloc(m->v, (size_t)ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		m->v = nv;
		m->cap = ncap;
	}
	memmove(&m->v[i + 1], &m->v[i], (size_t)(m->n - i) * sizeof(*m->v));
	m->v[i] = (struct vgpu_alloc){ base, size, owner };
	m->n++;
	m->bytes += size;
	changed(m);
	return 0;
}

/* Index of the allocation that starts exactly at base, or UINT32_MAX. */
static uint32_t index_at(const struct vgpu_allocmap *m, uint64_t base)
{
	uint32_t i = upper_bound(m, base);
	return i > 0 && m->v[i - 1].base == base ? i - 1 : UINT32_MAX;
}

const struct vgpu_alloc *vgpu_allocmap_at(const struct vgpu_allocmap *m, uint64_t base)
{
	uint32_t i = index_at(m, base);
	return i == UINT32_MAX ? NULL : &m->v[i];
}

int vgpu_allocmap_set_owner(struct vgpu_allocmap *m, uint64_t base, const void *owner)
{
	uint32_t i = index_at(m, base);
	if (i == UINT32_MAX)
		return -ENOENT;
	m->v[i].owner = owner;
	return 0;
}

int vgpu_allocmap_remove(struct vgpu_allocmap *m, uint64_t base, uint64_t *size)
{
	uint32_t i = index_at(m, base);
	if (i == UINT32_MAX)
		return -ENOENT;
	if (size)
		*size = m->v[i].size;
	assert(m->bytes >= m->v[i].size);
	m->bytes -= m->v[i].size;
	memmove(&m->v[i], &m->v[i + 1], (size_t)(m->n - i - 1) * sizeof(*m->v));
	m->n--;
	changed(m);
	return 0;
}

int vgpu_allocmap_check(const struct vgpu_allocmap *m, uint64_t p, uint64_t len, uint64_t *base)
{
	uint32_t i = upper_bound(m, p);
	if (i == 0)
		return -EFAULT;
	const struct vgpu_alloc *a = &m->v[i - 1];
	uint64_t off = p - a->base;           /* no wrap: a->base <= p */
	if (off >= a->size)                   /* p past the end (len 0 included) */
		return -EFAULT;
	if (len > a->size - off)              /* no wrap: off <= size */
		return -EFAULT;
	if (base)
		*base = a->base;
	return 0;
}

int vgpu_allocmap_gap(const struct vgpu_allocmap *m, uint64_t p, uint64_t len, uint64_t *lo, uint64_t *hi)
{
	uint64_t last = p + len - 1;
	uint32_t i = upper_bound(m, last);   /* v[i-1]: the last allocation starting at or before last */
	if (i > 0) {
		const struct vgpu_alloc *a = &m->v[i - 1];
		if (a->base >= p || p - a->base < a->size)
			return -EEXIST;                 /* starts inside the range, or holds p */
		if (a->base + a->size > *lo)        /* ends at or before p: no wrap */
			*lo = a->base + a->size;
	}
	if (i < m->n && m->v[i].base < *hi)
		*hi = m->v[i].base;
	return 0;
}

int vgpu_allocmap_pop(struct vgpu_allocmap *m, struct vgpu_alloc *a)
{
	if (m->n == 0)
		return -ENOENT;
	*a = m->v[--m->n];
	m->bytes -= a->size;
	changed(m);
	return 0;
}

/* Forget the allocations owner has (owner non-NULL) or that start in [lo, lo+len). */
static unsigned drop(struct vgpu_allocmap *m, const void *owner, uint64_t lo, uint64_t len, uint64_t *bytes)
{
	uint32_t w = 0;
	unsigned n = 0;
	uint64_t sum = 0;
	for (uint32_t r = 0; r < m->n; r++) {
		if (owner ? m->v[r].owner == owner : m->v[r].base >= lo && m->v[r].base - lo < len) {
			n++;
			sum += m->v[r].size;
			continue;
		}
		m->v[w++] = m->v[r];   /* order (by base) is kept */
	}
	m->n = w;
	if (n)
		changed(m);
	assert(m->bytes >= sum);
	m->bytes -= sum;
	if (bytes)
		*bytes = sum;
	return n;
}

unsigned vgpu_allocmap_purge(struct vgpu_allocmap *m, const void *owner, uint64_t *bytes)
{
	if (!owner) {
		if (bytes)
			*bytes = 0;
		return 0;
	}
	return drop(m, owner, 0, 0, bytes);
}

unsigned vgpu_allocmap_drop_range(struct vgpu_allocmap *m, uint64_t lo, uint64_t len, uint64_t *bytes)
{
	return drop(m, NULL, lo, len, bytes);
}
