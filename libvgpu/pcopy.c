/* SPDX-License-Identifier: MIT */
/*
 * pcopy.c — large pageable copies moved in and out of the bulk area by several threads.
 *
 * A copy from or to memory the driver cannot reach (malloc'd, pageable) crosses the bulk
 * area: the program's thread copies each step into it while the proxy hands the step before
 * to the driver (on a GPU the area is registered, so the driver's DMA reads it in place).
 * The program's memcpy is then what bounds the copy: one core moves about 10 GB/s on a GPU
 * host, where the DMA moves 50. A driver called directly stages through its own pinned
 * buffer with one thread too. Here a copy of VGPU_PCOPY_MIN or more is split, each step in
 * slices that the calling thread and a few helper threads claim in turn, which spin
 * between the steps of one copy and sleep between copies.
 *
 * How many helpers: VGPU_COPY_THREADS, 0 (the default) to 7. Off by default until measured
 * on a GPU host (make gpu-check times it): on two CPUs, with the proxy's worker on the other
 * one, a helper halves the pageable bandwidth instead of adding to it. One copy at a time
 * uses them; another thread copying meanwhile copies alone. A child after fork starts its
 * own helpers when it first needs them.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"

#define PCOPY_MAX_HELPERS 7
#define PCOPY_SPIN_NS 100000ull   /* a helper spins this long for the next step before sleeping */
#define PCOPY_SLICE_MIN (32u << 10)

