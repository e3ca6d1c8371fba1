/* SPDX-License-Identifier: MIT */
/* fz.h — internals shared by the decoder/dispatch fuzz target's files: zone state, the channel stand-in, oracles, value translation. */
#ifndef VGPU_FUZZ_FZ_H
#define VGPU_FUZZ_FZ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "backend.h"
#include "chan.h"
#include "codec.h"
#include "harness.h"
#include "zone.h"

/* Limits of each fuzzed zone: small, so quota paths are reached and runs stay fast. */
#define FZ_MEM_LIMIT   (128ull << 20)
#define FZ_HANDLES     256u
#define FZ_BULK_LIMIT  (16ull << 20)
#define FZ_PINNED_MAX   (8ull << 20)  /* largest pinned region the harness passes (harness.c) */
#define FZ_PINNED_LIMIT (16ull << 20) /* each zone's pinned quota: a third region may be refused */

#define FZ_CHECK(cond, ...) do { if (!(cond)) fz_violation(__VA_ARGS__); } while (0)

/* Print "ISOLATION ORACLE VIOLATED: ..." and abort (AFL++ records a crash). */
void fz_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

struct vgpu_chan {                 /* the harness's stand-in for one ring endpoint */
	int zone;
	int broken;                    /* the "client" went away: every later call fails */
	char why[128];
};

enum fz_cmd { FZ_NONE = 0, FZ_SERVE, FZ_CLOSE };

#define FZ_MAX_VALS   32
#define FZ_MAX_ALIAS  256
#define FZ_ALIAS_SPAN (16ull << 20)   /* a value up to this far above a recorded one is translated with it */

struct fz_zone {
	int idx;
	struct vgpu_zone zone;
	/* Each zone's channels run on a fiber of the main thread (zone 0's is the thread's own
	 * stack): a turn is a swapcontext, not a thread wake-up (harness.c, "Turns"). */
	ucontext_t uc;
	void *stack;                   /* the fiber's stack (NULL for zone 0 until ASan names it) */
	size_t stack_size;
	void *sim_state;               /* the simulator's per-thread state while another zone runs */
	enum fz_cmd cmd;
	int serving;                   /* vgpu_chan_serve() running on this fiber */
	unsigned chan_no;
	/* the message handed over (valid while has_msg) */
	int has_msg;
	struct vgpu_msg_hdr hdr;
	const uint8_t *payload;
	uint32_t len;
	uint32_t seq;
	int want_reply;                /* a synchronous request is being served */
	int in_msg;                    /* a message was handed over; its checks are still to run */
	uint64_t other_before;         /* digest of the other zone's tables before that message */
	/* Digest of THIS zone's tables, valid (dg_ok) while the zone serves nothing: it is
	 * invalidated whenever the zone is given a message or a close, and set after each message
	 * of the other zone, when the ownership oracle has just computed it (harness.c). */
	uint64_t dg;
	int dg_ok;
	struct vgpu_arena arena;           /* the channel loop's arena, kept between channels (arena.c) */
	int arena_busy;                    /* handed to the open channel */
	/* value translation for recorded sessions (see FZ_REC_ALIAS) */
	uint64_t last_vals[FZ_MAX_VALS];   /* uint64 values of the last reply, in order */
	unsigned n_last;
	struct { uint64_t from, to; } alias[FZ_MAX_ALIAS];
	unsigned n_alias;
	uint8_t xbuf[VGPU_MSG_MAX];        /* translated copy of the message */
};

