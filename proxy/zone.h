/* SPDX-License-Identifier: MIT */
/* zone.h — one zone's state inside its worker: handles, allocations, quotas, stats, lock. */
#ifndef VGPU_PROXY_ZONE_H
#define VGPU_PROXY_ZONE_H

#include <pthread.h>
#include <stdint.h>

#include "allocmap.h"
#include "ckpt.h"
#include "devva.h"
#include "green.h"
#include "handles.h"
#include "hostfn.h"
#include "ipc.h"
#include "link.h"
#include "pinned.h"
#include "pool.h"
#include "quota.h"
#include "stats.h"
#include "texture.h"
#include "vmm.h"

#define VGPU_ZONE_MAX_DEVICES 64

struct vgpu_zone_limits {
	uint64_t mem_bytes;      /* device memory quota, 0 = unlimited */
	uint32_t handles;        /* live handles quota (>= 1) */
	uint64_t bulk_inflight;  /* bulk bytes being staged at once by all the zone's channels, 0 = unlimited */
	uint64_t pinned_bytes;   /* pinned host memory shared with the worker (pinned.h), 0 = none */
};

/*
 * Shared by all channel threads of the zone's worker; every table access holds lock.
 * Device-memory accounting: mem.used = bytes of recorded allocations + physical memory of
 * virtual memory management (vmm.bytes) + reservations made before allocation calls that
 * have not completed yet (so concurrent threads cannot together overshoot the quota).
 */
struct vgpu_zone {
	uint32_t id;
	char name[65];
	uint8_t token[16];
	pthread_mutex_t lock;
	struct vgpu_htab htab;
	struct vgpu_allocmap amap;
	struct vgpu_quota mem;
	int mem_view_device;              /* --zone-mem-view device: memory queries answered as the driver does */
	char devices[VGPU_VISIBLE_TEXT];  /* the devices its process chose, ordinals of the proxy's ("1,0"; "" for all: devsel.c) */
	char env[VGPU_DRVENV_BYTES];      /* its process's driver settings (drvenv.h), "" for none */
	uint64_t bulk_limit;
	uint64_t bulk_used;               /* atomic (vgpu_quota_*_atomic) */
	void *primary[VGPU_ZONE_MAX_DEVICES]; /* each device's primary context once retained (idle or not), or NULL */
	/* The owners (their addresses) of each device's stream-ordered allocations in the
	 * allocation map: those are no context's (cuCtxDestroy leaves them); they go when freed,
	 * when the device is reset, or with the zone. */
	char ordered[VGPU_ZONE_MAX_DEVICES];
	struct vgpu_zone_stats *stats;    /* never NULL (points at a private struct if none given) */
	struct vgpu_zone_stats own_stats;
	struct vgpu_pool *pool;           /* the registration's shared budget, or NULL */
	int pool_slot;
	uint64_t pool_charged;            /* what this zone has charged to pool: follows mem.used */
	uint64_t pool_handles;            /* handles charged to pool: follows the table's count */
	struct vgpu_vmm vmm;              /* physical allocations and mapped ranges (vmm.h) */
	struct vgpu_devva devva;          /* --device-va fixed: its allocations' window (devva.h), own lock */
	/* Context limits that make the driver reserve device memory (stack, printf buffer,
	 * malloc heap), charged to the zone's memory quota per context and limit (under lock;
	 * given back when the zone ends) */
	struct vgpu_limit_charge { void *ctx; uint32_t limit; uint64_t bytes; } limit_charge[16];
	uint32_t nlimit_charge;
	/* Graphs a capture made (cuStreamBeginCapture, not into a graph of the zone's): a capture
	 * that ends in error takes its graph with it, and the node and graph handles the zone was
	 * given of it during the capture are forgotten then (chanloop.c). Under lock. */
	void *capture_graph[16];
	uint32_t ncapture_graph;
	struct vgpu_tex_zone tex;         /* arrays' charges, texture and surface objects (texture.h), under lock */
	struct vgpu_link_zone links;      /* JIT link states (link.h), under lock */
	struct vgpu_hostfn_zone *hostfn;  /* host functions (hostfn.h): made on first use under lock, own lock */
	/* User objects (custom_hostfn.c): the references the zone holds of each (an object goes
	 * from this list, and its handle from the table, when the zone holds none: its graphs may
	 * still), under uobj_lock, which is held across the driver's call; uobj_made: the zone
	 * made some (checkpoints do not carry them) */
	pthread_mutex_t uobj_lock;
	struct vgpu_uobj_ref { void *real; uint32_t refs; } *uobj;
	uint32_t nuobj, capuobj;
	int uobj_made;
	/* The references the zone gave each graph (cuGraphRetainUserObject), by the graph's
	 * wire id, never reused, and the object's (which the zone may no longer hold):
	 * cuGraphReleaseUserObject takes back no more than these. A destroyed graph's entries
	 * name no live graph again and are pruned as the list grows. Under uobj_lock. */
	struct vgpu_uobj_gref { uint64_t graph, obj_id; void *obj; uint32_t refs; } *ugref;
	uint32_t nugref, capugref;
	/* Conditional graph nodes (custom_graph.c): the zone made a conditional handle or node
	 * (checkpoints do not carry them: the handle is the driver's value). Under lock. */
	int cond_made;
	struct vgpu_pinned pinned;        /* pinned host memory regions (pinned.h), own lock */
	struct vgpu_ipc_zone ipc;         /* IPC exports and imports (ipc.h), own lock */
	struct vgpu_green_zone green;     /* green contexts and the resources given (green.h), own lock */
	struct vgpu_ckpt_zone ck;         /* what a checkpoint needs beyond the tables (ckpt.h) */
};

