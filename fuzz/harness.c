/* SPDX-License-Identifier: MIT */
/* harness.c — runs a two-zone session script through the proxy's real channel loop, decoder and dispatch into the simulator, with isolation oracles. */
/* vgpu_dispatch.h names the driver's _v2 entry points itself: keep cuda.h's renaming macros off. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "fz.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

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
 * How it works. Each zone has a "channel fiber" that runs the proxy's own vgpu_chan_serve()
 * (proxy/chanloop.c) on a struct vgpu_chan implemented HERE instead of runtime/chan.c:
 * receiving a message hands over the next record of the script, bulk reads consume the BULK
 * records that follow it, replies and bulk outputs are checked and dropped. Exactly one
 * fiber walks the script at any time, so every run is sequential and repeatable: a zone's
 * fiber takes its own zone's records itself (the next message, a close, a new channel after
 * one). Zone 0's channels run on the main thread's own stack; zone 1's on a stack of its
 * own, to which the main fiber hands zone 1's records and which hands the turn back at a
 * record of zone 0 or the end of the script. A turn is a swapcontext on the one thread
 * (see "Turns"): no wake-up, and AFL++, which stops and continues the whole process every
 * iteration, has one thread to stop (the simulator's stream threads aside). Everything
 * after the ring is the proxy's code: chanloop.c, custom.c, custom_calls.c, the codec, the
 * generated dispatch table, zone.c / allocmap.c / quota.c, and the simulator behind them.
 * The ring itself (runtime/chan.c) is fuzzed by the separate ring target.
 */

struct fz_state fz = { .active = -1 };
_Thread_local int fz_self = -1;

/* ---- reading the script ---- */

static uint32_t rd_u32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Kind of the record at fz.off (-1 at the end) and its zone. */
static int rec_peek(int *zone)
{
	if (fz.off >= fz.in_len)
		return -1;
	uint8_t ctl = fz.in[fz.off];
	*zone = ctl & 1;
	return (ctl >> 1) & 3;
}

/* Header fields of the record at fz.off, zero-filled past the end; advances past the header. */
static void rec_header(uint8_t *hdr, size_t n)
{
	size_t have = fz.in_len - fz.off < n ? fz.in_len - fz.off : n;
	memset(hdr, 0, n);
	memcpy(hdr, fz.in + fz.off, have);
	fz.off += have;
}

/* Body of len bytes at fz.off (clamped to what is left); advances past it. */
static const uint8_t *rec_body(uint32_t *len)
{
	size_t left = fz.in_len - fz.off;
	if (*len > left)
		*len = (uint32_t)left;
	const uint8_t *p = fz.in + fz.off;
	fz.off += *len;
	return p;
}

/* ---- the channel stand-in (the API of runtime/chan.h that the proxy's call path uses) ---- */

static void chan_fail(struct vgpu_chan *c, const char *why)
{
	c->broken = 1;
	snprintf(c->why, sizeof(c->why), "%s", why);
}

static struct fz_zone *chan_zone(const struct vgpu_chan *c) { return &fz.z[c->zone]; }

struct ctx_list { CUcontext v[16]; unsigned n; };

static void ctx_collect(void *ctx, unsigned type, void *real)
{
	struct ctx_list *l = ctx;
	if (type == VGPU_H_CONTEXT && l->n < sizeof(l->v) / sizeof(l->v[0]))
		l->v[l->n++] = real;
}

/*
 * A synchronising point between messages: the work zone zz queued runs before the next
 * message, so the memory oracle attributes every access to the zone that asked for it. The
 * current context first, then every other context in the zone's table (pushed and popped,
 * so the thread's context stack is left as it was): a zone's streams keep running in their
 * own context after it stops being current (a new channel starts with none), and such work
 * ran during the next message, possibly the other zone's (a false alarm of the memory oracle
 * seen in a campaign).
 */
static void zone_quiesce(struct fz_zone *zz)
{
	const struct vgpu_backend_fns *f = &fz.be.fn;
	const struct vgpu_driver *d = fz.be.drv;
	struct ctx_list l = { .n = 0 };
	CUcontext cur = NULL, popped;

	if (!f->cuCtxSynchronize)
		return;
	f->cuCtxSynchronize();
	pthread_mutex_lock(&zz->zone.lock);
	fz_htab_walk(&zz->zone.htab, ctx_collect, &l);
	pthread_mutex_unlock(&zz->zone.lock);
	if (!l.n || !d || !d->cuCtxPushCurrent_v2 || !d->cuCtxPopCurrent_v2 || !f->cuCtxGetCurrent)
		return;
	f->cuCtxGetCurrent(&cur);
	for (unsigned i = 0; i < l.n; i++)
		if (l.v[i] != cur && d->cuCtxPushCurrent_v2(l.v[i]) == CUDA_SUCCESS) {
			f->cuCtxSynchronize();
			d->cuCtxPopCurrent_v2(&popped);
		}
}

/*
 * ---- Turns ----
 * Zone 1's channel loop runs on a fiber (makecontext) of the main thread. What the proxy and
 * the simulator keep per thread goes with the turn: the simulator's context stack and
 * capture mode (vgpu_sim_thread_state_save/_load), its address space (each zone its own, as
 * each zone's worker is its own process), and fz_self. The proxy's channel loop keeps
 * nothing per thread across a request, and a turn changes only between two requests (in
 * vgpu_chan_recv), so each zone sees what a thread of its own would. ASan is told about
 * each stack switch (weak: builds without it have no such functions).
 */
