/* SPDX-License-Identifier: MIT */
/* htab_peek.c — the handle table compiled into the fuzz harness with a read-only walker over its slots (oracles only). */
/*
 * The harness needs to see which real objects each zone's table maps, which handles.h keeps
 * opaque on purpose. Rather than copying the slot layout (and silently drifting from it),
 * the table's own source is compiled here, and the walker below uses its definition. The
 * harness links this object instead of proxy/handles.o.
 */
#include "../proxy/handles.c"

#include "htab_peek.h"

void fz_htab_walk(const struct vgpu_htab *t, void (*fn)(void *ctx, unsigned type, void *real), void *ctx)
{
	for (uint32_t i = 0; i < t->used; i++)
		if (t->slots[i].type)
			fn(ctx, t->slots[i].type - 1u, t->slots[i].real);
}

uint64_t fz_htab_digest(const struct vgpu_htab *t, uint64_t h)
{
	const uint8_t *p = (const uint8_t *)t->slots;
	size_t n = (size_t)t->used * sizeof(*t->slots);
	h = fz_hash(h, &t->live, sizeof(t->live));
	h = fz_hash(h, &t->used, sizeof(t->used));
	h = fz_hash(h, &t->free_head, sizeof(t->free_head));
	h = fz_hash(h, t->count, sizeof(t->count));
	if (p)
		h = fz_hash(h, p, n);
	if (t->hash)
		h = fz_hash(h, t->hash, (size_t)t->hcap * sizeof(*t->hash));
	return h;
}
