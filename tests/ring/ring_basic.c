/* SPDX-License-Identifier: MIT */
/* ring_basic.c — single-process grant-ring tests: empty/full ring, batches, message wrap, size limits, index wraparound across 2^32. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "ring_test.h"

static const struct vgpu_chan_geom small = { 4096, 8192 };

/* Send count messages with lengths from lenfn, receive them, check every byte. Sends and
 * receives are interleaved in batches of `batch` so the ring fills and wraps. */
static void exchange(struct vgpu_chan *a, struct vgpu_chan *b, uint32_t count, uint32_t batch,
		     uint32_t maxlen, uint32_t stream)
{
	uint8_t *out = malloc(maxlen + 1), *in = malloc(maxlen + 1);
	uint32_t sent = 0, got = 0;
	uint64_t soff = 0, roff = 0;

	while (got < count) {
		for (uint32_t i = 0; i < batch && sent < count; i++, sent++) {
			uint32_t len = (sent * 2654435761u >> 7) % (maxlen + 1);

			ring_test_fill(stream, soff, out, len);
			soff += len;
			if (vgpu_chan_send(a, (uint16_t)sent, 0, sent, out, len)) {
				CHECK(!"send failed");
				goto out;
			}
		}
		CHECK_EQ(vgpu_chan_flush(a), 0);
		for (;;) {
			struct vgpu_msg_hdr h;
			int n = vgpu_chan_try_recv(b, &h, in, maxlen + 1);

			if (n == -EAGAIN)
				break;
			if (n < 0) {
				fprintf(stderr, "recv: %d %s\n", n, vgpu_chan_strerror(b));
				CHECK(!"recv failed");
				goto out;
			}
			CHECK_EQ(h.seq, got);
			CHECK_EQ(h.opcode, (uint16_t)got);
			CHECK_EQ((uint32_t)n, (got * 2654435761u >> 7) % (maxlen + 1));
			CHECK_EQ(ring_test_verify(stream, roff, in, (uint32_t)n), -1);
			roff += (uint32_t)n;
			got++;
		}
	}
	CHECK_EQ(sent, got);
out:
	free(out);
	free(in);
}

static void test_empty_and_single(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	char buf[64];

	MUST(vgpu_shm_pair(&small, &c, &s));
	CHECK_EQ(vgpu_chan_try_recv(s, &h, buf, sizeof(buf)), -EAGAIN);
	CHECK_EQ(vgpu_chan_try_recv(c, &h, buf, sizeof(buf)), -EAGAIN);
	CHECK_EQ(vgpu_chan_send(c, 7, VGPU_MSG_F_ASYNC, 42, "hello", 5), 0);
	CHECK_EQ(vgpu_chan_send(c, 8, 0, 43, NULL, 0), 0); /* empty payload */
	CHECK_EQ(vgpu_chan_recv(s, &h, buf, sizeof(buf)), 5);
	CHECK(h.opcode == 7 && h.seq == 42 && h.flags == VGPU_MSG_F_ASYNC && h.reserved == 0);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK_EQ(vgpu_chan_recv(s, &h, buf, sizeof(buf)), 0);
	CHECK(h.opcode == 8 && h.seq == 43);
	CHECK_EQ(vgpu_chan_try_recv(s, &h, buf, sizeof(buf)), -EAGAIN);
	/* replies flow the other way on their own ring */
	CHECK_EQ(vgpu_chan_send(s, 9, VGPU_MSG_F_REPLY, 42, "ok", 2), 0);
	CHECK_EQ(vgpu_chan_recv(c, &h, buf, sizeof(buf)), 2);
	CHECK(h.opcode == 9 && h.seq == 42 && !memcmp(buf, "ok", 2));
	vgpu_chan_close(c);
	/* the peer closed: nothing queued -> -EPIPE, not -EAGAIN */
	CHECK_EQ(vgpu_chan_try_recv(s, &h, buf, sizeof(buf)), -EPIPE);
	CHECK_EQ(vgpu_chan_recv(s, &h, buf, sizeof(buf)), -EPIPE);
	CHECK_EQ(vgpu_chan_send(s, 1, 0, 1, NULL, 0), -EPIPE);
	vgpu_chan_close(s);
}