extern void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size)
	__attribute__((weak));
extern void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old)
	__attribute__((weak));

/* libc's swapcontext itself. ASan's interceptor of it clears the shadow of the whole stack
 * it switches to, every time (1 MiB of memset for an 8 MiB stack): the annotations around
 * the switch are what ASan needs to know about the fibers, and the stacks are only ever
 * switched between, never abandoned, so their shadow stays true. */
static int (*fz_swapcontext)(ucontext_t *, const ucontext_t *) = swapcontext;

/* On the fiber that just got the turn: ASan learns the stack it came from (the main
 * thread's is named this way, the first time zone 1 runs). */
static void turn_arrived(void)
{
	const void *bottom;
	size_t size;
	if (!__sanitizer_finish_switch_fiber)
		return;
	__sanitizer_finish_switch_fiber(NULL, &bottom, &size);
	if (!fz.z[fz.turn_from].stack) {
		fz.z[fz.turn_from].stack = (void *)bottom;
		fz.z[fz.turn_from].stack_size = size;
	}
}

/* From zone from's fiber to zone to's; returns when some fiber gives from the turn again. */
static void turn_to(int from, int to)
{
	struct fz_zone *f = &fz.z[from], *t = &fz.z[to];
	fz.state_save(f->sim_state);
	fz.state_load(t->sim_state);
	fz.set_space((unsigned)to + 1);
	fz_self = to;
	fz.turn_from = from;
	if (__sanitizer_start_switch_fiber)
		__sanitizer_start_switch_fiber(NULL, t->stack, t->stack_size);
	if (fz_swapcontext(&f->uc, &t->uc) < 0)
		abort();
	turn_arrived();
}

static void zone_fiber(void);

/* Zone idx's fiber (idx > 0): a stack with a guard page below it, started at zone_fiber. */
static int fiber_init(struct fz_zone *zz)
{
	size_t size = 8u << 20, guard = 4096;
	uint8_t *m = mmap(NULL, size + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
			  -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	mprotect(m, guard, PROT_NONE);
	if (getcontext(&zz->uc) < 0)
		return -errno;
	zz->stack = m + guard;
	zz->stack_size = size;
	zz->uc.uc_stack.ss_sp = zz->stack;
	zz->uc.uc_stack.ss_size = size;
	zz->uc.uc_link = NULL;   /* zone_fiber never returns */
	makecontext(&zz->uc, zone_fiber, 0);
	return 0;
}

static void msg_done(struct fz_zone *zz);
static int own_next(struct fz_zone *zz);
static int other_zones(void);

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
		if (zz->cmd == FZ_CLOSE) {
			chan_fail(c, "peer gone");
			return -EPIPE;
		}
		/* Message done: its queued work runs, the oracles check it, and the zone's own
		 * next record is taken here. */
		zone_quiesce(zz);
		msg_done(zz);
		for (;;) {
			int k = own_next(zz);
			if (k == FZ_REC_MSG)
				break;
			if (k == FZ_REC_CLOSE) {
				chan_fail(c, "peer gone");
				return -EPIPE;
			}
			if (zz->idx != 0) {
				/* zone 1: the main fiber goes on; it answers with a message or a close */
				turn_to(zz->idx, 0);
				break;
			}
			/* zone 0, the main fiber: zone 1's records are handed out from here; the end
			 * of the script closes the channel, as it closes every channel */
			if (other_zones() < 0) {
				chan_fail(c, "peer gone");
				return -EPIPE;
			}
		}
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
	if (fz_sabotage == SAB_OWNERSHIP) {
		uint64_t id;   /* a message of this zone changes the other zone's table */
		vgpu_zone_handle_new(&fz.z[!c->zone].zone, VGPU_H_EVENT, (void *)(uintptr_t)0x1000, &id);
	}
	fz_check_reply(chan_zone(c), opcode, flags, seq, payload, fz_sabotage == SAB_REPLY && len ? len - 1 : len);
	chan_zone(c)->want_reply = 0;   /* exactly one reply per request */
	return 0;
}

int vgpu_chan_flush(struct vgpu_chan *c) { return c->broken ? -EPIPE : 0; }

/*
 * Largest piece a bulk callback gets at once: FZ_CHUNK, or the step a caller asks for up to
 * a quarter of the bulk area, as runtime/chan.c does (the harness's area is FZ_BULK_AREA).
 * The proxy's streamed copies ask for 1 MiB steps, one driver call each: in 64 KiB pieces a
 * 64 MiB copy was 1,024 synchronous simulator calls, each two thread wake-ups.
 */
static uint64_t piece_max(uint32_t step)
{
	return step <= FZ_CHUNK ? FZ_CHUNK : step < FZ_BULK_AREA / 4 ? step : FZ_BULK_AREA / 4;
}

/* Walks the zone's bulk input: the BULK records right after the message. fn (may be NULL)
 * gets each piece (at most max bytes, never two records' bytes); after its first error the
 * rest is still consumed. Short input = the client went away mid-transfer: -EPIPE and the
 * channel is dead. */
