/* SPDX-License-Identifier: MIT */
/* chan.c — the transport-independent grant ring: messages, bulk streams, wakeups and validation of everything the peer writes. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring.h"

/*
 * Memory-ordering summary (docs/RING.md has the full argument):
 *  - A producer writes bytes into a ring, then store-RELEASEs its producer index; the
 *    consumer load-ACQUIREs that index before reading the bytes.
 *  - A consumer finishes copying bytes out, then store-RELEASEs its consumer index; the
 *    producer load-ACQUIREs it before overwriting the space.
 *  - Wakeups are a Dekker pattern: the sleeper stores its "sleeping" mask, issues a
 *    seq_cst fence, then re-reads the ring indices; the waker stores its index, issues a
 *    seq_cst fence, then reads the sleeping mask. At least one of them sees the other's
 *    store, so a wakeup is never lost.
 */

static _Thread_local char setup_err[256];

void vgpu_chan_set_setup_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(setup_err, sizeof(setup_err), fmt, ap);
	va_end(ap);
}

const char *vgpu_chan_setup_error(void)
{
	return setup_err;
}

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int vgpu_chan_geom_check(const struct vgpu_chan_geom *g)
{
	if (!g || !is_pow2(g->msg_ring_bytes) || !is_pow2(g->bulk_bytes))
		return -EINVAL;
	if (g->msg_ring_bytes < VGPU_CHAN_MIN_RING || g->msg_ring_bytes > VGPU_CHAN_MAX_RING)
		return -EINVAL;
	if (g->bulk_bytes < VGPU_CHAN_MIN_BULK || g->bulk_bytes > VGPU_CHAN_MAX_BULK)
		return -EINVAL;
	return 0;
}

void vgpu_ring_init_region(void *region, const struct vgpu_chan_geom *g, uint32_t start_index)
{
	struct vgpu_ring_hdr *h = region;
	uint32_t msg_start = start_index & ~(VGPU_RING_ALIGN - 1);

	assert(vgpu_chan_geom_check(g) == 0);
	h->magic = VGPU_RING_MAGIC;
	h->version = VGPU_RING_VERSION;
	h->hdr_bytes = VGPU_RING_PAGE;
	h->reserved0 = 0;
	h->region_bytes = vgpu_ring_region_bytes(g);
	h->geom = *g;
	for (int d = 0; d < 2; d++) {
		atomic_init(&h->dir[d].msg_prod, msg_start);
		atomic_init(&h->dir[d].msg_cons, msg_start);
		atomic_init(&h->dir[d].bulk_prod, start_index);
		atomic_init(&h->dir[d].bulk_cons, start_index);
		atomic_init(&h->side[d].sleeping, 0);
		atomic_init(&h->side[d].evt, 0);
		atomic_init(&h->side[d].closed, 0);
		atomic_init(&h->side[d].saved, 0);
	}
	/* The region reaches the peer only through a later syscall (sendmsg / grant), which
	 * orders these plain stores before anything the peer does. */
}

int vgpu_ring_check_region(const void *region, uint64_t region_bytes,
			   struct vgpu_chan_geom *g /* out */, char *why, size_t why_len)
{
	const struct vgpu_ring_hdr *h = region;
	struct vgpu_ring_hdr copy;

	if (region_bytes < VGPU_RING_PAGE) {
		snprintf(why, why_len, "region of %llu bytes is smaller than the %u-byte header page",
			 (unsigned long long)region_bytes, VGPU_RING_PAGE);
		return -EPROTO;
	}
	/* Copy the header once; every check below and the geometry we keep use the copy,
	 * so a peer rewriting the header now cannot make us validate one value and use another. */
	memcpy(&copy, h, offsetof(struct vgpu_ring_hdr, dir));
	if (copy.magic != VGPU_RING_MAGIC) {
		snprintf(why, why_len, "bad ring magic 0x%08x (expected 0x%08x): not a vgpu channel region",
			 copy.magic, VGPU_RING_MAGIC);
		return -EPROTO;
	}
	if (copy.version != VGPU_RING_VERSION || copy.hdr_bytes != VGPU_RING_PAGE) {
		snprintf(why, why_len, "ring version %u / header size %u unsupported (expected %u / %u)",
			 copy.version, copy.hdr_bytes, VGPU_RING_VERSION, VGPU_RING_PAGE);
		return -EPROTO;
	}
	if (vgpu_chan_geom_check(&copy.geom)) {
		snprintf(why, why_len, "bad geometry msg_ring_bytes=%u bulk_bytes=%u (powers of two, "
			 "ring %u..%u, bulk %u..%u)", copy.geom.msg_ring_bytes, copy.geom.bulk_bytes,
			 VGPU_CHAN_MIN_RING, VGPU_CHAN_MAX_RING, VGPU_CHAN_MIN_BULK, VGPU_CHAN_MAX_BULK);
		return -EPROTO;
	}
	if (copy.region_bytes != vgpu_ring_region_bytes(&copy.geom) || copy.region_bytes != region_bytes) {
		snprintf(why, why_len, "region size mismatch: header says %llu, geometry needs %llu, mapped %llu",
			 (unsigned long long)copy.region_bytes,
			 (unsigned long long)vgpu_ring_region_bytes(&copy.geom),
			 (unsigned long long)region_bytes);
		return -EPROTO;
	}
	*g = copy.geom;
	return 0;
}