static struct {
	pthread_mutex_t lock;      /* one copy at a time (trylock: others copy alone) */
	pid_t pid;                 /* the process that started the helpers (0: none yet) */
	unsigned helpers;          /* started */
	atomic_uint seq;           /* the step's number: helpers wait for it to change (futex) */
	atomic_uint sleepers;      /* helpers asleep on seq (the poster wakes them) */
	/* slices are claimed by whoever comes first, the caller included, in one word: the
	 * step's number (high 32 bits), its number of slices (16) and the next slice (low 16), so
	 * a helper late for one step can never take a slice of the next, nor one past its end
	 * while the next step's fields are being written; done counts slices copied */
	_Atomic uint64_t claim;
	atomic_uint done;
	/* the step: bytes [0, len) from src to dst in parts slices */
	uint8_t *dst;
	const uint8_t *src;
	uint64_t len;
	unsigned parts;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void futex_wait(atomic_uint *a, unsigned v)
{
	syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake_all(atomic_uint *a)
{
	syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Copy slices of step gen until none is left unclaimed. A thread that does not run (the
 * CPUs busy with other work) delays nobody: its slices go to the others, and only a slice
 * it has begun is waited for.
 */
static void take_slices(unsigned gen)
{
	uint64_t c = atomic_load_explicit(&P.claim, memory_order_acquire);
	for (;;) {
		if ((unsigned)(c >> 32) != gen || (uint16_t)c >= (uint16_t)(c >> 16))
			return;
		if (!atomic_compare_exchange_weak_explicit(&P.claim, &c, c + 1, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		/* the fields were written before this step's claim word: they are this step's */
		uint32_t i = (uint16_t)c;
		uint64_t per = (P.len / P.parts) & ~63ull, off = per * i;
		uint64_t n = i + 1 == P.parts ? P.len - off : per;
		memcpy(P.dst + off, P.src + off, n);
		atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
		c = atomic_load_explicit(&P.claim, memory_order_acquire);
	}
}

static void *helper(void *arg)
{
	(void)arg;
	unsigned seen = 0;   /* helpers start while seq is 0: the first step may come before this thread runs */
	for (;;) {
		unsigned s;
		uint64_t t0 = 0;
		for (unsigned spins = 0; (s = atomic_load_explicit(&P.seq, memory_order_acquire)) == seen; spins++) {
			if ((spins & 255) == 0) {
				uint64_t t = now_ns();
				if (!t0) {
					t0 = t;
				} else if (t - t0 > PCOPY_SPIN_NS) {
					atomic_fetch_add_explicit(&P.sleepers, 1, memory_order_seq_cst);
					if (atomic_load_explicit(&P.seq, memory_order_seq_cst) == seen)
						futex_wait(&P.seq, seen);
					atomic_fetch_sub_explicit(&P.sleepers, 1, memory_order_relaxed);
					t0 = 0;
				}
			}
			cpu_relax();
		}
		seen = s;
		take_slices(s);
	}
	return NULL;
}

static unsigned wanted_helpers(void)
{
	const char *e = getenv("VGPU_COPY_THREADS");
	if (!e || !*e)
		return 0;
	char *end;
	unsigned long v = strtoul(e, &end, 10);
	if (*end || v > PCOPY_MAX_HELPERS) {
		vgpu_client_log(1, "VGPU_COPY_THREADS=%s is not a number of helper threads from 0 to %d; using none", e,
				PCOPY_MAX_HELPERS);
		return 0;
	}
	return (unsigned)v;
}

/* With P.lock held: the helpers of this process, started on first use. */
static unsigned helpers_ready(void)
{
	pid_t pid = getpid();
	if (P.pid == pid)
		return P.helpers;
	/* first use here (or in a child after fork, whose parent's helpers did not follow it) */
	P.pid = pid;
	P.helpers = 0;
	unsigned want = wanted_helpers();
	if (!want)
		return 0;
	atomic_store(&P.seq, 0);
	atomic_store(&P.claim, 0);
	atomic_store(&P.done, 0);
	atomic_store(&P.sleepers, 0);
	P.parts = 0;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);   /* the program's signals go to its own threads */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (unsigned i = 1; i <= want; i++) {
		pthread_t th;
		if (pthread_create(&th, &attr, helper, NULL) != 0)
			break;
		pthread_setname_np(th, "vgpu-copy");
		P.helpers++;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	vgpu_client_log(2, "large pageable copies: %u helper threads", P.helpers);
	return P.helpers;
}

/* One step, split between this thread and the helpers (P.lock held, helpers > 0): in
 * slices of at least PCOPY_SLICE_MIN, a few per thread, so that no one thread's pace decides. */
static void copy_step(uint8_t *dst, const uint8_t *src, uint64_t len)
{
	uint64_t parts = len / PCOPY_SLICE_MIN;
	if (parts > 4ull * (P.helpers + 1))
		parts = 4ull * (P.helpers + 1);
	if (parts < 2) {
		memcpy(dst, src, len);
		return;
	}
	unsigned gen = atomic_load_explicit(&P.seq, memory_order_relaxed) + 1;
	P.dst = dst;
	P.src = src;
	P.len = len;
	P.parts = (unsigned)parts;
	atomic_store_explicit(&P.done, 0, memory_order_relaxed);
	atomic_store_explicit(&P.claim, (uint64_t)gen << 32 | parts << 16, memory_order_release);   /* publishes the step */
	atomic_store_explicit(&P.seq, gen, memory_order_seq_cst);
	if (atomic_load_explicit(&P.sleepers, memory_order_seq_cst))
		futex_wake_all(&P.seq);
	take_slices(gen);
	/* every slice claimed: wait for those others are still copying */
	while (atomic_load_explicit(&P.done, memory_order_acquire) < P.parts)
		cpu_relax();
}

struct pcopy { const uint8_t *src; uint8_t *dst; };

static int step_in(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	const struct pcopy *p = ctx;
	copy_step(chunk, p->src + off, len);
	return 0;
}

static int step_out(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	const struct pcopy *p = ctx;
	copy_step(p->dst + off, chunk, len);
	return 0;
}

/* Whether a copy of n bytes gets the helpers: then P.lock is held, for the caller to drop. */
static int helpers_for(uint64_t n)
{
	if (n < VGPU_PCOPY_MIN || pthread_mutex_trylock(&P.lock) != 0)
		return 0;
	if (helpers_ready())
		return 1;
	pthread_mutex_unlock(&P.lock);
	return 0;
}

int vgpu_pcopy_write(struct vgpu_chan *ch, const void *src, uint64_t n)
{
	if (!helpers_for(n))
		return vgpu_chan_bulk_write(ch, src, n);
	struct pcopy p = { .src = src };
	int rc = vgpu_chan_bulk_write_cb(ch, n, step_in, &p);
	pthread_mutex_unlock(&P.lock);
	return rc;
}

int vgpu_pcopy_read(struct vgpu_chan *ch, void *dst, uint64_t n)
{
	if (!helpers_for(n))
		return vgpu_chan_bulk_read(ch, dst, n);
	struct pcopy p = { .dst = dst };
	/* whole steps, as the writer publishes them, not each sliver the reader could take */
	int rc = vgpu_chan_bulk_read_cb_step(ch, n, UINT32_MAX, step_out, &p);
	pthread_mutex_unlock(&P.lock);
	return rc;
}
