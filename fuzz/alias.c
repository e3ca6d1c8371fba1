/* SPDX-License-Identifier: MIT */
/* alias.c — replaying recorded sessions: the recording proxy's handle ids and device pointers translated into the harness's. */
#include <string.h>

#include "fz.h"

struct vals { uint64_t *v; unsigned n, cap; const uint8_t *p; };
static void collect_u64(void *ctx, size_t off)
{
	struct vals *vs = ctx;
	if (vs->n < vs->cap)
		vs->v[vs->n++] = fz_rd_be64(vs->p + off + 1);
}

/* ---- recorded sessions: translating the values the recording proxy handed out ---- */

/*
 * A trace holds the handle ids and device pointers the RECORDING proxy handed out; here
 * they differ (per-zone random handle keys, another arena address). An ALIAS record (the
 * recorded reply) pairs each uint64 of that reply with the uint64 at the same place in the
 * reply this harness just produced, and later requests of the zone get every uint64 v with
 * a pair from <= v < from + FZ_ALIAS_SPAN rewritten to to + (v - from) (pointer arithmetic
 * inside an allocation keeps working). Values the fuzzer invents are left alone unless they
 * fall in such a span. A fuzzing aid only: the proxy sees ordinary messages either way.
 */
void fz_alias_add(struct fz_zone *zz, const uint8_t *rec, uint32_t len)
{
	uint64_t traced[FZ_MAX_VALS];
	struct vals vs = { traced, 0, FZ_MAX_VALS, rec };
	size_t o = 0;
	fz_mp_walk(rec, len, &o, 0, collect_u64, &vs);
	for (unsigned i = 0; i < vs.n && i < zz->n_last; i++) {
		if (traced[i] == zz->last_vals[i])
			continue;
		/* a value handed out again (an address reused after a free) names the newest object */
		unsigned k = 0;
		while (k < zz->n_alias && zz->alias[k].from != traced[i])
			k++;
		if (k == zz->n_alias)
			k = zz->n_alias < FZ_MAX_ALIAS ? zz->n_alias++ : (unsigned)(traced[i] % FZ_MAX_ALIAS);
		zz->alias[k].from = traced[i];
		zz->alias[k].to = zz->last_vals[i];
	}
	zz->n_last = 0;
}

static void translate_u64(void *ctx, size_t off)
{
	struct fz_zone *zz = ctx;
	uint64_t v = fz_rd_be64(zz->xbuf + off + 1), best = 0, to = 0;
	int found = 0;
	for (unsigned i = 0; i < zz->n_alias; i++)
		if (zz->alias[i].from <= v && v - zz->alias[i].from < FZ_ALIAS_SPAN &&
		    (!found || zz->alias[i].from > best)) {
			best = zz->alias[i].from;
			to = zz->alias[i].to;
			found = 1;
		}
	if (found)
		fz_wr_be64(zz->xbuf + off + 1, to + (v - best));
}

/* The zone's message with recorded values translated (a private copy), or as it is. */
const uint8_t *fz_alias_apply(struct fz_zone *zz, const uint8_t *msg, uint32_t len)
{
	size_t o = 0;
	if (!zz->n_alias || len > sizeof(zz->xbuf))
		return msg;
	memcpy(zz->xbuf, msg, len);
	fz_mp_walk(zz->xbuf, len, &o, 0, translate_u64, zz);
	return zz->xbuf;
}