static int bulk_read(struct vgpu_chan *c, uint64_t n, uint64_t max, vgpu_bulk_fn fn, void *ctx)
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
		if (take > max)
			take = max;
		if (fn && !first) {
			/* A private copy: the proxy may not rely on anything but its bytes. */
			memcpy(fz.scratch, rec_p, (size_t)take);
			first = fn(ctx, fz.scratch, take, done);
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

int vgpu_chan_bulk_read_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx)
{
	return bulk_read(c, n, FZ_CHUNK, fn, ctx);
}

int vgpu_chan_bulk_read_cb_step(struct vgpu_chan *c, uint64_t n, uint32_t step, vgpu_bulk_fn fn, void *ctx)
{
	return bulk_read(c, n, piece_max(step), fn, ctx);
}

int vgpu_chan_bulk_read(struct vgpu_chan *c, void *dst, uint64_t n)
{
	struct copy_ctx cc = { dst };
	return vgpu_chan_bulk_read_cb(c, n, copy_fn, &cc);
}

/* The zone's bulk output: fn fills pieces of at most max bytes, which are dropped. */
static int bulk_write(struct vgpu_chan *c, uint64_t n, uint64_t max, vgpu_bulk_fn fn, void *ctx)
{
	int first = 0;
	if (c->broken)
		return -EPIPE;
	for (uint64_t done = 0; done < n;) {
		uint64_t take = n - done < max ? n - done : max;
		if (fn && !first)
			first = fn(ctx, fz.scratch, take, done);
		done += take;
	}
	return first;
}

int vgpu_chan_bulk_write_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx)
{
	return bulk_write(c, n, FZ_CHUNK, fn, ctx);
}

int vgpu_chan_bulk_write_cb_step(struct vgpu_chan *c, uint64_t n, uint32_t step, vgpu_bulk_fn fn, void *ctx)
{
	return bulk_write(c, n, piece_max(step), fn, ctx);
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
	*base = fz.scratch;
	*len = FZ_BULK_AREA / 4;
}

/*
 * The memfd a zone passes with VGPU_OP_PINNED_MAP: a fresh sealed one of the size the message
 * declares (its first element), up to FZ_PINNED_MAX, else of 64 KiB (the map is then refused
 * for its size, as a lying zone's would be). Sparse: only the pages copies touch cost memory.
 */
int vgpu_chan_recv_fd(struct vgpu_chan *c, int *fd)
{
	const struct fz_zone *zz = chan_zone(c);
	const uint8_t *p = zz->payload;
	uint64_t want = 64u << 10, v = 0;

	*fd = -1;
	if (c->broken)
		return -EPIPE;
	if (zz->len >= 2 && (p[0] & 0xf0) == 0x90) {   /* [bytes, ...]: a uint in any width */
		if (p[1] < 0x80)
			v = p[1];
		else if (p[1] == 0xcd && zz->len >= 4)
			v = (uint64_t)p[2] << 8 | p[3];
		else if (p[1] == 0xce && zz->len >= 6)
			v = (uint64_t)p[2] << 24 | (uint64_t)p[3] << 16 | (uint64_t)p[4] << 8 | p[5];
		else if (p[1] == 0xcf && zz->len >= 10)
			v = fz_rd_be64(p + 2);
	}
	if (v && v <= FZ_PINNED_MAX)
		want = v;
	int f = memfd_create("fz-pinned", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0)
		return -errno;
	if (ftruncate(f, (off_t)want) < 0 ||
	    fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		close(f);
		return -EIO;
	}
	*fd = f;
	return 0;
}

const char *vgpu_chan_strerror(const struct vgpu_chan *c) { return c->why; }
void vgpu_chan_close(struct vgpu_chan *c) { free(c); }
/* Workers quiesce zones through these; the harness never stops a channel. */
int vgpu_chan_recv_stoppable(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap,
			     const atomic_int *stop)
{
	(void)stop;
	return vgpu_chan_recv(c, hdr, buf, cap);
}
int vgpu_chan_interrupt(struct vgpu_chan *c) { (void)c; return 0; }
void vgpu_chan_set_spin(struct vgpu_chan *c, uint32_t spin_ns) { (void)c; (void)spin_ns; }

/* ---- zone fibers ---- */

/*
 * Zone zz's channels, on the calling thread (zone 0: the main thread; zone 1: its own), while
 * the script gives the zone messages: the message handed over (has_msg) opens a channel, the
 * zone's next ones are served on it, and after it closes the zone's next message opens the
 * next channel. Returns at another zone's record or the end of the script.
 */
static void zone_serve(struct fz_zone *zz)
{
	while (zz->cmd == FZ_SERVE && zz->has_msg) {
		struct vgpu_chan *c = calloc(1, sizeof(*c));
		if (!c)
			abort();
		c->zone = zz->idx;
		/* A new channel is a new proxy thread: no current context. */
		if (fz.be.fn.cuCtxSetCurrent)
			fz.be.fn.cuCtxSetCurrent(NULL);
		zz->serving = 1;
		vgpu_chan_serve(&zz->zone, &fz.be, c, ++zz->chan_no, NULL);
		vgpu_chan_close(c);
		zone_quiesce(zz);
		zz->serving = 0;
		zz->has_msg = 0;
		zz->want_reply = 0;
		msg_done(zz);   /* a message that closed the channel, if one did */
		if (zz->cmd != FZ_SERVE)
			break;      /* closed by the main thread */
		/* The channel closed itself or by the zone's own CLOSE record: the zone's next
		 * message opens a new one here; a CLOSE with no channel open does nothing. */
		while (own_next(zz) == FZ_REC_CLOSE)
			;
	}
}