static void test_size_limits(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t *big = calloc(1, 4096);
	uint32_t max = vgpu_chan_max_msg(&small);

	MUST(vgpu_shm_pair(&small, &c, &s));
	CHECK_EQ(max, 4096 - 16);
	CHECK_ERR(c, vgpu_chan_send(c, 1, 0, 1, big, max + 1), -EMSGSIZE, "exceeds ring max");
	/* not broken by an oversized send: a maximal message still goes through */
	ring_test_fill(3, 0, big, max);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, big, max), 0);
	memset(big, 0, 4096);
	CHECK_EQ(vgpu_chan_recv(s, &h, big, max), (int)max);
	CHECK_EQ(ring_test_verify(3, 0, big, max), -1);
	/* a receive buffer too small breaks the channel for good */
	CHECK_EQ(vgpu_chan_send(c, 2, 0, 2, big, 100), 0);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, big, 99), -EMSGSIZE, "receive buffer holds 99");
	CHECK_EQ(vgpu_chan_try_recv(s, &h, big, 4096), -EMSGSIZE);
	CHECK_EQ(vgpu_chan_send(s, 2, 0, 2, big, 1), -EMSGSIZE);
	vgpu_chan_close(c);
	vgpu_chan_close(s);
	free(big);
}

struct full_ctx {
	struct vgpu_chan *s;
	atomic_int consuming;
	int ok;
};

static void *drain_one(void *arg)
{
	struct full_ctx *f = arg;
	struct vgpu_msg_hdr h;
	uint8_t buf[64];

	usleep(20000);
	atomic_store(&f->consuming, 1);
	f->ok = vgpu_chan_recv(f->s, &h, buf, sizeof(buf)) == 48 && h.seq == 0;
	return NULL;
}

/* A 4096-byte ring holds exactly 64 messages of 48 payload bytes (16 + 48 = 64); the 65th
 * send must wait until the consumer frees space. */
static void test_full_ring(void)
{
	struct full_ctx f = { 0 };
	struct vgpu_chan *c;
	struct vgpu_msg_hdr h;
	uint8_t buf[64] = { 0 };
	pthread_t th;

	MUST(vgpu_shm_pair(&small, &c, &f.s));
	for (uint32_t i = 0; i < 64; i++)
		CHECK_EQ(vgpu_chan_send(c, 1, 0, i, buf, 48), 0);
	CHECK_EQ(atomic_load_explicit(&c->hdr->dir[0].msg_prod, memory_order_relaxed) -
		 atomic_load_explicit(&c->hdr->dir[0].msg_cons, memory_order_relaxed), 4096);
	vgpu_chan_set_spin(c, 1000);
	CHECK_EQ(pthread_create(&th, NULL, drain_one, &f), 0);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 64, buf, 48), 0); /* blocks until drain_one consumed */
	CHECK_EQ(atomic_load(&f.consuming), 1);
	pthread_join(th, NULL);
	CHECK(f.ok);
	for (uint32_t i = 1; i <= 64; i++) {
		CHECK_EQ(vgpu_chan_try_recv(f.s, &h, buf, sizeof(buf)), 48);
		CHECK_EQ(h.seq, i);
	}
	CHECK_EQ(vgpu_chan_try_recv(f.s, &h, buf, sizeof(buf)), -EAGAIN);
	vgpu_chan_close(c);
	vgpu_chan_close(f.s);
}

static void test_batches_and_wrap(void)
{
	struct vgpu_chan *c, *s;

	MUST(vgpu_shm_pair(&small, &c, &s));
	exchange(c, s, 5000, 1, 100, 1);      /* one at a time */
	exchange(c, s, 5000, 30, 100, 2);     /* batches, ring full at times */
	exchange(s, c, 3000, 2, 1500, 3);     /* big odd messages wrap at the ring end */
	exchange(c, s, 2000, 1, 4080, 4);     /* up to the maximum size */
	vgpu_chan_close(c);
	vgpu_chan_close(s);
}

