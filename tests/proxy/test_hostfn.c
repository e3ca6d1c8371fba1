/* SPDX-License-Identifier: MIT */
/* test_hostfn.c — the worker's host-function records and jobs (proxy/hostfn.c) on their own:
 * runs wait for the zone's waiter, tickets end only their own run, a waiter that goes away
 * gives its job to the next, a zone without a waiter is not waited for past the grace,
 * records are reused, kept or capped. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "check.h"
#include "custom_wire.h"
#include "../../proxy/hostfn.h"

static const int chan_a = 0, chan_b = 0;   /* two channels' identities (their addresses) */

struct runner {
	struct vgpu_hostfn_rec *rec;
	pthread_t t;
	volatile int finished;
};

static void *run_thread(void *p)
{
	struct runner *r = p;
	vgpu_hostfn_run(r->rec);
	r->finished = 1;
	return NULL;
}

static void start(struct runner *r, struct vgpu_hostfn_rec *rec)
{
	r->rec = rec;
	r->finished = 0;
	CHECK_EQ(pthread_create(&r->t, NULL, run_thread, r), 0);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	struct vgpu_hostfn_zone *hz = vgpu_hostfn_zone_new();
	uint64_t ticket, token;
	uint32_t persistent, queued;
	CHECK(hz != NULL);

	/* A waiter first (the zone's thread is up), then a one-shot run. */
	vgpu_hostfn_wait(hz, &chan_a, 0, 0, &ticket, &token);
	CHECK_EQ(ticket, 0);
	struct vgpu_hostfn_rec *r1 = vgpu_hostfn_rec_get(hz, 11, 1);
	CHECK(r1 != NULL);
	struct runner ru;
	start(&ru, r1);
	vgpu_hostfn_wait(hz, &chan_a, 0, 2000, &ticket, &token);
	CHECK(ticket != 0);
	CHECK_EQ(token, 11);
	vgpu_hostfn_counts(hz, &persistent, &queued);
	CHECK_EQ(persistent, 0);
	CHECK_EQ(queued, 1);
	/* a ticket not given and the right one from elsewhere: only the right one ends the run */
	uint64_t t1 = ticket;
	vgpu_hostfn_wait(hz, &chan_a, t1 + 1, 50, &ticket, &token);
	CHECK_EQ(ticket, 0);
	CHECK_EQ(ru.finished, 0);
	vgpu_hostfn_wait(hz, &chan_a, t1, 0, &ticket, &token);
	pthread_join(ru.t, NULL);
	CHECK_EQ(ru.finished, 1);
	vgpu_hostfn_counts(hz, &persistent, &queued);
	CHECK_EQ(queued, 0);
	/* the one-shot record went back: the next one-shot record is the same memory */
	struct vgpu_hostfn_rec *r2 = vgpu_hostfn_rec_get(hz, 12, 1);
	CHECK(r2 == r1);
	vgpu_hostfn_rec_put(r2);

	/* Kept records: one per token. */
	struct vgpu_hostfn_rec *k1 = vgpu_hostfn_rec_get(hz, 99, 0), *k2 = vgpu_hostfn_rec_get(hz, 99, 0);
	CHECK(k1 != NULL && k1 == k2);
	vgpu_hostfn_counts(hz, &persistent, &queued);
	CHECK_EQ(persistent, 1);

	/* A waiter that takes a job and goes away: the job is offered to the next waiter. */
	start(&ru, k1);
	vgpu_hostfn_wait(hz, &chan_a, 0, 2000, &ticket, &token);
	CHECK(ticket != 0);
	CHECK_EQ(token, 99);
	vgpu_hostfn_wait(hz, &chan_b, 0, 0, &ticket, &token);   /* b is a waiter too; nothing free for it */
	CHECK_EQ(ticket, 0);
	vgpu_hostfn_chan_gone(hz, &chan_a);
	CHECK_EQ(ru.finished, 0);   /* b is still there: the run waits */
	vgpu_hostfn_chan_gone(hz, &chan_b);
	vgpu_hostfn_wait(hz, &chan_b, 0, 2000, &ticket, &token);   /* b again: the job is offered anew */
	CHECK(ticket != 0);
	CHECK_EQ(token, 99);
	vgpu_hostfn_wait(hz, &chan_b, ticket, 0, &ticket, &token);
	pthread_join(ru.t, NULL);
	CHECK_EQ(ru.finished, 1);

	/* No waiter at all: the run gives up after the grace period. */
	vgpu_hostfn_chan_gone(hz, &chan_b);
	double t0 = now_s();
	start(&ru, k1);
	pthread_join(ru.t, NULL);
	double waited = now_s() - t0;
	CHECK(waited >= VGPU_HOSTFN_GRACE_MS / 1000.0 - 0.1);
	CHECK(waited < VGPU_HOSTFN_GRACE_MS / 1000.0 + 5);

	/* The zone ending releases a waiting run at once, and later runs do not wait. */
	vgpu_hostfn_wait(hz, &chan_a, 0, 0, &ticket, &token);
	start(&ru, k1);
	vgpu_hostfn_wait(hz, &chan_a, 0, 2000, &ticket, &token);
	CHECK(ticket != 0);
	vgpu_hostfn_kill(hz);
	pthread_join(ru.t, NULL);
	vgpu_hostfn_run(k1);
	vgpu_hostfn_wait(hz, &chan_a, 0, 2000, &ticket, &token);
	CHECK_EQ(ticket, 0);

	/* The cap: VGPU_HOSTFN_MAX records in all, kept ones never reused. */
	unsigned made = 2;   /* r1 (free) and k1 */
	while (vgpu_hostfn_rec_get(hz, 1000 + made, 0) != NULL && made < 2 * VGPU_HOSTFN_MAX)
		made++;
	CHECK_EQ(made, VGPU_HOSTFN_MAX + 1);   /* the free one-shot record was taken too */
	/* Every kept record is still found by its token after the table grew under them. */
	unsigned found = 0;
	for (unsigned t = 2; t < made; t++) {
		struct vgpu_hostfn_rec *r = vgpu_hostfn_rec_get(hz, 1000 + t, 0);
		found += r != NULL && r->token == 1000 + t && !r->oneshot;
	}
	CHECK_EQ(found, made - 2);
	CHECK(vgpu_hostfn_rec_get(hz, 99, 0) == k1);
	CHECK(vgpu_hostfn_rec_get(hz, 5, 1) == NULL);
	vgpu_hostfn_zone_free(hz);
	printf("test_hostfn: ok\n");
	CHECK_DONE();
}
