/* SPDX-License-Identifier: MIT */
/* harness.c — runs a two-zone session script through the proxy's real channel loop, decoder and dispatch into the simulator, with isolation oracles. */
/* vgpu_dispatch.h names the driver's _v2 entry points itself: keep cuda.h's renaming macros off. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "chan.h"
#include "codec.h"
#include "htab_peek.h"
#include "log.h"
#include "proxyd.h"
#include "session.h"
#include "vgpu_dispatch.h"
#include "zone.h"

/*
 * How it works. Each zone has a persistent "channel thread" that runs the proxy's own
 * vgpu_chan_serve() (proxy/chanloop.c) on a struct vgpu_chan implemented HERE instead of
 * runtime/chan.c: receiving a message hands over the next record of the script, bulk reads
 * consume the BULK records that follow it, replies and bulk outputs are checked and
 * dropped. The main thread walks the script and passes control to one zone thread at a
 * time (semaphores), so every run is sequential and repeatable. Everything after the ring
 * is the proxy's code: chanloop.c, custom.c, custom_calls.c, the codec, the generated
 * dispatch table, zone.c / allocmap.c / quota.c, and the simulator behind them. The ring
 * itself (runtime/chan.c) is fuzzed by the separate ring target.
 */

/* Limits of each fuzzed zone: small, so quota paths are reached and runs stay fast. */
#define FZ_MEM_LIMIT   (128ull << 20)
#define FZ_HANDLES     256u
#define FZ_BULK_LIMIT  (16ull << 20)

#define FZ_CHECK(cond, ...) do { if (!(cond)) fz_violation(__VA_ARGS__); } while (0)

static void fz_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

struct vgpu_chan {                 /* the harness's stand-in for one ring endpoint */
	int zone;
	int broken;                    /* the "client" went away: every later call fails */
	char why[128];
};

enum fz_cmd { FZ_NONE = 0, FZ_SERVE, FZ_CLOSE, FZ_QUIT };

#define FZ_MAX_VALS   32
#define FZ_MAX_ALIAS  256
#define FZ_ALIAS_SPAN (16ull << 20)   /* a value up to this far above a recorded one is translated with it */

struct fz_zone {
	int idx;
	struct vgpu_zone zone;
	pthread_t thread;
	sem_t go;                      /* main -> zone thread: your turn */
	enum fz_cmd cmd;
	int serving;                   /* vgpu_chan_serve() running on this thread */
	unsigned chan_no;
	/* the message handed over (valid while has_msg) */
	int has_msg;
	struct vgpu_msg_hdr hdr;
	const uint8_t *payload;
	uint32_t len;
	uint32_t seq;
	int want_reply;                /* a synchronous request is being served */
	/* value translation for recorded sessions (see FZ_REC_ALIAS) */
	uint64_t last_vals[FZ_MAX_VALS];   /* uint64 values of the last reply, in order */
	unsigned n_last;
	struct { uint64_t from, to; } alias[FZ_MAX_ALIAS];
	unsigned n_alias;
	uint8_t xbuf[VGPU_MSG_MAX];        /* translated copy of the message */
};

static struct {
	struct vgpu_backend be;
	struct fz_zone z[FZ_ZONES];
	sem_t main_go;                 /* zone thread -> main: done with the message / channel closed */
	_Atomic int active;            /* zone whose call is running (memory oracle), -1 none */
	_Atomic int kernel_msg;        /* that call launches a kernel (memory oracle: see mem_hook) */
	const uint8_t *in;             /* the script */
	size_t in_len, off;
	uint8_t *scratch;              /* bulk output chunks are written here, then dropped */
	int ready;
} g = { .active = -1 };

#define FZ_CHUNK (64u << 10)

/*
 * VGPU_FUZZ_SABOTAGE=memory|ownership|reply: the harness itself breaks the property the
 * named oracle guards (checks zone A's device accesses against zone B's allocations; adds
 * a handle to the other zone's table during a message; truncates a reply by one byte), so
 * fuzz/test_replay.sh can show that each oracle does fire. Never set while fuzzing.
 */
enum { SAB_NONE = 0, SAB_MEMORY, SAB_OWNERSHIP, SAB_REPLY };
static int sabotage;

