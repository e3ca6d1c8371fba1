/* SPDX-License-Identifier: MIT */
/* zone.c — a zone's tables behind one lock, and the accounting that goes with them (see zone.h). */
#include "zone.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cuda.h>

#include "wire.h"

int vgpu_zone_init(struct vgpu_zone *z, uint32_t id, const char *name,
		   const struct vgpu_zone_limits *lim, struct vgpu_zone_stats *stats)
{
	int rc;

	memset(z, 0, sizeof(*z));
	z->id = id;
	snprintf(z->name, sizeof(z->name), "%s", name ? name : "");
	z->mem.limit = lim->mem_bytes;
	z->bulk_limit = lim->bulk_inflight;
	z->stats = stats ? stats : &z->own_stats;
	/*
	 * Handle ids on the wire are the table's ids XORed with a random per-zone key whose top
	 * bit is set: every zone's first context would otherwise be the same number, so a handle
	 * copied from another zone would silently name one of this zone's own objects instead of
	 * failing. With the key it fails (CUDA_ERROR_INVALID_HANDLE), and wire ids are never 0
	 * (NULL) nor the special stream values CU_STREAM_LEGACY (1) and CU_STREAM_PER_THREAD (2).
	 */
	/* The handle, physical-memory and pinned-region keys: drawn in one system call. */
	uint64_t key[3];
	if (getrandom(key, sizeof(key), 0) != sizeof(key)) {
		key[0] = (uint64_t)(uintptr_t)z ^ ((uint64_t)id << 40);
		key[1] = (uint64_t)(uintptr_t)&z->vmm;
		key[2] = (uint64_t)(uintptr_t)&z->pinned;
	}
	if ((rc = vgpu_htab_init(&z->htab, lim->handles)) < 0)
		return rc;
	vgpu_htab_set_key(&z->htab, key[0]);   /* low word's top bit set: ids are never 0, 1 or 2 */
	vgpu_allocmap_init(&z->amap);
	vgpu_vmm_init(&z->vmm, key[1]);
	vgpu_devva_init(&z->devva);
	if ((rc = vgpu_pinned_init(&z->pinned, lim->pinned_bytes, key[2])) < 0) {
		vgpu_htab_destroy(&z->htab);
		return rc;
	}
	if ((rc = -pthread_mutex_init(&z->lock, NULL)) < 0) {
		vgpu_pinned_fini(&z->pinned, &(struct vgpu_pinned_drv){ 0 });
		vgpu_htab_destroy(&z->htab);
		return rc;
	}
	pthread_mutex_init(&z->uobj_lock, NULL);
	vgpu_ipc_zone_init(&z->ipc);
	vgpu_green_zone_init(&z->green);
	return 0;
}

/* the host-function records of zones that made user objects (vgpu_zone_destroy) */
static struct vgpu_hostfn_zone *kept_for_destructors __attribute__((used));

void vgpu_zone_destroy(struct vgpu_zone *z)
{
	pthread_mutex_destroy(&z->lock);
	pthread_mutex_destroy(&z->uobj_lock);
	free(z->uobj);
	z->uobj = NULL;
	free(z->ugref);
	z->ugref = NULL;
	z->nugref = z->capugref = 0;
	vgpu_htab_destroy(&z->htab);
	vgpu_allocmap_destroy(&z->amap);
	vgpu_vmm_destroy(&z->vmm);
	vgpu_devva_destroy(&z->devva);
	/* the worker unmapped the regions after releasing the driver's objects (worker.c) */
	vgpu_pinned_fini(&z->pinned, &(struct vgpu_pinned_drv){ 0 });
	vgpu_ckpt_zone_fini(&z->ck);
	vgpu_tex_zone_fini(&z->tex);
	vgpu_link_zone_fini(&z->links);
	vgpu_ipc_zone_destroy(&z->ipc);
	vgpu_green_zone_fini(&z->green);
	/* the worker stopped every run first (vgpu_hostfn_kill) and its contexts are gone; a driver
	 * may still call a user object's destructor later, on a thread of its own, so a zone that
	 * made some keeps its records (the worker ends with the zone) */
	if (z->uobj_made)
		kept_for_destructors = z->hostfn;
	else
		vgpu_hostfn_zone_free(z->hostfn);
	z->hostfn = NULL;
}