/* Zone 1's fiber: serves each turn the main fiber gives it, then hands the turn back. */
static void zone_fiber(void)
{
	turn_arrived();
	struct fz_zone *zz = &fz.z[fz_self];
	for (;;) {
		zone_serve(zz);
		turn_to(zz->idx, 0);
	}
}

/*
 * Messages whose device accesses the memory oracle leaves alone: kernel launches, and graph
 * launches (their kernels, and copies and memsets whose ranges were checked when they were
 * captured), all confined by the zone's own context and worker process, as docs/SECURITY.md
 * says.
 */
static int is_launch(uint16_t op)
{
	return op == VGPU_OP_cuLaunchKernel || op == VGPU_OP_cuLaunchKernel_ptsz || op == VGPU_OP_cuLaunchKernelEx ||
	       op == VGPU_OP_cuLaunchKernelEx_ptsz || op == VGPU_OP_cuLaunchCooperativeKernel ||
	       op == VGPU_OP_cuLaunchCooperativeKernel_ptsz || op == VGPU_OP_cuGraphLaunch ||
	       op == VGPU_OP_cuGraphLaunch_ptsz;
}

/* Give zone zz (1) the turn with command cmd; returns when its fiber hands it back. */
static void zone_turn(struct fz_zone *zz, enum fz_cmd cmd)
{
	zz->cmd = cmd;
	if (cmd != FZ_SERVE)
		atomic_store(&fz.kernel_msg, 0);   /* msg_take set it for a message */
	atomic_store(&fz.active, zz->idx);
	turn_to(0, zz->idx);
	atomic_store(&fz.active, -1);
	zz->cmd = FZ_NONE;
}

/*
 * Opcodes held back from the fuzzer while a known, not yet fixed bug sits behind them
 * (fuzz/known/README.md); VGPU_FUZZ_ALL_OPS=1 lets them through. None at the moment: the
 * primary-context bug that held back cuDevicePrimaryCtxRelease/Reset is fixed (d06c012).
 */
static const uint16_t known_bug_ops[] = { 0 };
static const size_t n_known_bug_ops = 0;
static int all_ops;


static int op_held_back(uint16_t op)
{
	if (all_ops)
		return 0;
	for (size_t i = 0; i < n_known_bug_ops; i++)
		if (op == known_bug_ops[i])
			return 1;
	return 0;
}

/* ---- walking the script (whichever thread has the turn) ---- */

/* Digest of zone zz's tables: the one the oracle last computed while zz was idle, if any. */
static uint64_t zone_digest(struct fz_zone *zz)
{
	if (!zz->dg_ok) {
		zz->dg = fz_zone_digest(&zz->zone);
		zz->dg_ok = 1;
	}
	return zz->dg;
}

/* Consumes the records no zone's fiber is needed for (BULK bytes nobody asked for, ALIAS
 * records); the kind of the next record (FZ_REC_MSG or FZ_REC_CLOSE, *zone set), or -1 at
 * the end of the script. */
static int script_next(int *zone)
{
	for (;;) {
		int k = rec_peek(zone);
		if (k != FZ_REC_BULK && k != FZ_REC_ALIAS)
			return k;
		uint8_t h[FZ_BULK_HDR];
		rec_header(h, sizeof(h));
		uint32_t n = rd_u32(h + 1);
		const uint8_t *rec = rec_body(&n);
		if (k == FZ_REC_ALIAS)
			fz_alias_add(&fz.z[*zone], rec, n);
	}
}

/*
 * Takes the MSG record at fz.off for zone zz: the message is handed over (has_msg) and the
 * digest of the other zone's tables kept for the ownership oracle; 0 when the opcode is
 * held back (the record is consumed all the same).
 */
static int msg_take(struct fz_zone *zz)
{
	uint8_t h[FZ_MSG_HDR];
	rec_header(h, sizeof(h));
	zz->hdr.opcode = rd_u16(h + 1);
	zz->hdr.flags = rd_u16(h + 3) & (uint16_t)~VGPU_MSG_F_REPLY;   /* the ring refuses F_REPLY from a client */
	zz->len = rd_u32(h + 5);
	/* rec_body clamps the length first (an argument next to it could be read before) */
	const uint8_t *body = rec_body(&zz->len);
	zz->payload = fz_alias_apply(zz, body, zz->len);
	if (op_held_back(zz->hdr.opcode))
		return 0;
	zz->hdr.len = zz->len;
	zz->hdr.seq = ++zz->seq;
	zz->hdr.reserved = 0;
	zz->want_reply = !(zz->hdr.flags & VGPU_MSG_F_ASYNC) &&
			 (zz->hdr.opcode < VGPU_OP_CONTROL_BASE || vgpu_op_is_client_control(zz->hdr.opcode));
	zz->other_before = zone_digest(&fz.z[!zz->idx]);
	zz->dg_ok = 0;   /* this zone's tables may change from now on */
	zz->in_msg = 1;
	atomic_store(&fz.kernel_msg, is_launch(zz->hdr.opcode));
	atomic_store(&fz.active, zz->idx);
	zz->has_msg = 1;
	return 1;
}