static void fz_violation(const char *fmt, ...)
{
	va_list ap;
	fputs("vgpu-fuzz: ISOLATION ORACLE VIOLATED: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- reading the script ---- */

static uint32_t rd_u32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Kind of the record at g.off (-1 at the end) and its zone. */
static int rec_peek(int *zone)
{
	if (g.off >= g.in_len)
		return -1;
	uint8_t ctl = g.in[g.off];
	*zone = ctl & 1;
	return (ctl >> 1) & 3;
}

/* Header fields of the record at g.off, zero-filled past the end; advances past the header. */
static void rec_header(uint8_t *hdr, size_t n)
{
	size_t have = g.in_len - g.off < n ? g.in_len - g.off : n;
	memset(hdr, 0, n);
	memcpy(hdr, g.in + g.off, have);
	g.off += have;
}

/* Body of len bytes at g.off (clamped to what is left); advances past it. */
static const uint8_t *rec_body(uint32_t *len)
{
	size_t left = g.in_len - g.off;
	if (*len > left)
		*len = (uint32_t)left;
	const uint8_t *p = g.in + g.off;
	g.off += *len;
	return p;
}

/* ---- the reply oracle: a reply is exactly one msgpack array [CUresult, ...] ---- */

/* Called with the offset of each uint64 (0xcf) value met by mp_walk. */
typedef void (*mp_u64_fn)(void *ctx, size_t off);

/* Skip one msgpack object at p[*o..n), calling fn (may be NULL) for each uint64 inside it
 * (not inside bin/str payloads); 0 or -1 when malformed/truncated/too deep. */
static int mp_walk(const uint8_t *p, size_t n, size_t *o, int depth, mp_u64_fn fn, void *ctx)
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
	case 0xc5: case 0xda: if (*o + 2 > n) return -1; len = rd_u16(p + *o); len = (len >> 8) | ((len & 0xff) << 8); *o += 2; goto bytes;
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
		if (mp_walk(p, n, o, depth + 1, fn, ctx) < 0)
			return -1;
	return 0;
}

static uint64_t rd_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void wr_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

struct vals { uint64_t *v; unsigned n, cap; const uint8_t *p; };
static void collect_u64(void *ctx, size_t off)
{
	struct vals *vs = ctx;
	if (vs->n < vs->cap)
		vs->v[vs->n++] = rd_be64(vs->p + off + 1);
}

static void check_reply(struct fz_zone *zz, uint16_t opcode, uint16_t flags, uint32_t seq,
			const uint8_t *p, uint32_t len)
{
	size_t o = 0;
	struct vals vs = { zz->last_vals, 0, FZ_MAX_VALS, p };
	FZ_CHECK(zz->want_reply, "zone %d: a reply (opcode %u) for an asynchronous request", zz->idx, opcode);
	FZ_CHECK(flags & VGPU_MSG_F_REPLY, "zone %d: a message without F_REPLY", zz->idx);
	FZ_CHECK(opcode == zz->hdr.opcode && seq == zz->hdr.seq,
		 "zone %d: reply opcode %u seq %u answers request opcode %u seq %u", zz->idx, opcode, seq,
		 zz->hdr.opcode, zz->hdr.seq);
	/* The array header: fixarray, array16 or array32 (a call with 15+ parameters). */
	size_t at = 1;
	uint32_t cnt = 0;
	if (len >= 1 && (p[0] & 0xf0) == 0x90)
		cnt = p[0] & 0x0f;
	else if (len >= 3 && p[0] == 0xdc)
		cnt = (uint32_t)p[1] << 8 | p[2], at = 3;
	else if (len >= 5 && p[0] == 0xdd)
		cnt = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4], at = 5;
	FZ_CHECK(cnt >= 1 && at < len, "zone %d opcode %u: reply is not a non-empty msgpack array (len %u, first byte 0x%02x)",
		 zz->idx, opcode, len, len ? p[0] : 0);
	FZ_CHECK(p[at] <= 0x7f || p[at] == 0xcc || p[at] == 0xcd || p[at] == 0xce,
		 "zone %d opcode %u: reply's result is not an unsigned integer (0x%02x)", zz->idx, opcode, p[at]);
	FZ_CHECK(mp_walk(p, len, &o, 0, collect_u64, &vs) == 0 && o == len,
		 "zone %d opcode %u: reply of %u bytes is not exactly one well-formed msgpack object (%zu used)",
		 zz->idx, opcode, len, o);
	zz->n_last = vs.n;
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
static void alias_add(struct fz_zone *zz, const uint8_t *rec, uint32_t len)
{
	uint64_t traced[FZ_MAX_VALS];
	struct vals vs = { traced, 0, FZ_MAX_VALS, rec };
	size_t o = 0;
	mp_walk(rec, len, &o, 0, collect_u64, &vs);
	for (unsigned i = 0; i < vs.n && i < zz->n_last; i++) {
		if (traced[i] == zz->last_vals[i])
			continue;
		unsigned k = zz->n_alias < FZ_MAX_ALIAS ? zz->n_alias++ : (unsigned)(traced[i] % FZ_MAX_ALIAS);
		zz->alias[k].from = traced[i];
		zz->alias[k].to = zz->last_vals[i];
	}
	zz->n_last = 0;
}

static void translate_u64(void *ctx, size_t off)
{
	struct fz_zone *zz = ctx;
	uint64_t v = rd_be64(zz->xbuf + off + 1), best = 0, to = 0;
	int found = 0;
	for (unsigned i = 0; i < zz->n_alias; i++)
		if (zz->alias[i].from <= v && v - zz->alias[i].from < FZ_ALIAS_SPAN &&
		    (!found || zz->alias[i].from > best)) {
			best = zz->alias[i].from;
			to = zz->alias[i].to;
			found = 1;
		}
	if (found)
		wr_be64(zz->xbuf + off + 1, to + (v - best));
}

/* The zone's message with recorded values translated (a private copy), or as it is. */
static const uint8_t *alias_apply(struct fz_zone *zz, const uint8_t *msg, uint32_t len)
{
	size_t o = 0;
	if (!zz->n_alias || len > sizeof(zz->xbuf))
		return msg;
	memcpy(zz->xbuf, msg, len);
	mp_walk(zz->xbuf, len, &o, 0, translate_u64, zz);
	return zz->xbuf;
}

/* ---- the channel stand-in (the API of runtime/chan.h that the proxy's call path uses) ---- */

static void chan_fail(struct vgpu_chan *c, const char *why)
{
	c->broken = 1;
	snprintf(c->why, sizeof(c->why), "%s", why);
}

static struct fz_zone *chan_zone(const struct vgpu_chan *c) { return &g.z[c->zone]; }

/* A synchronising point between messages: the zone's queued work runs before the next
 * message, so the memory oracle attributes every access to the zone that asked for it. */
static void zone_quiesce(void)
{
	if (g.be.fn.cuCtxSynchronize)
		g.be.fn.cuCtxSynchronize();
}

int vgpu_chan_recv(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap)
{
	struct fz_zone *zz = chan_zone(c);
	for (;;) {
		if (c->broken)
			return -EPIPE;
		if (zz->has_msg) {
			zz->has_msg = 0;
			if (zz->len > cap) {
				chan_fail(c, "message longer than the receive buffer");
				return -EMSGSIZE;
			}
			*hdr = zz->hdr;
			memcpy(buf, zz->payload, zz->len);
			return (int)zz->len;
		}
		if (zz->cmd == FZ_CLOSE || zz->cmd == FZ_QUIT) {
			chan_fail(c, "peer gone");
			return -EPIPE;
		}
		/* Message done: let the main thread check the oracles and pick the next one. */
		zone_quiesce();
		sem_post(&g.main_go);
		while (sem_wait(&zz->go) < 0 && errno == EINTR)
			;
	}
}

int vgpu_chan_try_recv(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap)
{
	return chan_zone(c)->has_msg ? vgpu_chan_recv(c, hdr, buf, cap) : -EAGAIN;
}

int vgpu_chan_send(struct vgpu_chan *c, uint16_t opcode, uint16_t flags, uint32_t seq, const void *payload,
		   uint32_t len)
{
	if (c->broken)
		return -EPIPE;
	if (len > VGPU_MSG_MAX)
		return -EMSGSIZE;
	if (sabotage == SAB_OWNERSHIP) {
		uint64_t id;   /* a message of this zone changes the other zone's table */
		vgpu_zone_handle_new(&g.z[!c->zone].zone, VGPU_H_EVENT, (void *)(uintptr_t)0x1000, &id);
	}
	check_reply(chan_zone(c), opcode, flags, seq, payload, sabotage == SAB_REPLY && len ? len - 1 : len);
	chan_zone(c)->want_reply = 0;   /* exactly one reply per request */
	return 0;
}

int vgpu_chan_flush(struct vgpu_chan *c) { return c->broken ? -EPIPE : 0; }

/* Walks the zone's bulk input: the BULK records right after the message. fn (may be NULL)
 * gets each piece; after its first error the rest is still consumed. Short input = the
 * client went away mid-transfer: -EPIPE and the channel is dead. */
int vgpu_chan_bulk_read_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx)
{
	struct fz_zone *zz = chan_zone(c);
	uint64_t done = 0;
	int first = 0;
	static __thread uint32_t left_in_rec;   /* bytes left in a partly consumed BULK record */
	static __thread const uint8_t *rec_p;

	if (c->broken)
		return -EPIPE;
	while (done < n) {
		if (!left_in_rec) {
			int zone, k = rec_peek(&zone);
			if (k != FZ_REC_BULK || zone != zz->idx) {
				chan_fail(c, "client gone in the middle of a bulk transfer");
				return -EPIPE;
			}
			uint8_t h[FZ_BULK_HDR];
			rec_header(h, sizeof(h));
			uint32_t len = rd_u32(h + 1);
			rec_p = rec_body(&len);
			left_in_rec = len;
			if (!len)
				continue;
		}
		uint64_t take = n - done < left_in_rec ? n - done : left_in_rec;
		if (take > FZ_CHUNK)
			take = FZ_CHUNK;
		if (fn && !first) {
			/* A private copy: the proxy may not rely on anything but its bytes. */
			memcpy(g.scratch, rec_p, (size_t)take);
			first = fn(ctx, g.scratch, take, done);
		}
		rec_p += take;
		left_in_rec -= (uint32_t)take;
		done += take;
	}
	left_in_rec = 0;   /* a record never serves two transfers */
	return first;
}

