/* SPDX-License-Identifier: MIT */
/* htab_peek.h — read-only views of a zone's handle table for the fuzz oracles. */
#ifndef VGPU_FUZZ_HTAB_PEEK_H
#define VGPU_FUZZ_HTAB_PEEK_H

#include <stddef.h>
#include <stdint.h>

#include "handles.h"

/*
 * A digest of n bytes, continuing from h: four lanes of h = (h ^ word) * K over 8-byte words,
 * then the tail a byte at a time, then the lanes folded the same way. Each step is a
 * bijection of the lane for a fixed word and of the word for a fixed lane, so two inputs of
 * the same length that differ in one word (or byte) always give different digests; any other
 * change is missed with probability about 2^-64. The oracles digest a zone's tables after
 * every message; a byte at a time (FNV-1a) was 5 % of a campaign's time.
 */
static inline uint64_t fz_hash(uint64_t h, const void *p, size_t n)
{
	const uint64_t k = 0x100000001b3ull;
	const uint8_t *b = p;
	uint64_t l[4] = { h, h ^ 0x9e3779b97f4a7c15ull, h ^ 0xc2b2ae3d27d4eb4full, h ^ 0x165667b19e3779f9ull };
	size_t i = 0;
	for (; i + 32 <= n; i += 32)
		for (int j = 0; j < 4; j++) {
			uint64_t w;
			__builtin_memcpy(&w, b + i + 8 * j, 8);
			l[j] = (l[j] ^ w) * k;
		}
	for (; i < n; i++)
		l[0] = (l[0] ^ b[i]) * k;
	h = l[0];
	for (int j = 1; j < 4; j++)
		h = (h ^ l[j]) * k;
	return (h ^ n) * k;
}
/* Call fn(ctx, type, real) for every live handle of t (no lock taken: caller serialises). */
void fz_htab_walk(const struct vgpu_htab *t, void (*fn)(void *ctx, unsigned type, void *real), void *ctx);
/* A digest of everything the table holds (slots, free list, reverse hash, counts), from h. */
uint64_t fz_htab_digest(const struct vgpu_htab *t, uint64_t h);

#endif