/* Break the channel for good: sticky error plus a precise reason. Returns err. */
static int chan_fail(struct vgpu_chan *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int chan_fail(struct vgpu_chan *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	c->err = err;
	return err;
}

/* Record a reason without breaking the channel. Returns err. */
static int chan_note(struct vgpu_chan *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int chan_note(struct vgpu_chan *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int vgpu_chan_create(void *region, uint64_t region_bytes, const struct vgpu_chan_geom *g,
		     int side, struct vgpu_transport *t, struct vgpu_chan **out /* out */)
{
	struct vgpu_chan *c;
	struct vgpu_ring_hdr *h = region;
	int in = 1 - side, rc;

	assert(side == 0 || side == 1);
	assert(vgpu_ring_region_bytes(g) == region_bytes);
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		vgpu_chan_set_setup_error("out of memory allocating a channel endpoint");
		goto err_t;
	}
	c->hdr = h;
	c->region = region;
	c->region_bytes = region_bytes;
	c->geom = *g;
	c->side = side;
	c->t = t;
	c->out_ring = c->region + vgpu_ring_msg_off(g, side);
	c->in_ring = c->region + vgpu_ring_msg_off(g, in);
	c->out_bulk = c->region + vgpu_ring_bulk_off(g, side);
	c->in_bulk = c->region + vgpu_ring_bulk_off(g, in);
	c->ring_mask = g->msg_ring_bytes - 1;
	c->bulk_mask = g->bulk_bytes - 1;
	c->spin_ns = c->spin_cur = VGPU_CHAN_DEFAULT_SPIN_NS;
	c->bulk_chunk = g->bulk_bytes / 4 < (256u << 10) ? g->bulk_bytes / 4 : (256u << 10);
	/* Our own indices start where the header says (the creator set them; nobody else
	 * writes them). Read once; from now on only our private copies count. */
	c->out_prod = atomic_load_explicit(&h->dir[side].msg_prod, memory_order_relaxed);
	c->out_cons_seen = c->out_prod;
	c->in_cons = atomic_load_explicit(&h->dir[in].msg_cons, memory_order_relaxed);
	c->in_prod_seen = c->in_cons;
	c->bout_prod = atomic_load_explicit(&h->dir[side].bulk_prod, memory_order_relaxed);
	c->bout_cons_seen = c->bout_prod;
	c->bin_cons = atomic_load_explicit(&h->dir[in].bulk_cons, memory_order_relaxed);
	c->bin_prod_seen = c->bin_cons;
	if ((c->out_prod | c->in_cons) & (VGPU_RING_ALIGN - 1)) {
		vgpu_chan_set_setup_error("initial message ring indices 0x%x/0x%x are not %u-byte aligned",
					  c->out_prod, c->in_cons, VGPU_RING_ALIGN);
		rc = -EPROTO;
		goto err_c;
	}
	*out = c;
	return 0;
err_c:
	free(c);
err_t:
	t->ops->close(t);
	return rc;
}

/*
 * Validate a peer-written index. seen is our last accepted value of it, base our own
 * opposite index. For a producer index (peer_prod): base <= new <= base + size. For a
 * consumer index: base - size <= new <= base. In both cases it must not move backwards.
 */
static int idx_check(struct vgpu_chan *c, const char *what, uint32_t v, uint32_t *seen,
		     uint32_t base, uint32_t size, uint32_t align, int peer_prod)
{
	if (v == *seen)
		return 0;
	if ((int32_t)(v - *seen) < 0)
		return chan_fail(c, -EPROTO, "peer moved %s backwards from 0x%08x to 0x%08x",
				 what, *seen, v);
	if (peer_prod ? (uint32_t)(v - base) > size : (uint32_t)(base - v) > size)
		return chan_fail(c, -EPROTO, "peer %s 0x%08x is out of range of our index 0x%08x "
				 "(ring holds %u bytes)", what, v, base, size);
	if (v & (align - 1))
		return chan_fail(c, -EPROTO, "peer %s 0x%08x is not %u-byte aligned", what, v, align);
	*seen = v;
	return 0;
}

/* Bytes queued on the incoming message ring (validated), or -EPROTO. */
static int64_t in_avail(struct vgpu_chan *c)
{
	/* acquire: pairs with the producer's release store of msg_prod; the message bytes it
	 * wrote before that store are visible to our reads after this load. */
	uint32_t p = atomic_load_explicit(&c->hdr->dir[1 - c->side].msg_prod, memory_order_acquire);
	int rc = idx_check(c, "message producer index", p, &c->in_prod_seen, c->in_cons,
			   c->geom.msg_ring_bytes, VGPU_RING_ALIGN, 1);

	return rc ? rc : (int64_t)(uint32_t)(c->in_prod_seen - c->in_cons);
}

/* Free bytes on the outgoing message ring (validated), or -EPROTO. The peer's index is
 * only re-read when our cached view does not already show need bytes free: it is a
 * cache line the consumer writes, so reading it on every send costs a cross-core miss. */
static int64_t out_free(struct vgpu_chan *c, uint32_t need)
{
	uint32_t cached = c->geom.msg_ring_bytes - (uint32_t)(c->out_prod - c->out_cons_seen);
	uint32_t k;
	int rc;

	if (cached >= need)
		return cached;
	/* acquire: pairs with the consumer's release store of msg_cons; its copies out of the
	 * freed space are complete before we overwrite it. */
	k = atomic_load_explicit(&c->hdr->dir[c->side].msg_cons, memory_order_acquire);
	rc = idx_check(c, "message consumer index", k, &c->out_cons_seen, c->out_prod,
		       c->geom.msg_ring_bytes, VGPU_RING_ALIGN, 0);
	return rc ? rc : (int64_t)c->geom.msg_ring_bytes - (uint32_t)(c->out_prod - c->out_cons_seen);
}

static int64_t bin_avail(struct vgpu_chan *c)
{
	/* acquire: pairs with the peer's release store of bulk_prod (bytes before index). */
	uint32_t p = atomic_load_explicit(&c->hdr->dir[1 - c->side].bulk_prod, memory_order_acquire);
	int rc = idx_check(c, "bulk producer index", p, &c->bin_prod_seen, c->bin_cons,
			   c->geom.bulk_bytes, 1, 1);

	return rc ? rc : (int64_t)(uint32_t)(c->bin_prod_seen - c->bin_cons);
}

static int64_t bout_free(struct vgpu_chan *c)
{
	/* acquire: pairs with the peer's release store of bulk_cons (reads before reuse). */
	uint32_t k = atomic_load_explicit(&c->hdr->dir[c->side].bulk_cons, memory_order_acquire);
	int rc = idx_check(c, "bulk consumer index", k, &c->bout_cons_seen, c->bout_prod,
			   c->geom.bulk_bytes, 1, 0);

	return rc ? rc : (int64_t)c->geom.bulk_bytes - (uint32_t)(c->bout_prod - c->bout_cons_seen);
}

/* Wake the peer if it sleeps waiting for any condition in want. */
static int chan_kick(struct vgpu_chan *c, uint32_t want)
{
	struct vgpu_ring_side *ps = &c->hdr->side[1 - c->side];

	/* seq_cst fence: orders our earlier index stores before the load of the peer's
	 * sleeping mask below; pairs with the fence in chan_wait (Dekker). */
	atomic_thread_fence(memory_order_seq_cst);
	if (!(atomic_load_explicit(&ps->sleeping, memory_order_relaxed) & want))
		return 0;
	/* relaxed: evt carries no data, it only makes a concurrent futex_wait fail its compare. */
	atomic_fetch_add_explicit(&ps->evt, 1, memory_order_relaxed);
	return c->t->ops->notify(c->t, &ps->evt);
}

int vgpu_chan_flush(struct vgpu_chan *c)
{
	uint32_t want = (c->need_flush ? VGPU_RING_WANT_DATA : 0) |
			(c->need_space_kick ? VGPU_RING_WANT_SPACE : 0);

	if (!want)
		return 0;
	c->need_flush = c->need_space_kick = 0;
	return chan_kick(c, want);
}

/* A wait that slept counts as one a full spin would have caught when it ended within this
 * many spin_ns (see chan_wait). */
#define VGPU_CHAN_REGROW_FACTOR 4u

/* The adaptive spin doubles, up to spin_ns. */
static void spin_grow(struct vgpu_chan *c)
{
	c->spin_cur = c->spin_cur > c->spin_ns / 2 ? c->spin_ns : c->spin_cur * 2;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

enum wait_kind { W_MSG, W_SPACE, W_BULK_IN, W_BULK_SPACE };

/* 1 when the condition holds, 0 when not yet, -errno when the channel broke. */
static int chan_ready(struct vgpu_chan *c, enum wait_kind k, uint32_t need)
{
	int64_t v;

	switch (k) {
	case W_MSG:        v = in_avail(c); break;
	case W_SPACE:      v = out_free(c, need); break;
	case W_BULK_IN:    v = bin_avail(c); break;
	case W_BULK_SPACE: v = bout_free(c); break;
	default:           return -EINVAL;
	}
	if (v < 0)
		return (int)v;
	return v >= (int64_t)need;
}

static int peer_closed(struct vgpu_chan *c)
{
	/* relaxed: only a hint; data it might guard is re-read through the indices. */
	return atomic_load_explicit(&c->hdr->side[1 - c->side].closed, memory_order_relaxed) != 0;
}

static int peer_saved(const struct vgpu_chan *c)
{
	return c->side == 0 && atomic_load_explicit(&c->hdr->side[1].saved, memory_order_acquire) != 0;
}

/* A stoppable wait for the next message was asked to stop (vgpu_chan_recv_stoppable). */
static int stopped(const struct vgpu_chan *c, enum wait_kind k)
{
	return k == W_MSG && c->stop && atomic_load_explicit(c->stop, memory_order_acquire);
}

/*
 * Block until condition k (>= need bytes) holds: flush our pending notifications, spin for
 * spin_ns, then sleep announcing what we wait for, waking every VGPU_CHAN_LIVENESS_MS to
 * check that the peer lives. Returns 0 when ready, -EPIPE / -EPROTO otherwise.
 */
static int chan_wait(struct vgpu_chan *c, enum wait_kind k, uint32_t need)
{
	struct vgpu_ring_side *me = &c->hdr->side[c->side];
	uint32_t want = (k == W_MSG || k == W_BULK_IN) ? VGPU_RING_WANT_DATA : VGPU_RING_WANT_SPACE;
	int r;

	r = vgpu_chan_flush(c);
	if (r < 0)
		return r;
	/* A peer that last waited on the CPU we run on cannot answer while we spin: it needs
	 * this CPU (both on one core, the scheduler's choice on a busy machine). Spinning there
	 * cost 110 us per call; the spin yields the CPU instead (below). The CPU numbers only
	 * compare under one kernel; a hostile peer can only make us yield. */
	int colocated = 0;
	if (c->t->ops->shares_cpus) {
		int cpu = sched_getcpu();
		if (cpu >= 0) {
			uint32_t mine = (uint32_t)cpu + 1;
			/* written only when it changed: the line is the one the peer reads to kick us */
			if (atomic_load_explicit(&me->cpu, memory_order_relaxed) != mine)
				atomic_store_explicit(&me->cpu, mine, memory_order_relaxed);
			colocated = atomic_load_explicit(&c->hdr->side[1 - c->side].cpu, memory_order_relaxed) == mine;
		}
	}
	/* Adaptive spin: spinning pays only while the peer runs on another core. When a spin
	 * ends in a long sleep (the peer was descheduled, or is busy for long), the next spin is
	 * halved; when it succeeds, or the sleep was short (below), it doubles back up to
	 * spin_ns. On an oversubscribed machine this turns a spin_ns-long useless spin per call
	 * into a plain blocking wait. */
	if (c->spin_cur) {
		/* an expected long answer extends the spin in proportion to how well the peer
		 * has been keeping up (spin_cur / spin_ns) */
		uint64_t end = now_ns() + c->spin_cur + (uint64_t)c->spin_extra * c->spin_cur / c->spin_ns;

		for (uint32_t i = 1;; i++) {
			r = chan_ready(c, k, need);
			if (r) {
				if (r > 0)
					spin_grow(c);
				return r < 0 ? r : 0;
			}
			/* on the peer's CPU: give it the CPU instead of spinning on it. Staying
			 * runnable (rather than sleeping at once) leaves both runnable on one CPU,
			 * which is what makes the scheduler move one of them to an idle CPU. */
			if (colocated)
				sched_yield();
			else
				cpu_relax();
			if ((colocated || !(i & 63)) && (now_ns() > end || peer_closed(c) || stopped(c, k)))
				break;
		}
	}
	/* The transport's liveness probe is a syscall, so it runs only when a sleep timed out
	 * (or every 64 wakeups, in case a peer keeps waking us without progress). */
	uint64_t slept_at = now_ns();
	for (uint32_t iter = 1, probe = 0;; iter++) {
		uint32_t e = atomic_load_explicit(&me->evt, memory_order_relaxed);

		atomic_store_explicit(&me->sleeping, want, memory_order_relaxed);
		/* seq_cst fence: orders the sleeping-mask store above before the index loads in
		 * chan_ready; pairs with the fence in chan_kick (Dekker). */
		atomic_thread_fence(memory_order_seq_cst);
		r = chan_ready(c, k, need);
		if (!r && peer_closed(c))
			r = chan_note(c, -EPIPE, "peer closed the channel");
		if (!r && stopped(c, k))
			r = -EINTR; /* not a channel failure: nothing was consumed */
		if (!r && (probe || !(iter & 63)) && !c->t->ops->alive(c->t)) {
			/* A server that vanished with its zone saved in a checkpoint: the zone may be
			 * restored, and this ring served again from where it stopped. */
			if (c->rejoin && peer_saved(c) && c->rejoin(c, c->rejoin_arg) == 0)
				continue;
			r = chan_note(c, -EPIPE, "peer is gone (transport reports it dead)");
		}
		if (r)
			break;
		r = c->t->ops->wait(c->t, &me->evt, e, VGPU_CHAN_LIVENESS_MS);
		probe = r == -ETIMEDOUT;
		if (r < 0 && !probe) {
			chan_note(c, r, "waiting for the peer failed: %s", strerror(-r));
			break;
		}
		r = 0;
	}
	atomic_store_explicit(&me->sleeping, 0, memory_order_relaxed);
	/* The spin's outcome is judged once the wait is over. Ready soon after the spin gave up:
	 * a full spin would (nearly) have caught it without the wake-up, so the spin grows.
	 * (Halving alone would, once it is short, never see a spin succeed against a peer that
	 * answers in a few microseconds; halving first and growing back would leave it where it
	 * was, which is as bad when both sides sleep: each then waits for the other's wake-up,
	 * longer than the short spin, on every call.) The wait measured here includes our own
	 * wake-up, which on a virtual machine takes tens of microseconds: against spin_ns alone,
	 * a peer answering in 30 us would keep both sides at the shortest spin. A peer that was
	 * descheduled keeps us waiting for a scheduler slice, milliseconds, far beyond this
	 * bound: then the spin halves, down to spin_ns / 32. */
	if (r > 0 && c->spin_cur) {
		if (now_ns() - slept_at < VGPU_CHAN_REGROW_FACTOR * (uint64_t)c->spin_ns)
			spin_grow(c);
		else if (c->spin_cur > c->spin_ns / 32)
			c->spin_cur /= 2;
	}
	return r < 0 ? r : 0;
}

/* Copy n bytes out of a ring starting at free-running index idx (wraps at the end). */
static void ring_read(const uint8_t *ring, uint32_t mask, uint32_t idx, void *dst, uint32_t n)
{
	uint32_t off = idx & mask, first = mask + 1 - off;

	assert(n <= mask + 1);
	if (first > n)
		first = n;
	memcpy(dst, ring + off, first);
	memcpy((uint8_t *)dst + first, ring, n - first);
}

static void ring_write(uint8_t *ring, uint32_t mask, uint32_t idx, const void *src, uint32_t n)
{
	uint32_t off = idx & mask, first = mask + 1 - off;

	assert(n <= mask + 1);
	if (first > n)
		first = n;
	memcpy(ring + off, src, first);
	memcpy(ring, (const uint8_t *)src + first, n - first);
}

static uint32_t msg_total(uint32_t len)
{
	return (uint32_t)((sizeof(struct vgpu_msg_hdr) + (uint64_t)len + VGPU_RING_ALIGN - 1) &
			  ~(uint64_t)(VGPU_RING_ALIGN - 1));
}

int vgpu_chan_send(struct vgpu_chan *c, uint16_t opcode, uint16_t flags, uint32_t seq,
		   const void *payload, uint32_t len)
{
	struct vgpu_msg_hdr h = { .len = len, .opcode = opcode, .flags = flags, .seq = seq };
	uint32_t total, max = vgpu_chan_max_msg(&c->geom);
	int r;

	c->spin_extra = 0; /* a new request: what was expected of the last one is over */
	if (c->err)
		return c->err;
	if (len > max)
		return chan_note(c, -EMSGSIZE, "message of %u bytes exceeds ring max %u", len, max);
	if (peer_closed(c))
		return chan_note(c, -EPIPE, "peer closed the channel");
	total = msg_total(len);
	for (;;) {
		int64_t f = out_free(c, total);

		if (f < 0)
			return (int)f;
		if (f >= total)
			break;
		r = chan_wait(c, W_SPACE, total);
		if (r < 0)
			return r;
	}
	assert(total <= c->geom.msg_ring_bytes && !(c->out_prod & (VGPU_RING_ALIGN - 1)));
	/* The header starts at a multiple of 16 in a ring whose size is a multiple of 16, so
	 * it is contiguous; the payload may wrap to the ring start (byte-stream wrap). */
	ring_write(c->out_ring, c->ring_mask, c->out_prod, &h, sizeof(h));
	if (len)
		ring_write(c->out_ring, c->ring_mask, c->out_prod + (uint32_t)sizeof(h), payload, len);
	c->out_prod += total;
	/* release: the header and payload stores above become visible no later than the new
	 * producer index; pairs with the consumer's acquire load in in_avail. */
	atomic_store_explicit(&c->hdr->dir[c->side].msg_prod, c->out_prod, memory_order_release);
	c->need_flush = 1;
	return 0;
}

static int recv_common(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap, int block)
{
	struct vgpu_msg_hdr h;
	uint32_t max = vgpu_chan_max_msg(&c->geom), total;
	int64_t avail;
	int r;

	if (c->err)
		return c->err;
	for (;;) {
		/* Messages already seen (a batch) need no new look at the peer's index. */
		avail = c->in_prod_seen != c->in_cons ? (int64_t)(uint32_t)(c->in_prod_seen - c->in_cons)
						     : in_avail(c);
		if (avail < 0)
			return (int)avail;
		if (avail)
			break;
		if (!block) {
			/* Nothing queued: the caller goes on to something else, so deliver the
			 * wakeups we still owe the peer now. */
			r = vgpu_chan_flush(c);
			if (r < 0)
				return r;
			return peer_closed(c) ? chan_note(c, -EPIPE, "peer closed the channel") : -EAGAIN;
		}
		r = chan_wait(c, W_MSG, 1);
		if (r < 0)
			return r;
	}
	/* avail is a non-zero multiple of 16, so a whole header is there and contiguous.
	 * Copy it out once; only the copy is examined (no double fetch). */
	assert(avail % VGPU_RING_ALIGN == 0 && avail <= c->geom.msg_ring_bytes);
	ring_read(c->in_ring, c->ring_mask, c->in_cons, &h, sizeof(h));
	if (h.reserved != 0)
		return chan_fail(c, -EPROTO, "peer wrote msg reserved field 0x%08x != 0 at index 0x%08x",
				 h.reserved, c->in_cons);
	if (h.len > max)
		return chan_fail(c, -EPROTO, "peer wrote msg len 0x%08x > ring max %u at index 0x%08x",
				 h.len, max, c->in_cons);
	total = msg_total(h.len);
	if (total > avail)
		return chan_fail(c, -EPROTO, "peer wrote msg len %u at index 0x%08x: %u bytes with header "
				 "but only %lld published", h.len, c->in_cons, total, (long long)avail);
	if (h.len > cap)
		return chan_fail(c, -EMSGSIZE, "message opcode 0x%04x seq %u has %u payload bytes, "
				 "receive buffer holds %u", h.opcode, h.seq, h.len, cap);
	if (h.len)
		ring_read(c->in_ring, c->ring_mask, c->in_cons + (uint32_t)sizeof(h), buf, h.len);
	c->in_cons += total;
	/* release: our copies out of the ring above complete before the producer can see the
	 * space as free; pairs with its acquire load in out_free. */
	atomic_store_explicit(&c->hdr->dir[1 - c->side].msg_cons, c->in_cons, memory_order_release);
	/* Tell a producer waiting for space. The fence this takes would sit on the round-trip
	 * critical path (it waits for the index store to reach the peer), so when the ring
	 * was at most half full (a producer rarely waits then) the wakeup is only owed, and
	 * paid by the next flush, send-side block or receive-side block. */
	if (avail > c->geom.msg_ring_bytes / 2) {
		r = chan_kick(c, VGPU_RING_WANT_SPACE);
		if (r < 0)
			return r;
	} else {
		c->need_space_kick = 1;
	}
	*hdr = h;
	return (int)h.len;
}

int vgpu_chan_recv(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap)
{
	return recv_common(c, hdr, buf, cap, 1);
}

int vgpu_chan_try_recv(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap)
{
	return recv_common(c, hdr, buf, cap, 0);
}

int vgpu_chan_recv_stoppable(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap,
			     const atomic_int *stop)
{
	if (atomic_load_explicit(stop, memory_order_acquire))
		return -EINTR;
	c->stop = stop;
	int r = recv_common(c, hdr, buf, cap, 1);
	c->stop = NULL;
	return r;
}

int vgpu_chan_interrupt(struct vgpu_chan *c)
{
	struct vgpu_ring_side *me = &c->hdr->side[c->side];

	/* Like the peer's kick, aimed at ourselves: a sleeping wait fails its futex compare.
	 * (Xen: the wait re-checks at its next liveness tick, VGPU_CHAN_LIVENESS_MS.) */
	atomic_fetch_add_explicit(&me->evt, 1, memory_order_relaxed);
	return c->t->ops->notify(c->t, &me->evt);
}

/* The step of a callback that is a driver call: large enough that its fixed cost is small
 * against the bytes it moves, small enough that the peer's copy overlaps the next one. */
static uint32_t cb_step(const struct vgpu_chan *c, uint32_t step, uint64_t left)
{
	if (step > c->geom.bulk_bytes / 4)
		step = c->geom.bulk_bytes / 4;
	if (step < 1)
		step = 1;
	return left < step ? (uint32_t)left : step;
}

int vgpu_chan_bulk_write_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx)
{
	return vgpu_chan_bulk_write_cb_step(c, n, c->bulk_chunk, fn, ctx);
}

int vgpu_chan_bulk_write_cb_step(struct vgpu_chan *c, uint64_t n, uint32_t step, vgpu_bulk_fn fn, void *ctx)
{
	uint64_t off = 0;
	int first_err = 0, r;

	if (c->err)
		return c->err;
	while (off < n) {
		int64_t f = bout_free(c);
		uint32_t pos, chunk, want = cb_step(c, step, n - off);

		if (f < 0)
			return (int)f;
		/* a step's worth of space, or what is left up to the area's end */
		if (f < want && f < c->geom.bulk_bytes - (c->bout_prod & c->bulk_mask)) {
			if (peer_closed(c))
				return chan_note(c, -EPIPE, "peer closed the channel during a bulk write");
			r = chan_wait(c, W_BULK_SPACE, want);
			if (r < 0)
				return r;
			continue;
		}
		pos = c->bout_prod & c->bulk_mask;
		chunk = (uint32_t)f;
		if (chunk > want)
			chunk = want;
		if (chunk > c->geom.bulk_bytes - pos)
			chunk = c->geom.bulk_bytes - pos; /* contiguous up to the area's end */
		if (chunk > n - off)
			chunk = (uint32_t)(n - off);
		if (fn && !first_err)
			first_err = fn(ctx, c->out_bulk + pos, chunk, off);
		if (!fn || first_err)
			memset(c->out_bulk + pos, 0, chunk);
		c->bout_prod += chunk;
		/* release: the chunk bytes above are visible before the index; pairs with the
		 * reader's acquire load in bin_avail. */
		atomic_store_explicit(&c->hdr->dir[c->side].bulk_prod, c->bout_prod, memory_order_release);
		r = chan_kick(c, VGPU_RING_WANT_DATA);
		if (r < 0)
			return r;
		off += chunk;
	}
	return first_err;
}

int vgpu_chan_bulk_read_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx)
{
	return vgpu_chan_bulk_read_cb_step(c, n, 1, fn, ctx);
}

int vgpu_chan_bulk_read_cb_step(struct vgpu_chan *c, uint64_t n, uint32_t step, vgpu_bulk_fn fn, void *ctx)
{
	uint64_t off = 0;
	int first_err = 0, r;

	if (c->err)
		return c->err;
	while (off < n) {
		int64_t a = bin_avail(c);
		uint32_t pos, chunk, want = cb_step(c, step, n - off);

		if (a < 0)
			return (int)a;
		/* a step's worth of bytes, or all there is up to the area's end */
		if (a < want && a < c->geom.bulk_bytes - (c->bin_cons & c->bulk_mask)) {
			r = chan_wait(c, W_BULK_IN, want);
			if (r < 0)
				return r;
			continue;
		}
		pos = c->bin_cons & c->bulk_mask;
		chunk = (uint32_t)a;
		if (chunk > c->geom.bulk_bytes - pos)
			chunk = c->geom.bulk_bytes - pos;
		if (chunk > n - off)
			chunk = (uint32_t)(n - off);
		if (fn && !first_err)
			first_err = fn(ctx, c->in_bulk + pos, chunk, off);
		c->bin_cons += chunk;
		/* release: our reads of the chunk complete before the writer may reuse it; pairs
		 * with its acquire load in bout_free. */
		atomic_store_explicit(&c->hdr->dir[1 - c->side].bulk_cons, c->bin_cons, memory_order_release);
		r = chan_kick(c, VGPU_RING_WANT_SPACE);
		if (r < 0)
			return r;
		off += chunk;
	}
	return first_err;
}

static int copy_from_src(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	memcpy(chunk, (const uint8_t *)ctx + off, len);
	return 0;
}

/* Chunks leave the bulk area by memcpy: the C library picks its stores per machine (streaming
 * ones above a threshold it derives from the caches). Hand-written streaming stores for every
 * chunk of 32 KiB or more were slower on some hosts: device-to-host copies of 4-64 MiB
 * through vgpu ran at 7 GB/s with them and 12-13 GB/s with memcpy on the same machine. */
static int copy_to_dst(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	memcpy((uint8_t *)ctx + off, chunk, len);
	return 0;
}

int vgpu_chan_bulk_write(struct vgpu_chan *c, const void *src, uint64_t n)
{
	return vgpu_chan_bulk_write_cb(c, n, copy_from_src, (void *)src);
}

int vgpu_chan_bulk_read(struct vgpu_chan *c, void *dst, uint64_t n)
{
	return vgpu_chan_bulk_read_cb(c, n, copy_to_dst, dst);
}

void vgpu_chan_bulk_areas(struct vgpu_chan *c, void **base /* out */, size_t *len /* out */)
{
	*base = c->region + vgpu_ring_bulk_off(&c->geom, 0);
	*len = 2 * (size_t)c->geom.bulk_bytes;
}

int vgpu_chan_send_fd(struct vgpu_chan *c, int fd)
{
	return c->t->ops->send_fd ? c->t->ops->send_fd(c->t, fd) : -EOPNOTSUPP;
}

int vgpu_chan_recv_fd(struct vgpu_chan *c, int *fd /* out */)
{
	*fd = -1;
	return c->t->ops->recv_fd ? c->t->ops->recv_fd(c->t, fd) : -EOPNOTSUPP;
}

const char *vgpu_chan_strerror(const struct vgpu_chan *c)
{
	return c ? c->errmsg : "no channel";
}

void vgpu_chan_set_spin(struct vgpu_chan *c, uint32_t spin_ns)
{
	c->spin_ns = c->spin_cur = spin_ns;
}

void vgpu_chan_expect(struct vgpu_chan *c, uint64_t bytes)
{
	uint64_t ns = bytes / VGPU_CHAN_SPIN_FLOOR_BPNS;

	c->spin_extra = ns > VGPU_CHAN_SPIN_MAX_NS ? VGPU_CHAN_SPIN_MAX_NS : (uint32_t)ns;
}

void vgpu_chan_set_saved(struct vgpu_chan *c, int saved)
{
	/* release: the indices recorded with the checkpoint are the ones published before it */
	atomic_store_explicit(&c->hdr->side[c->side].saved, saved ? 1u : 0u, memory_order_release);
}

void vgpu_chan_set_rejoin(struct vgpu_chan *c, vgpu_rejoin_fn fn, void *arg)
{
	c->rejoin = fn;
	c->rejoin_arg = arg;
}

void vgpu_chan_position(const struct vgpu_chan *c, uint32_t pos[4])
{
	pos[0] = c->in_cons;
	pos[1] = c->bin_cons;
	pos[2] = c->out_prod;
	pos[3] = c->bout_prod;
}

void vgpu_chan_close(struct vgpu_chan *c)
{
	struct vgpu_ring_side *ps;

	if (!c)
		return;
	ps = &c->hdr->side[1 - c->side];
	/* release: everything we published is ordered before the closed flag. */
	atomic_store_explicit(&c->hdr->side[c->side].closed, 1, memory_order_release);
	/* seq_cst fence: closed store before reading whether the peer sleeps (as chan_kick). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&ps->sleeping, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&ps->evt, 1, memory_order_relaxed);
		c->t->ops->notify(c->t, &ps->evt);
	}
	c->t->ops->close(c->t);
	free(c);
}

void vgpu_chan_forget(struct vgpu_chan *c)
{
	if (!c)
		return;
	c->t->ops->forget(c->t);
	free(c);
}
