/* SPDX-License-Identifier: MIT */
/* ring.c — fuzz target for the ring consumer: a hostile peer writes arbitrary header, index, length and payload values into the shared region. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

/*
 * Input: byte 0 = which endpoint is attacked (bit 0: 1 = the proxy's side, 0 = the zone's
 * side) and whether its waits spin first (bit 1: the default spin; clear: none, which checks
 * the same indices without the 50 us a blocked wait would spin against a peer that never
 * comes), bytes 1-4 = the start index of every counter (to reach 2^32 wraparound), then ops,
 * each an op byte followed by its operands (cut short by the end of input = zeros):
 *   0  u16 off, u32 v     the peer writes v at header offset off (any field: indices, flags)
 *   1  u16 off, u8 n, n   the peer writes n bytes into the incoming message ring at off
 *   2  u16 off, u8 n, n   the peer writes n bytes into the incoming bulk ring at off
 *   3  u16 cap            try_recv with a buffer of cap bytes
 *   4  u16 cap            recv (the fake peer is dead, so it cannot block)
 *   5  u32 n              bulk_read_cb of n bytes, discarding
 *   6  u16 n              bulk_read of n bytes
 *   7  u16 n              send a message of n bytes (the peer's consumer index is hostile too)
 *   8  u16 n              bulk_write of n bytes
 *   9  u32 n, u32 step, u8 k   bulk_read_cb_step of n bytes in steps (the proxy's streamed
 *                        uploads; libvgpu's downloads with copy helpers), the k-th callback
 *                        failing (0: none)
 *  10  u32 n, u32 step, u8 k   bulk_write_cb_step likewise (the proxy's streamed downloads)
 * Oracle: every call returns a length within bounds or one of the documented errors; once
 * the endpoint reported -EPROTO/-EMSGSIZE it stays broken; a bulk callback is handed only
 * chunks inside the area it streams through, at the offset that follows the last chunk's,
 * never past n, and a stream that succeeded handed it all n bytes; ASan: nothing outside the
 * region or the caller's buffers is touched.
 */

#define GEOM ((struct vgpu_chan_geom){ 4096u, 4096u })

struct fake_transport { struct vgpu_transport t; };
static int ft_notify(struct vgpu_transport *t, atomic_uint *w) { (void)t; (void)w; return 0; }
static int ft_wait(struct vgpu_transport *t, atomic_uint *w, uint32_t e, int ms)
{
	(void)t; (void)w; (void)e; (void)ms;
	return -ETIMEDOUT;
}
static int ft_alive(struct vgpu_transport *t) { (void)t; return 0; }   /* nothing will come later */
static void ft_close(struct vgpu_transport *t) { free(t); }
static const struct vgpu_transport_ops ft_ops = { ft_notify, ft_wait, ft_alive, ft_close, ft_close, NULL, NULL, 0 };

static void fail(const char *what, long rc)
{
	fprintf(stderr, "vgpu-fuzz-ring: ORACLE VIOLATED: %s returned %ld\n", what, rc);
	abort();
}

static int is_err(long rc)
{
	return rc == -EPIPE || rc == -EPROTO || rc == -EMSGSIZE || rc == -EAGAIN || rc == -ETIMEDOUT ||
	       rc == -EINVAL;
}

/* What a bulk callback is handed, checked: a chunk inside its area, in order, within n. */
struct cb_check {
	uint8_t *area;
	uint32_t area_bytes, fail_at, calls;
	uint64_t n, next;
	int out;
};

static int cb_check(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct cb_check *k = ctx;
	uint8_t *p = chunk;

	if (p < k->area || len == 0 || len > k->area_bytes || (uint64_t)(p - k->area) + len > k->area_bytes)
		fail("a bulk callback's chunk (outside its area)", (long)(p - k->area));
	if (off != k->next || off + len > k->n)
		fail("a bulk callback's offset", (long)off);
	k->next = off + len;
	if (k->out) {
		memset(p, 0xa5, len);
	} else {
		volatile uint8_t sum = 0;   /* every byte read, for ASan */
		for (uint64_t i = 0; i < len; i++)
			sum ^= p[i];
	}
	return ++k->calls == k->fail_at ? -EIO : 0;
}

struct in { const uint8_t *p; size_t n, o; };
static uint32_t take(struct in *in, unsigned bytes)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint32_t)(in->o < in->n ? in->p[in->o++] : 0) << (8 * i);
	return v;
}