/* Under z->lock: after a change to the zone's memory (stats and the registration's budget follow). */
void vgpu_zone_mem_changed(struct vgpu_zone *z);

/* Initialise z (id, name copied and NUL-terminated, limits); stats may be NULL. 0 or -errno. */
int vgpu_zone_init(struct vgpu_zone *z, uint32_t id, const char *name,
		   const struct vgpu_zone_limits *lim, struct vgpu_zone_stats *stats);
/* Share a registration's budgets (slot given by the supervisor): mem.used and the live
 * handle count are mirrored in it, and a reservation or a new handle fails when either the
 * zone's quota or the pool's would be exceeded. */
void vgpu_zone_set_pool(struct vgpu_zone *z, struct vgpu_pool *pool, int slot);
/* Free the tables (not the driver objects: the worker releases those first, see worker.c). */
void vgpu_zone_destroy(struct vgpu_zone *z);

/*
 * The codec hooks' logic, with the zone lock taken inside. Return 0 or -errno:
 *   handle_in   id -> real; id 0 gives NULL; stale/foreign/wrong type -> -EBADF
 *   handle_new  real -> id (existing id if already known); quota -> -EDQUOT, -ENOMEM
 *   handle_drop forget id (after a successful destroy); unknown id is ignored
 *   dptr_check  [p, p+len) inside one of the zone's allocations, else -EFAULT
 *   dptr_add    record an allocation the driver just made; charge: bytes from
 *               *reserved (a reservation taken before the call) first, the rest is
 *               charged even past the quota (the memory exists; refusing now would leak it)
 *   dptr_remove forget the allocation starting at p and release its bytes (-ENOENT if none)
 */
int vgpu_zone_handle_in(struct vgpu_zone *z, unsigned htype, uint64_t id, void **real /* out */);
/* handle_new / dptr_add remembering what the object belongs to (owner, may be NULL: the
 * context it was made in, the module of a global), so that destroying that owner forgets
 * them too (vgpu_zone_purge_owner). dptr_add_owned returns 1, charging nothing, when exactly
 * this range of this owner is already recorded (a module's global asked for again). */
int vgpu_zone_handle_new_owned(struct vgpu_zone *z, unsigned htype, void *real, const void *owner,
			       uint64_t *id /* out */);
int vgpu_zone_dptr_add_owned(struct vgpu_zone *z, uint64_t p, uint64_t len, const void *owner,
			     uint64_t *reserved /* in/out */);
/* Remove id (detached or not); *real (may be NULL) gets what it mapped to. -EBADF if unknown. */
int vgpu_zone_handle_take(struct vgpu_zone *z, unsigned htype, uint64_t id, void **real /* out */);
/* A context was destroyed (or a primary context went idle): forget the handles and
 * allocations made in it (the driver freed them with it) and give back the charges of its
 * limits. Counts into *handles / *allocs / *bytes (any may be NULL; bytes include the limits). */
/* Forget every allocation starting in [lo, lo+len), uncharged; returns how many, *bytes their size. */
unsigned vgpu_zone_drop_range(struct vgpu_zone *z, uint64_t lo, uint64_t len, uint64_t *bytes /* out */);
/* The device whose stream-ordered allocations owner stands for (owner is &z->ordered[dev]),
 * or -1 when owner is anything else. */
int vgpu_zone_ordered_dev(const struct vgpu_zone *z, const void *owner);
void vgpu_zone_purge_owner(struct vgpu_zone *z, const void *owner, unsigned *handles, unsigned *allocs,
			   uint64_t *bytes);
int vgpu_zone_handle_new(struct vgpu_zone *z, unsigned htype, void *real, uint64_t *id /* out */);
/* What the zone's handle of real belongs to (its owner), or NULL. */
const void *vgpu_zone_handle_owner(struct vgpu_zone *z, unsigned htype, const void *real);
/* The zone's id of an object it already holds a handle of: 0, or -ENOENT. */
int vgpu_zone_handle_find(struct vgpu_zone *z, unsigned htype, const void *real, uint64_t *id /* out */);
/* Slot i of the zone's handle table, read under the zone's lock (for walks that call the
 * driver between slots): 1 live, with its type, object, owner and id (id may be NULL); 0
 * free; -ENOENT past the last slot in use (vgpu_htab_slot). */