struct copy_ctx { uint8_t *dst; };
static int copy_fn(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct copy_ctx *cc = ctx;
	memcpy(cc->dst + off, chunk, (size_t)len);
	return 0;
}

int vgpu_chan_bulk_read(struct vgpu_chan *c, void *dst, uint64_t n)
{
	struct copy_ctx cc = { dst };
	return vgpu_chan_bulk_read_cb(c, n, copy_fn, &cc);
}

int vgpu_chan_bulk_write_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx)
{
	int first = 0;
	if (c->broken)
		return -EPIPE;
	for (uint64_t done = 0; done < n;) {
		uint64_t take = n - done < FZ_CHUNK ? n - done : FZ_CHUNK;
		if (fn && !first)
			first = fn(ctx, g.scratch, take, done);
		done += take;
	}
	return first;
}

int vgpu_chan_bulk_write(struct vgpu_chan *c, const void *src, uint64_t n)
{
	if (c->broken)
		return -EPIPE;
	/* Touch every byte the proxy sends back (ASan/MSan see reads of the whole buffer). */
	volatile uint8_t sink = 0;
	const uint8_t *p = src;
	for (uint64_t i = 0; i < n; i += 512)
		sink ^= p[i];
	if (n)
		sink ^= p[n - 1];
	(void)sink;
	return 0;
}

