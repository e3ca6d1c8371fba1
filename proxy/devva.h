/* SPDX-License-Identifier: MIT */
/*
 * devva.h — a zone's device memory at addresses another worker can have again
 * (vgpu-proxy --device-va fixed).
 *
 * A checkpoint restored into a new worker, or a zone moved to another proxy, needs every
 * allocation back at its old device address: the zone's pointers are stored in its own
 * memory and in kernel arguments. The driver's cuMemAlloc picks addresses a fresh process
 * cannot ask for again, so with this mode cuMemAlloc/cuMemAllocPitch are served through
 * the virtual memory management calls at addresses of a fixed window far from anything a
 * process maps on its own (default [0x200000000000, +1 TiB)), the same in every worker:
 * the restore (ckpt.c) asks for them with cuMemAddressReserve and gets them. An allocation
 * of half a granule or more is a reservation + physical allocation of its own, rounded up
 * to the granule; smaller ones share granule-sized slabs in 512-byte units, as the driver
 * packs small allocations. A chunk whose last allocation is freed stays mapped, idle, for the
 * zone's next allocation of its size, up to idle_cap bytes (the worker sets it: what a
 * mapping's cost is then paid once per size, not per allocation); the idle ones
 * go when the zone asks how much memory is free, when the device runs out, and at the end.
 * Stream-ordered allocations from the default pool or a pool of device memory the zone
 * created come from the window as well, charged to their pool; their
 * stream-ordered frees give the memory back once their stream has passed them (an event on
 * the stream tells; vgpu_devva_free_async). Where the driver will not give the window's addresses, the
 * allocation falls back to cuMemAlloc and the log says that the zone cannot be restored
 * elsewhere. Thread-safe (its own lock; driver calls are made under it).
 */
#ifndef VGPU_PROXY_DEVVA_H
#define VGPU_PROXY_DEVVA_H

#include <pthread.h>
#include <stdint.h>

#include "backend.h"

#define VGPU_DEVVA_BASE 0x200000000000ull   /* default window: 32 TiB, above sanitizers' shadow, below their allocators and the mmap area */
#define VGPU_DEVVA_SIZE (1ull << 40)        /* 1 TiB */
#define VGPU_DEVVA_UNIT 512u                /* a slab's allocation unit (cuMemAlloc's alignment) */

struct vgpu_devva_chunk {
	uint64_t base, size;       /* whole granules, reserved and mapped (blocked: the driver refused them) */
	uint64_t handle;           /* the physical allocation; 0 for a blocked range */
	int dev;
	uint32_t users;            /* allocations inside it */
	uint64_t *used, *head;     /* a slab's units: in use, first unit of an allocation (NULL otherwise) */
	int idle;                  /* mapped, holding no allocation: kept for the next one of its size */
};

/* A stream-ordered free waiting for its stream to pass the point it was made at. */
struct vgpu_devva_later { uint64_t base; void *event, *ctx; };

struct vgpu_devva {
	uint64_t base, size;       /* the window; size 0: the mode is off */
	uint64_t gran;             /* the driver's granularity (learnt at the first allocation) */
	pthread_mutex_t lock;
	struct vgpu_devva_chunk *v; /* sorted by base, disjoint */
	uint32_t n, cap;
	uint64_t bytes;            /* physical bytes mapped */
	uint64_t idle_bytes;       /* of which in idle chunks */
	uint64_t idle_cap;         /* at most this many kept idle (0: a freed chunk goes at once) */
	int fell_back;             /* the window could not be had: every allocation is the driver's (logged once) */
	uint64_t asked, offered;   /* the last range the driver would not give, and what it gave instead */
	int refusal;               /* its CUresult */
	struct vgpu_devva_later *later;  /* frees of cuMemFreeAsync, each behind an event on its stream */
	uint32_t nlater, caplater;
	/* stream-ordered allocations taken from the window, which a pool (a device's default pool
	 * or one the zone created) would have counted: each one's base, size and pool, and per
	 * pool what is held and the most held since the high mark was last reset */
	struct vgpu_devva_ordered { uint64_t base, size; const void *pool; } *ord;
	uint32_t nord, capord;
	struct vgpu_devva_pooluse { const void *pool; uint64_t used, high; } *pu;
	uint32_t npu, cappu;
};

/* Off (every call below then does nothing and answers "not mine"). */
void vgpu_devva_init(struct vgpu_devva *d);
/* Serve allocations from [base, base+size): 0, or -EINVAL (empty, wrapping or unaligned to 2 MiB). */
int vgpu_devva_enable(struct vgpu_devva *d, uint64_t base, uint64_t size);
static inline int vgpu_devva_on(const struct vgpu_devva *d) { return d->size != 0; }
/* Keep up to VGPU_DEVVA_IDLE_MAX bytes of freed chunks idle, or an eighth of the zone's memory
 * quota mem_limit when that is less (0: no quota). Idle memory is the device's, not the
 * zone's quota's: the bound is what a zone can hold beyond its quota. */