/* The harness's state (one instance, fz, in harness.c). */
struct fz_state {
	struct vgpu_backend be;
	struct fz_zone z[FZ_ZONES];
	_Atomic int active;            /* zone whose call is running (memory oracle), -1 none */
	_Atomic int kernel_msg;        /* that call launches a kernel (memory oracle: see mem_hook) */
	const uint8_t *in;             /* the script */
	size_t in_len, off;
	uint8_t *scratch;              /* bulk pieces (FZ_BULK_AREA / 4) are copied or written here */
	int ready;
	int trace;                     /* VGPU_FUZZ_TRACE: print a line per reply (comparing harness versions) */
	/* The simulator's address spaces: each zone's fiber allocates and launches in space
	 * idx + 1, as each zone's worker is its own process in the proxy (kernel oracle). */
	void (*set_space)(unsigned space);
	void (*state_save)(void *buf);   /* vgpu_sim_thread_state_save / _load: what a fiber keeps */
	void (*state_load)(const void *buf);
	int turn_from;                   /* the fiber that made the last switch */
	unsigned (*kernel_space)(void);  /* in the access hook: 0, or 1 + the space of the running kernel */
	/* vgpu_sim_live_objects: graphs, executable graphs, pools, libraries and stream-ordered
	 * allocations the driver holds (leak oracle) */
	void (*live_objects)(long *graphs, long *execs, long *pools, long *libraries, long *ordered);
	/* vgpu_sim_live_vmm: physical allocations, mappings and reservations (leak oracle) */
	void (*live_vmm)(long *phys, long *mappings, long *reservations);
	/* vgpu_sim_live_events: events of every context (leak oracle) */
	void (*live_events)(long *events);
	/* vgpu_sim_release_orphans: the graphs of captures whose streams are gone, freed as the
	 * zones' processes ending would */
	void (*release_orphans)(void);
};
extern struct fz_state fz;
/* Index of the zone whose fiber runs on this thread, -1 on any other thread. */
extern _Thread_local int fz_self;

#define FZ_CHUNK (64u << 10)        /* piece of a bulk transfer without a step (harness.c) */
#define FZ_BULK_AREA (4u << 20)     /* the bulk area a step is capped by (a quarter of it) */


/*
 * VGPU_FUZZ_SABOTAGE=memory|ownership|reply|kernel|spaces|leaks: the harness itself breaks the
 * property the named oracle guards (checks zone A's device accesses against zone B's
 * allocations; adds a handle to the other zone's table during a message; truncates a reply
 * by one byte; takes a kernel's accesses of its own zone's memory for the other zone's; turns
 * the simulator's address-space confinement off, so that a kernel can reach the other zone;
 * forgets the graphs a zone still has at its teardown without destroying them), so
 * fuzz/test_replay.sh can show that each oracle does fire. Never set while fuzzing.
 */
enum { SAB_NONE = 0, SAB_MEMORY, SAB_OWNERSHIP, SAB_REPLY, SAB_KERNEL, SAB_SPACES, SAB_LEAKS, SAB_VMM_LEAKS };
extern int fz_sabotage;


/* ---- msgpack walking (msgpack.c) ---- */
/* Called with the offset of each uint64 (0xcf) value met by fz_mp_walk. */
typedef void (*fz_u64_fn)(void *ctx, size_t off);
/* Skip one msgpack object at p[*o..n), calling fn (may be NULL) for each uint64 inside it
 * (not inside bin/str payloads); 0, or -1 when malformed, truncated or nested over 64 deep. */
int fz_mp_walk(const uint8_t *p, size_t n, size_t *o, int depth, fz_u64_fn fn, void *ctx);
uint64_t fz_rd_be64(const uint8_t *p);
void fz_wr_be64(uint8_t *p, uint64_t v);

/* ---- oracles (oracles.c) ---- */
/* A reply the proxy sent zone zz: answers the request, one well-formed msgpack array
 * [CUresult, ...]; remembers its uint64 values (zz->last_vals) for fz_alias_add. */
void fz_check_reply(struct fz_zone *zz, uint16_t opcode, uint16_t flags, uint32_t seq, const uint8_t *p,
		    uint32_t len);
/* Digest of a zone's handle table, allocation map and memory counter. */
uint64_t fz_zone_digest(struct vgpu_zone *z);
/* After a message of zone z: the other zone unchanged (other_before = its digest before),
 * counters within limits, no object in both zones' tables. */
void fz_check_after_message(int z, uint64_t other_before);
/* The simulator's access hook (vgpu_sim_set_access_hook). */
void fz_mem_hook(void *ctx, uint64_t p, uint64_t len, int write);
/* Every generated thunk belongs to a generated (not custom) call of the same opcode. */
void fz_check_dispatch_table(void);

/* ---- the harness's driver (waits.c) ---- */
/* Route the generated table's cuStreamWaitValue* through the harness (after vgpu_dispatch_load). */
void fz_waits_install(void);

/* ---- recorded sessions (alias.c) ---- */
/* An ALIAS record for zone zz: pair the recorded reply's values with those of zz's last reply. */
void fz_alias_add(struct fz_zone *zz, const uint8_t *rec, uint32_t len);
/* zz's message with recorded values translated (a private copy), or msg itself. */
const uint8_t *fz_alias_apply(struct fz_zone *zz, const uint8_t *msg, uint32_t len);

#endif
