/* SPDX-License-Identifier: MIT */
/* ring_hostile.c — a hostile peer process randomly corrupts the shared header, indices, message headers and data while the victim keeps using the channel: the victim reports errors and never crashes. */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include "ring_test.h"

static const struct vgpu_chan_geom geom = { 4096, 16384 };

static uint64_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 16);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static atomic_uint *index_word(struct vgpu_ring_hdr *h, uint32_t k)
{
	struct vgpu_ring_dir *d = &h->dir[(k >> 2) & 1];

	switch (k & 3) {
	case 0: return &d->msg_prod;
	case 1: return &d->msg_cons;
	case 2: return &d->bulk_prod;
	default: return &d->bulk_cons;
	}
}

/* The hostile side (endpoint c, either side): a mix of honest-looking
 * traffic and corruption of everything it can reach, for `secs` seconds. */
static void hostile(struct vgpu_chan *c, double secs)
{
	struct vgpu_ring_hdr *h = c->hdr;
	uint32_t ring = geom.msg_ring_bytes, bulk = geom.bulk_bytes;
	double end = now_s() + secs;
	uint8_t buf[512];
	int o = c->side, i = 1 - c->side; /* our (hostile) direction and the victim's */

	while (now_s() < end) {
		uint32_t op = rnd() % 400, r = rnd();
		uint32_t prod = atomic_load(&h->dir[o].msg_prod);
		struct vgpu_msg_hdr m = { .len = r % 200, .opcode = (uint16_t)r, .seq = r };
		struct vgpu_msg_hdr got;

		if (op >= 16) { /* mostly honest traffic, so the victim runs a while between faults */
			uint32_t used = prod - atomic_load(&h->dir[o].msg_cons);
			uint32_t bfree = bulk - (atomic_load(&h->dir[o].bulk_prod) - atomic_load(&h->dir[o].bulk_cons));
			uint32_t bavail = atomic_load(&h->dir[i].bulk_prod) - atomic_load(&h->dir[i].bulk_cons);

			if (op % 3 == 0 && used <= ring - 256) {
				vgpu_chan_send(c, 3, 0, r, buf, r % 200);
				vgpu_chan_flush(c);
			} else if (op % 3 == 1 && bfree <= bulk && bavail <= bulk) {
				atomic_fetch_add(&h->dir[o].bulk_prod, r % 4096 < bfree ? r % 4096 : bfree);
				atomic_fetch_add(&h->dir[i].bulk_cons, r % 4096 < bavail ? r % 4096 : bavail);
			} else {
				vgpu_chan_try_recv(c, &got, buf, sizeof(buf));
			}
			continue;
		}
		switch (op) {
		case 0: case 1: /* honest-looking consumer of the victim's messages */
			vgpu_chan_try_recv(c, &got, buf, sizeof(buf));
			break;
		case 2: case 3: /* a well-formed message, written raw */
			if (rnd() % 8 == 0)
				m.len = rnd();           /* huge length */
			if (rnd() % 8 == 0)
				m.reserved = rnd() | 1;  /* reserved != 0 */
			memcpy(c->out_ring + (prod & (ring - 1) & ~15u), &m, sizeof(m));
			atomic_store(&h->dir[o].msg_prod, prod + ((sizeof(m) + (m.len % 200) + 15) & ~15u));
			break;
		case 4: /* garbage bytes published as messages */
			for (uint32_t i = 0; i < 64; i++)
				c->out_ring[(prod + i) & (ring - 1)] = (uint8_t)rnd();
			atomic_store(&h->dir[o].msg_prod, prod + 16 * (1 + rnd() % 4));
			break;
		case 5: /* any index: random, slightly off, or far off */
		{
			atomic_uint *w = index_word(h, rnd());
			uint32_t v = atomic_load(w);

			switch (rnd() % 4) {
			case 0: v = rnd(); break;
			case 1: v -= 1 + rnd() % 64; break;
			case 2: v += rnd() % (2 * bulk); break;
			default: v += 16; break;
			}
			atomic_store(w, v);
			break;
		}
		case 6: /* a random word anywhere in the header page (geometry, flags, ...) */
			((uint32_t *)(void *)h)[rnd() % (VGPU_RING_PAGE / 4)] = rnd();
			break;
		case 7: /* flip bytes in the victim's outgoing ring and bulk data */
			c->in_ring[rnd() & (ring - 1)] ^= (uint8_t)(1u << (rnd() % 8));
			c->in_bulk[rnd() & (bulk - 1)] = (uint8_t)rnd();
			break;
		case 8: /* honest-ish bulk producer and consumer, with random amounts */
			atomic_fetch_add(&h->dir[o].bulk_prod, rnd() % 4096);
			atomic_fetch_add(&h->dir[i].bulk_cons, rnd() % 4096);
			break;
		case 9: /* wakeup spam */
			atomic_fetch_add(&h->side[i].evt, 1);
			syscall(SYS_futex, &h->side[i].evt, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
			break;
		case 10: /* lie about sleeping, or claim we closed (rarely) */
			atomic_store(&h->side[o].sleeping, rnd());
			if (rnd() % 200 == 0)
				atomic_store(&h->side[o].closed, 1);
			break;
		case 11: /* rewrite a message header the victim may be reading right now */
			m.len = rnd();
			memcpy(c->out_ring + (atomic_load(&h->dir[o].msg_cons) & (ring - 1) & ~15u), &m, 8);
			break;
		default:
			if (rnd() % 4 == 0)
				usleep(rnd() % 500);
			break;
		}
	}
}

struct tally { unsigned rounds, eproto, epipe, emsgsize, msgs, bulk_ok; };

/* The victim (the other endpoint): keeps sending, receiving and streaming bulk data until
 * the channel fails; every failure must carry a reason. */
static void victim(struct vgpu_chan *s, struct tally *t)
{
	uint8_t *buf = malloc(20000);
	struct vgpu_msg_hdr h;
	int r = 0;

	vgpu_chan_set_spin(s, 2000);
	while (r >= 0 || r == -EAGAIN) {
		uint32_t n = rnd();

		switch (rnd() % 5) {
		case 0:
			r = vgpu_chan_send(s, 5, 0, n, buf, n % 300);
			if (!r)
				r = vgpu_chan_flush(s);
			break;
		case 1:
			r = vgpu_chan_recv(s, &h, buf, 512);
			if (r >= 0) {
				CHECK(r <= 512 && h.len == (uint32_t)r && h.reserved == 0);
				t->msgs++;
			}
			break;
		case 2:
			r = vgpu_chan_try_recv(s, &h, buf, 512);
			if (r >= 0)
				t->msgs++;
			break;
		case 3:
			r = vgpu_chan_bulk_write(s, buf, n % 20000);
			break;
		default:
			r = vgpu_chan_bulk_read(s, buf, n % 5000);
			t->bulk_ok += r == 0;
			break;
		}
	}
	CHECK(vgpu_chan_strerror(s)[0] != 0);
	if (r == -EPROTO)
		t->eproto++;
	else if (r == -EPIPE)
		t->epipe++;
	else if (r == -EMSGSIZE)
		t->emsgsize++;
	else
		CHECK(!"unexpected error code");
	if (t->rounds < 12 || r == -EMSGSIZE)
		printf("round %u: %d: %s\n", t->rounds, r, vgpu_chan_strerror(s));
	free(buf);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 && strcmp(argv[1], "--help") ? atof(argv[1]) : 3.0;
	double end = now_s() + secs;
	struct tally t = { 0 };

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: %s [SECONDS]\nHostile-peer test: the victim must report errors, never crash "
		       "(default 3 s).\n", argv[0]);
		return 0;
	}
	rnd_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	while (now_s() < end) {
		struct vgpu_chan *c, *s;
		pid_t pid;

		MUST(vgpu_shm_pair(&geom, &c, &s));
		rnd();
		pid = fork();
		if (pid < 0)
			return 1;
		if (t.rounds & 1) { /* odd rounds: the zone (client) is the victim */
			struct vgpu_chan *tmp = c;

			c = s;
			s = tmp;
		}
		if (pid == 0) {
			rnd_state ^= (uint64_t)getpid() << 20;
			vgpu_chan_forget(s);
			hostile(c, 0.05 + (rnd() % 300) / 1000.0);
			if (rnd() % 2)
				vgpu_chan_close(c);
			_exit(0);
		}
		vgpu_chan_forget(c);
		victim(s, &t);
		kill(pid, SIGKILL); /* the victim may have stopped first (on -EPROTO) */
		ring_test_wait(pid);
		vgpu_chan_close(s);
		t.rounds++;
	}
	printf("%u rounds: %u -EPROTO, %u -EPIPE, %u -EMSGSIZE; %u messages and %u bulk reads "
	       "accepted before failing\n", t.rounds, t.eproto, t.epipe, t.emsgsize, t.msgs, t.bulk_ok);
	/* the corruption must have been noticed as such, not only as the peer going away */
	CHECK(t.rounds >= 3);
	CHECK(t.eproto >= t.rounds / 2);
	return ring_test_done("ring_hostile");
}