static void pool_follow(struct vgpu_zone *z, enum vgpu_pool_res res, uint64_t now, uint64_t *charged);

static void stats_handles(struct vgpu_zone *z, unsigned htype)
{
	uint64_t n = vgpu_htab_count(&z->htab, VGPU_HTAB_MAX_TYPES);
	pool_follow(z, VGPU_POOL_HANDLES, n, &z->pool_handles);
	vgpu_stat_set(&z->stats->handles, n);
	if (htype < VGPU_STATS_HTYPES)
		vgpu_stat_set(&z->stats->handles_by_type[htype], vgpu_htab_count(&z->htab, htype));
}

/*
 * Bring this zone's charge of res in the registration's pool to now (under z->lock).
 * Growth here is what exists already (charged past the limit); reservations and new
 * handles are checked before they are made (vgpu_zone_mem_reserve, handle_new_owned).
 */
static void pool_follow(struct vgpu_zone *z, enum vgpu_pool_res res, uint64_t now, uint64_t *charged)
{
	if (!z->pool)
		return;
	if (now > *charged)
		vgpu_pool_charge(z->pool, z->pool_slot, res, now - *charged, 1);
	else if (now < *charged)
		vgpu_pool_uncharge(z->pool, z->pool_slot, res, *charged - now);
	*charged = now;
}

static void pool_sync(struct vgpu_zone *z)
{
	pool_follow(z, VGPU_POOL_MEM, z->mem.used, &z->pool_charged);
}

void vgpu_zone_set_pool(struct vgpu_zone *z, struct vgpu_pool *pool, int slot)
{
	pthread_mutex_lock(&z->lock);
	z->pool = pool;
	z->pool_slot = slot;
	z->pool_charged = 0;
	z->pool_handles = 0;
	pool_sync(z);
	pool_follow(z, VGPU_POOL_HANDLES, vgpu_htab_count(&z->htab, VGPU_HTAB_MAX_TYPES), &z->pool_handles);
	pthread_mutex_unlock(&z->lock);
}

static void stats_mem(struct vgpu_zone *z)
{
	pool_sync(z);
	uint64_t b = z->amap.bytes + z->vmm.bytes;
	vgpu_stat_set(&z->stats->mem_bytes, b);
	vgpu_stat_set(&z->stats->allocs, z->amap.n);
	if (b > vgpu_stat_get(&z->stats->mem_peak))
		vgpu_stat_set(&z->stats->mem_peak, b);
}

