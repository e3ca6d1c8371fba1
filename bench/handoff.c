/* SPDX-License-Identifier: MIT */
/*
 * handoff.c — the floor of a pageable copy between two cores: the bytes of a host-to-device
 * or device-to-host copy moved by two threads, each on a core of its own, through a shared
 * area in chunks, as a zone and its worker move them through the bulk area, with nothing of
 * vgpu in between (no messages, no driver, no checks): one memcpy into the area on one core,
 * one out of it on the other, a request and its answer as two flags. Whatever moves pageable
 * bytes between two processes through shared memory pays at least this; bench/zone.sh runs it
 * beside bench/zone and reports the pageable copies against it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINE 64

/* One cache line per flag: the two sides never share a line they both write. */
struct side {
	_Alignas(LINE) _Atomic uint64_t v;
};

static struct {
	struct side req;  /* zone: sequence number of the copy asked for (UINT64_MAX: stop) */
	struct side done; /* worker: sequence number of the copy answered */
	struct side prod; /* bytes written into the area since the start, by the copy's writer */
	struct side cons; /* bytes read out of the area since the start, by its reader */
	_Alignas(LINE) int dir; /* 0: host to device (the zone writes), 1: device to host */
	size_t n;
} sh;

static uint8_t *area, *host, *dev;
static size_t area_bytes = 1u << 20, chunk_bytes; /* the zone's default bulk area, a quarter of it per chunk */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static uint64_t load(struct side *s)
{
	return atomic_load_explicit(&s->v, memory_order_acquire);
}

static void store(struct side *s, uint64_t v)
{
	atomic_store_explicit(&s->v, v, memory_order_release);
}

/* Write n bytes from src into the area, a chunk at a time as space frees (the writer's side). */
static void area_write(const uint8_t *src, size_t n)
{
	uint64_t p = load(&sh.prod);

	for (size_t off = 0; off < n;) {
		size_t pos = p & (area_bytes - 1), k = n - off < chunk_bytes ? n - off : chunk_bytes;
		if (k > area_bytes - pos)
			k = area_bytes - pos;
		while (p + k - load(&sh.cons) > area_bytes)
			relax();
		memcpy(area + pos, src + off, k);
		p += k;
		store(&sh.prod, p);
		off += k;
	}
}

/* Read n bytes out of the area into dst (the reader's side): whole chunks when `whole` (the
 * worker hands the driver a chunk at a time), else whatever has arrived (the zone). */
static void area_read(uint8_t *dst, size_t n, int whole)
{
	uint64_t c = load(&sh.cons);

	for (size_t off = 0; off < n;) {
		size_t pos = c & (area_bytes - 1), want = n - off;
		if (whole && want > chunk_bytes)
			want = chunk_bytes;
		if (want > area_bytes - pos)
			want = area_bytes - pos;
		uint64_t avail;
		while ((avail = load(&sh.prod) - c) < (whole ? want : 1))
			relax();
		size_t k = avail < want ? (size_t)avail : want;
		memcpy(dst + off, area + pos, k);
		c += k;
		store(&sh.cons, c);
		off += k;
	}
}

static int pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static int worker_cpu = -1;

static void *worker(void *arg)
{
	uint64_t seen = 0;

	(void)arg;
	if (worker_cpu >= 0)
		pin(worker_cpu);
	for (;;) {
		uint64_t r;
		while ((r = load(&sh.req)) == seen)
			relax();
		if (r == UINT64_MAX)
			return NULL;
		seen = r;
		if (sh.dir == 0)
			area_read(dev, sh.n, 1);
		else
			area_write(dev, sh.n);
		store(&sh.done, r);
	}
}

static uint64_t seq;

/* One copy as the zone makes it: ask, move its side of the bytes, wait for the answer. */
static void copy(int dir, size_t n)
{
	sh.dir = dir;
	sh.n = n;
	store(&sh.req, ++seq);
	if (dir == 0)
		area_write(host, n);
	else
		area_read(host, n, 0);
	while (load(&sh.done) != seq)
		relax();
}