/* Indices start just below 2^32 so messages and bulk bytes cross the wrap of the u32
 * counters (and of the ring) in every way. */
static void test_index_wraparound(void)
{
	static const uint32_t starts[] = { 0xfffff000u, 0xffffffc0u, 0xfffffff0u, 0x7ffffff0u };

	for (unsigned k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
		struct vgpu_chan *c, *s;
		uint8_t *w = malloc(3000), *r = malloc(3000);
		uint64_t off = 0;

		MUST(vgpu_shm_pair_at(&small, starts[k], &c, &s));
		CHECK_EQ(c->out_prod, starts[k] & ~15u);
		exchange(c, s, 3000, 7, 300, 10 + k);
		exchange(s, c, 3000, 7, 300, 20 + k);
		for (uint32_t i = 0; i < 200; i++) { /* bulk: sizes below the 8 KiB area */
			uint32_t n = (i * 977u) % 3000;

			ring_test_fill(30 + k, off, w, n);
			CHECK_EQ(vgpu_chan_bulk_write(c, w, n), 0);
			CHECK_EQ(vgpu_chan_bulk_read(s, r, n), 0);
			CHECK_EQ(ring_test_verify(30 + k, off, r, n), -1);
			off += n;
		}
		/* the counters really went past 2^32 */
		CHECK(c->out_prod < 0x80000000u || starts[k] == 0x7ffffff0u);
		CHECK(c->bout_prod < starts[k] || starts[k] == 0x7ffffff0u);
		vgpu_chan_close(c);
		vgpu_chan_close(s);
		free(w);
		free(r);
	}
}

struct drain_ctx {
	struct vgpu_chan *s;
	uint32_t count, got;
};

static void *drain_all(void *arg)
{
	struct drain_ctx *d = arg;
	struct vgpu_msg_hdr h;
	uint8_t buf[64];

	while (d->got < d->count && vgpu_chan_recv(d->s, &h, buf, sizeof(buf)) >= 0)
		d->got++;
	return NULL;
}

/* Notify suppression: the producer wakes the consumer only from flush (or when it must
 * block), never per message. The ring is big enough that the producer never blocks, so
 * the consumer's wakeup counter can grow at most once per flush. */
static void test_notify_suppression(void)
{
	struct drain_ctx d = { .count = 2048 };
	struct vgpu_chan *c;
	uint8_t buf[16] = { 0 };
	const struct vgpu_chan_geom g = { 128u << 10, 8192 };
	uint32_t flushes = 0;
	pthread_t th;

	MUST(vgpu_shm_pair(&g, &c, &d.s));
	vgpu_chan_set_spin(d.s, 0); /* the consumer sleeps whenever the ring is empty */
	CHECK_EQ(pthread_create(&th, NULL, drain_all, &d), 0);
	for (uint32_t i = 0; i < d.count; i++) {
		CHECK_EQ(vgpu_chan_send(c, 1, 0, i, buf, sizeof(buf)), 0);
		if (i % 64 == 63) {
			CHECK_EQ(vgpu_chan_flush(c), 0);
			flushes++;
		}
		if (i % 8 == 7)
			usleep(50); /* pacing: let the consumer drain and go to sleep in between */
	}
	pthread_join(th, NULL);
	CHECK_EQ(d.got, d.count);
	CHECK(atomic_load(&c->hdr->side[1].evt) <= flushes);
	printf("notify suppression: %u messages, %u flushes, %u wakeups\n", d.count, flushes,
	       atomic_load(&c->hdr->side[1].evt));
	vgpu_chan_close(c);
	vgpu_chan_close(d.s);
}

/* A reply sent `delay_us` after the request, from another thread. */
struct late_ctx {
	struct vgpu_chan *s;
	unsigned delay_us;
	int ok;
};

static void *answer_late(void *arg)
{
	struct late_ctx *l = arg;
	struct vgpu_msg_hdr h;
	uint8_t buf[16];

	l->ok = vgpu_chan_recv(l->s, &h, buf, sizeof(buf)) == 4;
	usleep(l->delay_us);
	l->ok = l->ok && vgpu_chan_send(l->s, h.opcode, 0, h.seq, buf, 4) == 0 && vgpu_chan_flush(l->s) == 0;
	return NULL;
}