#define VGPU_DEVVA_IDLE_MAX (64ull << 20)
void vgpu_devva_set_idle(struct vgpu_devva *d, uint64_t mem_limit);
/* Is p inside the window? */
int vgpu_devva_in_window(const struct vgpu_devva *d, uint64_t p);

/*
 * cuMemAlloc of size bytes on the current context's device at an address of the window:
 * CUDA_SUCCESS with *out, a CUresult the driver's cuMemAlloc would give (no context, out of
 * memory, size 0), or CUDA_ERROR_NOT_SUPPORTED when the window cannot be had (the caller
 * then asks the driver, for this allocation and every later one; the reason is logged once).
 */
CUresult vgpu_devva_alloc(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint64_t size, uint64_t *out);
/*
 * Free the allocation starting at base if it is one of the window's: 1 (*res: the result,
 * the device synchronised first as cuMemFree does when sync), 0 when it is not one of the
 * window's (the driver's then).
 */
int vgpu_devva_free(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint64_t base, int sync, int *res);
/*
 * cuMemFreeAsync of the allocation at base on stream s (not capturing): checked now, as
 * vgpu_devva_free (1 with *res, 0 when not the window's); its memory is given back once the
 * stream has passed this point, which an event recorded on s tells (every later allocation
 * and the trim give back what such frees hold once their events are done; an allocation
 * short of memory waits for them up to a second), so the stream's earlier work may still use
 * it, as with the driver's stream-ordered allocator.
 * Without the event calls, the stream is waited for first.
 */
int vgpu_devva_free_async(struct vgpu_devva *d, const struct vgpu_backend_fns *f, uint64_t base, CUstream s, int *res);
/* A context was destroyed or reset: the frees made in it are done (its work went with it);
 * their memory is given back without asking the driver about their events. */
void vgpu_devva_forget_ctx(struct vgpu_devva *d, const struct vgpu_backend_fns *f, const void *ctx);
/* Physical memory of dev made, mapped at the reserved [at, +len) and opened for reading and
 * writing: CUDA_SUCCESS with *handle, or the failing call's CUresult with nothing of it left
 * (the reservation stays the caller's); *created says whether the memory itself was had. */
CUresult vgpu_devva_back(const struct vgpu_backend_fns *f, uint64_t at, uint64_t len, int dev, uint64_t *handle,
			 int *created);
/*
 * Stream-ordered memory in the window stands in for a pool's (a device's default pool, or a
 * pool the zone created, on the current context's device): charge size bytes to pool before
 * the allocation, -ENOMEM past max bytes (the pool's maxSize; 0: none); then note the
 * allocation at base, or uncharge when it was not made. The pool's usage attributes count
 * it (vgpu_devva_pool_usage) until it is freed, by any free.
 */
int vgpu_devva_pool_charge(struct vgpu_devva *d, const void *pool, uint64_t size, uint64_t max);
void vgpu_devva_pool_uncharge(struct vgpu_devva *d, const void *pool, uint64_t size);
void vgpu_devva_note_ordered(struct vgpu_devva *d, uint64_t base, uint64_t size, const void *pool);
/* What the window holds for pool: bytes now and the most since the last reset. */
void vgpu_devva_pool_usage(struct vgpu_devva *d, const void *pool, uint64_t *used, uint64_t *high);
/* The pool's high mark was reset (set to 0): the window's goes back to what it holds. */
void vgpu_devva_pool_reset_high(struct vgpu_devva *d, const void *pool);
/* A new pool has this handle (the driver reuses a destroyed one's): what the window held for
 * the old one stays allocated, charged to no pool. */
void vgpu_devva_pool_forget(struct vgpu_devva *d, const void *pool);
/* [base, +size), taken in the window by something else of the zone (memory a restore put
 * back at its old addresses, a reservation of its own): never asked for (out of memory only
 * costs a refused try later). */
void vgpu_devva_block(struct vgpu_devva *d, uint64_t base, uint64_t size);
/* Give the idle chunks back to the device (before the zone asks how much memory is free, or
 * when the device has none left for a new chunk). */
void vgpu_devva_trim(struct vgpu_devva *d, const struct vgpu_backend_fns *f);
/* Unmap and release everything (the zone's end). Returns how many chunks. */
unsigned vgpu_devva_release_all(struct vgpu_devva *d, const struct vgpu_backend_fns *f);
void vgpu_devva_destroy(struct vgpu_devva *d);

#endif
