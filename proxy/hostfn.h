/* SPDX-License-Identifier: MIT */
/*
 * hostfn.h — a zone's host functions (cuLaunchHostFunc, graph host nodes) in the worker.
 *
 * The driver runs a host function on a thread of its own when the stream reaches it, and
 * the stream waits until the function returns. The zone's function cannot run in the worker,
 * so the driver is given vgpu_hostfn_run with a record naming the zone's token: it queues a
 * job and waits; the zone's host-function thread, waiting in VGPU_OP_HOSTFN, takes the job,
 * runs its function and reports it done in its next wait, which ends the driver's wait.
 *
 * Records are never freed while the zone lives (graphs the driver holds may name them): a
 * record of a launch outside a capture goes back to a free list after its one run, a record
 * of a captured launch (a graph's host node) stays, one per token. At most VGPU_HOSTFN_MAX.
 */
#ifndef VGPU_PROXY_HOSTFN_H
#define VGPU_PROXY_HOSTFN_H

#include <pthread.h>
#include <stdint.h>

struct vgpu_hostfn_zone;

struct vgpu_hostfn_rec {
	uint64_t token;
	struct vgpu_hostfn_zone *hz;
	int oneshot;                     /* a launch outside a capture: back to the free list after its run */
	struct vgpu_hostfn_rec *next;    /* free list, or chain of the persistent records' hash */
};

/* The zone's state, made on first use. NULL when out of memory. */
struct vgpu_hostfn_zone *vgpu_hostfn_zone_new(void);
/*
 * A record for token: the persistent one for the token (made once) or a fresh one-shot
 * record. NULL when the zone has VGPU_HOSTFN_MAX records or memory is short.
 */
struct vgpu_hostfn_rec *vgpu_hostfn_rec_get(struct vgpu_hostfn_zone *hz, uint64_t token, int oneshot);
/* A one-shot record the driver did not take (its launch failed). */
void vgpu_hostfn_rec_put(struct vgpu_hostfn_rec *r);
/* The function the driver runs (CUhostFn): hands the token to the zone and waits until the
 * zone ran it or is gone. */
void vgpu_hostfn_run(void *rec);
/* Set by a harness that serves zones without their host-function threads (fuzz/harness.c):
 * runs return at once, as for a zone that is gone. */
extern int vgpu_hostfn_detached;
/*
 * VGPU_OP_HOSTFN on channel chan (the zone's waiter from now until chan closes): mark ticket
 * done (0: none), then wait at most wait_ms for a job not yet taken: its ticket and token,
 * or ticket 0 when none came or the zone is ending.
 */
void vgpu_hostfn_wait(struct vgpu_hostfn_zone *hz, const void *chan, uint64_t done, unsigned wait_ms,
		      uint64_t *ticket, uint64_t *token);
/*
 * Channel chan closed. When it was the zone's last waiter, the jobs it took are given up and
 * the driver's runs wait VGPU_HOSTFN_GRACE_MS at most for another waiter before they return
 * without the function running (a zone whose process died with a host function queued must
 * not hold the worker's streams, and with them its end, for ever).
 */
void vgpu_hostfn_chan_gone(struct vgpu_hostfn_zone *hz, const void *chan);
#define VGPU_HOSTFN_GRACE_MS 5000u
/* Persistent records (graphs' host nodes) and jobs not yet done: what a checkpoint cannot carry. */
void vgpu_hostfn_counts(struct vgpu_hostfn_zone *hz, uint32_t *persistent, uint32_t *queued);
/* The zone is ending: every waiting run returns at once, and later runs do not wait. */
void vgpu_hostfn_kill(struct vgpu_hostfn_zone *hz);
/* Free everything; the driver must hold no record any more (the zone's contexts are gone). */
void vgpu_hostfn_zone_free(struct vgpu_hostfn_zone *hz);

#endif