/* One request on c answered by l's thread after delay_us; 1 when it went through. */
static int late_round(struct vgpu_chan *c, struct late_ctx *l, unsigned delay_us, uint32_t seq)
{
	struct vgpu_msg_hdr h;
	uint8_t buf[16] = { 0 };
	pthread_t th;

	l->delay_us = delay_us;
	l->ok = 0;
	if (pthread_create(&th, NULL, answer_late, l) != 0)
		return 0;
	int ok = vgpu_chan_send(c, 7, 0, seq, buf, 4) == 0 && vgpu_chan_recv(c, &h, buf, sizeof(buf)) == 4;
	pthread_join(th, NULL);
	return ok && l->ok && h.seq == seq;
}

/*
 * The adaptive spin. Waits at the shortest spin whose answers come after the spin but well
 * within VGPU_CHAN_REGROW_FACTOR spins, wake-up included, grow the spin round after round
 * (judged against one spin, or halved first and grown back, a peer that answers a little
 * later than the spin would keep both sides sleeping and waking each other on every call);
 * a wait far beyond that halves it. vgpu_chan_expect is capped and lasts until the next send.
 */
static void test_spin_adaptation(void)
{
	struct late_ctx l = { 0 };
	struct vgpu_chan *c;
	uint8_t buf[16] = { 0 };

	MUST(vgpu_shm_pair(&small, &c, &l.s));
	vgpu_chan_set_spin(c, 10000000); /* 10 ms: a 12 ms answer is late, not 40 ms late */
	c->spin_cur = c->spin_ns / 32;
	CHECK(late_round(c, &l, 12000, 1));
	CHECK_EQ(c->spin_cur, c->spin_ns / 16);
	CHECK(late_round(c, &l, 12000, 2));
	CHECK(late_round(c, &l, 12000, 3));
	CHECK_EQ(c->spin_cur, c->spin_ns / 4);
	CHECK(late_round(c, &l, 50000, 4)); /* 50 ms: beyond 4 spins */
	CHECK_EQ(c->spin_cur, c->spin_ns / 8);
	/* A waiting side says which CPU it waits on (1 + its number), so that a peer on the same
	 * CPU sleeps at once instead of spinning while the CPU it needs is taken. */
	cpu_set_t one, old;
	CHECK_EQ(sched_getaffinity(0, sizeof(old), &old), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	CHECK_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
	int cpu = sched_getcpu();
	CHECK(late_round(c, &l, 1000, 5));
	CHECK_EQ(atomic_load(&c->hdr->side[0].cpu), (unsigned)cpu + 1);
	CHECK_EQ(sched_setaffinity(0, sizeof(old), &old), 0);

	vgpu_chan_expect(c, 4u << 20);
	CHECK_EQ(c->spin_extra, (4u << 20) / VGPU_CHAN_SPIN_FLOOR_BPNS);
	vgpu_chan_expect(c, 1ull << 40);
	CHECK_EQ(c->spin_extra, VGPU_CHAN_SPIN_MAX_NS);
	CHECK_EQ(vgpu_chan_send(c, 7, 0, 2, buf, 4), 0);
	CHECK_EQ(c->spin_extra, 0);
	vgpu_chan_close(c);
	vgpu_chan_close(l.s);
}

static void test_geometry_checks(void)
{
	struct vgpu_chan *c = NULL, *s = NULL;
	const struct vgpu_chan_geom bad[] = { { 0, 8192 }, { 3000, 8192 }, { 4096, 100 },
					      { 2048, 8192 }, { 32u << 20, 8192 }, { 4096, 6000 } };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(vgpu_chan_geom_check(&bad[i]), -EINVAL);
		CHECK_EQ(vgpu_shm_pair(&bad[i], &c, &s), -EINVAL);
		CHECK(strstr(vgpu_chan_setup_error(), "power of two"));
	}
	CHECK_EQ(vgpu_chan_geom_check(&VGPU_CHAN_DEFAULT_GEOM), 0);
}

