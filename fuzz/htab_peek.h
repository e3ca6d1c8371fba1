/* SPDX-License-Identifier: MIT */
/* htab_peek.h — read-only views of a zone's handle table for the fuzz oracles. */
#ifndef VGPU_FUZZ_HTAB_PEEK_H
#define VGPU_FUZZ_HTAB_PEEK_H

#include <stddef.h>
#include <stdint.h>

#include "handles.h"

/* FNV-1a over n bytes, continuing from h. */
static inline uint64_t fz_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}
/* Call fn(ctx, type, real) for every live handle of t (no lock taken: caller serialises). */
void fz_htab_walk(const struct vgpu_htab *t, void (*fn)(void *ctx, unsigned type, void *real), void *ctx);
/* A digest of everything the table holds (slots, free list, reverse hash, counts), from h. */
uint64_t fz_htab_digest(const struct vgpu_htab *t, uint64_t h);

#endif