/* After a message of zone zz (its queued work done): the per-message oracles. */
static void msg_done(struct fz_zone *zz)
{
	if (!zz->in_msg)
		return;
	zz->in_msg = 0;
	FZ_CHECK(!zz->want_reply, "zone %d: synchronous request opcode %u got no reply and the channel stayed open",
		 zz->idx, zz->hdr.opcode);
	fz_check_after_message(zz->idx, zz->other_before);
	/* The other zone's digest was just found equal to other_before; nothing but its own
	 * messages and closes changes its tables, so the next message need not compute it. */
	fz.z[!zz->idx].dg = zz->other_before;
	fz.z[!zz->idx].dg_ok = 1;
}

/*
 * On the main fiber: zone 1's records, each handed to its fiber (which serves its following
 * records too), up to a record of zone 0 (0) or the end of the script (-1).
 */
static int other_zones(void)
{
	for (;;) {
		int z, k = script_next(&z);
		if (k < 0)
			return -1;
		if (z == 0)
			return 0;
		struct fz_zone *zz = &fz.z[z];
		if (k == FZ_REC_CLOSE) {
			fz.off++;
			if (zz->serving) {
				zz->dg_ok = 0;
				zone_turn(zz, FZ_CLOSE);
			}
			continue;
		}
		if (msg_take(zz))
			zone_turn(zz, FZ_SERVE);
	}
}

/*
 * On zone zz's thread, between its messages: takes the zone's own next record. FZ_REC_MSG:
 * a message is handed over (has_msg); FZ_REC_CLOSE: the zone's channel is to close (the
 * record is consumed); -1: the other zone's record or the end, left to the main thread.
 */
static int own_next(struct fz_zone *zz)
{
	for (;;) {
		int z, k = script_next(&z);
		if (k < 0 || z != zz->idx)
			return -1;
		if (k == FZ_REC_CLOSE) {
			fz.off++;
			zz->dg_ok = 0;
			atomic_store(&fz.kernel_msg, 0);
			return FZ_REC_CLOSE;
		}
		if (msg_take(zz))
			return FZ_REC_MSG;
	}
}

/* ---- per-run state ---- */

/*
 * Pools destroyed by this run's teardowns so far. A device's default or current pool is
 * shared by both zones here (one simulator; each worker process has its own in the proxy),
 * so it can be in both zones' tables: the second teardown must not destroy it again.
 */
static void *gone_pools[2 * FZ_HANDLES];
static unsigned n_gone_pools;

static int pool_gone(void *pool)
{
	for (unsigned i = 0; i < n_gone_pools; i++)
		if (gone_pools[i] == pool)
			return 1;
	return 0;
}

/* Free what the zone still holds, as the worker does when a zone goes away (worker.c). */
/* Both zones are zones of one registration, as a pod's processes are: IPC handles one
 * exports reach the other's open (through the table the registration's workers share). */
static struct vgpu_pool *fz_pool;

