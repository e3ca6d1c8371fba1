/* SPDX-License-Identifier: MIT */
/* hostfn.c — a zone's host functions in the worker: records, the driver's function, the zone's wait (hostfn.h). */
#include "hostfn.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "custom_wire.h"

/* Records come in chunks that never move, 16 records first, each chunk twice the last up to
 * 256; persistent records are hashed by token in a table of 16 buckets that doubles when it
 * holds twice as many records as buckets. A zone that runs a few host functions costs a
 * 0.5 KiB chunk and a 128-byte table, not the 8 and 32 KiB that the largest sizes from the
 * start took (zones are made often: every process, every fuzz input). */
#define CHUNK_MIN 16u
#define CHUNK_MAX 256u
#define BUCKETS_MIN 16u

/* A run waiting for the zone: lives on the stack of vgpu_hostfn_run. */
struct job {
	uint64_t ticket, token;
	int taken;
	uint64_t done;                           /* 1 when the zone has run it (read while spinning) */
	struct job *next;
};

struct vgpu_hostfn_zone {
	pthread_mutex_t lock;
	pthread_cond_t cv;                       /* jobs queued, taken or done; the zone ending */
	struct vgpu_hostfn_rec **chunks;
	uint32_t nchunks, used;                  /* records handed out of the chunks */
	struct vgpu_hostfn_rec *fresh;           /* the last chunk's records not yet handed out: */
	uint32_t left;                           /* fresh[0 .. left) */
	uint32_t persistent;
	struct vgpu_hostfn_rec *free_list;
	struct vgpu_hostfn_rec **bucket;         /* nbuckets chains (a power of two), or NULL */
	uint32_t nbuckets;
	struct job *jobs, **jobs_tail;
	uint64_t next_ticket;
	uint32_t queued;
	int dead;
	const void *waiters[16];                 /* channels that waited for jobs and are open */
	uint32_t nwaiters;
	uint64_t skipped;                        /* runs that ended without a waiter */
};

int vgpu_hostfn_detached;

/* now + ms on CLOCK_MONOTONIC */
static void deadline(struct timespec *t, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/*
 * Called and released under hz->lock: waits up to SPIN_NS, the lock released, for *word to
 * differ from seen (or the zone to end). A host function's turn crosses threads four times
 * (the stream's thread, the zone's channel in this worker, the zone's own thread and back);
 * the zone usually answers within microseconds, and a thread that sleeps on a condition
 * variable each time takes tens of microseconds to wake. Yields as it spins, so a peer that
 * shares its CPU still runs.
 */
#define SPIN_NS 20000L

static void spin_while(struct vgpu_hostfn_zone *hz, const uint64_t *word, uint64_t seen)
{
	struct timespec t0, t;
	pthread_mutex_unlock(&hz->lock);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 1;; i++) {
		if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != seen || __atomic_load_n(&hz->dead, __ATOMIC_ACQUIRE))
			break;
		if (i % 16)
			continue;
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > SPIN_NS)
			break;
	}
	pthread_mutex_lock(&hz->lock);
}

static uint32_t hash(uint64_t token, uint32_t nbuckets)
{
	token *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(token >> (64 - __builtin_ctz(nbuckets)));   /* the product's top bits */
}

/* Room for one more persistent record: the table made or doubled (rehashed) when it would
 * hold more than two records a bucket. -1 when memory is short. Under lock. */
static int buckets_grow(struct vgpu_hostfn_zone *hz)
{
	if (hz->bucket && hz->persistent < 2 * hz->nbuckets)
		return 0;
	uint32_t n = hz->bucket ? 2 * hz->nbuckets : BUCKETS_MIN;
	struct vgpu_hostfn_rec **b = calloc(n, sizeof(*b));
	if (!b)
		return hz->bucket ? 0 : -1;   /* keep the chains longer rather than fail */
	for (uint32_t i = 0; i < hz->nbuckets; i++)
		for (struct vgpu_hostfn_rec *r = hz->bucket[i], *next; r; r = next) {
			next = r->next;
			uint32_t h = hash(r->token, n);
			r->next = b[h];
			b[h] = r;
		}
	free(hz->bucket);
	hz->bucket = b;
	hz->nbuckets = n;
	return 0;
}

