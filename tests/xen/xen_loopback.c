/* SPDX-License-Identifier: MIT */
/* xen_loopback.c — the Xen transport on real grant tables and event channels: Dom0 grants a region to itself (gntalloc), maps it (gntdev) and binds the event channel, in two processes. */
#include <poll.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "../ring/ring_test.h"
#include "ring_xen.h"

/*
 * Runs in Dom0 (tests/xen/run.sh boots Xen under QEMU for it). The "zone" is a child process
 * that creates the channel with vgpu_xen_create(0, ...) (granting to domain 0, itself); the
 * parent attaches as the backend would. Checks: refused bootstrap info, message traffic with
 * every wakeup through the event channel, bulk streams larger than the bulk area both ways,
 * orderly close (-EPIPE), and peer death seen by the transport itself: a zone killed in the
 * middle of a transfer, a backend killed while the zone waits.
 * Prints the round-trip time on this machine; under QEMU TCG that figure says nothing about
 * performance on hardware.
 */

#define OP_STOP 0
#define OP_ECHO 1
#define OP_BULK_IN 2  /* payload u64 n: n bulk bytes follow (stream 77); zone verifies, acks */
#define OP_BULK_OUT 3 /* payload u64 n: zone writes n bulk bytes (stream 78) after its reply */
#define OP_SINK 4     /* payload u64 n: zone reads n bulk bytes slowly, never replies */

static const struct vgpu_chan_geom small_geom = { 64u << 10, 1u << 20 };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The zone side: create, publish the bootstrap info on the pipe, serve until OP_STOP. */
static int zone(int info_pipe, const struct vgpu_chan_geom *g, uint32_t spin)
{
	struct vgpu_xen_info info;
	struct vgpu_chan *c;
	struct vgpu_msg_hdr h;
	static uint8_t buf[64u << 10];
	uint8_t *big = malloc(16u << 20);
	int n, rc = 1;

	if (!big)
		return 1;
	if (vgpu_xen_create(0, g, &info, &c)) {
		fprintf(stderr, "zone: vgpu_xen_create: %s\n", vgpu_chan_setup_error());
		return 1;
	}
	info.domid = 0; /* a zone publishes its own domid; here the granter is Dom0 itself */
	if (write(info_pipe, &info, sizeof(info)) != sizeof(info))
		return 1;
	vgpu_chan_set_spin(c, spin);
	for (;;) {
		uint64_t len = 0;

		n = vgpu_chan_recv(c, &h, buf, sizeof(buf));
		if (n < 0) {
			h.opcode = OP_ECHO;
			break;
		}
		if (h.opcode == OP_STOP) {
			rc = 0;
			break;
		}
		if (h.opcode != OP_ECHO) {
			if (n != 8 || (memcpy(&len, buf, 8), len > (16u << 20)))
				break;
			n = 0;
		}
		if (h.opcode == OP_SINK) {
			/* read slowly so the backend is blocked in the middle of its write */
			for (uint64_t done = 0; done < len; done += 64u << 10) {
				if (vgpu_chan_bulk_read(c, big, 64u << 10))
					break;
				usleep(20000);
			}
			break;
		}
		if (h.opcode == OP_BULK_IN) {
			int64_t bad;

			if (vgpu_chan_bulk_read(c, big, len))
				break;
			if ((bad = ring_test_verify(77, 0, big, len)) != -1) {
				fprintf(stderr, "zone: bulk byte %lld of %llu differs\n", (long long)bad,
					(unsigned long long)len);
				break;
			}
		}
		if (vgpu_chan_send(c, h.opcode, VGPU_MSG_F_REPLY, h.seq, buf, (uint32_t)n) ||
		    vgpu_chan_flush(c))
			break;
		if (h.opcode == OP_BULK_OUT) {
			ring_test_fill(78, 0, big, len);
			if (vgpu_chan_bulk_write(c, big, len))
				break;
		}
	}
	if (rc && n == -EPIPE && h.opcode == OP_ECHO)
		rc = 10; /* the backend went away while we waited for its next message */
	else if (rc)
		fprintf(stderr, "zone: stopped at opcode %u: %d %s\n", h.opcode, n, vgpu_chan_strerror(c));
	vgpu_chan_close(c);
	free(big);
	return rc;
}

