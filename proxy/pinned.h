/* SPDX-License-Identifier: MIT */
/* pinned.h — a zone's pinned host memory: regions the zone shares with its worker, for copies without the ring. */
#ifndef VGPU_PROXY_PINNED_H
#define VGPU_PROXY_PINNED_H

#include <pthread.h>
#include <stdint.h>

#include <cuda.h>

/*
 * Host memory a zone allocates as pinned (cuMemHostAlloc, cuMemAllocHost) is a sealed memfd
 * that the zone passes to its worker, which maps it too. A copy between such memory and
 * device memory then names (region id, offset, length) and the worker calls the driver on
 * its own mapping: no byte crosses the ring. Every (id, offset, length) is checked against
 * the region's size; ids are the zone's own (a random key XOR the slot: another zone's ids
 * name nothing here). The regions' total size is the zone's pinned-memory quota.
 *
 * Copies hold the table's read lock from the check until the driver has queued the copy;
 * unmapping takes the write lock, synchronises the calling thread's context (so no queued
 * copy still reads or writes the region) and only then unmaps.
 */
struct vgpu_pinned_region {
	void *base;         /* the worker's mapping, NULL: free slot */
	uint64_t bytes;
	int registered;     /* cuMemHostRegister'ed on the backend */
	uint64_t dptr;      /* where kernels reach it (registered as mapped), 0: they cannot */
	int fd;             /* the memfd, kept to hand the region to another worker (migration) */
	void (*release)(void *ctx, void *base, uint64_t bytes);   /* not a memfd mapping: how to undo it */
	void *release_ctx;
};

struct vgpu_pinned {
	pthread_rwlock_t lock;
	struct vgpu_pinned_region *r;
	uint32_t n, cap;    /* slots in use up to n; cap allocated */
	uint64_t key;       /* wire id = key ^ (slot + 1); top bit set: ids are never 0 */
	uint64_t bytes;     /* mapped in all regions */
	uint64_t limit;     /* quota, 0 = none may be mapped */
	int live;           /* between init and fini */
	uint64_t gen;       /* changes with every region mapped or unmapped (vgpu_table_gen_next) */
};

#define VGPU_PINNED_MAX_REGIONS 4096u

/* The backend calls the table uses; any may be NULL (then skipped). */
struct vgpu_pinned_drv {
	CUresult (*host_register)(void *p, size_t bytes, unsigned int flags);
	CUresult (*host_unregister)(void *p);
	CUresult (*host_dptr)(CUdeviceptr *dptr, void *p, unsigned int flags);
	CUresult (*ctx_synchronize)(void);
};

/* key: random, from the caller (vgpu_zone_init draws a zone's keys in one call); a region's id is (slot + 1) XOR it. */
int vgpu_pinned_init(struct vgpu_pinned *p, uint64_t limit, uint64_t key);
/*
 * Map the memfd fd (ownership taken: closed in every case) of declared size bytes as a new
 * region: it must be a memfd sealed against shrinking and growing, exactly bytes long
 * (a multiple of the page size), and fit the quota. CUDA_SUCCESS with *id, else
 * CUDA_ERROR_INVALID_VALUE (not such a memfd) or CUDA_ERROR_OUT_OF_MEMORY (quota, table,
 * mmap); *why says which.
 */
CUresult vgpu_pinned_map(struct vgpu_pinned *p, int fd, uint64_t bytes, const struct vgpu_pinned_drv *d,
			 uint64_t *id /* out */, const char **why /* out */);
/*
 * A region the worker mapped itself (a Xen guest's granted pages): base, bytes (a non-zero
 * page multiple) and release(ctx, base, bytes) to unmap it, called when the region goes and
 * at once when it is refused (quota, table). Not movable to another worker.
 */
CUresult vgpu_pinned_map_mem(struct vgpu_pinned *p, void *base, uint64_t bytes,
			     void (*release)(void *ctx, void *base, uint64_t bytes), void *ctx,
			     const struct vgpu_pinned_drv *d, uint64_t *id /* out */, const char **why /* out */);
/*
 * Migration: the regions move to another worker with the zone's channels, keeping their ids.
 *   export: slot i's memfd (still ours), size and address here, 1; 0 for a free slot; -1 past
 *           the last
 *   map_at: like map, into slot (which must be free) of a table whose key becomes key when
 *           it is empty (-> CUDA_ERROR_INVALID_VALUE when another key is set already), at
 *           address hint when that is free here (the zone's kernels keep their pointers)
 */
int vgpu_pinned_export(struct vgpu_pinned *p, uint32_t i, int *fd /* out */, uint64_t *bytes /* out */,
		       uint64_t *addr /* out */);
/* How many regions the worker mapped itself (a Xen guest's granted pages: no memfd to hand on). */
uint32_t vgpu_pinned_granted(struct vgpu_pinned *p);
CUresult vgpu_pinned_map_at(struct vgpu_pinned *p, uint64_t key, uint32_t slot, int fd, uint64_t bytes,
			    uint64_t hint, const struct vgpu_pinned_drv *d, const char **why /* out */);

/* Forget region id (after its queued copies). CUDA_ERROR_INVALID_VALUE if there is none. */
CUresult vgpu_pinned_unmap(struct vgpu_pinned *p, uint64_t id, const struct vgpu_pinned_drv *d);
/*
 * The worker's address of [off, off + len) in region id, with the read lock held (end the
 * use with vgpu_pinned_put); NULL (no lock held) when the range is not inside the region.
 */
void *vgpu_pinned_get(struct vgpu_pinned *p, uint64_t id, uint64_t off, uint64_t len);
/*
 * Where region id is: the worker's address of its first byte and the device address its
 * kernels reach it at (0 when the driver could not map it for them). With unified addressing
 * the two are equal, and a zone that maps the region at that same address gives its kernels
 * its own pointers. CUDA_ERROR_INVALID_VALUE when id names no region.
 */
CUresult vgpu_pinned_where(struct vgpu_pinned *p, uint64_t id, uint64_t *addr /* out */, uint64_t *dptr /* out */);
/* 0 when the device range [d, d + len) lies inside one region's device address range (a
 * region kernels reach: the zone may name it as device memory), else -EFAULT. A region is
 * unregistered before it is unmapped, so a call checked here and racing the unmap reaches a
 * driver that no longer knows the range, never freed memory. */
int vgpu_pinned_covers(struct vgpu_pinned *p, uint64_t d, uint64_t len);
void vgpu_pinned_put(struct vgpu_pinned *p);
/* Does [d, d+len) (len >= 1) overlap a region's device range? -EEXIST if so; otherwise 0, with
 * [*lo, *hi) narrowed to exclude every region and *gen (may be NULL) the table's generation
 * the answer holds for. */
int vgpu_pinned_gap(struct vgpu_pinned *p, uint64_t d, uint64_t len, uint64_t *lo, uint64_t *hi, uint64_t *gen);
/* Unmap everything (the zone is gone and its contexts with it). Again: nothing. */
void vgpu_pinned_fini(struct vgpu_pinned *p, const struct vgpu_pinned_drv *d);

#endif