/* Best of reps timings of iters copies, in seconds per copy. */
static double best(int reps, long iters, int dir, size_t n)
{
	double b = 1e30;

	for (int r = 0; r < reps; r++) {
		double t0 = now();
		for (long i = 0; i < iters; i++)
			copy(dir, n);
		double dt = (now() - t0) / (double)iters;
		if (dt < b)
			b = dt;
	}
	return b;
}

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: handoff [--quick] [--area-kib A] [--chunk-kib C]\n"
		   "Times host-to-device and device-to-host copies of 4 KiB to 256 MiB (16 MiB with --quick)\n"
		   "as two threads on two cores move them through a shared area of A KiB (default 1024, the\n"
		   "zone's bulk area) in chunks of C KiB (default A/4, the worker's driver copies): the floor\n"
		   "of any pageable copy between two processes. Prints `htod_<N>KiB GB/s` and `dtoh_<N>KiB GB/s`\n"
		   "lines, as bench/zone does, best of 3 repetitions (1 with --quick) of about 512 MiB moved\n"
		   "(64 MiB with --quick) per figure. The threads are bound to the first two CPUs the process\n"
		   "may use; with only one, they share it (said on stderr).\n");
	return rc;
}

static int kib_arg(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long k = strtoul(s, &end, 10);
	if (errno || *end || k < 4 || k > 65536 || (k & (k - 1)))
		return -1;
	*out = (size_t)k << 10;
	return 0;
}

int main(int argc, char **argv)
{
	int quick = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help"))
			return usage(stdout, 0);
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if ((!strcmp(argv[i], "--area-kib") || !strcmp(argv[i], "--chunk-kib")) && i + 1 < argc) {
			size_t *v = argv[i][2] == 'a' ? &area_bytes : &chunk_bytes;
			if (kib_arg(argv[i + 1], v) < 0) {
				fprintf(stderr, "handoff: %s wants a power of two from 4 to 65536 (KiB), not '%s'\n", argv[i],
					argv[i + 1]);
				return 2;
			}
			i++;
		} else {
			fprintf(stderr, "handoff: unknown argument '%s'\n", argv[i]);
			return usage(stderr, 2);
		}
	}
	if (!chunk_bytes)
		chunk_bytes = area_bytes / 4;
	if (chunk_bytes > area_bytes) {
		fprintf(stderr, "handoff: a chunk (%zu KiB) larger than the area (%zu KiB)\n", chunk_bytes >> 10,
			area_bytes >> 10);
		return 2;
	}

	static const size_t sizes[] = { 4u << 10, 64u << 10, 1u << 20, 4u << 20, 16u << 20, 64u << 20, 256u << 20 };
	size_t maxs = quick ? (16u << 20) : (256u << 20);
	area = aligned_alloc(4096, area_bytes);
	host = aligned_alloc(4096, maxs);
	dev = aligned_alloc(4096, maxs);
	if (!area || !host || !dev) {
		fprintf(stderr, "handoff: cannot allocate %zu MiB of memory\n", (2 * maxs + area_bytes) >> 20);
		return 1;
	}
	memset(area, 0, area_bytes);
	memset(host, 1, maxs);
	memset(dev, 2, maxs);

	/* the first two CPUs this process may run on: the zone's thread on one, the worker's on the other */
	cpu_set_t allowed;
	int cpus[2], ncpu = 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
			if (CPU_ISSET(c, &allowed))
				cpus[ncpu++] = c;
	if (ncpu == 2) {
		pin(cpus[0]);
		worker_cpu = cpus[1];
	} else {
		fprintf(stderr, "handoff: fewer than two CPUs to run on: both threads share one, and the figures are not a two-core floor\n");
	}
	pthread_t th;
	if (pthread_create(&th, NULL, worker, NULL)) {
		fprintf(stderr, "handoff: cannot start the worker thread\n");
		return 1;
	}
	int reps = quick ? 1 : 3;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && sizes[i] <= maxs; i++) {
		size_t n = sizes[i];
		long it = (long)((quick ? 64u << 20 : 512u << 20) / n);
		if (it < 2)
			it = 2;
		double th_s = best(reps, it, 0, n), td_s = best(reps, it, 1, n);
		printf("htod_%zuKiB %.3f GB/s\n", n >> 10, (double)n / th_s * 1e-9);
		printf("dtoh_%zuKiB %.3f GB/s\n", n >> 10, (double)n / td_s * 1e-9);
		fflush(stdout);
	}
	store(&sh.req, UINT64_MAX);
	pthread_join(th, NULL);
	free(area);
	free(host);
	free(dev);
	return 0;
}
