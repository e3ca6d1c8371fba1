/* SPDX-License-Identifier: MIT */
/* ring.h — internal layout of a channel's shared region and the endpoint struct (runtime and tests only). */
#ifndef VGPU_RING_H
#define VGPU_RING_H

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>

#include "chan.h"
#include "transport.h"

/* The ring only works if these atomics are real instructions on shared memory, never a
 * lock inside this process (a lock would not be shared with the peer). */
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free for a shared ring");
static_assert(sizeof(atomic_uint) == 4, "atomic_uint must be 4 bytes for the wire layout");
static_assert(sizeof(struct vgpu_msg_hdr) == 16, "message header is 16 bytes on the wire");

#define VGPU_RING_MAGIC   0x474e5256u /* "VRNG" little-endian */
#define VGPU_RING_VERSION 1u
#define VGPU_RING_PAGE    4096u
#define VGPU_RING_ALIGN   16u /* every message starts at a multiple of this ring offset */
#define VGPU_CACHELINE    64

/* Direction 0 = client -> server (requests), 1 = server -> client (responses).
 * Side 0 = client (zone), side 1 = server (proxy). Side s produces direction s. */

/* Indices of one direction. prod_* written only by the producer, cons_* only by the
 * consumer; each group on its own cache line so the two sides do not false-share. */
struct vgpu_ring_dir {
	_Alignas(VGPU_CACHELINE) atomic_uint msg_prod;  /* bytes ever published on the msg ring */
	atomic_uint bulk_prod;                         /* bytes ever published on the bulk ring */
	_Alignas(VGPU_CACHELINE) atomic_uint msg_cons;  /* bytes ever consumed from the msg ring */
	atomic_uint bulk_cons;                         /* bytes ever consumed from the bulk ring */
};

/* Wakeup state of one side (written by that side except evt, which the waker bumps). */
#define VGPU_RING_WANT_DATA  1u /* sleeping until the peer publishes messages or bulk bytes */
#define VGPU_RING_WANT_SPACE 2u /* sleeping until the peer consumes (frees ring space) */
struct vgpu_ring_side {
	_Alignas(VGPU_CACHELINE) atomic_uint sleeping; /* WANT_* mask: "about to sleep, notify me when" */
	atomic_uint evt;                              /* futex word: bumped by each notify */
	atomic_uint closed;                           /* 1: this side closed cleanly */
	atomic_uint cpu;                              /* 1 + the CPU this side last waited on (0: not said) */
	atomic_uint saved;                            /* server: stopped with its state in a checkpoint at
							 these indices; if it vanishes, the client may
							 rejoin a restore of it (vgpu_chan_set_saved) */
};

/* The header page. Geometry is written once by the creator; the attacher copies and
 * validates it once and never reads it again. */
struct vgpu_ring_hdr {
	uint32_t magic;          /* VGPU_RING_MAGIC */
	uint32_t version;        /* VGPU_RING_VERSION */
	uint32_t hdr_bytes;      /* VGPU_RING_PAGE */
	uint32_t reserved0;
	uint64_t region_bytes;   /* total size, must equal vgpu_ring_region_bytes(geom) */
	struct vgpu_chan_geom geom; /* same geometry for both directions */
	struct vgpu_ring_dir dir[2];
	struct vgpu_ring_side side[2];
};
static_assert(sizeof(struct vgpu_ring_hdr) <= VGPU_RING_PAGE, "header must fit its page");

/* Region layout, computed from a validated geometry only (never from shared offsets):
 * [header page][msg ring dir0][msg ring dir1][bulk dir0][bulk dir1]. */
static inline uint64_t vgpu_ring_msg_off(const struct vgpu_chan_geom *g, int dir)
{
	return VGPU_RING_PAGE + (uint64_t)dir * g->msg_ring_bytes;
}
static inline uint64_t vgpu_ring_bulk_off(const struct vgpu_chan_geom *g, int dir)
{
	return VGPU_RING_PAGE + 2ull * g->msg_ring_bytes + (uint64_t)dir * g->bulk_bytes;
}
static inline uint64_t vgpu_ring_region_bytes(const struct vgpu_chan_geom *g)
{
	return vgpu_ring_bulk_off(g, 2);
}

/* One endpoint: private state plus pointers into the shared region. Everything the
 * endpoint trusts (geometry, its own indices, last seen peer indices) is a private copy. */
struct vgpu_chan {
	struct vgpu_ring_hdr *hdr;     /* shared */
	uint8_t *region;               /* shared, region_bytes long */
	uint64_t region_bytes;         /* private copy */
	struct vgpu_chan_geom geom;    /* private copy, validated */
	int side;                      /* 0 client, 1 server */
	uint8_t *out_ring, *in_ring;   /* shared message rings */
	uint8_t *out_bulk, *in_bulk;   /* shared bulk rings */
	uint32_t ring_mask, bulk_mask;
	/* private indices: what we produced / consumed, and the peer's last seen values */
	uint32_t out_prod, out_cons_seen; /* outgoing msg ring */
	uint32_t in_cons, in_prod_seen;   /* incoming msg ring */
	uint32_t bout_prod, bout_cons_seen;
	uint32_t bin_cons, bin_prod_seen;
	int need_flush;                /* we published something the peer may be waiting for */
	int need_space_kick;           /* we freed ring space the peer may be waiting for */
	uint32_t bulk_chunk;           /* largest bulk step published at once (pipelining) */
	uint32_t spin_ns;              /* longest spin before sleeping (vgpu_chan_set_spin) */
	uint32_t spin_cur;             /* current adaptive spin, spin_ns/32 .. spin_ns */
	uint32_t spin_extra;           /* vgpu_chan_expect: more spin until the next send (ns) */
	const atomic_int *stop;        /* vgpu_chan_recv_stoppable: waiting for a message ends when set */
	vgpu_rejoin_fn rejoin;         /* client: the peer vanished while saved (vgpu_chan_set_rejoin) */
	void *rejoin_arg;
	int err;                       /* sticky -EPROTO / -EMSGSIZE once broken */
	char errmsg[192];
	struct vgpu_transport *t;
};

/* Initialise a freshly created (zeroed) region's header; indices start at start_index
 * (0 normally; near 2^32 in tests of wraparound). */
void vgpu_ring_init_region(void *region, const struct vgpu_chan_geom *g, uint32_t start_index);
/* Validate the header of a region of region_bytes; on success copy its geometry to *g. */
int vgpu_ring_check_region(const void *region, uint64_t region_bytes,
			   struct vgpu_chan_geom *g /* out */, char *why, size_t why_len);
/* Build an endpoint over a mapped, validated region; takes ownership of t (closed on error). */
int vgpu_chan_create(void *region, uint64_t region_bytes, const struct vgpu_chan_geom *g,
		     int side, struct vgpu_transport *t, struct vgpu_chan **out /* out */);
/* Record a setup failure message for vgpu_chan_setup_error() (printf-style). */
void vgpu_chan_set_setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Test-only: vgpu_shm_pair with all indices starting at start_index. */
int vgpu_shm_pair_at(const struct vgpu_chan_geom *g, uint32_t start_index,
		     struct vgpu_chan **client /* out */, struct vgpu_chan **server /* out */);

#endif
