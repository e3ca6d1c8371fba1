/* SPDX-License-Identifier: MIT */
/* ring.c — grant-ring benchmark: round-trip latency, batched message rate and bulk bandwidth, each beside its baseline in the same run. */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"

#define PAYLOAD 64u /* small-call payload, bytes */
#define OP_STOP 0
#define OP_CALL 1
#define OP_DONE 2
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static double phase_s = 0.5; /* wall time per measurement */
static int reps = 3;           /* repetitions; the best is reported */
static uint64_t bulk_total = 1ull << 30;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc, struct vgpu_chan *c)
{
	fprintf(stderr, "bench/ring: %s failed: %d (%s)\n", what, rc,
		c ? vgpu_chan_strerror(c) : vgpu_chan_setup_error());
	exit(1);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int wait_child(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- baseline: bare cache-line ping-pong between two processes ---- */
struct pp_lines {
	_Alignas(64) atomic_uint ping;
	_Alignas(64) atomic_uint pong;
};

static double bench_cacheline(void)
{
	struct pp_lines *l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t n = 0;
	double t0, t;
	pid_t pid;

	if (l == MAP_FAILED)
		die("mmap", -errno, NULL);
	atomic_init(&l->ping, 0);
	atomic_init(&l->pong, 0);
	pid = fork();
	if (pid == 0) {
		uint32_t seen = 0;

		for (;;) {
			uint32_t v;

			while ((v = atomic_load_explicit(&l->ping, memory_order_acquire)) == seen)
				cpu_relax();
			if (v == UINT32_MAX)
				_exit(0);
			seen = v;
			atomic_store_explicit(&l->pong, v, memory_order_release);
		}
	}
	t0 = now_s();
	do {
		for (int i = 0; i < 1000; i++) {
			uint32_t v = (uint32_t)++n;

			atomic_store_explicit(&l->ping, v, memory_order_release);
			while (atomic_load_explicit(&l->pong, memory_order_acquire) != v)
				cpu_relax();
		}
		t = now_s() - t0;
	} while (t < phase_s);
	atomic_store(&l->ping, UINT32_MAX);
	wait_child(pid);
	munmap(l, sizeof(*l));
	return t / (double)n * 1e9;
}

/* ---- baseline: unix-socket request/reply of the same bytes ---- */
static int full_io(int fd, void *p, size_t n, int wr)
{
	for (size_t d = 0; d < n;) {
		ssize_t k = wr ? write(fd, (char *)p + d, n - d) : read(fd, (char *)p + d, n - d);

		if (k <= 0)
			return -1;
		d += (size_t)k;
	}
	return 0;
}

static double bench_socket_rtt(void)
{
	uint8_t msg[16 + PAYLOAD] = { 0 };
	uint64_t n = 0;
	int sv[2];
	double t0, t;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair", -errno, NULL);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (full_io(sv[1], msg, sizeof(msg), 0) == 0 && msg[0] != 0xff)
			if (full_io(sv[1], msg, sizeof(msg), 1))
				break;
		_exit(0);
	}
	close(sv[1]);
	t0 = now_s();
	do {
		for (int i = 0; i < 100; i++, n++)
			if (full_io(sv[0], msg, sizeof(msg), 1) || full_io(sv[0], msg, sizeof(msg), 0))
				die("socket round trip", -EIO, NULL);
		t = now_s() - t0;
	} while (t < phase_s);
	msg[0] = 0xff;
	full_io(sv[0], msg, sizeof(msg), 1);
	close(sv[0]);
	wait_child(pid);
	return t / (double)n * 1e9;
}

/* Messages per second through a stream socket, 16+PAYLOAD bytes each, written in
 * batches of 32 (one write per batch, as the ring batches per wakeup). */
static double bench_socket_rate(void)
{
	uint8_t batch[32 * (16 + PAYLOAD)] = { 0 };
	uint64_t n = 0;
	int sv[2];
	double t0, t;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair", -errno, NULL);
	pid = fork();
	if (pid == 0) {
		uint8_t m[16 + PAYLOAD];

		close(sv[0]);
		while (full_io(sv[1], m, sizeof(m), 0) == 0) /* parse message by message */
			if (m[0] == 0xff)
				break;
		full_io(sv[1], m, 1, 1);
		_exit(0);
	}
	close(sv[1]);
	t0 = now_s();
	do {
		for (int i = 0; i < 100; i++, n += 32)
			if (full_io(sv[0], batch, sizeof(batch), 1))
				die("socket write", -EIO, NULL);
		t = now_s() - t0;
	} while (t < phase_s);
	memset(batch, 0xff, 16 + PAYLOAD);
	full_io(sv[0], batch, 16 + PAYLOAD, 1);
	full_io(sv[0], batch, 1, 0); /* the reader has consumed everything */
	t = now_s() - t0;
	close(sv[0]);
	wait_child(pid);
	return (double)n / t;
}

/* ---- the ring ---- */
static pid_t ring_server(struct vgpu_chan *c, struct vgpu_chan *s, uint32_t spin_ns)
{
	pid_t pid = fork();

	if (pid != 0) {
		vgpu_chan_forget(s);
		vgpu_chan_set_spin(c, spin_ns);
		return pid;
	}
	vgpu_chan_forget(c);
	vgpu_chan_set_spin(s, spin_ns);
	for (;;) {
		static uint8_t buf[64u << 10];
		struct vgpu_msg_hdr h;
		uint64_t want;
		int r = vgpu_chan_recv(s, &h, buf, sizeof(buf));

		if (r < 0)
			die("server recv", r, s);
		switch (h.opcode) {
		case OP_STOP:
			vgpu_chan_close(s);
			_exit(0);
		case OP_CALL:
			if (h.flags & 1) /* async: no reply */
				break;
			r = vgpu_chan_send(s, OP_CALL, 2, h.seq, buf, (uint32_t)r);
			if (!r)
				r = vgpu_chan_flush(s);
			if (r)
				die("server send", r, s);
			break;
		case OP_DONE: /* a bulk stream of the announced length follows */
			memcpy(&want, buf, sizeof(want));
			if (want) {
				static uint8_t *dst;

				if (!dst)
					dst = malloc(64u << 20);
				for (uint64_t d = 0; d < want;) {
					uint64_t k = want - d < (64u << 20) ? want - d : (64u << 20);

					r = vgpu_chan_bulk_read(s, dst, k);
					if (r)
						die("server bulk read", r, s);
					d += k;
				}
			}
			r = vgpu_chan_send(s, OP_DONE, 2, h.seq, NULL, 0);
			if (!r)
				r = vgpu_chan_flush(s);
			if (r)
				die("server send", r, s);
			break;
		}
	}
}

static void ring_stop(struct vgpu_chan *c, pid_t pid)
{
	vgpu_chan_send(c, OP_STOP, 0, 0, NULL, 0);
	vgpu_chan_flush(c);
	wait_child(pid);
	vgpu_chan_close(c);
}

static double bench_ring_rtt(uint32_t spin_ns)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t buf[PAYLOAD] = { 1 }, back[PAYLOAD];
	uint64_t n = 0;
	double t0, t;
	pid_t pid;
	int r;

	r = vgpu_shm_pair(&VGPU_CHAN_DEFAULT_GEOM, &c, &s);
	if (r)
		die("vgpu_shm_pair", r, NULL);
	pid = ring_server(c, s, spin_ns);
	t0 = now_s();
	do {
		for (int i = 0; i < 100; i++, n++) {
			r = vgpu_chan_send(c, OP_CALL, 0, (uint32_t)n, buf, PAYLOAD);
			if (!r)
				r = vgpu_chan_flush(c);
			if (!r)
				r = vgpu_chan_recv(c, &h, back, sizeof(back));
			if (r != (int)PAYLOAD)
				die("ring round trip", r, c);
		}
		t = now_s() - t0;
	} while (t < phase_s);
	ring_stop(c, pid);
	return t / (double)n * 1e9;
}