int vgpu_zone_handle_in(struct vgpu_zone *z, unsigned htype, uint64_t id, void **real)
{
	int rc;
	if (id == 0) {
		*real = NULL;
		return 0;
	}
	/* The driver's own special stream handles are names, not objects: they pass as they are. */
	if (htype == VGPU_H_STREAM && (id == (uintptr_t)CU_STREAM_LEGACY || id == (uintptr_t)CU_STREAM_PER_THREAD)) {
		*real = (void *)(uintptr_t)id;
		return 0;
	}
	pthread_mutex_lock(&z->lock);
	rc = vgpu_htab_lookup(&z->htab, htype, id, real);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_zone_handle_find(struct vgpu_zone *z, unsigned htype, const void *real, uint64_t *id)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_htab_find(&z->htab, htype, real, id);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_zone_slot(struct vgpu_zone *z, uint32_t i, unsigned *htype, void **real, const void **owner, uint64_t *id)
{
	uint32_t gen;
	pthread_mutex_lock(&z->lock);
	int rc = vgpu_htab_slot(&z->htab, i, htype, real, owner, &gen);
	if (rc == 1 && id)
		*id = vgpu_htab_id_of(&z->htab, i);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

const void *vgpu_zone_handle_owner(struct vgpu_zone *z, unsigned htype, const void *real)
{
	uint64_t id;
	unsigned t;
	void *r;
	const void *owner = NULL;
	uint32_t gen;
	pthread_mutex_lock(&z->lock);
	if (real && vgpu_htab_find(&z->htab, htype, real, &id) == 0 &&
	    vgpu_htab_slot(&z->htab, (uint32_t)(id ^ z->htab.key) - 1u, &t, &r, &owner, &gen) != 1)
		owner = NULL;
	pthread_mutex_unlock(&z->lock);
	return owner;
}

int vgpu_zone_handle_new(struct vgpu_zone *z, unsigned htype, void *real, uint64_t *id)
{
	return vgpu_zone_handle_new_owned(z, htype, real, NULL, id);
}

int vgpu_zone_handle_new_owned(struct vgpu_zone *z, unsigned htype, void *real, const void *owner, uint64_t *id)
{
	int rc;
	if (!real) {
		*id = 0;
		return 0;
	}
	if (htype == VGPU_H_STREAM && (real == (void *)CU_STREAM_LEGACY || real == (void *)CU_STREAM_PER_THREAD)) {
		*id = (uintptr_t)real;
		return 0;
	}
	pthread_mutex_lock(&z->lock);
	/* The registration's budget first: one more handle, taken back by the sync below when
	 * the object was known already or the insert failed. */
	if (z->pool && (rc = vgpu_pool_charge(z->pool, z->pool_slot, VGPU_POOL_HANDLES, 1, 0)) < 0) {
		pthread_mutex_unlock(&z->lock);
		return rc;
	}
	if (z->pool)
		z->pool_handles++;
	rc = vgpu_htab_insert_owned(&z->htab, htype, real, owner, id, NULL);
	if (rc == 0)
		stats_handles(z, htype);
	else
		pool_follow(z, VGPU_POOL_HANDLES, vgpu_htab_count(&z->htab, VGPU_HTAB_MAX_TYPES), &z->pool_handles);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

void vgpu_zone_handle_drop(struct vgpu_zone *z, unsigned htype, uint64_t id)
{
	pthread_mutex_lock(&z->lock);
	if (id && vgpu_htab_remove(&z->htab, htype, id, NULL) == 0)
		stats_handles(z, htype);
	pthread_mutex_unlock(&z->lock);
}

void vgpu_zone_mem_changed(struct vgpu_zone *z)
{
	stats_mem(z);
}

int vgpu_zone_dptr_check(struct vgpu_zone *z, uint64_t p, uint64_t len)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_allocmap_check(&z->amap, p, len, NULL);
	if (rc != 0)   /* or inside ranges mapped by virtual memory management */
		rc = vgpu_vmm_covers(&z->vmm, p, len);
	pthread_mutex_unlock(&z->lock);
	if (rc != 0)   /* or inside a pinned region its kernels reach (mapped, managed memory) */
		rc = vgpu_pinned_covers(&z->pinned, p, len);
	if (rc != 0 && __atomic_load_n(&z->ipc.nimp, __ATOMIC_RELAXED))   /* or memory another zone of its registration exported to it */
		rc = vgpu_ipc_covers(&z->ipc, p, len);
	return rc;
}

int vgpu_zone_dptr_add(struct vgpu_zone *z, uint64_t p, uint64_t len, uint64_t *reserved)
{
	return vgpu_zone_dptr_add_owned(z, p, len, NULL, reserved);
}

int vgpu_zone_dptr_add_owned(struct vgpu_zone *z, uint64_t p, uint64_t len, const void *owner, uint64_t *reserved)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_allocmap_add_owned(&z->amap, p, len, owner);
	if (rc == -EEXIST) {
		const struct vgpu_alloc *a = vgpu_allocmap_at(&z->amap, p);
		if (a && a->size == len && a->owner == owner)
			rc = 1;   /* this very range of this owner: recorded (and charged) before */
	}
	if (rc == 0) {
		uint64_t from_res = 0;
		if (reserved) {
			from_res = *reserved < len ? *reserved : len;
			*reserved -= from_res;
		}
		/* The rest is charged unconditionally (see zone.h); saturate instead of wrapping. */
		uint64_t rest = len - from_res;
		z->mem.used = rest > UINT64_MAX - z->mem.used ? UINT64_MAX : z->mem.used + rest;
		stats_mem(z);
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_zone_dptr_remove(struct vgpu_zone *z, uint64_t p)
{
	uint64_t size;
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_allocmap_remove(&z->amap, p, &size);
	if (rc == 0) {
		z->mem.used -= size <= z->mem.used ? size : z->mem.used;
		stats_mem(z);
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_room_for_one(void *arr, uint32_t *cap, uint32_t n, size_t elem, uint32_t first)
{
	void *old;
	if (n < *cap)
		return 0;
	memcpy(&old, arr, sizeof(old));   /* arr: the address of a typed pointer */
	uint32_t ncap = *cap ? *cap * 2 : first;
	void *g = realloc(old, (size_t)ncap * elem);
	if (!g)
		return -1;
	memcpy(arr, &g, sizeof(g));
	*cap = ncap;
	return 0;
}

int vgpu_zone_alloc_of_graph(struct vgpu_zone *z, uint64_t base)
{
	uint64_t id;
	int of_graph = 0;
	pthread_mutex_lock(&z->lock);
	const struct vgpu_alloc *a = vgpu_allocmap_at(&z->amap, base);
	if (a && a->owner) {
		/* one of the zone's graphs, or one still being captured (no handle yet), or the
		 * executable graph that took them over when the graph went (vgpu_zone_reown) */
		of_graph = vgpu_htab_find(&z->htab, VGPU_H_GRAPH, a->owner, &id) == 0 ||
			   vgpu_htab_find(&z->htab, VGPU_H_GRAPH_EXEC, a->owner, &id) == 0;
		for (uint32_t i = 0; i < z->ncapture_graph && !of_graph; i++)
			of_graph = z->capture_graph[i] == a->owner;
	}
	pthread_mutex_unlock(&z->lock);
	return of_graph;
}

int vgpu_zone_mem_reserve(struct vgpu_zone *z, uint64_t n)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_quota_reserve(&z->mem, n);
	if (rc == 0 && z->pool) {
		rc = vgpu_pool_charge(z->pool, z->pool_slot, VGPU_POOL_MEM, n, 0);
		if (rc == 0)
			z->pool_charged += n;
		else
			vgpu_quota_release(&z->mem, n);
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

uint64_t vgpu_zone_limits_charged(const struct vgpu_zone *z)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < z->nlimit_charge; i++)
		n += z->limit_charge[i].bytes;
	return n;
}

uint64_t vgpu_zone_limits_drop(struct vgpu_zone *z)
{
	pthread_mutex_lock(&z->lock);
	uint64_t n = vgpu_zone_limits_charged(z);
	z->nlimit_charge = 0;
	pthread_mutex_unlock(&z->lock);
	if (n)
		vgpu_zone_mem_release(z, n);
	return n;
}

void vgpu_zone_mem_release(struct vgpu_zone *z, uint64_t n)
{
	pthread_mutex_lock(&z->lock);
	vgpu_quota_release(&z->mem, n);
	pool_sync(z);
	pthread_mutex_unlock(&z->lock);
}

int vgpu_zone_bulk_reserve(struct vgpu_zone *z, uint64_t n)
{
	return vgpu_quota_reserve_atomic(&z->bulk_used, z->bulk_limit, n);
}

void vgpu_zone_bulk_release(struct vgpu_zone *z, uint64_t n)
{
	vgpu_quota_release_atomic(&z->bulk_used, n);
}

int vgpu_zone_pop_handle(struct vgpu_zone *z, unsigned htype, void **real)
{
	uint64_t id;
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_htab_pop(&z->htab, htype, &id, real);
	if (rc == 0)
		stats_handles(z, htype);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_zone_pop_alloc(struct vgpu_zone *z, struct vgpu_alloc *a)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_allocmap_pop(&z->amap, a);
	if (rc == 0) {
		z->mem.used -= a->size <= z->mem.used ? a->size : z->mem.used;
		stats_mem(z);
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

unsigned vgpu_zone_drop_range(struct vgpu_zone *z, uint64_t lo, uint64_t len, uint64_t *bytes)
{
	pthread_mutex_lock(&z->lock);
	unsigned n = vgpu_allocmap_drop_range(&z->amap, lo, len, bytes);
	z->mem.used -= *bytes <= z->mem.used ? *bytes : z->mem.used;
	stats_mem(z);
	pthread_mutex_unlock(&z->lock);
	return n;
}

int vgpu_zone_handle_detach(struct vgpu_zone *z, unsigned htype, void *real, uint64_t *id)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_htab_detach(&z->htab, htype, real, id);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

void vgpu_zone_handle_reattach(struct vgpu_zone *z, unsigned htype, uint64_t id)
{
	pthread_mutex_lock(&z->lock);
	int rc = vgpu_htab_reattach(&z->htab, htype, id);
	pthread_mutex_unlock(&z->lock);
	assert(rc == 0);
	(void)rc;
}

int vgpu_zone_alloc_detach(struct vgpu_zone *z, uint64_t p, uint64_t *size)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_allocmap_remove(&z->amap, p, size);
	if (rc == 0) {
		z->mem.used -= *size <= z->mem.used ? *size : z->mem.used;
		stats_mem(z);
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

void vgpu_zone_alloc_reattach(struct vgpu_zone *z, uint64_t p, uint64_t size)
{
	uint64_t none = 0;
	/* Cannot overlap: the range stayed allocated in the driver, so it was never handed out. */
	int rc = vgpu_zone_dptr_add(z, p, size, &none);
	assert(rc == 0);
	(void)rc;
}

int vgpu_zone_handle_take(struct vgpu_zone *z, unsigned htype, uint64_t id, void **real)
{
	int rc;
	pthread_mutex_lock(&z->lock);
	rc = vgpu_htab_remove(&z->htab, htype, id, real);
	if (rc == 0)
		stats_handles(z, htype);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

unsigned vgpu_zone_reown(struct vgpu_zone *z, const void *from, const void *to)
{
	unsigned n = 0;
	if (!from)
		return 0;
	pthread_mutex_lock(&z->lock);
	for (uint32_t a = 0; a < z->amap.n; a++)
		if (z->amap.v[a].owner == from) {
			z->amap.v[a].owner = to;
			n++;
		}
	pthread_mutex_unlock(&z->lock);
	return n;
}

int vgpu_zone_ordered_dev(const struct vgpu_zone *z, const void *owner)
{
	const char *o = owner;
	return o >= z->ordered && o < z->ordered + VGPU_ZONE_MAX_DEVICES ? (int)(o - z->ordered) : -1;
}

void vgpu_zone_purge_owner(struct vgpu_zone *z, const void *owner, unsigned *handles, unsigned *allocs,
			   uint64_t *bytes)
{
	uint64_t b = 0;
	unsigned h, a;
	pthread_mutex_lock(&z->lock);
	h = vgpu_htab_purge(&z->htab, owner);
	a = vgpu_allocmap_purge(&z->amap, owner, &b);
	/* a context's stack, heap and printf buffer go with it: their charges too */
	for (uint32_t i = 0; owner && i < z->nlimit_charge;)
		if (z->limit_charge[i].ctx == owner) {
			b += z->limit_charge[i].bytes;
			z->limit_charge[i] = z->limit_charge[--z->nlimit_charge];
		} else {
			i++;
		}
	z->mem.used -= b <= z->mem.used ? b : z->mem.used;
	for (unsigned t = 0; t < VGPU_STATS_HTYPES; t++)
		stats_handles(z, t);
	stats_mem(z);
	pthread_mutex_unlock(&z->lock);
	if (handles)
		*handles = h;
	if (allocs)
		*allocs = a;
	if (bytes)
		*bytes = b;
}

int vgpu_zone_primary_idle(const struct vgpu_zone *z, CUresult (*get_state)(CUdevice, unsigned int *, int *),
			   const void *ctx, CUdevice *dev, unsigned *flags)
{
	for (int d = 0; d < VGPU_ZONE_MAX_DEVICES; d++) {
		int active = 1;
		if (!ctx || z->primary[d] != ctx)
			continue;
		unsigned fl;
		if (!get_state || get_state(d, flags ? flags : &fl, &active) != CUDA_SUCCESS)
			return -1;
		if (dev)
			*dev = d;
		return !active;
	}
	return 0;
}

void vgpu_zone_tables_restored(struct vgpu_zone *z)
{
	pthread_mutex_lock(&z->lock);
	for (unsigned t = 0; t < VGPU_H_COUNT; t++)
		stats_handles(z, t);
	vgpu_zone_mem_changed(z);
	pthread_mutex_unlock(&z->lock);
}