static void zone_teardown(struct fz_zone *zz)
{
	const struct vgpu_backend_fns *f = &fz.be.fn;
	struct vgpu_zone *z = &zz->zone;
	CUcontext ctxs[FZ_HANDLES];
	unsigned n_ctx = 0;
	void *real;
	struct vgpu_alloc a;

	while (n_ctx < FZ_HANDLES && vgpu_zone_pop_handle(z, VGPU_H_CONTEXT, &real) == 0)
		if (!vgpu_green_is_alias(z, real))   /* as the worker: a green context's CUcontext goes with it */
			ctxs[n_ctx++] = real;
	if (n_ctx)
		f->cuCtxSetCurrent(ctxs[0]);
	vgpu_ipc_zone_end(z, f);   /* as the worker: exports out of the registration's table, imports closed */
	for (unsigned e = 0; e < VGPU_IPC_ENTRIES; e++)
		FZ_CHECK(!(fz_pool->ipc[e].kind && fz_pool->ipc[e].slot == z->pool_slot),
			 "zone %d: IPC export %u left in the registration's table after its teardown", zz->idx, e);
	while (vgpu_zone_pop_handle(z, VGPU_H_EVENT, &real) == 0)
		f->cuEventDestroy_v2(real);
	while (vgpu_zone_pop_handle(z, VGPU_H_STREAM, &real) == 0)
		f->cuStreamDestroy_v2(real);
	vgpu_green_zone_end(z, f);   /* green contexts after their streams, before the primary contexts */
	while (vgpu_zone_pop_handle(z, VGPU_H_GRAPH_EXEC, &real) == 0)
		if (f->cuGraphExecDestroy)
			f->cuGraphExecDestroy(real);
	vgpu_ckpt_release_all(z, &fz.be);   /* the executable graphs' copies of their graphs */
	while (vgpu_zone_pop_handle(z, VGPU_H_GRAPH, &real) == 0)
		if (f->cuGraphDestroy && fz_sabotage != SAB_LEAKS)
			f->cuGraphDestroy(real);
	while (vgpu_zone_pop_handle(z, VGPU_H_FUNCTION, &real) == 0)
		;
	while (vgpu_zone_pop_handle(z, VGPU_H_KERNEL, &real) == 0)
		;
	while (vgpu_zone_pop_handle(z, VGPU_H_MODULE, &real) == 0)
		f->cuModuleUnload(real);
	while (vgpu_zone_pop_handle(z, VGPU_H_LIBRARY, &real) == 0)
		if (f->cuLibraryUnload)
			f->cuLibraryUnload(real);
	uint64_t vp, vsz, vh;
	while (vgpu_vmm_pop_range(z, &vp, &vsz) == 0)
		if (f->cuMemUnmap)
			f->cuMemUnmap((CUdeviceptr)vp, (size_t)vsz);
	while (vgpu_vmm_pop_handle(z, &vh) == 0)
		if (f->cuMemRelease)
			f->cuMemRelease((CUmemGenericAllocationHandle)vh);
	/* The reservations too, as the worker's zone_release does. Kept, each was one more
	 * mapping of this long-lived process: tens of thousands of iterations later the kernel's
	 * limit on mappings (vm.max_map_count) was reached and the sanitizer's own next mmap
	 * failed, aborting the run on whatever input came then. */
	while (vgpu_vmm_pop_reservation(z, &vp, &vsz) == 0)
		if (f->cuMemAddressFree && fz_sabotage != SAB_VMM_LEAKS)
			f->cuMemAddressFree((CUdeviceptr)vp, (size_t)vsz);
	uint64_t wb;
	vgpu_proxy_fixed_va_end(z, f, ctxs, n_ctx, &wb);   /* the fixed window's memory, as zone_release frees it */
	FZ_CHECK(z->devva.n == 0 && z->devva.bytes == 0, "zone %d: fixed-window memory left after teardown", zz->idx);
	while (vgpu_zone_pop_alloc(z, &a) == 0) {
		CUresult r = f->cuMemFree_v2((CUdeviceptr)a.base);
		for (unsigned i = 1; r != CUDA_SUCCESS && i < n_ctx; i++) {
			f->cuCtxSetCurrent(ctxs[i]);
			r = f->cuMemFree_v2((CUdeviceptr)a.base);
		}
	}
	while (vgpu_zone_pop_handle(z, VGPU_H_MEMORY_POOL, &real) == 0)
		if (f->cuMemPoolDestroy && !pool_gone(real)) {
			f->cuMemPoolDestroy(real);
			if (n_gone_pools < sizeof(gone_pools) / sizeof(gone_pools[0]))
				gone_pools[n_gone_pools++] = real;
		}
	vgpu_proxy_links_gone(z, &fz.be, NULL, 1);
	if (z->hostfn)
		vgpu_hostfn_kill(z->hostfn);
	for (unsigned t = 0; t < VGPU_H_COUNT; t++)
		while (vgpu_zone_pop_handle(z, t, &real) == 0)
			;
	for (unsigned i = 0; i < n_ctx && z->pinned.n; i++)
		if (f->cuCtxSetCurrent(ctxs[i]) == CUDA_SUCCESS)
			f->cuCtxSynchronize();
	vgpu_pinned_fini(&z->pinned, &(struct vgpu_pinned_drv){ .host_unregister = f->cuMemHostUnregister });
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
	vgpu_zone_limits_drop(z);   /* the contexts' limits went with them */
	vgpu_tex_zone_drop(z);      /* and their arrays' charges */
	/* Quotas: everything the zone held is given back. */
	FZ_CHECK(z->htab.live == 0 && z->amap.n == 0 && z->vmm.ranges.n == 0 && z->mem.used == 0 && z->bulk_used == 0,
		 "zone %d after teardown: %u handles, %u allocations, %llu bytes charged, %llu bulk bytes", zz->idx,
		 z->htab.live, z->amap.n, (unsigned long long)z->mem.used, (unsigned long long)z->bulk_used);
	vgpu_pool_slot_drop(fz_pool, z->pool_slot);
	vgpu_zone_destroy(z);
}

/*
 * The keys of each zone's handle ids, pinned-region ids and physical-memory ids: fixed here, where the proxy
 * draws them at random, so that a run is repeatable (a script that does arithmetic on an
 * id, or a translated recorded id that lands next to one, named a handle or not depending
 * on the draw: unstable paths for AFL). They still differ between the zones, which is what
 * the keys are for (another zone's id names nothing); the top bits are set by
 * vgpu_htab_set_key and here, as the proxy's own keys have them.
 */
static const uint64_t zone_keys[FZ_ZONES][2] = {
	{ 0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull },
	{ 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull },
};

static void zones_init(void)
{
	if (!fz_pool) {
		int fd = -1;
		if (!(fz_pool = vgpu_pool_create(0, 0, &fd)))
			abort();
		close(fd);
	}
	/* No zone here has a host-function thread: a host function the driver runs returns at
	 * once, and a zone's wait for one does not wait. */
	vgpu_hostfn_detached = 1;
	vgpu_hostfn_wait_ms = 0;
	struct vgpu_zone_limits lim = { .mem_bytes = FZ_MEM_LIMIT, .handles = FZ_HANDLES,
					.bulk_inflight = FZ_BULK_LIMIT, .pinned_bytes = FZ_PINNED_LIMIT };
	for (int i = 0; i < FZ_ZONES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "fuzz%d", i);
		if (vgpu_zone_init(&fz.z[i].zone, (uint32_t)i + 1, name, &lim, NULL) < 0)
			abort();
		int slot = vgpu_pool_slot_take(fz_pool);
		if (slot < 0)
			abort();
		vgpu_zone_set_pool(&fz.z[i].zone, fz_pool, slot);
		vgpu_htab_set_key(&fz.z[i].zone.htab, zone_keys[i][0]);   /* the table is still empty */
		fz.z[i].zone.pinned.key = zone_keys[i][1] | 1ull << 63;   /* as vgpu_pinned_init: ids never 0 */
		/* as vgpu_vmm_init: the top bit set, serials in the low half */
		fz.z[i].zone.vmm.key = ((zone_keys[i][0] ^ zone_keys[i][1]) | 1ull << 63) & ~0xffffffffull;
		/* zone 1's device memory is placed in the fixed window (--device-va fixed), zone 0's
		 * by the driver: both paths under the same messages and oracles */
		if (i == 1 && vgpu_devva_enable(&fz.z[i].zone.devva, VGPU_DEVVA_BASE, VGPU_DEVVA_SIZE) < 0)
			abort();
		if (i == 1)
			vgpu_devva_set_idle(&fz.z[i].zone.devva, FZ_MEM_LIMIT);
		fz.z[i].seq = 0;
		fz.z[i].chan_no = 0;
		fz.z[i].in_msg = 0;
		fz.z[i].dg_ok = 0;
		fz.z[i].n_alias = 0;
		fz.z[i].n_last = 0;
	}
}