static double bench_ring_rate(void)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t buf[PAYLOAD] = { 1 }, zero[8] = { 0 };
	uint64_t n = 0;
	double t0, t;
	pid_t pid;
	int r = 0;

	r = vgpu_shm_pair(&VGPU_CHAN_DEFAULT_GEOM, &c, &s);
	if (r)
		die("vgpu_shm_pair", r, NULL);
	pid = ring_server(c, s, VGPU_CHAN_DEFAULT_SPIN_NS);
	t0 = now_s();
	do {
		for (int i = 0; i < 100; i++) {
			for (int k = 0; k < 32 && !r; k++, n++)
				r = vgpu_chan_send(c, OP_CALL, 1 /* async */, (uint32_t)n, buf, PAYLOAD);
			if (!r)
				r = vgpu_chan_flush(c);
			if (r)
				die("ring send", r, c);
		}
		t = now_s() - t0;
	} while (t < phase_s);
	/* a synchronous call at the end: every message before it has been consumed */
	r = vgpu_chan_send(c, OP_DONE, 0, 0, zero, sizeof(zero));
	if (!r)
		r = vgpu_chan_recv(c, &h, buf, sizeof(buf));
	if (r < 0)
		die("ring sync", r, c);
	t = now_s() - t0;
	ring_stop(c, pid);
	return (double)n / t;
}