void vgpu_chan_bulk_areas(struct vgpu_chan *c, void **base, size_t *len)
{
	(void)c;
	*base = g.scratch;
	*len = FZ_CHUNK;
}

const char *vgpu_chan_strerror(const struct vgpu_chan *c) { return c->why; }
void vgpu_chan_close(struct vgpu_chan *c) { free(c); }
void vgpu_chan_set_spin(struct vgpu_chan *c, uint32_t spin_ns) { (void)c; (void)spin_ns; }

/* ---- zone threads ---- */

static void *zone_thread(void *arg)
{
	struct fz_zone *zz = arg;
	for (;;) {
		while (sem_wait(&zz->go) < 0 && errno == EINTR)
			;
		if (zz->cmd == FZ_QUIT)
			break;
		if (zz->cmd == FZ_SERVE && zz->has_msg) {
			struct vgpu_chan *c = calloc(1, sizeof(*c));
			if (!c)
				abort();
			c->zone = zz->idx;
			/* A new channel is a new proxy thread: no current context. */
			if (g.be.fn.cuCtxSetCurrent)
				g.be.fn.cuCtxSetCurrent(NULL);
			zz->serving = 1;
			vgpu_chan_serve(&zz->zone, &g.be, c, ++zz->chan_no);
			zone_quiesce();
			zz->serving = 0;
			zz->has_msg = 0;
			zz->want_reply = 0;
		}
		sem_post(&g.main_go);
	}
	return NULL;
}