int fz_setup(void)
{
	char path[512], why[256];
	int rc;

	if (fz.ready)
		return 0;
	all_ops = getenv("VGPU_FUZZ_ALL_OPS") && atoi(getenv("VGPU_FUZZ_ALL_OPS"));
	fz.trace = getenv("VGPU_FUZZ_TRACE") && atoi(getenv("VGPU_FUZZ_TRACE"));
	const char *sab = getenv("VGPU_FUZZ_SABOTAGE");
	if (sab && *sab) {
		fz_sabotage = !strcmp(sab, "memory") ? SAB_MEMORY : !strcmp(sab, "ownership") ? SAB_OWNERSHIP :
			   !strcmp(sab, "reply") ? SAB_REPLY : !strcmp(sab, "kernel") ? SAB_KERNEL :
			   !strcmp(sab, "spaces") ? SAB_SPACES : !strcmp(sab, "leaks") ? SAB_LEAKS :
			   !strcmp(sab, "vmm-leaks") ? SAB_VMM_LEAKS : -1;
		if (fz_sabotage < 0) {
			fprintf(stderr, "vgpu-fuzz: VGPU_FUZZ_SABOTAGE=%s: expected memory, ownership, reply, kernel, spaces, leaks "
				"or vmm-leaks\n", sab);
			return -EINVAL;
		}
	}
	vgpu_log_set_level(getenv("VGPU_FUZZ_LOG") ? vgpu_log_parse_level(getenv("VGPU_FUZZ_LOG")) : -1);
	setenv("VGPU_SIM_QUIET", "1", 0);
	setenv("VGPU_SIM_MEM", "256M", 0);
	setenv("VGPU_SIM_THREADS", "1", 0);
	/* an input allocates, copies into and frees what the one before did: freed memory stays
	 * resident, zeroed in place, instead of being faulted in again page by page (any free:
	 * the arena's 256 MiB at most stay resident) */
	setenv("VGPU_SIM_KEEP_FREED", "256M", 0);
	/* the seeds that load modules make every mutant load the same PTX text: parsed once
	 * (11 % of a campaign's time went to parsing it again) */
	setenv("VGPU_SIM_PTX_CACHE", "16", 0);
	/* device pointers as in seeds recorded with the same base (fuzz/README.md): kernel
	 * parameters hold raw pointers, which the harness's aliases cannot translate */
	setenv("VGPU_SIM_ARENA_BASE", FZ_SIM_ARENA_BASE, 0);
	/* A launch that runs 10 million instructions fails with CUDA_ERROR_LAUNCH_TIMEOUT (the
	 * simulator's default, 10^10, is minutes: an AFL hang). The corpus needs under 10^5. */
	setenv("VGPU_SIM_WATCHDOG_INSNS", "10000000", 0);
	if ((rc = vgpu_backend_find_sim(getenv("VGPU_SIM_LIB"), path, sizeof(path))) < 0) {
		fprintf(stderr, "vgpu-fuzz: the simulator is not at %s; build it (make) or set VGPU_SIM_LIB\n", path);
		return rc;
	}
	if ((rc = vgpu_backend_load(VGPU_BACKEND_SIM, path, &fz.be, why, sizeof(why))) < 0) {
		fprintf(stderr, "vgpu-fuzz: cannot load the simulator %s: %s\n", path, why);
		return rc;
	}
	if ((rc = vgpu_dispatch_load(&fz.be)) < 0) {
		fprintf(stderr, "vgpu-fuzz: cannot bind the generated driver table: %s\n", strerror(-rc));
		return rc;
	}
	fz_waits_install();
	void (*set_hook)(void (*)(void *, uint64_t, uint64_t, int), void *) =
		(void (*)(void (*)(void *, uint64_t, uint64_t, int), void *))dlsym(fz.be.dl, "vgpu_sim_set_access_hook");
	if (!set_hook) {
		fprintf(stderr, "vgpu-fuzz: %s has no vgpu_sim_set_access_hook; the memory oracle needs it\n", path);
		return -ENOSYS;
	}
	set_hook(fz_mem_hook, NULL);
	*(void **)&fz.set_space = dlsym(fz.be.dl, "vgpu_sim_set_space");
	*(void **)&fz.kernel_space = dlsym(fz.be.dl, "vgpu_sim_kernel_space");
	if (!fz.set_space || !fz.kernel_space) {
		fprintf(stderr, "vgpu-fuzz: %s has no address spaces (vgpu_sim_set_space); the kernel oracle needs them\n", path);
		return -ENOSYS;
	}
	*(void **)&fz.live_objects = dlsym(fz.be.dl, "vgpu_sim_live_objects");
	*(void **)&fz.release_orphans = dlsym(fz.be.dl, "vgpu_sim_release_orphans");
	*(void **)&fz.live_vmm = dlsym(fz.be.dl, "vgpu_sim_live_vmm");
	*(void **)&fz.live_events = dlsym(fz.be.dl, "vgpu_sim_live_events");
	if (!fz.live_objects || !fz.release_orphans || !fz.live_vmm || !fz.live_events) {
		fprintf(stderr, "vgpu-fuzz: %s has no vgpu_sim_live_objects, vgpu_sim_live_vmm, vgpu_sim_live_events or "
			"vgpu_sim_release_orphans; "
			"the leak oracle needs them\n", path);
		return -ENOSYS;
	}
	fz.set_space(1);   /* zone 0 runs on this thread */
	void (*space_checks)(int) = (void (*)(int))dlsym(fz.be.dl, "vgpu_sim_space_checks");
	if (fz_sabotage == SAB_SPACES && space_checks)
		space_checks(0);
	fz_check_dispatch_table();
	if (!(fz.scratch = malloc(FZ_BULK_AREA / 4)))
		return -ENOMEM;
	*(void **)&fz.state_save = dlsym(fz.be.dl, "vgpu_sim_thread_state_save");
	*(void **)&fz.state_load = dlsym(fz.be.dl, "vgpu_sim_thread_state_load");
	size_t (*state_size)(void) = (size_t (*)(void))dlsym(fz.be.dl, "vgpu_sim_thread_state_size");
	if (!fz.state_save || !fz.state_load || !state_size) {
		fprintf(stderr, "vgpu-fuzz: %s has no vgpu_sim_thread_state_*; the zones' fibers need them\n", path);
		return -ENOSYS;
	}
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	void *sc = libc ? dlsym(libc, "swapcontext") : NULL;
	if (sc)
		*(void **)&fz_swapcontext = sc;
	fz_self = 0;   /* zone 0's channels run on this thread's own stack */
	for (int i = 0; i < FZ_ZONES; i++) {
		fz.z[i].idx = i;
		if (!(fz.z[i].sim_state = malloc(state_size())))
			return -ENOMEM;
		fz.state_save(fz.z[i].sim_state);   /* nothing current yet: a fresh thread's state */
		if (i && (rc = fiber_init(&fz.z[i])) < 0)
			return rc;
	}
	fz.ready = 1;
	return 0;
}