static double bench_memcpy(uint8_t *src, uint8_t *dst, size_t buf, uint64_t total)
{
	double t0 = now_s();

	for (uint64_t d = 0; d < total; d += buf) {
		memcpy(dst, src, buf);
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
	return (double)total / (now_s() - t0) / 1e9;
}

static double bench_ring_bulk(uint8_t *src, size_t buf, uint64_t total)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t ack[8];
	double t0;
	pid_t pid;
	int r;

	r = vgpu_shm_pair(&VGPU_CHAN_DEFAULT_GEOM, &c, &s);
	if (r)
		die("vgpu_shm_pair", r, NULL);
	pid = ring_server(c, s, VGPU_CHAN_DEFAULT_SPIN_NS);
	t0 = now_s();
	r = vgpu_chan_send(c, OP_DONE, 0, 0, &total, sizeof(total));
	for (uint64_t d = 0; d < total && !r; d += buf)
		r = vgpu_chan_bulk_write(c, src, buf);
	if (!r)
		r = vgpu_chan_recv(c, &h, ack, sizeof(ack));
	if (r < 0)
		die("ring bulk", r, c);
	t0 = now_s() - t0;
	ring_stop(c, pid);
	return (double)total / t0 / 1e9;
}

static void cpu_model(char *out, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(out, n, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && p) {
			snprintf(out, n, "%s", p + 2);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

static void usage(const char *argv0)
{
	printf("usage: %s [--quick] [--out FILE | --no-write] [--help]\n"
	       "Measures the vgpu grant ring against baselines in one run (two processes over the\n"
	       "shm transport):\n"
	       "  round trip of a %u-byte call, spinning and blocking, vs a bare cache-line\n"
	       "  ping-pong and a unix-socket request/reply; batched async messages/s vs a unix\n"
	       "  socket; bulk bandwidth through a 4 MiB area vs single-core memcpy.\n"
	       "  --quick      short run (smoke test, about 2 s); results are not written\n"
	       "  --out FILE   write the markdown report to FILE (default docs/perf/ring.md)\n"
	       "  --no-write   only print\n", argv0, PAYLOAD);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' }, { "out", required_argument, NULL, 'o' },
		{ "no-write", no_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' }, { 0 }
	};
	const char *out = "docs/perf/ring.md";
	int quick = 0, write_out = 1, o;
	double cl, sock, spin, block, rate, srate, mc, bulk;
	size_t buf = 64u << 20;
	uint8_t *src, *dst;
	char cpu[128], report[4096], load[64];
	struct utsname un;
	FILE *f;

	while ((o = getopt_long(argc, argv, "qo:nh", opts, NULL)) != -1) {
		switch (o) {
		case 'q': quick = 1; break;
		case 'o': out = optarg; break;
		case 'n': write_out = 0; break;
		case 'h': usage(argv[0]); return 0;
		default: usage(argv[0]); return 2;
		}
	}
	if (quick) {
		phase_s = 0.15;
		reps = 1;
		bulk_total = 256ull << 20;
		write_out = 0;
	}
	src = malloc(buf);
	dst = malloc(buf);
	if (!src || !dst)
		die("malloc", -ENOMEM, NULL);
	memset(src, 0x5a, buf); /* fault the pages in before timing */
	memset(dst, 0xa5, buf);
	cpu_model(cpu, sizeof(cpu));
	uname(&un);
	f = fopen("/proc/loadavg", "r");
	if (!f || !fgets(load, sizeof(load), f))
		snprintf(load, sizeof(load), "unknown");
	load[strcspn(load, " ")] = 0;
	if (f)
		fclose(f);

	/* Best of `reps` for every figure, ring and baselines alike: the machine is shared, and
	 * the best run is the one least disturbed by other work. */
	cl = sock = spin = block = 1e30;
	rate = srate = mc = bulk = 0;
	for (int r = 0; r < reps; r++) {
		cl = MIN(cl, bench_cacheline());
		spin = MIN(spin, bench_ring_rtt(VGPU_CHAN_DEFAULT_SPIN_NS));
		block = MIN(block, bench_ring_rtt(0));
		sock = MIN(sock, bench_socket_rtt());
		rate = MAX(rate, bench_ring_rate());
		srate = MAX(srate, bench_socket_rate());
		mc = MAX(mc, bench_memcpy(src, dst, buf, bulk_total));
		bulk = MAX(bulk, bench_ring_bulk(src, buf, bulk_total));
	}

	snprintf(report, sizeof(report),
		 "| measurement | ring | baseline | ratio |\n"
		 "|---|---|---|---|\n"
		 "| round trip, %u B call, spinning | %.2f us | cache-line ping-pong %.2f us | %.2fx ping-pong |\n"
		 "| round trip, %u B call, spinning | %.2f us | unix socket req/reply %.2f us | %.3f of socket (goal <= 0.2) |\n"
		 "| round trip, %u B call, blocking (futex) | %.2f us | unix socket req/reply %.2f us | %.2f of socket |\n"
		 "| async %u B messages, batches of 32 | %.2f M msg/s | unix socket %.2f M msg/s | %.1fx socket |\n"
		 "| bulk, %llu MiB through a 4 MiB area | %.2f GB/s | single-core memcpy %.2f GB/s | %.0f%% of memcpy (goal >= 80%%) |\n",
		 PAYLOAD, spin / 1000, cl / 1000, spin / cl,
		 PAYLOAD, spin / 1000, sock / 1000, spin / sock,
		 PAYLOAD, block / 1000, sock / 1000, block / sock,
		 PAYLOAD, rate / 1e6, srate / 1e6, rate / srate,
		 (unsigned long long)(bulk_total >> 20), bulk, mc, 100 * bulk / mc);
	printf("bench/ring on %s (%ld CPUs), %s, best of %d%s\n%s", cpu, sysconf(_SC_NPROCESSORS_ONLN),
	       un.release, reps, quick ? ", --quick (short run, noisy)" : "", report);
	if (write_out) {
		f = fopen(out, "w");
		if (!f) {
			fprintf(stderr, "bench/ring: cannot write %s: %s (run from the repository root, or "
				"pass --out FILE / --no-write)\n", out, strerror(errno));
			return 1;
		}
		fprintf(f, "# Grant ring benchmark (`make bench`, bench/ring.c)\n\n"
			"Generated by `build/rel/bench/ring`; every number below comes from one run, ring and\n"
			"baseline side by side. Two processes over the shm transport, default geometry\n"
			"(64 KiB message rings, 4 MiB bulk areas), default spin %u ns. Each figure is the\n"
			"best of %d repetitions (ring and baselines alike): the machine is shared with\n"
			"other work, and single runs vary by 2x or more.\n\n"
			"- CPU: %s, %ld online CPUs, kernel %s\n"
			"- 1-minute load average when the run started: %s (other work shares the machine)\n\n%s\n"
			"Round trips: client `send` + `flush` + `recv`, server `recv` + `send` + `flush`.\n"
			"Blocking: spin 0 on both sides, so every message is a futex wake + wait.\n"
			"Bulk: the writer copies from a 64 MiB buffer into the ring while the reader copies\n"
			"out into its own 64 MiB buffer on the other core; memcpy copies the same 64 MiB\n"
			"buffers on one core.\n\n"
			"On this 2-vCPU machine the two vCPUs are sometimes two threads of one physical core\n"
			"(cache-line ping-pong ~0.1 us) and sometimes not (~0.4 us); the ring's absolute\n"
			"latency and message rate move with it (0.2 vs 0.9 us, 16 vs 4 M msg/s), the ratio\n"
			"to the ping-pong stays about 2-2.7x. Re-run `make bench` to see which one you got.\n",
			VGPU_CHAN_DEFAULT_SPIN_NS, reps, cpu,
			sysconf(_SC_NPROCESSORS_ONLN), un.release, load, report);
		fclose(f);
		printf("wrote %s\n", out);
	}
	free(src);
	free(dst);
	return 0;
}