/* Fork a zone; read its bootstrap info. Returns its pid (-1 on failure). */
static pid_t spawn_zone(const struct vgpu_chan_geom *g, uint32_t spin, struct vgpu_xen_info *info)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		_exit(zone(pfd[1], g, spin));
	}
	close(pfd[1]);
	if (read(pfd[0], info, sizeof(*info)) != sizeof(*info)) {
		fprintf(stderr, "no bootstrap info from the zone (it failed to create the channel)\n");
		close(pfd[0]);
		kill(pid, SIGKILL);
		ring_test_wait(pid);
		return -1;
	}
	close(pfd[0]);
	return pid;
}

static struct vgpu_chan *attach(const struct vgpu_xen_info *info)
{
	struct vgpu_chan *s = NULL;

	if (vgpu_xen_attach(info, &s)) {
		fprintf(stderr, "vgpu_xen_attach(dom %u, port %u, gref %u): %s\n", info->domid,
			info->evtchn_port, info->dir_gref, vgpu_chan_setup_error());
		return NULL;
	}
	return s;
}

/* Fork a zone and attach to it; *s is NULL (and no zone runs) on failure. */
static pid_t start_zone(const struct vgpu_chan_geom *g, uint32_t spin, struct vgpu_xen_info *info,
			struct vgpu_chan **s)
{
	pid_t pid = spawn_zone(g, spin, info);

	*s = pid > 0 ? attach(info) : NULL;
	if (pid > 0 && !*s) {
		kill(pid, SIGKILL);
		ring_test_wait(pid);
		pid = -1;
	}
	return pid;
}

static int stop_zone(struct vgpu_chan *s, pid_t pid)
{
	struct vgpu_msg_hdr h;
	uint8_t b[16];

	CHECK_EQ(vgpu_chan_send(s, OP_STOP, 0, 0, NULL, 0), 0);
	CHECK_ERR(s, vgpu_chan_recv(s, &h, b, sizeof(b)), -EPIPE, "peer closed");
	vgpu_chan_close(s);
	return ring_test_wait(pid);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Round trips of n small messages: prints the median and 90th percentile, in microseconds. */
static void rtt(struct vgpu_chan *s, uint32_t n, const char *how)
{
	struct vgpu_msg_hdr h;
	uint8_t b[64] = { 1 }, back[64];
	uint64_t *t = calloc(n, sizeof(*t));

	if (!t)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (vgpu_chan_send(s, OP_ECHO, 0, i, b, 32) || vgpu_chan_flush(s) ||
		    vgpu_chan_recv(s, &h, back, sizeof(back)) != 32 || h.seq != i) {
			CHECK(!"round trip");
			free(t);
			return;
		}
		t[i] = now_ns() - t0;
	}
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("xen_loopback: rtt median %.0f us, p90 %.0f us (%u round trips, %s)\n", t[n / 2] / 1000.0,
	       t[n * 9 / 10] / 1000.0, n, how);
	free(t);
}

