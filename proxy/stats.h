/* SPDX-License-Identifier: MIT */
/* stats.h — per-zone usage counters, shared between a zone's worker and the supervisor. */
#ifndef VGPU_PROXY_STATS_H
#define VGPU_PROXY_STATS_H

#include <stdint.h>

#define VGPU_STATS_HTYPES 24u  /* handle types counted separately (enum vgpu_handle_type < 24) */

/*
 * One page per zone, mmap(MAP_SHARED | MAP_ANONYMOUS) by the supervisor before it forks the
 * zone's worker. The worker updates the counters with relaxed atomics (__atomic builtins;
 * each is an independent counter, no ordering between them is promised); the supervisor
 * only reads them to answer --stats, and clears the page after reaping the worker.
 */
struct vgpu_zone_stats {
	uint64_t mem_bytes;       /* device memory the zone holds now */
	uint64_t mem_peak;        /* most it ever held */
	uint64_t allocs;          /* live device allocations */
	uint64_t handles;         /* live handles, all types */
	uint64_t handles_by_type[VGPU_STATS_HTYPES];
	uint64_t calls;           /* requests handled (sync + async) */
	uint64_t async_calls;
	uint64_t errors;          /* calls answered with an error, refused messages */
	uint64_t bulk_in;         /* bulk bytes received from the zone */
	uint64_t bulk_out;        /* bulk bytes sent to the zone */
	uint64_t pinned_bytes;    /* pinned host memory shared with the worker now (pinned.h) */
	uint64_t pinned_copied;   /* bytes copied from or to it: moved without the ring */
	uint64_t channels;        /* open channels now */
	uint64_t channels_total;  /* channels ever opened */
	uint32_t ready;           /* 1 once the worker runs */
	uint32_t rejoin_wait;     /* restored without its source: channels still to rejoin */
};

static inline void vgpu_stat_add(uint64_t *c, uint64_t n) { __atomic_fetch_add(c, n, __ATOMIC_RELAXED); }
static inline void vgpu_stat_sub(uint64_t *c, uint64_t n) { __atomic_fetch_sub(c, n, __ATOMIC_RELAXED); }
static inline void vgpu_stat_set(uint64_t *c, uint64_t v) { __atomic_store_n(c, v, __ATOMIC_RELAXED); }
static inline uint64_t vgpu_stat_get(const uint64_t *c) { return __atomic_load_n(c, __ATOMIC_RELAXED); }

#endif