static void fz_ring_one(const uint8_t *data, size_t len)
{
	struct vgpu_chan_geom g = GEOM;
	uint64_t bytes = vgpu_ring_region_bytes(&g);
	struct in in = { data, len, 0 };
	uint32_t mode = take(&in, 1);
	int side = (int)(mode & 1);
	uint32_t start = take(&in, 4);
	static uint8_t buf[1 << 16];
	int broken = 0;

	uint8_t *region = aligned_alloc(VGPU_RING_PAGE, (size_t)bytes);
	struct fake_transport *t = malloc(sizeof(*t));
	if (!region || !t)
		abort();
	memset(region, 0, (size_t)bytes);
	t->t.ops = &ft_ops;
	vgpu_ring_init_region(region, &g, start);
	struct vgpu_chan *c = NULL;
	if (vgpu_chan_create(region, bytes, &g, side, &t->t, &c) < 0)
		abort();
	if (!(mode & 2))
		vgpu_chan_set_spin(c, 0);
	int in_dir = !side;   /* what this endpoint consumes */
	uint8_t *in_ring = region + vgpu_ring_msg_off(&g, in_dir);
	uint8_t *in_bulk = region + vgpu_ring_bulk_off(&g, in_dir);

	for (int steps = 0; in.o < in.n && steps < 256; steps++) {
		long rc;
		struct vgpu_msg_hdr h;
		uint32_t off, n, v;
		unsigned op = take(&in, 1) % 11;
		struct cb_check k;
		switch (op) {
		case 0:
			off = take(&in, 2) % (VGPU_RING_PAGE / 4) * 4;
			v = take(&in, 4);
			memcpy(region + off, &v, 4);
			continue;
		case 1:
		case 2: {
			int bulk = op == 2;
			off = take(&in, 2) % 4096u;
			n = take(&in, 1);
			uint8_t *dst = bulk ? in_bulk : in_ring;
			for (uint32_t i = 0; i < n; i++)
				dst[(off + i) % 4096u] = (uint8_t)take(&in, 1);
			continue;
		}
		case 3:
		case 4:
			n = take(&in, 2);
			rc = op == 3 ? vgpu_chan_try_recv(c, &h, buf, n) : vgpu_chan_recv(c, &h, buf, n);
			if (rc >= 0 && ((uint32_t)rc > n || h.len != (uint32_t)rc))
				fail("recv (length)", rc);
			break;
		case 5:
			rc = vgpu_chan_bulk_read_cb(c, take(&in, 4), NULL, NULL);
			break;
		case 6:
			rc = vgpu_chan_bulk_read(c, buf, take(&in, 2));
			break;
		case 7:
			n = take(&in, 2);
			rc = vgpu_chan_send(c, 1, 0, 1, buf, n);
			break;
		case 8:
			rc = vgpu_chan_bulk_write(c, buf, take(&in, 2));
			break;
		default:
			k = (struct cb_check){ .out = op == 10, .n = take(&in, 4), .area_bytes = g.bulk_bytes,
					       .area = region + vgpu_ring_bulk_off(&g, op == 10 ? side : in_dir) };
			v = take(&in, 4);
			k.fail_at = take(&in, 1);
			rc = op == 10 ? vgpu_chan_bulk_write_cb_step(c, k.n, v, cb_check, &k) :
					vgpu_chan_bulk_read_cb_step(c, k.n, v, cb_check, &k);
			if (rc == 0 && k.next != k.n)
				fail("a bulk stream that succeeded (bytes handed to its callback)", (long)k.next);
			if (rc == -EIO && !(k.fail_at && k.calls >= k.fail_at))
				fail("a bulk stream (-EIO without a failed callback)", rc);
			if (rc == -EIO)
				rc = 0;   /* the callback's own error, handed back */
			break;
		}
		if (rc < 0 && !is_err(rc))
			fail("a ring call (unexpected errno)", rc);
		if (broken && rc >= 0 && rc != 0)
			fail("a call on a broken endpoint succeeded", rc);
		if (rc == -EPROTO)
			broken = 1;
	}
	vgpu_chan_close(c);
	free(region);
}

#include "fz_target.h"
FZ_TARGET_MAIN("vgpu-fuzz-ring",
		 "Fuzzes the ring consumer (runtime/chan.c) with a hostile peer writing arbitrary\n"
		 "header, index, length and payload values into the shared region (format: fuzz/ring.c).\n",
		 fz_ring_one)
