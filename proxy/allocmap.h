/* SPDX-License-Identifier: MIT */
/* allocmap.h — a zone's device allocations (base, size) and the range check every copy goes through. */
#ifndef VGPU_PROXY_ALLOCMAP_H
#define VGPU_PROXY_ALLOCMAP_H

#include <stdint.h>

struct vgpu_alloc { uint64_t base, size; const void *owner; /* context it was made in, module of a global, or NULL */ };

/* Sorted by base, non-overlapping. Not thread-safe by itself (the zone locks). */
struct vgpu_allocmap {
	struct vgpu_alloc *v;
	uint32_t n, cap;
	uint64_t bytes;      /* sum of sizes */
	uint64_t gen;        /* changes with every change of the ranges (vgpu_table_gen_next); 0 when empty
	                      * since init: a reader that caches an answer keeps it while gen stays */
};

/* A value no table change had before: allocation maps and pinned tables take one at every change,
 * so equal generations mean the same contents. Never 0. */
uint64_t vgpu_table_gen_next(void);

void vgpu_allocmap_init(struct vgpu_allocmap *m);
void vgpu_allocmap_destroy(struct vgpu_allocmap *m);
/* Record [base, base+size). size 0 or a range that wraps past 2^64 -> -EINVAL; overlapping
 * an existing allocation -> -EEXIST; -ENOMEM. O(n) insert (memmove), O(log n) search. */
int vgpu_allocmap_add(struct vgpu_allocmap *m, uint64_t base, uint64_t size);
/* Same, remembering the context the allocation belongs to (vgpu_allocmap_purge). */
int vgpu_allocmap_add_owned(struct vgpu_allocmap *m, uint64_t base, uint64_t size, const void *owner);
/* Forget every allocation of owner (its context was destroyed, and the driver with it freed
 * them). Returns how many; *bytes (may be NULL) gets their total size. O(n). */
unsigned vgpu_allocmap_purge(struct vgpu_allocmap *m, const void *owner, uint64_t *bytes /* out */);
/* Forget every allocation that starts in [lo, lo+len). Same returns as purge. O(n). */
unsigned vgpu_allocmap_drop_range(struct vgpu_allocmap *m, uint64_t lo, uint64_t len, uint64_t *bytes /* out */);
/* Forget the allocation that starts exactly at base; *size (may be NULL) gets its size.
 * -ENOENT when no allocation starts there (a pointer into the middle is not a base). */
int vgpu_allocmap_remove(struct vgpu_allocmap *m, uint64_t base, uint64_t *size /* out */);
/*
 * Is [p, p+len) inside ONE allocation? 0 yes, -EFAULT no. Overflow-safe: p+len is never
 * computed, so a range wrapping past 2^64 is rejected. len 0 names no bytes, but p must
 * still lie inside an allocation (as the codec's dptr_check hook promises).
 * *base (may be NULL) gets the allocation's base on success. O(log n).
 */
int vgpu_allocmap_check(const struct vgpu_allocmap *m, uint64_t p, uint64_t len, uint64_t *base /* out */);
/*
 * Does [p, p+len) (len >= 1, not wrapping past 2^64) overlap any allocation? -EEXIST if so;
 * otherwise 0, and [*lo, *hi) is narrowed to exclude every allocation (the gap around the
 * range, as far as this map is concerned). O(log n).
 */
int vgpu_allocmap_gap(const struct vgpu_allocmap *m, uint64_t p, uint64_t len, uint64_t *lo, uint64_t *hi);
/* The allocation that starts exactly at base, or NULL. Valid until the map changes. */
const struct vgpu_alloc *vgpu_allocmap_at(const struct vgpu_allocmap *m, uint64_t base);
/* Give the allocation that starts exactly at base a new owner: 0, or -ENOENT. */
int vgpu_allocmap_set_owner(struct vgpu_allocmap *m, uint64_t base, const void *owner);
/* Take any allocation out (for cleanup): 0 with *a set, -ENOENT when empty. */
int vgpu_allocmap_pop(struct vgpu_allocmap *m, struct vgpu_alloc *a /* out */);

#endif