struct vgpu_hostfn_zone *vgpu_hostfn_zone_new(void)
{
	struct vgpu_hostfn_zone *hz = calloc(1, sizeof(*hz));
	pthread_condattr_t ca;

	if (!hz)
		return NULL;
	pthread_mutex_init(&hz->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hz->cv, &ca);
	pthread_condattr_destroy(&ca);
	hz->jobs_tail = &hz->jobs;
	return hz;
}

/* A record out of the free list or the chunks. Under lock. */
static struct vgpu_hostfn_rec *rec_alloc(struct vgpu_hostfn_zone *hz)
{
	struct vgpu_hostfn_rec *r = hz->free_list;

	if (r) {
		hz->free_list = r->next;
		return r;
	}
	if (hz->used >= VGPU_HOSTFN_MAX)
		return NULL;
	if (!hz->left) {
		uint32_t n = hz->nchunks < 4 ? CHUNK_MIN << hz->nchunks : CHUNK_MAX;
		struct vgpu_hostfn_rec **nc = realloc(hz->chunks, (hz->nchunks + 1) * sizeof(*nc));
		if (!nc)
			return NULL;
		hz->chunks = nc;
		if (!(nc[hz->nchunks] = calloc(n, sizeof(**nc))))
			return NULL;
		hz->fresh = nc[hz->nchunks++];
		hz->left = n;
	}
	r = hz->fresh++;
	hz->left--;
	hz->used++;
	return r;
}

struct vgpu_hostfn_rec *vgpu_hostfn_rec_get(struct vgpu_hostfn_zone *hz, uint64_t token, int oneshot)
{
	struct vgpu_hostfn_rec *r;

	pthread_mutex_lock(&hz->lock);
	if (!oneshot && hz->bucket)
		for (r = hz->bucket[hash(token, hz->nbuckets)]; r; r = r->next)
			if (r->token == token)
				goto out;
	if (!oneshot && buckets_grow(hz) < 0) {
		r = NULL;
		goto out;
	}
	r = rec_alloc(hz);
	if (r) {
		r->token = token;
		r->hz = hz;
		r->oneshot = oneshot;
		r->next = NULL;
		if (!oneshot) {
			uint32_t h = hash(token, hz->nbuckets);
			r->next = hz->bucket[h];
			hz->bucket[h] = r;
			hz->persistent++;
		}
	}
out:
	pthread_mutex_unlock(&hz->lock);
	return r;
}

static void rec_put_locked(struct vgpu_hostfn_rec *r)
{
	r->next = r->hz->free_list;
	r->hz->free_list = r;
}

void vgpu_hostfn_rec_put(struct vgpu_hostfn_rec *r)
{
	if (!r || !r->oneshot)
		return;
	pthread_mutex_lock(&r->hz->lock);
	rec_put_locked(r);
	pthread_mutex_unlock(&r->hz->lock);
}

void vgpu_hostfn_run(void *p)
{
	struct vgpu_hostfn_rec *r = p;
	struct vgpu_hostfn_zone *hz = r->hz;
	struct job j = { .token = r->token };

	pthread_mutex_lock(&hz->lock);
	if (!hz->dead && !vgpu_hostfn_detached) {
		j.ticket = __atomic_add_fetch(&hz->next_ticket, 1, __ATOMIC_RELEASE);
		*hz->jobs_tail = &j;
		hz->jobs_tail = &j.next;
		hz->queued++;
		pthread_cond_broadcast(&hz->cv);
		if (hz->nwaiters)
			spin_while(hz, &j.done, 0);
		/* for as long as the zone has a waiter; without one, a grace period for one to come */
		struct timespec until = { 0, 0 };
		while (!j.done && !hz->dead) {
			if (hz->nwaiters) {
				until.tv_sec = 0;
				pthread_cond_wait(&hz->cv, &hz->lock);
				continue;
			}
			if (!until.tv_sec)
				deadline(&until, VGPU_HOSTFN_GRACE_MS);
			if (pthread_cond_timedwait(&hz->cv, &hz->lock, &until) == ETIMEDOUT && !hz->nwaiters) {
				hz->skipped++;
				break;
			}
		}
		/* out of the queue */
		struct job **pp = &hz->jobs;
		while (*pp != &j)
			pp = &(*pp)->next;
		*pp = j.next;
		if (hz->jobs_tail == &j.next)
			hz->jobs_tail = pp;
		hz->queued--;
		pthread_cond_broadcast(&hz->cv);
	}
	if (r->oneshot)
		rec_put_locked(r);
	pthread_mutex_unlock(&hz->lock);
}