static int is_launch(uint16_t op)
{
	return op == VGPU_OP_cuLaunchKernel || op == VGPU_OP_cuLaunchKernel_ptsz || op == VGPU_OP_cuLaunchKernelEx ||
	       op == VGPU_OP_cuLaunchKernelEx_ptsz || op == VGPU_OP_cuLaunchCooperativeKernel ||
	       op == VGPU_OP_cuLaunchCooperativeKernel_ptsz;
}

/* Give zone z the turn with command cmd and wait until it hands it back. */
static void zone_turn(struct fz_zone *zz, enum fz_cmd cmd)
{
	zz->cmd = cmd;
	atomic_store(&g.kernel_msg, cmd == FZ_SERVE && is_launch(zz->hdr.opcode));
	atomic_store(&g.active, zz->idx);
	sem_post(&zz->go);
	while (sem_wait(&g.main_go) < 0 && errno == EINTR)
		;
	atomic_store(&g.active, -1);
	zz->cmd = FZ_NONE;
}

/* ---- oracles ---- */

static uint64_t zone_digest(struct vgpu_zone *z)
{
	uint64_t h = 0xcbf29ce484222325ull;
	pthread_mutex_lock(&z->lock);
	h = fz_htab_digest(&z->htab, h);
	h = fz_fnv(h, &z->amap.n, sizeof(z->amap.n));
	h = fz_fnv(h, &z->amap.bytes, sizeof(z->amap.bytes));
	if (z->amap.v)
		h = fz_fnv(h, z->amap.v, (size_t)z->amap.n * sizeof(*z->amap.v));
	h = fz_fnv(h, &z->mem, sizeof(z->mem));
	pthread_mutex_unlock(&z->lock);
	return h;
}

struct xcheck { const struct vgpu_htab *other; int zone; unsigned type; void *real; int found; };

static void find_real(void *ctx, unsigned type, void *real)
{
	struct xcheck *x = ctx;
	if (type == x->type && real == x->real)
		x->found = 1;
}

static void check_foreign(void *ctx, unsigned type, void *real)
{
	struct xcheck *x = ctx;
	/*
	 * Contexts are exempt: both zones run in ONE simulator here, so both legitimately hold
	 * the device's primary context; in the proxy each zone's worker process has its own.
	 */
	if (type == VGPU_H_CONTEXT)
		return;
	x->type = type;
	x->real = real;
	x->found = 0;
	fz_htab_walk(x->other, find_real, x);
	FZ_CHECK(!x->found, "zone %d's table maps a type-%u object (%p) that zone %d's table maps too",
		 x->zone, type, real, !x->zone);
}

static void check_zone_counters(struct fz_zone *zz)
{
	struct vgpu_zone *z = &zz->zone;
	pthread_mutex_lock(&z->lock);
	FZ_CHECK(z->htab.live <= z->htab.limit, "zone %d holds %u handles over its quota %u", zz->idx,
		 z->htab.live, z->htab.limit);
	FZ_CHECK(z->mem.used == z->amap.bytes,
		 "zone %d: device-memory counter %llu differs from its allocation map's %llu bytes between calls",
		 zz->idx, (unsigned long long)z->mem.used, (unsigned long long)z->amap.bytes);
	FZ_CHECK(atomic_load((_Atomic uint64_t *)&z->bulk_used) == 0,
		 "zone %d: %llu in-flight bulk bytes still reserved between calls", zz->idx,
		 (unsigned long long)z->bulk_used);
	pthread_mutex_unlock(&z->lock);
}

