/* SPDX-License-Identifier: MIT */
/* ring_xen_mock.c — runs the Xen transport end to end between two processes over stand-ins for libxengnttab/libxenevtchn (a shared page pool for grants, eventfds for event channels). */
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "ring_test.h"
#include "ring_xen.h"

/*
 * The stand-ins. Defined in this executable, they take precedence over the shared
 * libraries, so transport_xen.c runs unchanged. A "grant ref" is 8 + the index of a page in
 * a memfd pool shared by both processes; mapping a ref maps that page of the pool.
 */
#define PG 4096u
#define POOL_PAGES 4096u
#define REF0 8u
#define ZONE_PORT 5
#define BACK_PORT 7

static int pool_fd = -1, ev_to_zone = -1, ev_to_back = -1;
static atomic_uint *pool_next; /* shared allocation cursor; pool_next[16]: notify count */

struct xengntdev_handle { int unused; };
struct xenevtchn_handle { int side; /* 0 unbound, 1 zone, 2 backend */ };

xengntshr_handle *xengntshr_open(struct xentoollog_logger *l, unsigned f)
{
	(void)l; (void)f;
	return calloc(1, sizeof(struct xengntdev_handle));
}

int xengntshr_close(xengntshr_handle *h)
{
	free(h);
	return 0;
}

void *xengntshr_share_pages(xengntshr_handle *h, uint32_t domid, int count, uint32_t *refs, int writable)
{
	uint32_t start = atomic_fetch_add(pool_next, (uint32_t)count);
	void *p;

	(void)h; (void)domid; (void)writable;
	if (start + (uint32_t)count > POOL_PAGES) {
		errno = ENOSPC;
		return NULL;
	}
	p = mmap(NULL, (size_t)count * PG, PROT_READ | PROT_WRITE, MAP_SHARED, pool_fd, (off_t)start * PG);
	if (p == MAP_FAILED)
		return NULL;
	for (int i = 0; i < count; i++)
		refs[i] = REF0 + start + (uint32_t)i;
	return p;
}

/* The unmap notification cannot be modelled (a SIGKILLed process runs no code): the page is
 * shared like any other, and the test below clears the byte itself to play the kernel. */
void *xengntshr_share_page_notify(xengntshr_handle *h, uint32_t domid, uint32_t *ref, int writable,
				  uint32_t notify_offset, evtchn_port_t notify_port)
{
	(void)notify_offset; (void)notify_port;
	return xengntshr_share_pages(h, domid, 1, ref, writable);
}

int xengntshr_unshare(xengntshr_handle *h, void *start, uint32_t count)
{
	(void)h;
	return munmap(start, (size_t)count * PG);
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *l, unsigned f)
{
	(void)l; (void)f;
	return calloc(1, sizeof(struct xengntdev_handle));
}

int xengnttab_close(xengnttab_handle *h)
{
	free(h);
	return 0;
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *h, uint32_t count, uint32_t domid,
				      uint32_t *refs, int prot)
{
	uint8_t *base = mmap(NULL, (size_t)count * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)h; (void)domid;
	if (base == MAP_FAILED)
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		if (refs[i] < REF0 || refs[i] >= REF0 + POOL_PAGES ||
		    mmap(base + (size_t)i * PG, PG, prot, MAP_SHARED | MAP_FIXED, pool_fd,
			 (off_t)(refs[i] - REF0) * PG) == MAP_FAILED) {
			munmap(base, (size_t)count * PG);
			errno = EINVAL;
			return NULL;
		}
	}
	return base;
}

void *xengnttab_map_grant_ref(xengnttab_handle *h, uint32_t domid, uint32_t ref, int prot)
{
	return xengnttab_map_domain_grant_refs(h, 1, domid, &ref, prot);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *h, uint32_t domid, uint32_t ref, int prot,
				     uint32_t notify_offset, evtchn_port_t notify_port)
{
	(void)notify_offset; (void)notify_port;
	return xengnttab_map_grant_ref(h, domid, ref, prot);
}

int xengnttab_unmap(xengnttab_handle *h, void *start, uint32_t count)
{
	(void)h;
	return munmap(start, (size_t)count * PG);
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *l, unsigned int f)
{
	(void)l; (void)f;
	return calloc(1, sizeof(struct xenevtchn_handle));
}

int xenevtchn_close(xenevtchn_handle *x)
{
	free(x);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *x)
{
	return x->side == 1 ? ev_to_zone : ev_to_back;
}