void vgpu_hostfn_wait(struct vgpu_hostfn_zone *hz, const void *chan, uint64_t done, unsigned wait_ms,
		      uint64_t *ticket, uint64_t *token)
{
	struct timespec until;
	uint32_t w;

	*ticket = *token = 0;
	deadline(&until, wait_ms);
	pthread_mutex_lock(&hz->lock);
	for (w = 0; w < hz->nwaiters && hz->waiters[w] != chan; w++)
		;
	if (w == hz->nwaiters && w < sizeof(hz->waiters) / sizeof(hz->waiters[0])) {
		hz->waiters[hz->nwaiters++] = chan;
		pthread_cond_broadcast(&hz->cv);
	}
	/* only a job the zone was given can be reported done */
	for (struct job *j = hz->jobs; done && j; j = j->next)
		if (j->ticket == done && j->taken) {
			__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
			pthread_cond_broadcast(&hz->cv);
			break;
		}
	int spun = 0;
	for (;;) {
		struct job *j = hz->jobs;
		while (j && j->taken)
			j = j->next;
		if (j) {
			j->taken = 1;
			*ticket = j->ticket;
			*token = j->token;
			break;
		}
		if (hz->dead || !wait_ms)
			break;
		if (!spun++) {   /* the next host function of a burst comes at once */
			spin_while(hz, &hz->next_ticket, hz->next_ticket);
			continue;
		}
		if (pthread_cond_timedwait(&hz->cv, &hz->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&hz->lock);
}

void vgpu_hostfn_chan_gone(struct vgpu_hostfn_zone *hz, const void *chan)
{
	pthread_mutex_lock(&hz->lock);
	for (uint32_t w = 0; w < hz->nwaiters; w++)
		if (hz->waiters[w] == chan) {
			hz->waiters[w] = hz->waiters[--hz->nwaiters];
			break;
		}
	if (!hz->nwaiters) {
		/* what the gone waiters took will not be reported: offer it again */
		for (struct job *j = hz->jobs; j; j = j->next)
			if (!j->done)
				j->taken = 0;
	}
	pthread_cond_broadcast(&hz->cv);
	pthread_mutex_unlock(&hz->lock);
}

void vgpu_hostfn_counts(struct vgpu_hostfn_zone *hz, uint32_t *persistent, uint32_t *queued)
{
	pthread_mutex_lock(&hz->lock);
	*persistent = hz->persistent;
	*queued = hz->queued;
	pthread_mutex_unlock(&hz->lock);
}

void vgpu_hostfn_kill(struct vgpu_hostfn_zone *hz)
{
	pthread_mutex_lock(&hz->lock);
	__atomic_store_n(&hz->dead, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&hz->cv);
	pthread_mutex_unlock(&hz->lock);
}

void vgpu_hostfn_zone_free(struct vgpu_hostfn_zone *hz)
{
	if (!hz)
		return;
	for (uint32_t i = 0; i < hz->nchunks; i++)
		free(hz->chunks[i]);
	free(hz->chunks);
	free(hz->bucket);
	pthread_cond_destroy(&hz->cv);
	pthread_mutex_destroy(&hz->lock);
	free(hz);
}
