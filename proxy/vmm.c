/* SPDX-License-Identifier: MIT */
/* vmm.c — a zone's physical allocations and mapped ranges (see vmm.h for the contract). */
#include "vmm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zone.h"

void vgpu_vmm_init(struct vgpu_vmm *m)
{
	memset(m, 0, sizeof(*m));
	vgpu_allocmap_init(&m->ranges);
}

void vgpu_vmm_destroy(struct vgpu_vmm *m)
{
	free(m->v);
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

int vgpu_vmm_create_done(struct vgpu_zone *z, uint64_t handle, uint64_t size, int ok)
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
	m->v[m->n++] = (struct vgpu_vmm_phys){ .handle = handle, .size = size, .refs = 1 };
	m->bytes += size;
out:
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_vmm_map_check(struct vgpu_zone *z, uint64_t handle, uint64_t offset, uint64_t size)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	int ok = p && p->refs && size && offset <= p->size && size <= p->size - offset;
	pthread_mutex_unlock(&z->lock);
	return ok ? 0 : -EINVAL;
}

int vgpu_vmm_map_done(struct vgpu_zone *z, uint64_t ptr, uint64_t size, uint64_t handle)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_vmm_phys *p = phys_find(&z->vmm, handle);
	/* an ordinary allocation there would have made the driver refuse the map */
	int rc = p && vgpu_allocmap_check(&z->amap, ptr, 1, NULL) != 0 ?
		 vgpu_allocmap_add_owned(&z->vmm.ranges, ptr, size, (const void *)(uintptr_t)handle) : -EEXIST;
	if (rc == 0)
		p->maps++;
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
	vgpu_allocmap_remove(&z->vmm.ranges, base, &sz);
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
