/* SPDX-License-Identifier: MIT */
/* vmm.h — a zone's virtual memory management: its physical allocations (charged) and mapped ranges (checked). */
#ifndef VGPU_PROXY_VMM_H
#define VGPU_PROXY_VMM_H

#include <stdint.h>

#include "allocmap.h"

/*
 * cuMemCreate makes physical memory the zone is charged for at once (before the driver is
 * called); cuMemMap makes a range of the zone's own address reservation show it. Mapped
 * ranges go into their own map, next to the zone's allocations: copies and memsets may
 * touch them (vgpu_zone_dptr_check looks in both), frees may not (cuMemFree never names a
 * mapped range). The charge goes back when the handle is released and no range maps it any
 * more, as the driver frees the memory then.
 */
struct vgpu_vmm_phys {
	uint64_t handle;     /* the driver's CUmemGenericAllocationHandle */
	uint64_t id;         /* what the zone calls it: key ^ serial, never reused (a restore keeps it) */
	uint64_t size;
	uint32_t maps;       /* ranges mapping it */
	uint32_t refs;       /* cuMemCreate and each cuMemRetainAllocationHandle, less each cuMemRelease */
};

/* A mapped range's offset into its physical allocation (the driver has no query for it). */
struct vgpu_vmm_off { uint64_t ptr, off; };
/* An address range the zone reserved (cuMemAddressReserve), for checkpoints. */
struct vgpu_vmm_res { uint64_t base, size; };

struct vgpu_vmm {
	struct vgpu_vmm_phys *v;
	uint32_t n, cap;
	uint64_t bytes;                /* physical bytes charged to the zone's quota */
	struct vgpu_allocmap ranges;   /* mapped ranges; owner = the vgpu_vmm_phys's handle */
	struct vgpu_vmm_off *off;      /* each mapped range's offset, by its start */
	uint32_t noff, capoff;
	struct vgpu_vmm_res *res;      /* reservations */
	uint32_t nres, capres;
	int res_lost;                  /* one could not be noted (out of memory): no checkpoint */
	uint64_t key, serial;          /* ids: key ^ serial */
};

struct vgpu_zone;

/* key: random, from the caller (vgpu_zone_init), as vgpu_pinned_init's. */
void vgpu_vmm_init(struct vgpu_vmm *m, uint64_t key);
void vgpu_vmm_destroy(struct vgpu_vmm *m);

/* Charge size bytes for a cuMemCreate about to run: 0, or -ENOSPC over the quota. */
int vgpu_vmm_create_reserve(struct vgpu_zone *z, uint64_t size);
/* After the driver answered: record handle (ok; *id gets the zone's name for it, or with
 * *id non-zero on entry, a restore, that name and refs references) or give the charge back (!ok). */
int vgpu_vmm_create_done(struct vgpu_zone *z, uint64_t handle, uint64_t size, int ok, uint64_t *id, uint32_t refs);
/* The driver's handle of the zone's id (0, or -EINVAL when the zone has no such allocation),
 * and the zone's id of a driver handle (0 when none). */
int vgpu_vmm_handle_of(struct vgpu_zone *z, uint64_t id, uint64_t *handle /* out */);
uint64_t vgpu_vmm_id_of(struct vgpu_zone *z, uint64_t handle);
/* Reservations made (after a successful cuMemAddressReserve) and freed (cuMemAddressFree). */
void vgpu_vmm_reserved(struct vgpu_zone *z, uint64_t base, uint64_t size);
void vgpu_vmm_unreserved(struct vgpu_zone *z, uint64_t base, uint64_t size);
/* After a restore: allocations the zone had released but kept mapped (refs 0) give the
 * driver's reference back through rel; those not mapped at all go. */
void vgpu_vmm_restored(struct vgpu_zone *z, void (*rel)(uint64_t handle, void *ctx), void *ctx);
/* Sort the reservations by address (the zone is stopped). */
void vgpu_vmm_sort_res(struct vgpu_vmm *m);
/* Under the zone lock: the offset into its allocation of the mapped range starting at ptr. */
uint64_t vgpu_vmm_offset_of(const struct vgpu_vmm *m, uint64_t ptr);
/* Is [offset, offset+size) inside the zone's physical allocation handle? 0; -EINVAL for no such
 * handle or an empty range, -ERANGE for a range past its end. */
int vgpu_vmm_map_check(struct vgpu_zone *z, uint64_t handle, uint64_t offset, uint64_t size);
/* After a successful cuMemMap: [ptr, ptr+size) maps handle from offset. -EEXIST if it
 * overlaps a range (-ENOMEM: out of memory noting it). */
int vgpu_vmm_map_done(struct vgpu_zone *z, uint64_t ptr, uint64_t size, uint64_t handle, uint64_t offset);
/* Is [ptr, ptr+size) exactly a run of whole mapped ranges? 0, or -EINVAL. */
int vgpu_vmm_unmap_check(struct vgpu_zone *z, uint64_t ptr, uint64_t size);
/* After a successful cuMemUnmap of a range vgpu_vmm_unmap_check accepted. */
void vgpu_vmm_unmap_done(struct vgpu_zone *z, uint64_t ptr, uint64_t size);
/* cuMemRelease of handle: 0 when it is the zone's (and not released as often as it was taken), else -EINVAL. */
int vgpu_vmm_release_check(struct vgpu_zone *z, uint64_t handle);
void vgpu_vmm_release_done(struct vgpu_zone *z, uint64_t handle);
/*
 * Under the zone lock: is [p, p+len) inside mapped ranges that follow each other without a
 * gap (a buffer may span the granules a segment grew by)? 0, or -EFAULT. len 0: p inside one.
 */
int vgpu_vmm_covers(const struct vgpu_vmm *m, uint64_t p, uint64_t len);
/* The handle mapped at p (cuMemRetainAllocationHandle): 0, or -EINVAL when p is in no mapped range. */
int vgpu_vmm_handle_at(struct vgpu_zone *z, uint64_t p, uint64_t *handle /* out */);
/* After a successful retain of handle: one more release is owed. */
void vgpu_vmm_retain_done(struct vgpu_zone *z, uint64_t handle);
/* Is handle one of the zone's live physical allocations? 0, or -EINVAL. */
int vgpu_vmm_handle_check(struct vgpu_zone *z, uint64_t handle);
/* Does any mapped range of the zone overlap [ptr, ptr+size)? */
int vgpu_vmm_any_mapped(struct vgpu_zone *z, uint64_t ptr, uint64_t size);
/* Teardown: take any mapped range out (0, or -ENOENT when none), then each reference still held. */
int vgpu_vmm_pop_range(struct vgpu_zone *z, uint64_t *ptr /* out */, uint64_t *size /* out */);
int vgpu_vmm_pop_handle(struct vgpu_zone *z, uint64_t *handle /* out */);
/* Teardown, after the ranges: take an address reservation out (0, or -ENOENT when none). */
int vgpu_vmm_pop_reservation(struct vgpu_zone *z, uint64_t *base /* out */, uint64_t *size /* out */);

#endif