/* After a message of zone z: the other zone's state is untouched, no object is in both tables. */
static void check_after_message(int z, uint64_t other_before)
{
	struct fz_zone *me = &g.z[z], *other = &g.z[!z];
	FZ_CHECK(zone_digest(&other->zone) == other_before,
		 "a message of zone %d (opcode %u) changed zone %d's handle table or allocation map", z,
		 me->hdr.opcode, !z);
	check_zone_counters(me);
	struct xcheck x = { .other = &other->zone.htab, .zone = z };
	fz_htab_walk(&me->zone.htab, check_foreign, &x);
}

/*
 * The simulator reports every device range it reads or writes for an API call (kernels:
 * each global access it is about to attempt, before it checks the address). Kernel
 * accesses are not checked: pointers inside kernel parameters are not the proxy's to check
 * (isolation there comes from each zone's own context and worker process), and with both
 * zones in one simulator here a kernel could reach the other zone's allocations in a way
 * the proxy cannot. Every other access (copies, memsets) was range-checked by the proxy and
 * must lie inside one of the calling zone's allocations.
 */
static void mem_hook(void *ctx, uint64_t p, uint64_t len, int write)
{
	(void)ctx;
	int z = atomic_load(&g.active);
	if (z < 0 || atomic_load(&g.kernel_msg))
		return;   /* teardown of the harness itself, or a kernel (above) */
	struct vgpu_zone *zn = &g.z[sabotage == SAB_MEMORY ? !z : z].zone;
	pthread_mutex_lock(&zn->lock);
	int rc = vgpu_allocmap_check(&zn->amap, p, len, NULL);
	pthread_mutex_unlock(&zn->lock);
	FZ_CHECK(rc == 0, "zone %d's call made the backend %s device range [0x%llx, +0x%llx), which is not inside "
		 "one of the zone's allocations", z, write ? "write" : "read", (unsigned long long)p,
		 (unsigned long long)len);
}

/* Only calls the spec classifies as remoted have a thunk; hand-written ones have none. */
static void check_dispatch_table(void)
{
	for (unsigned op = 0; op < VGPU_OP_COUNT; op++) {
		const struct vgpu_dispatch_entry *e = &vgpu_dispatch_table[op];
		if (!e->thunk)
			continue;
		FZ_CHECK(e->desc && e->desc->opcode == op, "dispatch entry %u has a thunk but no matching descriptor", op);
		FZ_CHECK(!(e->desc->flags & VGPU_CALLF_CUSTOM), "dispatch entry %u (%s) is custom but has a generated thunk",
			 op, e->desc->name);
	}
}

/*
 * Opcodes held back from the fuzzer while a known, not yet fixed bug sits behind them
 * (fuzz/known/README.md): releasing or resetting a device's primary context frees the
 * streams, events, modules and memory it owned inside the driver, but the zone's handle
 * table and allocation map keep them (cuDevicePrimaryCtxRelease names a device, not the
 * context, so the purge that cuCtxDestroy gets does not happen), and a later call on one of
 * those ids hands the driver a freed object. VGPU_FUZZ_ALL_OPS=1 lets them through.
 */
static const uint16_t known_bug_ops[] = {
	VGPU_OP_cuDevicePrimaryCtxRelease_v2, VGPU_OP_cuDevicePrimaryCtxRelease,
	VGPU_OP_cuDevicePrimaryCtxReset_v2, VGPU_OP_cuDevicePrimaryCtxReset,
};
static int all_ops;


static int op_held_back(uint16_t op)
{
	if (all_ops)
		return 0;
	for (size_t i = 0; i < sizeof(known_bug_ops) / sizeof(known_bug_ops[0]); i++)
		if (op == known_bug_ops[i])
			return 1;
	return 0;
}

/* ---- per-run state ---- */

