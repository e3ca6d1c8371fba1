/* SPDX-License-Identifier: MIT */
/* handles.c — the per-zone opaque handle table (see handles.h for the contract). */
#include "handles.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct vgpu_hslot {
	void *real;          /* NULL when free */
	uint32_t gen;        /* generation of the current/next occupant, never 0 */
	uint16_t type;       /* type + 1 when live, 0 when free */
	uint16_t dying;      /* 1: being destroyed (vgpu_htab_detach); not looked up, not in the hash */
	uint32_t next_free;  /* index+1 of the next free slot when free */
	const void *owner;   /* context it was made in, or NULL (vgpu_htab_purge) */
};

#define HASH_EMPTY   0u
#define HASH_DELETED UINT32_MAX
#define MIN_CAP      16u

static uint64_t hash_key(unsigned type, const void *real)
{
	uint64_t x = (uint64_t)(uintptr_t)real ^ ((uint64_t)type << 56);
	/* splitmix64 finaliser: real handles are aligned pointers, mix the low bits in. */
	x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27; x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static int hash_rebuild(struct vgpu_htab *t, uint32_t hcap)
{
	uint32_t *h = calloc(hcap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->used; i++) {
		const struct vgpu_hslot *s = &t->slots[i];
		if (!s->type || s->dying)
			continue;
		uint32_t b = (uint32_t)hash_key(s->type - 1u, s->real) & (hcap - 1);
		while (h[b] != HASH_EMPTY)
			b = (b + 1) & (hcap - 1);
		h[b] = i + 1;
	}
	free(t->hash);
	t->hash = h;
	t->hcap = hcap;
	t->tombs = 0;
	return 0;
}

/* Bucket holding (type, real), or UINT32_MAX when absent. */
static uint32_t hash_find(const struct vgpu_htab *t, unsigned type, const void *real)
{
	uint32_t b = (uint32_t)hash_key(type, real) & (t->hcap - 1);
	for (uint32_t probes = 0; probes < t->hcap; probes++, b = (b + 1) & (t->hcap - 1)) {
		uint32_t v = t->hash[b];
		if (v == HASH_EMPTY)
			return UINT32_MAX;
		if (v == HASH_DELETED)
			continue;
		const struct vgpu_hslot *s = &t->slots[v - 1];
		if (s->type == type + 1u && s->real == real)
			return b;
	}
	return UINT32_MAX;
}

static void hash_add(struct vgpu_htab *t, unsigned type, const void *real, uint32_t idx)
{
	uint32_t b = (uint32_t)hash_key(type, real) & (t->hcap - 1);
	while (t->hash[b] != HASH_EMPTY && t->hash[b] != HASH_DELETED)
		b = (b + 1) & (t->hcap - 1);
	if (t->hash[b] == HASH_DELETED)
		t->tombs--;
	t->hash[b] = idx + 1;
}

int vgpu_htab_init(struct vgpu_htab *t, uint32_t limit)
{
	memset(t, 0, sizeof(*t));
	if (limit == 0 || limit > (1u << 30) - 1)
		return -EINVAL;
	t->limit = limit;
	return 0;
}

void vgpu_htab_set_key(struct vgpu_htab *t, uint64_t key)
{
	assert(t->used == 0);
	/* index+1 < 2^30 (the limit is capped at 2^30), so bit 31 of the low word survives the xor. */
	t->key = key | 0x80000000ull;
}

void vgpu_htab_destroy(struct vgpu_htab *t)
{
	free(t->slots);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

static int grow(struct vgpu_htab *t)
{
	uint32_t ncap = t->cap ? t->cap * 2 : MIN_CAP;
	if (ncap > t->limit)
		ncap = t->limit;
	assert(ncap > t->cap);
	struct vgpu_hslot *ns = realloc(t->slots, (size_t)ncap * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns + t->cap, 0, (size_t)(ncap - t->cap) * sizeof(*ns));
	for (uint32_t i = t->cap; i < ncap; i++)
		ns[i].gen = 1;
	t->slots = ns;
	t->cap = ncap;
	/* Keep the reverse hash at most half full; deleted markers are dropped by the rebuild. */
	uint32_t hcap = 32;
	while (hcap < 2u * ncap)
		hcap <<= 1;
	return hash_rebuild(t, hcap);
}

int vgpu_htab_insert(struct vgpu_htab *t, unsigned type, void *real, uint64_t *id, int *added)
{
	return vgpu_htab_insert_owned(t, type, real, NULL, id, added);
}

int vgpu_htab_insert_owned(struct vgpu_htab *t, unsigned type, void *real, const void *owner, uint64_t *id,
			   int *added)
{
	uint32_t idx;
	int rc;

	if (added)
		*added = 0;
	if (type >= VGPU_HTAB_MAX_TYPES || !real)
		return -EINVAL;
	if (t->hcap) {
		uint32_t b = hash_find(t, type, real);
		if (b != UINT32_MAX) {
			idx = t->hash[b] - 1;
			*id = (((uint64_t)t->slots[idx].gen << 32) | (idx + 1u)) ^ t->key;
			return 0;
		}
	}
	if (t->live >= t->limit)
		return -EDQUOT;
	/* Tombstones lengthen probe chains; drop them before they matter (amortised O(1)). */
	if (t->hcap && t->tombs > t->hcap / 4 && (rc = hash_rebuild(t, t->hcap)) < 0)
		return rc;
	if (t->free_head) {
		idx = t->free_head - 1;
		t->free_head = t->slots[idx].next_free;
	} else {
		if (t->used == t->cap && (rc = grow(t)) < 0)
			return rc;
		idx = t->used++;
	}
	struct vgpu_hslot *s = &t->slots[idx];
	assert(!s->type && s->gen != 0);
	s->real = real;
	s->type = (uint16_t)(type + 1u);
	s->next_free = 0;
	s->owner = owner;
	hash_add(t, type, real, idx);
	t->live++;
	t->count[type]++;
	*id = (((uint64_t)s->gen << 32) | (idx + 1u)) ^ t->key;
	if (added)
		*added = 1;
	return 0;
}

/* Slot index of a live id of type, or -EBADF / -ENOENT. */
static int64_t slot_of(const struct vgpu_htab *t, unsigned type, uint64_t id)
{
	if (id == 0)
		return -ENOENT;
	id ^= t->key;
	uint32_t lo = (uint32_t)id, gen = (uint32_t)(id >> 32);
	if (type >= VGPU_HTAB_MAX_TYPES || lo == 0 || lo > t->used)
		return -EBADF;
	const struct vgpu_hslot *s = &t->slots[lo - 1];
	if (s->type != type + 1u || s->gen != gen)
		return -EBADF;
	return lo - 1;
}

/* Like slot_of, but a dying slot does not count as live. */
static int64_t live_slot_of(const struct vgpu_htab *t, unsigned type, uint64_t id)
{
	int64_t i = slot_of(t, type, id);
	if (i >= 0 && t->slots[i].dying)
		return -EBADF;
	return i;
}

int vgpu_htab_lookup(const struct vgpu_htab *t, unsigned type, uint64_t id, void **real)
{
	int64_t i = live_slot_of(t, type, id);
	if (i < 0)
		return (int)i;
	*real = t->slots[i].real;
	return 0;
}

static void slot_free(struct vgpu_htab *t, uint32_t idx)
{
	struct vgpu_hslot *s = &t->slots[idx];
	unsigned type = s->type - 1u;
	if (!s->dying) {
		uint32_t b = hash_find(t, type, s->real);
		assert(b != UINT32_MAX && t->hash[b] == idx + 1);
		t->hash[b] = HASH_DELETED;
		t->tombs++;
	}
	s->dying = 0;
	s->real = NULL;
	s->owner = NULL;
	s->type = 0;
	/* A new generation makes every id of the old occupant stale; 0 is skipped on wrap. */
	if (++s->gen == 0)
		s->gen = 1;
	s->next_free = t->free_head;
	t->free_head = idx + 1;
	t->live--;
	t->count[type]--;
}

int vgpu_htab_remove(struct vgpu_htab *t, unsigned type, uint64_t id, void **real)
{
	int64_t i = slot_of(t, type, id);
	if (i < 0)
		return (int)i;
	if (real)
		*real = t->slots[i].real;
	slot_free(t, (uint32_t)i);
	return 0;
}

int vgpu_htab_remove_real(struct vgpu_htab *t, unsigned type, void *real)
{
	if (type >= VGPU_HTAB_MAX_TYPES || !t->hcap)
		return -ENOENT;
	uint32_t b = hash_find(t, type, real);
	if (b == UINT32_MAX)
		return -ENOENT;
	slot_free(t, t->hash[b] - 1);
	return 0;
}

int vgpu_htab_pop(struct vgpu_htab *t, unsigned type, uint64_t *id, void **real)
{
	if (type >= VGPU_HTAB_MAX_TYPES || t->count[type] == 0)
		return -ENOENT;
	for (uint32_t i = t->used; i-- > 0;) {
		struct vgpu_hslot *s = &t->slots[i];
		if (s->type != type + 1u)
			continue;
		*id = (((uint64_t)s->gen << 32) | (i + 1u)) ^ t->key;
		*real = s->real;
		slot_free(t, i);
		return 0;
	}
	assert(!"count says a handle of this type is live");
	return -ENOENT;
}

uint32_t vgpu_htab_count(const struct vgpu_htab *t, unsigned type)
{
	return type < VGPU_HTAB_MAX_TYPES ? t->count[type] : t->live;
}

int vgpu_htab_detach(struct vgpu_htab *t, unsigned type, void *real, uint64_t *id)
{
	if (type >= VGPU_HTAB_MAX_TYPES || !real || !t->hcap)
		return -ENOENT;
	uint32_t b = hash_find(t, type, real);
	if (b == UINT32_MAX)
		return -ENOENT;
	uint32_t idx = t->hash[b] - 1;
	struct vgpu_hslot *s = &t->slots[idx];
	t->hash[b] = HASH_DELETED;
	t->tombs++;
	s->dying = 1;
	*id = (((uint64_t)s->gen << 32) | (idx + 1u)) ^ t->key;
	return 0;
}

int vgpu_htab_reattach(struct vgpu_htab *t, unsigned type, uint64_t id)
{
	int64_t i = slot_of(t, type, id);
	if (i < 0 || !t->slots[i].dying)
		return -EBADF;
	struct vgpu_hslot *s = &t->slots[i];
	/* The driver refused to destroy it, so nobody can have been handed the same pointer. */
	assert(hash_find(t, type, s->real) == UINT32_MAX);
	s->dying = 0;
	hash_add(t, type, s->real, (uint32_t)i);
	return 0;
}

unsigned vgpu_htab_purge(struct vgpu_htab *t, const void *owner)
{
	/* Owners nest (context > module > function): purge breadth-first with a worklist. */
	const void *small[32], **work = small;
	size_t nwork = 0, cap = 32;
	unsigned n = 0;

	if (!owner)
		return 0;
	work[nwork++] = owner;
	while (nwork) {
		const void *o = work[--nwork];
		for (uint32_t i = 0; i < t->used; i++) {
			struct vgpu_hslot *s = &t->slots[i];
			if (!s->type || s->owner != o || s->real == o)
				continue;
			void *child = s->real;
			slot_free(t, i);
			n++;
			if (nwork == cap) {
				const void **nw = malloc(2 * cap * sizeof(*nw));
				if (!nw)
					continue;   /* out of memory: the grandchildren stay listed (harmless, freed at zone end) */
				memcpy(nw, work, nwork * sizeof(*nw));
				if (work != small)
					free(work);
				work = nw;
				cap *= 2;
			}
			work[nwork++] = child;
		}
	}
	if (work != small)
		free(work);
	return n;
}

/* ---------------------------------------------------------------- checkpoint / restore */

int vgpu_htab_slot(const struct vgpu_htab *t, uint32_t i, unsigned *type, void **real, const void **owner,
		   uint32_t *gen)
{
	if (i >= t->used)
		return -ENOENT;
	const struct vgpu_hslot *s = &t->slots[i];
	*gen = s->gen;
	if (!s->type || s->dying)
		return 0;
	*type = s->type - 1u;
	*real = s->real;
	*owner = s->owner;
	return 1;
}

uint64_t vgpu_htab_id_of(const struct vgpu_htab *t, uint32_t i)
{
	return (((uint64_t)t->slots[i].gen << 32) | (i + 1u)) ^ t->key;
}

int vgpu_htab_restore_begin(struct vgpu_htab *t, uint64_t key, uint32_t used)
{
	if (t->used || t->live)
		return -EBUSY;
	if (used > t->limit)
		return -EDQUOT;
	vgpu_htab_set_key(t, key);
	while (t->cap < used) {
		int rc = grow(t);
		if (rc < 0)
			return rc;
	}
	if (!t->hcap && grow(t) < 0)
		return -ENOMEM;
	t->used = used;
	return 0;
}

int vgpu_htab_restore_slot(struct vgpu_htab *t, uint32_t i, uint32_t gen, unsigned type, void *real,
			   const void *owner)
{
	if (i >= t->used || gen == 0 || (real && (type >= VGPU_HTAB_MAX_TYPES)))
		return -EINVAL;
	struct vgpu_hslot *s = &t->slots[i];
	if (s->type)
		return -EEXIST;
	s->gen = gen;
	if (!real)
		return 0;
	if (t->live >= t->limit)
		return -EDQUOT;
	if (hash_find(t, type, real) != UINT32_MAX)
		return -EEXIST;   /* the driver gave two objects the same handle */
	s->real = real;
	s->type = (uint16_t)(type + 1u);
	s->owner = owner;
	hash_add(t, type, real, i);
	t->live++;
	t->count[type]++;
	return 0;
}

void vgpu_htab_restore_end(struct vgpu_htab *t)
{
	/* Free slots in ascending order, as a table that never freed would hand them out. */
	t->free_head = 0;
	for (uint32_t i = t->used; i-- > 0;)
		if (!t->slots[i].type) {
			t->slots[i].next_free = t->free_head;
			t->free_head = i + 1;
		}
}

int vgpu_htab_find(const struct vgpu_htab *t, unsigned type, const void *real, uint64_t *id)
{
	if (!t->hcap || type >= VGPU_HTAB_MAX_TYPES)
		return -ENOENT;
	uint32_t b = hash_find(t, type, real);
	if (b == UINT32_MAX)
		return -ENOENT;
	*id = vgpu_htab_id_of(t, t->hash[b] - 1);
	return 0;
}
