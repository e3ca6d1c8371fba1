/* SPDX-License-Identifier: MIT */
/* handles.h — a zone's table of opaque handles: typed, index + generation, quota-bounded. */
#ifndef VGPU_PROXY_HANDLES_H
#define VGPU_PROXY_HANDLES_H

#include <stdint.h>

/*
 * A zone never sees a real driver handle. Each real handle (CUcontext, CUmodule, ...) is
 * stored in a slot; the zone gets id = (generation << 32) | (index + 1). Id 0 is NULL and
 * never issued. Lookups are O(1): the index selects the slot, then generation and type must
 * match, so stale ids (slot reused), ids never issued by this table (another zone's, or
 * made up) and ids of the wrong type all fail with -EBADF. A reverse hash (type, real) ->
 * slot makes "the driver returned a handle we already know" (cuCtxGetCurrent,
 * cuModuleGetFunction twice, cuDevicePrimaryCtxRetain) return the existing id.
 *
 * Not thread-safe by itself: the zone serialises access (zone.h).
 */

#define VGPU_HTAB_MAX_TYPES 32u

struct vgpu_hslot;

struct vgpu_htab {
	struct vgpu_hslot *slots;  /* cap slots */
	uint32_t cap;              /* allocated slots */
	uint32_t used;             /* slots ever handed out (high-water mark, <= cap) */
	uint32_t live;             /* live handles */
	uint32_t limit;            /* most live handles allowed (the zone's handle quota) */
	uint32_t free_head;        /* index+1 of the first free slot, 0 = none */
	uint32_t *hash;            /* reverse map, hcap buckets of index+1 (0 empty, UINT32_MAX deleted) */
	uint32_t hcap;             /* power of two, >= 2 * cap */
	uint32_t tombs;            /* HASH_DELETED buckets; the hash is rebuilt when they pile up */
	uint32_t count[VGPU_HTAB_MAX_TYPES]; /* live handles per type */
	uint64_t key;              /* ids on the wire are (gen << 32 | index+1) ^ key (see set_key) */
};

/* Initialise an empty table that holds at most limit (>= 1) live handles. 0 or -EINVAL. */
int vgpu_htab_init(struct vgpu_htab *t, uint32_t limit);
/*
 * Give the table a secret so that its ids differ from every other table's: each zone's
 * worker sets a random key, so an id copied from another zone names nothing here (instead
 * of, by coincidence of numbering, one of this zone's own handles). The key's low word
 * always has its top bit set, so no id ever encodes to 0 (NULL). Call before any insert.
 */
void vgpu_htab_set_key(struct vgpu_htab *t, uint64_t key);
/* Free the table's memory (the real handles are the caller's business). */
void vgpu_htab_destroy(struct vgpu_htab *t);
/*
 * Register real (non-NULL) of type (< VGPU_HTAB_MAX_TYPES); *id gets its wire id. If the
 * same (type, real) is already registered, its existing id is returned and *added = 0
 * (added may be NULL). -EINVAL bad type/NULL real, -EDQUOT the handle quota is reached,
 * -ENOMEM out of memory.
 */
int vgpu_htab_insert(struct vgpu_htab *t, unsigned type, void *real, uint64_t *id /* out */,
		     int *added /* out, may be NULL */);
/* Same, remembering the context the handle was made in (vgpu_htab_purge). */
int vgpu_htab_insert_owned(struct vgpu_htab *t, unsigned type, void *real, const void *owner,
			   uint64_t *id /* out */, int *added /* out, may be NULL */);
/* Forget every handle owned by owner (not owner's own entry), and theirs in turn: the
 * owner (a context, a module) was destroyed and the driver destroyed them with it.
 * Returns how many. O(n) per level. */
unsigned vgpu_htab_purge(struct vgpu_htab *t, const void *owner);
/* Translate id of type to its real handle. id 0 -> -ENOENT (callers decide if NULL is
 * allowed); stale, foreign or wrong-type id -> -EBADF. */
int vgpu_htab_lookup(const struct vgpu_htab *t, unsigned type, uint64_t id, void **real /* out */);
/* Remove id of type; *real (may be NULL) gets what it mapped to. -EBADF as lookup. */
int vgpu_htab_remove(struct vgpu_htab *t, unsigned type, uint64_t id, void **real /* out */);
/* Remove the real handle of type if registered (e.g. a function when its module is gone). */
int vgpu_htab_remove_real(struct vgpu_htab *t, unsigned type, void *real);
/* Take any one live handle of type out of the table (for cleanup): 0 with *id and *real set, or
 * -ENOENT when none is left. */
int vgpu_htab_pop(struct vgpu_htab *t, unsigned type, uint64_t *id /* out */, void **real /* out */);
/*
 * Destroying a handle races with other threads of the zone: the driver may hand the freed
 * pointer to a concurrent create before the table forgets the old entry. So a destroy
 * first DETACHES the entry (lookups of its id fail, the same real pointer registers as a
 * new handle), calls the driver, then removes it (vgpu_htab_remove, which accepts detached
 * entries) or, if the driver refused, REATTACHES it with its id unchanged.
 * detach: by real pointer; *id gets the entry's id; -ENOENT if not registered.
 */
int vgpu_htab_detach(struct vgpu_htab *t, unsigned type, void *real, uint64_t *id /* out */);
int vgpu_htab_reattach(struct vgpu_htab *t, unsigned type, uint64_t id);
/* Live handles of type, or of all types when type >= VGPU_HTAB_MAX_TYPES. */
uint32_t vgpu_htab_count(const struct vgpu_htab *t, unsigned type);

/*
 * Checkpoint / restore (ckpt.c): a table is written slot by slot (generation, and type, real
 * handle and owner when live) and rebuilt the same, so every id a zone holds names the same
 * object afterwards and ids it held before stay stale.
 *   slot:          slot i < used: 1 live (all out-params set), 0 free (*gen only), -ENOENT past used
 *   id_of:         the wire id slot i (< used) has with its current generation
 *   restore_begin: an empty table takes key and `used` free slots (-EDQUOT over its limit)
 *   restore_slot:  slot i gets generation gen and, when real != NULL, a live handle
 *                  (-EEXIST: slot already set, or the same (type, real) twice; -EDQUOT)
 *   restore_end:   the free slots join the free list
 *   find:          the id of (type, real) if registered, else -ENOENT
 */
int vgpu_htab_slot(const struct vgpu_htab *t, uint32_t i, unsigned *type /* out */, void **real /* out */,
		   const void **owner /* out */, uint32_t *gen /* out */);
uint64_t vgpu_htab_id_of(const struct vgpu_htab *t, uint32_t i);
int vgpu_htab_restore_begin(struct vgpu_htab *t, uint64_t key, uint32_t used);
int vgpu_htab_restore_slot(struct vgpu_htab *t, uint32_t i, uint32_t gen, unsigned type, void *real,
			   const void *owner);
void vgpu_htab_restore_end(struct vgpu_htab *t);
int vgpu_htab_find(const struct vgpu_htab *t, unsigned type, const void *real, uint64_t *id /* out */);

#endif
