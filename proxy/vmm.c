/* SPDX-License-Identifier: MIT */
/* vmm.c — a zone's physical allocations and mapped ranges (see vmm.h for the contract). */
#include "vmm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zone.h"

void vgpu_vmm_init(struct vgpu_vmm *m, uint64_t key)
{
	memset(m, 0, sizeof(*m));
	vgpu_allocmap_init(&m->ranges);
	m->key = (key | 1ull << 63) & ~0xffffffffull;   /* ids never 0; serials in the low half */
}

void vgpu_vmm_destroy(struct vgpu_vmm *m)
{
	free(m->v);
	free(m->off);
	free(m->res);
	vgpu_allocmap_destroy(&m->ranges);
	memset(m, 0, sizeof(*m));
}

/* Under the zone lock. */
static struct vgpu_vmm_phys *phys_find(struct vgpu_vmm *m, uint64_t handle)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->v[i].handle == handle)
			return &m->v[i];
	return NULL;
}

/* Under the zone lock: the handle's memory is gone (released, unmapped): uncharge, forget. */
static void phys_drop(struct vgpu_zone *z, struct vgpu_vmm_phys *p)
{
	struct vgpu_vmm *m = &z->vmm;
	m->bytes -= p->size;
	vgpu_quota_release(&z->mem, p->size);
	*p = m->v[--m->n];
}

int vgpu_vmm_create_reserve(struct vgpu_zone *z, uint64_t size)
{
	return vgpu_zone_mem_reserve(z, size) < 0 ? -ENOSPC : 0;
}

/* Room for one more of the n elements of *arr (elem bytes each); -1 when out of memory. */
static int grow(void *arr, uint32_t *cap, uint32_t n, size_t elem)
{
	void *old;
	if (n < *cap)
		return 0;
	memcpy(&old, arr, sizeof(old));
	uint32_t nc = *cap ? *cap * 2 : 8;
	void *nv = realloc(old, (size_t)nc * elem);
	if (!nv)
		return -1;
	memcpy(arr, &nv, sizeof(nv));
	*cap = nc;
	return 0;
}

static struct vgpu_vmm_phys *phys_by_id(struct vgpu_vmm *m, uint64_t id)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}

int vgpu_vmm_handle_of(struct vgpu_zone *z, uint64_t id, uint64_t *handle)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = id ? phys_by_id(&z->vmm, id) : NULL;
	if (p)
		*handle = p->handle;
	pthread_mutex_unlock(&z->lock);
	return p ? 0 : -EINVAL;
}

uint64_t vgpu_vmm_id_of(struct vgpu_zone *z, uint64_t handle)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	uint64_t id = p ? p->id : 0;
	pthread_mutex_unlock(&z->lock);
	return id;
}

void vgpu_vmm_reserved(struct vgpu_zone *z, uint64_t base, uint64_t size)
{
	struct vgpu_vmm *m = &z->vmm;
	pthread_mutex_lock(&z->lock);
	if (grow(&m->res, &m->capres, m->nres, sizeof(*m->res)) == 0)
		m->res[m->nres++] = (struct vgpu_vmm_res){ base, size };
	else
		m->res_lost = 1;
	pthread_mutex_unlock(&z->lock);
}

void vgpu_vmm_unreserved(struct vgpu_zone *z, uint64_t base, uint64_t size)
{
	struct vgpu_vmm *m = &z->vmm;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < m->nres; i++)
		if (m->res[i].base == base && m->res[i].size == size) {
			m->res[i] = m->res[--m->nres];
			break;
		}
	pthread_mutex_unlock(&z->lock);
}

void vgpu_vmm_restored(struct vgpu_zone *z, void (*rel)(uint64_t handle, void *ctx), void *ctx)
{
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < z->vmm.n;) {
		struct vgpu_vmm_phys *p = &z->vmm.v[i];
		if (p->refs) {
			i++;
			continue;
		}
		rel(p->handle, ctx);
		if (p->maps)
			i++;
		else
			phys_drop(z, p);   /* moves the last one here */
	}
	vgpu_zone_mem_changed(z);
	pthread_mutex_unlock(&z->lock);
}

