/* SPDX-License-Identifier: MIT */
/* msgpack.c — a bounded msgpack walker for the fuzz oracles and value translation (independent of the codec it checks). */
#include "fz.h"

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Skip one msgpack object at p[*o..n), calling fn (may be NULL) for each uint64 inside it
 * (not inside bin/str payloads); 0 or -1 when malformed/truncated/too deep. */
int fz_mp_walk(const uint8_t *p, size_t n, size_t *o, int depth, fz_u64_fn fn, void *ctx)
{
	if (depth > 64 || *o >= n)
		return -1;
	if (p[*o] == 0xcf && fn && *o + 9 <= n)
		fn(ctx, *o);
	uint8_t t = p[(*o)++];
	uint64_t cnt = 0, len = 0;
	size_t w;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;
	if ((t & 0xf0) == 0x80) { cnt = 2u * (t & 0x0f); goto items; }
	if ((t & 0xf0) == 0x90) { cnt = t & 0x0f; goto items; }
	if ((t & 0xe0) == 0xa0) { len = t & 0x1f; goto bytes; }
	switch (t) {
	case 0xcc: case 0xd0: w = 1; break;
	case 0xcd: case 0xd1: w = 2; break;
	case 0xca: case 0xce: case 0xd2: w = 4; break;
	case 0xcb: case 0xcf: case 0xd3: w = 8; break;
	case 0xc4: case 0xd9: if (*o + 1 > n) return -1; len = p[*o]; *o += 1; goto bytes;
	case 0xc5: case 0xda: if (*o + 2 > n) return -1; len = be16(p + *o); *o += 2; goto bytes;
	case 0xc6: case 0xdb: if (*o + 4 > n) return -1;
		len = (uint64_t)p[*o] << 24 | p[*o + 1] << 16 | p[*o + 2] << 8 | p[*o + 3]; *o += 4; goto bytes;
	case 0xdc: if (*o + 2 > n) return -1; cnt = (uint64_t)p[*o] << 8 | p[*o + 1]; *o += 2; goto items;
	case 0xdd: if (*o + 4 > n) return -1;
		cnt = (uint64_t)p[*o] << 24 | p[*o + 1] << 16 | p[*o + 2] << 8 | p[*o + 3]; *o += 4; goto items;
	case 0xde: if (*o + 2 > n) return -1; cnt = 2 * ((uint64_t)p[*o] << 8 | p[*o + 1]); *o += 2; goto items;
	case 0xdf: if (*o + 4 > n) return -1;
		cnt = 2 * ((uint64_t)p[*o] << 24 | p[*o + 1] << 16 | p[*o + 2] << 8 | p[*o + 3]); *o += 4; goto items;
	default: return -1;   /* ext types and 0xc1 never appear in a reply */
	}
	if (*o + w > n)
		return -1;
	*o += w;
	return 0;
bytes:
	if (len > n - *o)
		return -1;
	*o += (size_t)len;
	return 0;
items:
	for (uint64_t i = 0; i < cnt; i++)
		if (fz_mp_walk(p, n, o, depth + 1, fn, ctx) < 0)
			return -1;
	return 0;
}

uint64_t fz_rd_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void fz_wr_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