/*
 * A server that vanishes with its channel saved: the client's wait calls its rejoin
 * function, which here plays the restored server (accept, attach the same ring at the
 * position the old server left it, answer the request that queued meanwhile). Without the
 * saved mark the function is never called and the wait fails as before.
 */
struct rejoin_ctx {
	int lfd, calls;
	const char *path;
	uint32_t saved_pos[4], attached_pos[4];
	uint16_t served_op;
};

static int rejoin_fn(struct vgpu_chan *c, void *arg)
{
	struct rejoin_ctx *r = arg;
	struct vgpu_chan *srv = NULL;
	struct vgpu_msg_hdr h;
	uint8_t hello[8], buf[64];
	uint32_t len;
	int sock, asock, memfd;

	r->calls++;
	if (vgpu_shm_redial(c, r->path, "rejoin", 6, &sock) < 0 || (asock = accept(r->lfd, NULL, NULL)) < 0 ||
	    vgpu_shm_recv_hello(asock, hello, sizeof(hello), &len, &memfd) < 0 ||
	    vgpu_shm_attach(asock, memfd, &srv) < 0)
		return -1;
	vgpu_chan_position(srv, r->attached_pos);
	if (vgpu_chan_try_recv(srv, &h, buf, sizeof(buf)) < 0)
		return -1;
	r->served_op = h.opcode;
	if (vgpu_chan_send(srv, h.opcode, 0, h.seq, "answer", 6) || vgpu_chan_flush(srv))
		return -1;
	vgpu_chan_forget(srv);   /* its reply stays in the ring */
	vgpu_shm_resocket(c, sock);
	return 0;
}

static void test_rejoin(void)
{
	char path[64];
	struct rejoin_ctx r = { .path = path };
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t buf[64];
	uint32_t len;
	int memfd;

	for (int saved = 0; saved <= 1; saved++) {
		snprintf(path, sizeof(path), "/tmp/vgpu-ring-rejoin-%d.sock", (int)getpid());
		MUST(vgpu_shm_listen(path, &r.lfd));
		MUST(vgpu_shm_connect(path, "hello", 5, &small, &c));
		int asock = accept(r.lfd, NULL, NULL);
		CHECK(asock >= 0);
		MUST(vgpu_shm_recv_hello(asock, buf, sizeof(buf), &len, &memfd));
		MUST(vgpu_shm_attach(asock, memfd, &s));
		vgpu_chan_set_rejoin(c, rejoin_fn, &r);
		/* one request served, then the zone is saved and a second one queues */
		CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, "first", 5), 0);
		CHECK_EQ(vgpu_chan_flush(c), 0);
		CHECK_EQ(vgpu_chan_recv(s, &h, buf, sizeof(buf)), 5);
		if (saved)
			vgpu_chan_set_saved(s, 1);
		vgpu_chan_position(s, r.saved_pos);
		CHECK_EQ(vgpu_chan_send(c, 2, 0, 2, "second", 6), 0);
		vgpu_chan_forget(s);     /* the server vanishes: no closed mark, its socket gone */
		r.calls = 0;
		int n = vgpu_chan_recv(c, &h, buf, sizeof(buf));
		if (saved) {
			CHECK_EQ(n, 6);      /* the answer of the restored server */
			CHECK_EQ(h.seq, 2u);
			CHECK_EQ(r.calls, 1);
			CHECK_EQ(r.served_op, 2);   /* the queued request, not the first one again */
			CHECK_EQ(memcmp(r.attached_pos, r.saved_pos, sizeof(r.saved_pos)), 0);
		} else {
			CHECK_EQ(n, -EPIPE);
			CHECK_EQ(r.calls, 0);
		}
		vgpu_chan_close(c);
		close(r.lfd);
		unlink(path);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		printf("usage: %s\nSingle-process grant-ring tests (empty/full, batches, wrap, limits, "
		       "u32 index wraparound).\n", argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	test_empty_and_single();
	test_size_limits();
	test_full_ring();
	test_batches_and_wrap();
	test_index_wraparound();
	test_geometry_checks();
	test_notify_suppression();
	test_spin_adaptation();
	test_rejoin();
	return ring_test_done("ring_basic");
}