int xenevtchn_notify(xenevtchn_handle *x, evtchn_port_t port)
{
	uint64_t one = 1;

	if (port != (x->side == 1 ? ZONE_PORT : BACK_PORT)) {
		errno = EINVAL;
		return -1;
	}
	atomic_fetch_add(&pool_next[16], 1);
	return write(x->side == 1 ? ev_to_back : ev_to_zone, &one, 8) == 8 ? 0 : -1;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *x, uint32_t domid)
{
	(void)domid;
	x->side = 1;
	return ZONE_PORT;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *x, uint32_t domid,
						     evtchn_port_t remote)
{
	uint64_t one = 1;

	if (domid != 3 || remote != ZONE_PORT) {
		errno = EINVAL;
		return -1;
	}
	x->side = 2;
	/* like the real driver, binding may leave an event pending: consumers must cope */
	if (write(ev_to_back, &one, 8) != 8)
		return -1;
	return BACK_PORT;
}

int xenevtchn_unbind(xenevtchn_handle *x, evtchn_port_t port)
{
	(void)x; (void)port;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *x)
{
	uint64_t v;

	if (read(xenevtchn_fd(x), &v, 8) != 8)
		return -1;
	return x->side == 1 ? ZONE_PORT : BACK_PORT;
}

int xenevtchn_unmask(xenevtchn_handle *x, evtchn_port_t port)
{
	(void)x; (void)port;
	return 0;
}

/* ---- the test ---- */
#define OP_STOP 0
#define OP_ECHO 1
#define OP_BULK 2 /* payload: u64 n; then n bulk bytes follow, zone verifies and acks */

/* The zone: create the channel, publish the bootstrap info, serve until OP_STOP. */
static int zone(int info_pipe)
{
	const struct vgpu_chan_geom g = { 4096, 2u << 20 }; /* 1027 pages: two directory pages */
	struct vgpu_xen_info info;
	struct vgpu_chan *c;
	struct vgpu_msg_hdr h;
	uint8_t buf[4096];
	uint8_t *big = malloc(3u << 20);
	int n, rc = 1;

	if (vgpu_xen_create(0, &g, &info, &c)) {
		fprintf(stderr, "zone: %s\n", vgpu_chan_setup_error());
		return 1;
	}
	info.domid = 3; /* what the zone would read from xenstore */
	if (write(info_pipe, &info, sizeof(info)) != sizeof(info))
		return 1;
	vgpu_chan_set_spin(c, 0); /* every wait goes through the event channel */
	for (;;) {
		n = vgpu_chan_recv(c, &h, buf, sizeof(buf));
		if (n < 0)
			break;
		if (h.opcode == OP_STOP) {
			rc = 0;
			break;
		}
		if (h.opcode == OP_BULK) {
			uint64_t len;

			memcpy(&len, buf, 8);
			if (vgpu_chan_bulk_read(c, big, len) || ring_test_verify(77, 0, big, len) != -1)
				break;
			n = 0;
		}
		if (vgpu_chan_send(c, h.opcode, VGPU_MSG_F_REPLY, h.seq, buf, (uint32_t)n) ||
		    vgpu_chan_flush(c))
			break;
	}
	if (rc)
		fprintf(stderr, "zone: %d %s\n", n, vgpu_chan_strerror(c));
	vgpu_chan_close(c);
	free(big);
	return rc;
}