static void traffic(void)
{
	struct vgpu_xen_info info, bad;
	struct vgpu_chan *s, *x = NULL;
	struct vgpu_msg_hdr h;
	static uint8_t buf[64u << 10], back[64u << 10];
	uint64_t n;
	uint8_t *big;
	pid_t pid;

	pid = start_zone(&small_geom, 0, &info, &s);
	if (!s) {
		CHECK(!"channel set up");
		return;
	}
	/* bootstrap info pointing elsewhere is refused with a reason */
	bad = info;
	bad.dir_gref = info.dir_gref - 1; /* the last region page, granted read-write: no directory */
	CHECK_EQ(vgpu_xen_attach(&bad, &x), -EPROTO);
	CHECK(strstr(vgpu_chan_setup_error(), "bad magic"));
	bad = info;
	bad.evtchn_port = info.evtchn_port + 1000;
	CHECK(vgpu_xen_attach(&bad, &x) < 0);
	CHECK(strstr(vgpu_chan_setup_error(), "binding event channel"));
	bad = info;
	bad.dir_gref = 1u << 30; /* no such grant */
	CHECK(vgpu_xen_attach(&bad, &x) < 0);
	CHECK(strstr(vgpu_chan_setup_error(), "mapping directory page 0"));
	CHECK(x == NULL);

	/* messages of every size up to the largest, each way, every wakeup by event channel */
	vgpu_chan_set_spin(s, 0);
	for (uint32_t i = 0; i < 200 && !ring_test_failures; i++) {
		uint32_t len = i == 199 ? vgpu_chan_max_msg(&small_geom) : (i * 331u) % 9000;

		ring_test_fill(i, 0, buf, len);
		CHECK_EQ(vgpu_chan_send(s, OP_ECHO, 0, i, buf, len), 0);
		CHECK_EQ(vgpu_chan_flush(s), 0);
		CHECK_EQ(vgpu_chan_recv(s, &h, back, sizeof(back)), (int)len);
		CHECK(h.seq == i && !memcmp(buf, back, len));
	}
	rtt(s, 200, "spin 0: every wakeup goes through the event channel");

	/* bulk both ways, 8 MiB + a bit through a 1 MiB area */
	n = (8u << 20) + 12345;
	big = malloc(n);
	ring_test_fill(77, 0, big, n);
	CHECK_EQ(vgpu_chan_send(s, OP_BULK_IN, 0, 1000, &n, sizeof(n)), 0);
	CHECK_EQ(vgpu_chan_bulk_write(s, big, n), 0);
	CHECK_EQ(vgpu_chan_recv(s, &h, back, sizeof(back)), 0);
	CHECK_EQ(h.seq, 1000);
	memset(big, 0, n);
	CHECK_EQ(vgpu_chan_send(s, OP_BULK_OUT, 0, 1001, &n, sizeof(n)), 0);
	CHECK_EQ(vgpu_chan_recv(s, &h, back, sizeof(back)), 0);
	CHECK_EQ(h.seq, 1001);
	CHECK_EQ(vgpu_chan_bulk_read(s, big, n), 0);
	CHECK_EQ(ring_test_verify(78, 0, big, n), -1);
	free(big);
	/* orderly end: the zone closes, the backend sees -EPIPE */
	CHECK_EQ(stop_zone(s, pid), 0);
	printf("xen_loopback: traffic, refusals, bulk 2 x %llu bytes through a %u-byte area, close: done\n",
	       (unsigned long long)n, small_geom.bulk_bytes);
}

/* Spinning round trips (no event channel on the fast path). */
static void rtt_spin(void)
{
	struct vgpu_xen_info info;
	struct vgpu_chan *s;
	pid_t pid = start_zone(&small_geom, VGPU_CHAN_DEFAULT_SPIN_NS, &info, &s);

	if (!s) {
		CHECK(!"channel set up");
		return;
	}
	rtt(s, 2000, "the default adaptive spin before sleeping");
	CHECK_EQ(stop_zone(s, pid), 0);
}

/*
 * The zone is SIGKILLed while the backend is blocked writing into its bulk area. The grant
 * mappings must stay valid (no fault in the backend), and the backend must see the death by
 * itself: the zone's kernel clears its byte in the liveness page and signals the event
 * channel (gntalloc unmap notification), so the blocked write returns -EPIPE.
 */
static void killed_zone(int round)
{
	struct vgpu_xen_info info;
	pid_t zpid, bpid;
	int st, pfd[2];
	uint64_t t0;
	char ok;

	zpid = spawn_zone(&VGPU_CHAN_DEFAULT_GEOM, 0, &info);
	if (zpid < 0 || pipe(pfd) < 0) {
		fprintf(stderr, "killed-zone round %d: no zone\n", round);
		CHECK(!"zone set up");
		return;
	}
	bpid = fork();
	if (bpid == 0) {
		/* the backend: map, announce 16 MiB, write them (the zone dies after ~1 MiB) */
		uint64_t n = 16u << 20;
		uint8_t *big = calloc(1, n);
		struct vgpu_chan *s = attach(&info);
		int rc;

		close(pfd[0]);
		if (!s || !big)
			_exit(3);
		vgpu_chan_set_spin(s, 0);
		if (vgpu_chan_send(s, OP_SINK, 0, 1, &n, sizeof(n)) || write(pfd[1], "k", 1) != 1)
			_exit(3);
		rc = vgpu_chan_bulk_write(s, big, n);
		if (rc != -EPIPE)
			fprintf(stderr, "backend: bulk write returned %d (%s), expected -EPIPE\n", rc,
				vgpu_chan_strerror(s));
		vgpu_chan_close(s);
		_exit(rc == -EPIPE ? 10 : 4);
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &ok, 1) == 1);
	close(pfd[0]);
	usleep(200000);
	CHECK_EQ(waitpid(bpid, &st, WNOHANG), 0); /* blocked in the transfer, not finished */
	kill(zpid, SIGKILL);
	t0 = now_ns();
	CHECK_EQ(ring_test_wait(zpid), 128 + SIGKILL);
	for (int i = 0; i < 50 && waitpid(bpid, &st, WNOHANG) == 0; i++)
		usleep(100000);
	if (kill(bpid, 0) == 0 && waitpid(bpid, &st, WNOHANG) == 0) {
		fprintf(stderr, "killed-zone round %d: the backend did not notice the zone's death in 5 s\n", round);
		kill(bpid, SIGKILL);
		ring_test_wait(bpid);
		CHECK(!"backend noticed the killed zone");
		return;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 10)
		fprintf(stderr, "killed-zone round %d: the backend ended with status 0x%x\n", round, st);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 10);
	printf("xen_loopback: killed zone %d: the backend's write ended with -EPIPE within %.0f ms\n", round,
	       (double)(now_ns() - t0) / 1e6);
}