/* Free what the zone still holds, as the worker does when a zone goes away (worker.c). */
static void zone_teardown(struct fz_zone *zz)
{
	const struct vgpu_backend_fns *f = &g.be.fn;
	struct vgpu_zone *z = &zz->zone;
	CUcontext ctxs[FZ_HANDLES];
	unsigned n_ctx = 0;
	void *real;
	struct vgpu_alloc a;

	while (n_ctx < FZ_HANDLES && vgpu_zone_pop_handle(z, VGPU_H_CONTEXT, &real) == 0)
		ctxs[n_ctx++] = real;
	if (n_ctx)
		f->cuCtxSetCurrent(ctxs[0]);
	while (vgpu_zone_pop_handle(z, VGPU_H_EVENT, &real) == 0)
		f->cuEventDestroy_v2(real);
	while (vgpu_zone_pop_handle(z, VGPU_H_STREAM, &real) == 0)
		f->cuStreamDestroy_v2(real);
	while (vgpu_zone_pop_handle(z, VGPU_H_FUNCTION, &real) == 0)
		;
	while (vgpu_zone_pop_handle(z, VGPU_H_KERNEL, &real) == 0)
		;
	while (vgpu_zone_pop_handle(z, VGPU_H_MODULE, &real) == 0)
		f->cuModuleUnload(real);
	while (vgpu_zone_pop_handle(z, VGPU_H_LIBRARY, &real) == 0)
		if (f->cuLibraryUnload)
			f->cuLibraryUnload(real);
	while (vgpu_zone_pop_alloc(z, &a) == 0) {
		CUresult r = f->cuMemFree_v2((CUdeviceptr)a.base);
		for (unsigned i = 1; r != CUDA_SUCCESS && i < n_ctx; i++) {
			f->cuCtxSetCurrent(ctxs[i]);
			r = f->cuMemFree_v2((CUdeviceptr)a.base);
		}
	}
	for (unsigned t = 0; t < VGPU_H_COUNT; t++)
		while (vgpu_zone_pop_handle(z, t, &real) == 0)
			;
	f->cuCtxSetCurrent(NULL);
	for (unsigned i = 0; i < n_ctx; i++) {
		if (f->cuCtxDestroy_v2(ctxs[i]) == CUDA_SUCCESS)
			continue;
		CUdevice dev;
		if (f->cuCtxSetCurrent(ctxs[i]) == CUDA_SUCCESS && f->cuCtxGetDevice(&dev) == CUDA_SUCCESS) {
			f->cuCtxSetCurrent(NULL);
			for (int k = 0; k < 1024 && f->cuDevicePrimaryCtxRelease_v2(dev) == CUDA_SUCCESS; k++)
				;
		}
	}
	f->cuCtxSetCurrent(NULL);
	/* Quotas: everything the zone held is given back. */
	FZ_CHECK(z->htab.live == 0 && z->amap.n == 0 && z->mem.used == 0 && z->bulk_used == 0,
		 "zone %d after teardown: %u handles, %u allocations, %llu bytes charged, %llu bulk bytes", zz->idx,
		 z->htab.live, z->amap.n, (unsigned long long)z->mem.used, (unsigned long long)z->bulk_used);
	vgpu_zone_destroy(z);
}

static void zones_init(void)
{
	struct vgpu_zone_limits lim = { .mem_bytes = FZ_MEM_LIMIT, .handles = FZ_HANDLES,
					.bulk_inflight = FZ_BULK_LIMIT };
	for (int i = 0; i < FZ_ZONES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "fuzz%d", i);
		if (vgpu_zone_init(&g.z[i].zone, (uint32_t)i + 1, name, &lim, NULL) < 0)
			abort();
		g.z[i].seq = 0;
		g.z[i].chan_no = 0;
		g.z[i].n_alias = 0;
		g.z[i].n_last = 0;
	}
}