/* Fork a zone process; its bootstrap info arrives in *info. Its pid, or -1. */
static pid_t spawn_zone(struct vgpu_xen_info *info)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		_exit(zone(pfd[1]));
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], info, sizeof(*info));
	close(pfd[0]);
	return pid > 0 && n == (ssize_t)sizeof(*info) ? pid : -1;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/vgpu-xen-devXXXXXX", path[64];
	struct vgpu_xen_info info, bad;
	struct vgpu_chan *s = NULL;
	struct vgpu_msg_hdr h;
	uint8_t buf[4096], back[4096], *big;
	pid_t pid;

	if (argc > 1) {
		printf("usage: %s\nXen transport end to end over grant/event-channel stand-ins.\n", argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	/* stand-in device nodes, so the transport's "is this Xen?" check passes */
	if (!mkdtemp(dir))
		return 1;
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, (const char *[]){ "gntalloc", "gntdev", "evtchn" }[i]);
		close(open(path, O_CREAT | O_RDWR, 0600));
	}
	vgpu_xen_devdir = dir;
	pool_fd = memfd_create("grant-pool", 0);
	pool_next = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ev_to_zone = eventfd(0, EFD_NONBLOCK);
	ev_to_back = eventfd(0, EFD_NONBLOCK);
	if (pool_fd < 0 || ftruncate(pool_fd, (off_t)POOL_PAGES * PG) < 0 || pool_next == MAP_FAILED ||
	    ev_to_zone < 0 || ev_to_back < 0)
		return 1;

	pid = spawn_zone(&info);
	if (pid < 0) {
		fprintf(stderr, "no bootstrap info from the zone\n");
		return 1;
	}
	CHECK(info.evtchn_port == ZONE_PORT && info.dir_gref >= REF0);

	/* a wrong directory gref (the region's header page) and a wrong port are refused */
	bad = info;
	bad.dir_gref = REF0; /* pool page 0: the zone shared the region first */
	CHECK_EQ(vgpu_xen_attach(&bad, &s), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "directory page 0: bad magic"));
	bad = info;
	bad.evtchn_port = 9;
	CHECK_EQ(vgpu_xen_attach(&bad, &s), -EINVAL);
	CHECK(strstr(vgpu_chan_setup_error(), "binding event channel 9"));

	MUST(vgpu_xen_attach(&info, &s));
	vgpu_chan_set_spin(s, 0);
	for (uint32_t i = 0; i < 300; i++) {
		uint32_t len = (i * 131u) % 4000;

		ring_test_fill(i, 0, buf, len);
		CHECK_EQ(vgpu_chan_send(s, OP_ECHO, 0, i, buf, len), 0);
		CHECK_EQ(vgpu_chan_flush(s), 0);
		CHECK_EQ(vgpu_chan_recv(s, &h, back, sizeof(back)), (int)len);
		CHECK(h.seq == i && !memcmp(buf, back, len));
		if (ring_test_failures)
			break;
	}
	/* 3 MiB through the 2 MiB bulk area, verified by the zone */
	big = malloc(3u << 20);
	ring_test_fill(77, 0, big, 3u << 20);
	uint64_t n = 3u << 20;
	CHECK_EQ(vgpu_chan_send(s, OP_BULK, 0, 1000, &n, sizeof(n)), 0);
	CHECK_EQ(vgpu_chan_bulk_write(s, big, n), 0);
	CHECK_EQ(vgpu_chan_recv(s, &h, back, sizeof(back)), 0);
	CHECK_EQ(h.seq, 1000);
	/* orderly end: the zone closes, we see -EPIPE */
	CHECK_EQ(vgpu_chan_send(s, OP_STOP, 0, 0, NULL, 0), 0);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, back, sizeof(back)), -EPIPE, "peer closed");
	CHECK_EQ(ring_test_wait(pid), 0);
	/* both sides slept (spin 0), so wakeups went through the event channel */
	CHECK(atomic_load(&pool_next[16]) > 0);
	printf("%u event-channel notifications\n", atomic_load(&pool_next[16]));
	vgpu_chan_close(s);
	free(big);

	/*
	 * Liveness: a second zone dies without closing (SIGKILL). Its kernel would clear the
	 * zone byte of the liveness page named by directory page 0; here the test does it. A
	 * receive waiting for that zone must end with -EPIPE, not wait for ever.
	 */
	pid = spawn_zone(&info);
	CHECK(pid > 0);
	MUST(vgpu_xen_attach(&info, &s));
	{
		xengnttab_handle *gt = xengnttab_open(NULL, 0);
		struct vgpu_xen_dir *d0 = xengnttab_map_grant_ref(gt, 3, info.dir_gref, PROT_READ);
		CHECK(d0 && d0->alive >= REF0);
		uint8_t *alive = xengnttab_map_grant_ref(gt, 3, d0->alive, PROT_READ | PROT_WRITE);
		CHECK(alive && alive[VGPU_XEN_ALIVE_ZONE] == 1 && alive[VGPU_XEN_ALIVE_BACKEND] == 1);
		CHECK_EQ(vgpu_chan_send(s, OP_ECHO, 0, 1, buf, 16), 0);
		CHECK_EQ(vgpu_chan_flush(s), 0);
		CHECK_EQ(vgpu_chan_recv(s, &h, back, sizeof(back)), 16);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		alive[VGPU_XEN_ALIVE_ZONE] = 0; /* what the zone's kernel does when its process ends */
		CHECK_ERR(s, vgpu_chan_recv(s, &h, back, sizeof(back)), -EPIPE, "dead");
		xengnttab_unmap(gt, alive, 1);
		xengnttab_unmap(gt, d0, 1);
		xengnttab_close(gt);
	}
	vgpu_chan_close(s);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, (const char *[]){ "gntalloc", "gntdev", "evtchn" }[i]);
		unlink(path);
	}
	rmdir(dir);
	return ring_test_done("ring_xen_mock");
}
