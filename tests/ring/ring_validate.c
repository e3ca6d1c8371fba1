/* SPDX-License-Identifier: MIT */
/* ring_validate.c — one test per rule the consumer applies to peer-written state: each violation gives -EPROTO with a precise reason and breaks the channel for good. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "ring_test.h"

static const struct vgpu_chan_geom geom = { 4096, 8192 };

static void pair(struct vgpu_chan **c, struct vgpu_chan **s)
{
	MUST(vgpu_shm_pair(&geom, c, s));
}

/* After a protocol error every later call fails fast with the same error. */
static void check_broken(struct vgpu_chan *v, int err)
{
	struct vgpu_msg_hdr h;
	uint8_t b[8];

	if (vgpu_chan_try_recv(v, &h, b, sizeof(b)) != err) { /* not broken: blocking calls would hang */
		CHECK(!"channel not broken after a protocol error");
		return;
	}
	CHECK_EQ(vgpu_chan_recv(v, &h, b, sizeof(b)), err);
	CHECK_EQ(vgpu_chan_send(v, 1, 0, 1, b, 1), err);
	CHECK_EQ(vgpu_chan_bulk_write(v, b, 1), err);
	CHECK_EQ(vgpu_chan_bulk_read(v, b, 1), err);
}

static void done(struct vgpu_chan *c, struct vgpu_chan *s)
{
	vgpu_chan_close(c);
	vgpu_chan_close(s);
}

/* The peer's producer index goes backwards. */
static void test_prod_backwards(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, b, 8), 0);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 2, b, 8), 0);
	CHECK_EQ(vgpu_chan_recv(s, &h, b, sizeof(b)), 8);
	atomic_store(&c->hdr->dir[0].msg_prod, c->out_prod - 16);
	/* the second message was already seen (validated) with the first: it is delivered */
	CHECK_EQ(vgpu_chan_try_recv(s, &h, b, sizeof(b)), 8);
	CHECK_ERR(s, vgpu_chan_try_recv(s, &h, b, sizeof(b)), -EPROTO, "moved message producer index backwards");
	check_broken(s, -EPROTO);
	done(c, s);
}

/* The peer's producer index runs more than a ring ahead of our consumer index. */
static void test_prod_too_far(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	atomic_store(&c->hdr->dir[0].msg_prod, s->in_cons + 4096 + 16);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, b, sizeof(b)), -EPROTO, "out of range");
	check_broken(s, -EPROTO);
	done(c, s);
	pair(&c, &s); /* 2^31 ahead reads as backwards; either way it is refused */
	atomic_store(&c->hdr->dir[0].msg_prod, s->in_cons + 0x80000000u);
	CHECK_EQ(vgpu_chan_recv(s, &h, b, sizeof(b)), -EPROTO);
	done(c, s);
}

static void test_prod_misaligned(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	atomic_store(&c->hdr->dir[0].msg_prod, s->in_cons + 24);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, b, sizeof(b)), -EPROTO, "not 16-byte aligned");
	done(c, s);
}

/* Rewrite a field of the message header the client just queued at ring offset 0. */
static void poke_hdr(struct vgpu_chan *c, size_t field_off, uint32_t v)
{
	memcpy(c->out_ring + field_off, &v, sizeof(v));
}

static void test_huge_len(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, b, 8), 0);
	poke_hdr(c, offsetof(struct vgpu_msg_hdr, len), 0xffffff00u);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, b, sizeof(b)), -EPROTO,
		  "peer wrote msg len 0xffffff00 > ring max 4080 at index 0x00000000");
	check_broken(s, -EPROTO);
	done(c, s);
}

static void test_len_past_producer(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, b, 10), 0); /* 32 bytes published */
	poke_hdr(c, offsetof(struct vgpu_msg_hdr, len), 100);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, b, sizeof(b)), -EPROTO, "but only 32 published");
	done(c, s);
}

static void test_reserved_nonzero(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, b, 8), 0);
	poke_hdr(c, offsetof(struct vgpu_msg_hdr, reserved), 1);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, b, sizeof(b)), -EPROTO, "reserved field 0x00000001");
	check_broken(s, -EPROTO);
	done(c, s);
}