/* The other way: the backend is SIGKILLed while the zone waits for its next message; the
 * zone's receive must end with -EPIPE (the backend's kernel clears its liveness byte). */
static void killed_backend(int round)
{
	struct vgpu_xen_info info;
	pid_t zpid, bpid;
	int pfd[2], st;
	uint64_t t0;
	char ok;

	zpid = spawn_zone(&VGPU_CHAN_DEFAULT_GEOM, 0, &info);
	if (zpid < 0 || pipe(pfd) < 0) {
		CHECK(!"zone set up");
		return;
	}
	bpid = fork();
	if (bpid == 0) {
		struct vgpu_chan *s = attach(&info);
		struct vgpu_msg_hdr h;
		uint8_t b[16];

		close(pfd[0]);
		if (!s || vgpu_chan_send(s, OP_ECHO, 0, 7, "hi", 2) || vgpu_chan_flush(s) ||
		    vgpu_chan_recv(s, &h, b, sizeof(b)) != 2 || write(pfd[1], "k", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &ok, 1) == 1);
	close(pfd[0]);
	kill(bpid, SIGKILL);
	t0 = now_ns();
	CHECK_EQ(ring_test_wait(bpid), 128 + SIGKILL);
	for (int i = 0; i < 50 && waitpid(zpid, &st, WNOHANG) == 0; i++)
		usleep(100000);
	if (kill(zpid, 0) == 0 && waitpid(zpid, &st, WNOHANG) == 0) {
		fprintf(stderr, "killed-backend round %d: the zone did not notice in 5 s\n", round);
		kill(zpid, SIGKILL);
		ring_test_wait(zpid);
		CHECK(!"zone noticed the killed backend");
		return;
	}
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 10);
	printf("xen_loopback: killed backend %d: the zone's receive ended with -EPIPE within %.0f ms\n", round,
	       (double)(now_ns() - t0) / 1e6);
}

int main(int argc, char **argv)
{
	struct stat st;
	int rounds = 3;
	uint64_t t0 = now_ns();

	if (argc > 1) {
		printf("usage: %s\n"
		       "The Xen transport between two processes of Dom0 on real grant tables and event\n"
		       "channels (Dom0 grants to itself). Needs /dev/xen/{gntalloc,gntdev,evtchn}: run it\n"
		       "in Dom0 (tests/xen/run.sh boots Xen under QEMU for it). Exit 77 without them.\n",
		       argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	if (stat("/dev/xen/gntalloc", &st) || stat("/dev/xen/gntdev", &st) || stat("/dev/xen/evtchn", &st)) {
		printf("skip: no /dev/xen/{gntalloc,gntdev,evtchn} here (not Dom0 of a Xen host, or the "
		       "xen-gntalloc/xen-gntdev/xen-evtchn modules are not loaded)\n");
		return 77;
	}
	traffic();
	rtt_spin();
	/* A few rounds only: the grants of a granter that dies while the backend maps them are
	 * returned by Linux's deferred end-of-access timer at 10 refs a second, so back-to-back
	 * rounds of 2084 grants exhaust Dom0's 64 grant frames (only in this loopback, where Dom0
	 * is the granter; a zone's grants belong to its own domain). */
	for (int r = 0; r < rounds && !ring_test_failures; r++)
		killed_zone(r);
	for (int r = 0; r < rounds && !ring_test_failures; r++)
		killed_backend(r);
	printf("xen_loopback: %.1f s\n", (double)(now_ns() - t0) / 1e9);
	return ring_test_done("xen_loopback");
}