void fz_run_one(const uint8_t *data, size_t len)
{
	fz.in = data;
	fz.in_len = len;
	fz.off = 0;
	zones_init();
	struct fz_zone *z0 = &fz.z[0];
	while (other_zones() == 0) {
		/* a record of zone 0, which has no channel open: a close does nothing */
		int z;
		if (rec_peek(&z) == FZ_REC_CLOSE) {
			fz.off++;
			continue;
		}
		if (msg_take(z0)) {
			z0->cmd = FZ_SERVE;
			zone_serve(z0);   /* until zone 1's record or the end */
			z0->cmd = FZ_NONE;
		}
	}
	for (int i = 1; i < FZ_ZONES; i++)
		if (fz.z[i].serving)
			zone_turn(&fz.z[i], FZ_CLOSE);
	n_gone_pools = 0;
	for (int i = 0; i < FZ_ZONES; i++)
		zone_teardown(&fz.z[i]);
	/* Graphs of captures whose streams were destroyed stay the driver's in the simulator
	 * until the process ends (a program may hold one); in a worker that is the zone's end.
	 * This process goes on to the next input: kept, they piled up over a campaign, and with
	 * them the graph allocations that every cuMemFree searched (9 % of one campaign profile). */
	fz.release_orphans();
	/* Leak oracle: the zones are gone, and with them every graph, executable graph, pool,
	 * library and stream-ordered allocation they made. One the driver still holds was
	 * forgotten by the worker while its zone ran (its handle or range dropped, the object
	 * not destroyed or freed): driver memory no quota counts, which a zone could make again
	 * without bound. */
	long graphs, execs, pools, libs, ordered;
	fz.live_objects(&graphs, &execs, &pools, &libs, &ordered);
	FZ_CHECK(graphs == 0 && execs == 0 && pools == 0 && libs == 0 && ordered == 0,
		 "after both zones ended the driver still holds %ld graphs, %ld executable graphs, %ld memory pools, "
		 "%ld libraries and %ld stream-ordered allocations that the zones made", graphs, execs, pools, libs,
		 ordered);
	/* and virtual memory, which outlives contexts too: the worker's tables of it (proxy/vmm.c),
	 * the fixed window's and a restore's spans must all have been given back */
	long phys, maps, resvs;
	fz.live_vmm(&phys, &maps, &resvs);
	FZ_CHECK(phys == 0 && maps == 0 && resvs == 0,
		 "after both zones ended the driver still holds %ld physical allocations, %ld mappings and %ld address "
		 "reservations of virtual memory that the zones made", phys, maps, resvs);
	/* and events, which go with their contexts: every context of both zones is gone */
	long events;
	fz.live_events(&events);
	FZ_CHECK(events == 0, "after both zones ended the driver still holds %ld events that the zones made", events);
}