/* Send 8-byte messages until one fails (at most two ring-fulls, so never blocks long). */
static int send_until_error(struct vgpu_chan *c)
{
	uint8_t b[8] = { 0 };
	int r = 0;

	for (int i = 0; i < 256 && !r; i++)
		r = vgpu_chan_send(c, 1, 0, (uint32_t)i, b, sizeof(b));
	return r;
}

/* The consumer index (read by the producer) goes backwards or past what was produced. */
static void test_cons_rules(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	for (uint32_t i = 0; i < 128; i++) /* exactly full: 128 x (16 + 8 + 8 padding) */
		CHECK_EQ(vgpu_chan_send(c, 1, 0, i, b, 8), 0);
	for (uint32_t i = 0; i < 10; i++)
		CHECK_EQ(vgpu_chan_recv(s, &h, b, sizeof(b)), 8);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 128, b, 8), 0); /* full: the producer re-read cons = 320 */
	CHECK_EQ(c->out_cons_seen, 320);
	atomic_store(&s->hdr->dir[0].msg_cons, 0);
	/* the producer re-reads the consumer index once its cached view runs out of space */
	CHECK_ERR(c, send_until_error(c), -EPROTO, "moved message consumer index backwards");
	check_broken(c, -EPROTO);
	done(c, s);

	pair(&c, &s);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, b, 8), 0);
	atomic_store(&s->hdr->dir[0].msg_cons, 0x10000); /* beyond anything produced */
	CHECK_ERR(c, send_until_error(c), -EPROTO, "message consumer index 0x00010000 is out of range");
	done(c, s);
}

static void test_bulk_rules(void)
{
	struct vgpu_chan *c, *s;
	uint8_t b[200] = { 0 };

	pair(&c, &s);
	atomic_store(&c->hdr->dir[0].bulk_prod, 8192 + 1);
	CHECK_ERR(s, vgpu_chan_bulk_read(s, b, 10), -EPROTO, "bulk producer index 0x00002001 is out of range");
	check_broken(s, -EPROTO);
	done(c, s);

	pair(&c, &s);
	CHECK_EQ(vgpu_chan_bulk_write(c, b, 100), 0);
	CHECK_EQ(vgpu_chan_bulk_read(s, b, 100), 0);
	CHECK_EQ(vgpu_chan_bulk_write(c, b, 100), 0); /* writer has seen cons = 100 */
	atomic_store(&s->hdr->dir[0].bulk_cons, 50);
	CHECK_ERR(c, vgpu_chan_bulk_write(c, b, 10), -EPROTO, "moved bulk consumer index backwards");
	done(c, s);
}

/* A region built by hand, corrupted by mutate, then offered to vgpu_shm_attach. */
static int attach_mutated(void (*mutate)(struct vgpu_ring_hdr *h, int fd), int seal)
{
	size_t n = (size_t)vgpu_ring_region_bytes(&geom);
	struct vgpu_chan *v = NULL;
	int fd = memfd_create("t", MFD_ALLOW_SEALING), sv[2], rc;
	void *p;

	if (fd < 0 || ftruncate(fd, (off_t)n) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		abort();
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		abort();
	vgpu_ring_init_region(p, &geom, 0);
	if (mutate)
		mutate(p, fd);
	if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		abort();
	rc = vgpu_shm_attach(sv[1], fd, &v);
	if (rc == 0)
		vgpu_chan_close(v);
	munmap(p, n);
	close(sv[0]);
	return rc;
}

static void m_magic(struct vgpu_ring_hdr *h, int fd) { (void)fd; h->magic = 0x12345678; }
static void m_version(struct vgpu_ring_hdr *h, int fd) { (void)fd; h->version = 99; }
static void m_geom(struct vgpu_ring_hdr *h, int fd) { (void)fd; h->geom.msg_ring_bytes = 5000; }
static void m_geom_big(struct vgpu_ring_hdr *h, int fd) { (void)fd; h->geom.bulk_bytes = 1u << 31; }
static void m_size(struct vgpu_ring_hdr *h, int fd) { (void)fd; h->region_bytes += 4096; }
static void m_file(struct vgpu_ring_hdr *h, int fd)
{
	(void)h;
	if (ftruncate(fd, (off_t)vgpu_ring_region_bytes(&geom) + 4096) < 0)
		abort();
}
static void m_unaligned(struct vgpu_ring_hdr *h, int fd)
{
	(void)fd;
	atomic_store(&h->dir[1].msg_prod, 8);
}

static void test_attach_rules(void)
{
	CHECK_EQ(attach_mutated(NULL, 1), 0);
	CHECK_EQ(attach_mutated(m_magic, 1), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "bad ring magic 0x12345678"));
	CHECK_EQ(attach_mutated(m_version, 1), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "version 99"));
	CHECK_EQ(attach_mutated(m_geom, 1), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "bad geometry msg_ring_bytes=5000"));
	CHECK_EQ(attach_mutated(m_geom_big, 1), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "bad geometry"));
	CHECK_EQ(attach_mutated(m_size, 1), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "size mismatch"));
	CHECK_EQ(attach_mutated(m_file, 1), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "size mismatch"));
	CHECK_EQ(attach_mutated(m_unaligned, 1), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "not 16-byte aligned"));
	CHECK_EQ(attach_mutated(NULL, 0), -EPROTO); /* could be truncated under our mapping */
	CHECK(strstr(vgpu_chan_setup_error(), "not a memfd sealed against shrinking"));
}