int fz_setup(void)
{
	char path[512], why[256];
	int rc;

	if (g.ready)
		return 0;
	all_ops = getenv("VGPU_FUZZ_ALL_OPS") && atoi(getenv("VGPU_FUZZ_ALL_OPS"));
	const char *sab = getenv("VGPU_FUZZ_SABOTAGE");
	if (sab && *sab) {
		sabotage = !strcmp(sab, "memory") ? SAB_MEMORY : !strcmp(sab, "ownership") ? SAB_OWNERSHIP :
			   !strcmp(sab, "reply") ? SAB_REPLY : -1;
		if (sabotage < 0) {
			fprintf(stderr, "vgpu-fuzz: VGPU_FUZZ_SABOTAGE=%s: expected memory, ownership or reply\n", sab);
			return -EINVAL;
		}
	}
	vgpu_log_set_level(getenv("VGPU_FUZZ_LOG") ? vgpu_log_parse_level(getenv("VGPU_FUZZ_LOG")) : -1);
	setenv("VGPU_SIM_QUIET", "1", 0);
	setenv("VGPU_SIM_MEM", "256M", 0);
	setenv("VGPU_SIM_THREADS", "1", 0);
	if ((rc = vgpu_backend_find_sim(getenv("VGPU_SIM_LIB"), path, sizeof(path))) < 0) {
		fprintf(stderr, "vgpu-fuzz: the simulator is not at %s; build it (make) or set VGPU_SIM_LIB\n", path);
		return rc;
	}
	if ((rc = vgpu_backend_load(VGPU_BACKEND_SIM, path, &g.be, why, sizeof(why))) < 0) {
		fprintf(stderr, "vgpu-fuzz: cannot load the simulator %s: %s\n", path, why);
		return rc;
	}
	if ((rc = vgpu_dispatch_load(&g.be)) < 0) {
		fprintf(stderr, "vgpu-fuzz: cannot bind the generated driver table: %s\n", strerror(-rc));
		return rc;
	}
	void (*set_hook)(void (*)(void *, uint64_t, uint64_t, int), void *) =
		(void (*)(void (*)(void *, uint64_t, uint64_t, int), void *))dlsym(g.be.dl, "vgpu_sim_set_access_hook");
	if (!set_hook) {
		fprintf(stderr, "vgpu-fuzz: %s has no vgpu_sim_set_access_hook; the memory oracle needs it\n", path);
		return -ENOSYS;
	}
	set_hook(mem_hook, NULL);
	check_dispatch_table();
	if (!(g.scratch = malloc(FZ_CHUNK)))
		return -ENOMEM;
	sem_init(&g.main_go, 0, 0);
	for (int i = 0; i < FZ_ZONES; i++) {
		g.z[i].idx = i;
		sem_init(&g.z[i].go, 0, 0);
		if ((rc = pthread_create(&g.z[i].thread, NULL, zone_thread, &g.z[i])) != 0)
			return -rc;
	}
	g.ready = 1;
	return 0;
}

void fz_run_one(const uint8_t *data, size_t len)
{
	g.in = data;
	g.in_len = len;
	g.off = 0;
	zones_init();
	for (;;) {
		int z, k = rec_peek(&z);
		if (k < 0)
			break;
		struct fz_zone *zz = &g.z[z];
		if (k == FZ_REC_BULK) {           /* bulk bytes nobody asked for: skipped */
			uint8_t h[FZ_BULK_HDR];
			rec_header(h, sizeof(h));
			uint32_t n = rd_u32(h + 1);
			rec_body(&n);
			continue;
		}
		if (k == FZ_REC_ALIAS) {
			uint8_t h[FZ_BULK_HDR];
			rec_header(h, sizeof(h));
			uint32_t n = rd_u32(h + 1);
			const uint8_t *rec = rec_body(&n);
			alias_add(zz, rec, n);
			continue;
		}
		if (k == FZ_REC_CLOSE) {
			g.off++;
			if (zz->serving)
				zone_turn(zz, FZ_CLOSE);
			continue;
		}
		uint8_t h[FZ_MSG_HDR];
		rec_header(h, sizeof(h));
		zz->hdr.opcode = rd_u16(h + 1);
		zz->hdr.flags = rd_u16(h + 3) & (uint16_t)~VGPU_MSG_F_REPLY;   /* the ring refuses F_REPLY from a client */
		zz->len = rd_u32(h + 5);
		zz->payload = alias_apply(zz, rec_body(&zz->len), zz->len);
		if (op_held_back(zz->hdr.opcode))
			continue;
		zz->hdr.len = zz->len;
		zz->hdr.seq = ++zz->seq;
		zz->hdr.reserved = 0;
		zz->want_reply = !(zz->hdr.flags & VGPU_MSG_F_ASYNC) && zz->hdr.opcode < VGPU_OP_CONTROL_BASE;
		zz->has_msg = 1;
		uint64_t other_before = zone_digest(&g.z[!z].zone);
		zone_turn(zz, FZ_SERVE);
		FZ_CHECK(!zz->want_reply, "zone %d: synchronous request opcode %u got no reply and the channel stayed open",
			 z, zz->hdr.opcode);
		check_after_message(z, other_before);
	}
	for (int i = 0; i < FZ_ZONES; i++)
		if (g.z[i].serving)
			zone_turn(&g.z[i], FZ_CLOSE);
	for (int i = 0; i < FZ_ZONES; i++)
		zone_teardown(&g.z[i]);
}