int vgpu_zone_slot(struct vgpu_zone *z, uint32_t i, unsigned *htype /* out */, void **real /* out */,
		   const void **owner /* out */, uint64_t *id /* out */);
void vgpu_zone_handle_drop(struct vgpu_zone *z, unsigned htype, uint64_t id);
int vgpu_zone_dptr_check(struct vgpu_zone *z, uint64_t p, uint64_t len);
int vgpu_zone_dptr_add(struct vgpu_zone *z, uint64_t p, uint64_t len, uint64_t *reserved /* in/out */);
int vgpu_zone_dptr_remove(struct vgpu_zone *z, uint64_t p);

/* Make room for one more element in a growing array: arr is the address of a typed pointer
 * to n of cap elements of elem bytes; the first growth makes first. 0, or -1 (out of memory). */
int vgpu_room_for_one(void *arr, uint32_t *cap, uint32_t n, size_t elem, uint32_t first);
/* 1 when the allocation starting at base belongs to one of the zone's graphs: a graph memory
 * node's, made in a capture. It stays recorded and charged while the graph lives: the graph
 * allocates it again at each launch, whatever frees it in between. */
int vgpu_zone_alloc_of_graph(struct vgpu_zone *z, uint64_t base);
/* Give every allocation of owner `from` to `to` (a graph's memory nodes' allocations to the
 * executable graph that outlives it); how many. */
unsigned vgpu_zone_reown(struct vgpu_zone *z, const void *from, const void *to);

/* Reserve n bytes of device memory before an allocation call (-EDQUOT over the quota);
 * release what is left of a reservation after it (vgpu_zone_dptr_add consumed the rest). */
int vgpu_zone_mem_reserve(struct vgpu_zone *z, uint64_t n);
void vgpu_zone_mem_release(struct vgpu_zone *z, uint64_t n);
/* Bytes charged for context limits (limit_charge), under z->lock. */
uint64_t vgpu_zone_limits_charged(const struct vgpu_zone *z);
/* The zone's contexts are gone: their limits' charges are given back; returns the bytes. */
uint64_t vgpu_zone_limits_drop(struct vgpu_zone *z);
/* In-flight bulk bytes (staging buffers of copies), lock-free. -EDQUOT over the limit. */
int vgpu_zone_bulk_reserve(struct vgpu_zone *z, uint64_t n);
void vgpu_zone_bulk_release(struct vgpu_zone *z, uint64_t n);

/*
 * Destroy/free in two steps, so that a concurrent create on another channel thread that gets
 * the same pointer back from the driver is not confused with the dying object (handles.h):
 *   handle_detach  before the destroy call: the id stops resolving (-ENOENT if unknown)
 *   handle_reattach if the driver refused: the id resolves again
 *   alloc_detach   before the free call: the allocation leaves the map, its bytes the
 *                  quota (*size gets its size; -ENOENT unless p is an allocation's start)
 *   alloc_reattach if the driver refused: back in the map, charged again
 * After a successful call handle_drop / dptr_remove finish (dptr_remove then says -ENOENT).
 */
int vgpu_zone_handle_detach(struct vgpu_zone *z, unsigned htype, void *real, uint64_t *id /* out */);
void vgpu_zone_handle_reattach(struct vgpu_zone *z, unsigned htype, uint64_t id);
int vgpu_zone_alloc_detach(struct vgpu_zone *z, uint64_t p, uint64_t *size /* out */);
void vgpu_zone_alloc_reattach(struct vgpu_zone *z, uint64_t p, uint64_t size);

/* 1 when ctx is one of the zone's primary contexts and get_state (the driver's
 * cuDevicePrimaryCtxGetState) says it is idle (reset, or released for the last time), with
 * its device and flags (either may be NULL); 0 when it is not; -1 when the driver cannot say. */
int vgpu_zone_primary_idle(const struct vgpu_zone *z, CUresult (*get_state)(CUdevice, unsigned int *, int *),
			   const void *ctx, CUdevice *dev /* out */, unsigned *flags /* out */);

/* After a restore filled the tables directly (ckpt.c): stats and budgets follow them. */
void vgpu_zone_tables_restored(struct vgpu_zone *z);

/* Cleanup helpers (worker teardown): take one handle of htype / one allocation out. */
int vgpu_zone_pop_handle(struct vgpu_zone *z, unsigned htype, void **real /* out */);
int vgpu_zone_pop_alloc(struct vgpu_zone *z, struct vgpu_alloc *a /* out */);

#endif