/* Send raw bytes with nfds copies of fd attached. */
static void send_raw(int sock, const void *b, size_t n, int fd, int nfds)
{
	int fds[VGPU_FDS_MAX] = { fd, fd, fd, fd };

	if (vgpu_fds_send(sock, b, n, fds, (unsigned)nfds) < 0)
		abort();
}

static void test_hello_rules(void)
{
	char hello[32];
	uint32_t len;
	int sv[2], fd = -1, memfd = memfd_create("t", 0);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		abort();
	send_raw(sv[0], "hi", 2, memfd, 0);
	CHECK_EQ(vgpu_shm_recv_hello(sv[1], hello, sizeof(hello), &len, &fd), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "carried 0 file descriptors"));
	send_raw(sv[0], "hi", 2, memfd, 2);
	CHECK_EQ(vgpu_shm_recv_hello(sv[1], hello, sizeof(hello), &len, &fd), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "carried 2 file descriptors"));
	send_raw(sv[0], "0123456789012345678901234567890123456789", 40, memfd, 1);
	CHECK_EQ(vgpu_shm_recv_hello(sv[1], hello, sizeof(hello), &len, &fd), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "truncated"));
	send_raw(sv[0], "hello", 5, memfd, 1);
	CHECK_EQ(vgpu_shm_recv_hello(sv[1], hello, sizeof(hello), &len, &fd), 0);
	CHECK(len == 5 && fd >= 0 && fd != memfd && !memcmp(hello, "hello", 5));
	close(fd);
	close(sv[0]);
	CHECK_EQ(vgpu_shm_recv_hello(sv[1], hello, sizeof(hello), &len, &fd), -EPIPE);
	close(sv[1]);
	close(memfd);
}

/* Fields the peer may scribble on without any effect on our safety: its closed flag
 * turns into -EPIPE; garbage in our own index words is never read back. */
static void test_harmless_fields(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t b[64];

	pair(&c, &s);
	CHECK_EQ(vgpu_chan_send(c, 1, 0, 1, b, 8), 0);
	atomic_store(&c->hdr->dir[0].msg_cons, 0xdeadbeef); /* the consumer's own index */
	atomic_store(&c->hdr->side[1].sleeping, 0xffffffff);
	atomic_store(&c->hdr->side[1].evt, 12345);
	CHECK_EQ(vgpu_chan_recv(s, &h, b, sizeof(b)), 8);
	CHECK_EQ(vgpu_chan_try_recv(s, &h, b, sizeof(b)), -EAGAIN);
	atomic_store(&c->hdr->side[0].closed, 1);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, b, sizeof(b)), -EPIPE, "peer closed");
	done(c, s);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		printf("usage: %s\nOne test per validation rule of the grant ring.\n", argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	test_prod_backwards();
	test_prod_too_far();
	test_prod_misaligned();
	test_huge_len();
	test_len_past_producer();
	test_reserved_nonzero();
	test_cons_rules();
	test_bulk_rules();
	test_attach_rules();
	test_hello_rules();
	test_harmless_fields();
	return ring_test_done("ring_validate");
}
