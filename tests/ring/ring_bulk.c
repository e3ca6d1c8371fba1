/* SPDX-License-Identifier: MIT */
/* ring_bulk.c — two-process chunked bulk transfers (0 B .. 256 MiB, odd sizes) through a 1 MiB area, with data verification and callback error semantics. */
#include "ring_test.h"

#define OP_BULK 1   /* payload: u64 size, u32 stream, u32 mode */
#define OP_FAILAT 2 /* payload: u64 offset where the writer's callback failed */

static const uint64_t sizes[] = {
	0, 1, 2, 3, 7, 15, 16, 17, 4095, 4096, 4097, 65537, (1u << 20) - 1, 1u << 20,
	(1u << 20) + 1, (3u << 20) + 12345, (17u << 20) + 3, 256ull << 20,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct fill_ctx { uint32_t stream; uint64_t fail_at; uint64_t failed_off; };

static int fill_cb(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct fill_ctx *f = ctx;

	if (off + len > f->fail_at) {
		f->failed_off = off;
		return -EIO;
	}
	ring_test_fill(f->stream, off, chunk, len);
	return 0;
}

struct check_ctx { uint32_t stream; uint64_t bad; uint64_t calls; };

/* Verifies each chunk in place, in the shared area (the peer is honest in this test). */
static uint64_t verified_bytes;

static int check_cb(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct check_ctx *k = ctx;

	k->calls++;
	verified_bytes += len;
	if (ring_test_verify(k->stream, off, chunk, len) != -1)
		k->bad++;
	return 0;
}

static int fail_first(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	(void)chunk; (void)len; (void)off;
	++*(int *)ctx;
	return -EIO;
}

static void send_hdr(struct vgpu_chan *c, uint16_t op, uint64_t a, uint32_t b, uint32_t mode)
{
	uint8_t p[16];

	memcpy(p, &a, 8); memcpy(p + 8, &b, 4); memcpy(p + 12, &mode, 4);
	if (vgpu_chan_send(c, op, 0, 0, p, 16) || vgpu_chan_flush(c)) {
		fprintf(stderr, "writer: send failed: %s\n", vgpu_chan_strerror(c));
		exit(1);
	}
}

/* The writer process: for each size, announce it, then write it (alternating the copying
 * and zero-copy forms), then one transfer whose callback fails half way. */
static int writer(struct vgpu_chan *c)
{
	uint8_t *buf = malloc((17u << 20) + 3);
	struct fill_ctx f;
	int r;

	for (uint32_t i = 0; i < NSIZES; i++) {
		uint32_t mode = (i & 1) || sizes[i] > (17u << 20) + 3;

		send_hdr(c, OP_BULK, sizes[i], 100 + i, mode);
		if (mode) {
			f = (struct fill_ctx){ 100 + i, UINT64_MAX, 0 };
			r = vgpu_chan_bulk_write_cb(c, sizes[i], fill_cb, &f);
		} else {
			ring_test_fill(100 + i, 0, buf, sizes[i]);
			r = vgpu_chan_bulk_write(c, buf, sizes[i]);
		}
		if (r) {
			fprintf(stderr, "writer: size %llu: %d %s\n", (unsigned long long)sizes[i], r,
				vgpu_chan_strerror(c));
			return 1;
		}
	}
	/* callback failure: the rest of the stream is zero-filled and the error returned */
	send_hdr(c, OP_BULK, 5u << 20, 999, 2);
	f = (struct fill_ctx){ 999, 2u << 20, 0 };
	r = vgpu_chan_bulk_write_cb(c, 5u << 20, fill_cb, &f);
	if (r != -EIO) {
		fprintf(stderr, "writer: failing callback gave %d, expected -EIO\n", r);
		return 1;
	}
	send_hdr(c, OP_FAILAT, f.failed_off, 0, 0);
	/* two more transfers: the reader discards one (NULL fn) and fails its callback on the
	 * other; the stream must stay in sync for the last, verified one */
	for (uint32_t s = 1000; s < 1003; s++) {
		send_hdr(c, OP_BULK, 777777, s, 1);
		f = (struct fill_ctx){ s, UINT64_MAX, 0 };
		if (vgpu_chan_bulk_write_cb(c, 777777, fill_cb, &f))
			return 1;
	}
	free(buf);
	return 0;
}

static int recv_hdr(struct vgpu_chan *c, uint16_t op, uint64_t *a, uint32_t *b, uint32_t *mode)
{
	struct vgpu_msg_hdr h;
	uint8_t p[16];
	int n = vgpu_chan_recv(c, &h, p, sizeof(p));

	if (n != 16 || h.opcode != op) {
		fprintf(stderr, "reader: bad announce %d op %u: %s\n", n, h.opcode, vgpu_chan_strerror(c));
		return -1;
	}
	memcpy(a, p, 8); memcpy(b, p + 8, 4); memcpy(mode, p + 12, 4);
	return 0;
}

static void reader(struct vgpu_chan *c)
{
	uint8_t *buf = malloc((17u << 20) + 3);
	uint64_t n, failed_off;
	uint32_t stream, mode;
	struct check_ctx k;
	int calls = 0;

	for (uint32_t i = 0; i < NSIZES; i++) {
		if (recv_hdr(c, OP_BULK, &n, &stream, &mode)) {
			CHECK(!"announce");
			return;
		}
		CHECK_EQ(n, sizes[i]);
		if (n > (17u << 20) + 3 || (i % 3) == 1) {
			k = (struct check_ctx){ stream, 0, 0 };
			CHECK_EQ(vgpu_chan_bulk_read_cb(c, n, check_cb, &k), 0);
			CHECK_EQ(k.bad, 0);
			/* chunked: a 256 MiB stream through a 1 MiB area takes many chunks */
			if (n > (2u << 20))
				CHECK(k.calls >= n / (1u << 20));
		} else {
			memset(buf, 0xa5, n);
			CHECK_EQ(vgpu_chan_bulk_read(c, buf, n), 0);
			CHECK_EQ(ring_test_verify(stream, 0, buf, n), -1);
			verified_bytes += n;
		}
	}
	printf("reader: verified %llu bytes in %u transfers\n", (unsigned long long)verified_bytes,
	       (unsigned)NSIZES);
	/* the writer's callback failed: pattern up to the failing chunk, zeros after */
	CHECK_EQ(recv_hdr(c, OP_BULK, &n, &stream, &mode), 0);
	CHECK_EQ(vgpu_chan_bulk_read(c, buf, n), 0);
	CHECK_EQ(recv_hdr(c, OP_FAILAT, &failed_off, &stream, &mode), 0);
	CHECK(failed_off <= (2u << 20) && failed_off > 0);
	CHECK_EQ(ring_test_verify(999, 0, buf, failed_off), -1);
	for (uint64_t i = failed_off; i < n; i++)
		if (buf[i]) {
			CHECK(!"zero fill after a failed write callback");
			break;
		}
	/* discard, failing reader callback, then a verified transfer still in sync */
	CHECK_EQ(recv_hdr(c, OP_BULK, &n, &stream, &mode), 0);
	CHECK_EQ(vgpu_chan_bulk_read_cb(c, n, NULL, NULL), 0);
	CHECK_EQ(recv_hdr(c, OP_BULK, &n, &stream, &mode), 0);
	CHECK_EQ(vgpu_chan_bulk_read_cb(c, n, fail_first, &calls), -EIO);
	CHECK_EQ(calls, 1);
	CHECK_EQ(recv_hdr(c, OP_BULK, &n, &stream, &mode), 0);
	CHECK_EQ(stream, 1002);
	CHECK_EQ(vgpu_chan_bulk_read(c, buf, n), 0);
	CHECK_EQ(ring_test_verify(1002, 0, buf, n), -1);
	free(buf);
}

int main(int argc, char **argv)
{
	const struct vgpu_chan_geom g = { 16384, 1u << 20 };
	struct vgpu_chan *c, *s;
	pid_t pid;

	if (argc > 1) {
		printf("usage: %s\nTwo-process bulk transfers of 0..256 MiB through a 1 MiB area.\n", argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	ring_test_pattern_init();
	MUST(vgpu_shm_pair(&g, &c, &s));
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		int rc;

		vgpu_chan_forget(s);
		rc = writer(c);
		vgpu_chan_close(c);
		free(ring_test_pat);
		_exit(rc);
	}
	vgpu_chan_forget(c);
	reader(s);
	CHECK_EQ(ring_test_wait(pid), 0);
	vgpu_chan_close(s);
	free(ring_test_pat);
	return ring_test_done("ring_bulk");
}