static int res_cmp(const void *a, const void *b)
{
	const struct vgpu_vmm_res *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

void vgpu_vmm_sort_res(struct vgpu_vmm *m)
{
	if (m->nres > 1)
		qsort(m->res, m->nres, sizeof(*m->res), res_cmp);
}

uint64_t vgpu_vmm_offset_of(const struct vgpu_vmm *m, uint64_t ptr)
{
	for (uint32_t i = 0; i < m->noff; i++)
		if (m->off[i].ptr == ptr)
			return m->off[i].off;
	return 0;
}

int vgpu_vmm_create_done(struct vgpu_zone *z, uint64_t handle, uint64_t size, int ok, uint64_t *id, uint32_t refs)
{
	struct vgpu_vmm *m = &z->vmm;
	int rc = 0;

	if (!ok) {
		vgpu_zone_mem_release(z, size);
		return 0;
	}
	pthread_mutex_lock(&z->lock);
	if (m->n == m->cap) {
		uint32_t nc = m->cap ? m->cap * 2 : 8;
		void *nv = realloc(m->v, nc * sizeof(*m->v));
		if (!nv) {
			rc = -ENOMEM;
			goto out;
		}
		m->v = nv;
		m->cap = nc;
	}
	if (*id) {   /* a restore: the zone's name for it stays, later ones follow it */
		if ((*id ^ m->key) > m->serial)
			m->serial = *id ^ m->key;
	} else {
		*id = m->key ^ ++m->serial;
		refs = 1;
	}
	m->v[m->n++] = (struct vgpu_vmm_phys){ .handle = handle, .id = *id, .size = size, .refs = refs };
	m->bytes += size;
out:
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_vmm_map_check(struct vgpu_zone *z, uint64_t handle, uint64_t offset, uint64_t size)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	int rc = !p || !p->refs || !size ? -EINVAL : offset > p->size || size > p->size - offset ? -ERANGE : 0;
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_vmm_map_done(struct vgpu_zone *z, uint64_t ptr, uint64_t size, uint64_t handle, uint64_t offset)
{
	struct vgpu_vmm *m = &z->vmm;
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(m, handle);
	/* an ordinary allocation there would have made the driver refuse the map */
	int rc = grow(&m->off, &m->capoff, m->noff, sizeof(*m->off)) < 0 ? -ENOMEM :
		 p && vgpu_allocmap_check(&z->amap, ptr, 1, NULL) != 0 ?
		 vgpu_allocmap_add_owned(&m->ranges, ptr, size, (const void *)(uintptr_t)handle) : -EEXIST;
	if (rc == 0) {
		p->maps++;
		m->off[m->noff++] = (struct vgpu_vmm_off){ ptr, offset };
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

/* Under the zone lock: the mapped range starting exactly at p, or NULL. */
static const struct vgpu_alloc *range_at(const struct vgpu_allocmap *r, uint64_t p)
{
	uint64_t base;
	if (vgpu_allocmap_check(r, p, 1, &base) != 0 || base != p)
		return NULL;
	for (uint32_t i = 0; i < r->n; i++)
		if (r->v[i].base == p)
			return &r->v[i];
	return NULL;
}

int vgpu_vmm_unmap_check(struct vgpu_zone *z, uint64_t ptr, uint64_t size)
{
	int rc = -EINVAL;
	pthread_mutex_lock(&z->lock);
	uint64_t p = ptr, left = size;
	while (left) {
		const struct vgpu_alloc *a = range_at(&z->vmm.ranges, p);
		if (!a || a->size > left)
			break;
		left -= a->size;
		p += a->size;
		if (!left)
			rc = 0;
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

/* Under the zone lock: one range out; its handle loses a mapping (and its memory, if released). */
static void range_drop(struct vgpu_zone *z, uint64_t base, const void *owner)
{
	uint64_t sz;
	struct vgpu_vmm *m = &z->vmm;
	vgpu_allocmap_remove(&m->ranges, base, &sz);
	for (uint32_t i = 0; i < m->noff; i++)
		if (m->off[i].ptr == base) {
			m->off[i] = m->off[--m->noff];
			break;
		}
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, (uint64_t)(uintptr_t)owner);
	if (p && p->maps && --p->maps == 0 && !p->refs)
		phys_drop(z, p);
}

void vgpu_vmm_unmap_done(struct vgpu_zone *z, uint64_t ptr, uint64_t size)
{
	pthread_mutex_lock(&z->lock);
	uint64_t p = ptr, left = size;
	while (left) {
		const struct vgpu_alloc *a = range_at(&z->vmm.ranges, p);
		if (!a)
			break;
		uint64_t sz = a->size;
		range_drop(z, p, a->owner);
		left -= sz < left ? sz : left;
		p += sz;
	}
	vgpu_zone_mem_changed(z);
	pthread_mutex_unlock(&z->lock);
}

int vgpu_vmm_release_check(struct vgpu_zone *z, uint64_t handle)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	int rc = p && p->refs ? 0 : -EINVAL;
	pthread_mutex_unlock(&z->lock);
	return rc;
}

void vgpu_vmm_release_done(struct vgpu_zone *z, uint64_t handle)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	if (p && p->refs && --p->refs == 0 && !p->maps)
		phys_drop(z, p);
	vgpu_zone_mem_changed(z);
	pthread_mutex_unlock(&z->lock);
}

int vgpu_vmm_pop_range(struct vgpu_zone *z, uint64_t *ptr, uint64_t *size)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&z->lock);
	if (z->vmm.ranges.n) {
		const struct vgpu_alloc *a = &z->vmm.ranges.v[z->vmm.ranges.n - 1];
		*ptr = a->base;
		*size = a->size;
		range_drop(z, a->base, a->owner);
		rc = 0;
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_vmm_pop_handle(struct vgpu_zone *z, uint64_t *handle)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < z->vmm.n; i++)
		if (z->vmm.v[i].refs) {
			*handle = z->vmm.v[i].handle;
			if (--z->vmm.v[i].refs == 0 && !z->vmm.v[i].maps)
				phys_drop(z, &z->vmm.v[i]);
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_vmm_covers(const struct vgpu_vmm *m, uint64_t p, uint64_t len)
{
	uint64_t base;

	/* the first range holds p; each next one starts where the one before ends */
	while (vgpu_allocmap_check(&m->ranges, p, 0, &base) == 0) {
		uint64_t end_off = 0;
		for (uint32_t i = 0; i < m->ranges.n; i++)
			if (m->ranges.v[i].base == base) {
				end_off = m->ranges.v[i].size - (p - base);
				break;
			}
		if (len <= end_off)
			return 0;
		len -= end_off;
		p += end_off;
	}
	return -EFAULT;
}

int vgpu_vmm_any_mapped(struct vgpu_zone *z, uint64_t ptr, uint64_t size)
{
	int hit = 0;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < z->vmm.ranges.n && !hit; i++) {
		const struct vgpu_alloc *a = &z->vmm.ranges.v[i];
		hit = a->base - ptr < size || ptr - a->base < a->size;
	}
	pthread_mutex_unlock(&z->lock);
	return hit;
}

int vgpu_vmm_handle_at(struct vgpu_zone *z, uint64_t p, uint64_t *handle)
{
	uint64_t base;
	int rc = -EINVAL;
	pthread_mutex_lock(&z->lock);
	if (vgpu_allocmap_check(&z->vmm.ranges, p, 0, &base) == 0) {
		const struct vgpu_alloc *a = range_at(&z->vmm.ranges, base);
		if (a) {
			*handle = (uint64_t)(uintptr_t)a->owner;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

void vgpu_vmm_retain_done(struct vgpu_zone *z, uint64_t handle)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	if (p)
		p->refs++;
	pthread_mutex_unlock(&z->lock);
}

int vgpu_vmm_handle_check(struct vgpu_zone *z, uint64_t handle)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	int rc = p && p->refs ? 0 : -EINVAL;
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_vmm_pop_reservation(struct vgpu_zone *z, uint64_t *base, uint64_t *size)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&z->lock);
	if (z->vmm.nres) {
		const struct vgpu_vmm_res *r = &z->vmm.res[--z->vmm.nres];
		*base = r->base;
		*size = r->size;
		rc = 0;
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}
