/* SPDX-License-Identifier: MIT */
/* advice.h — what a program advised and prefetched about its managed memory, page by page, for cuMemRangeGetAttribute(s). */
#ifndef VGPU_ADVICE_H
#define VGPU_ADVICE_H

#include <stddef.h>
#include <stdint.h>
#include <cuda.h>

/*
 * The driver answers cuMemRangeGetAttribute(s) from what cuMemAdvise and cuMemPrefetchAsync
 * set on each page of a managed allocation. Neither the simulator nor libvgpu moves managed
 * pages (they are host memory the kernels reach), so both keep that record here, by 4 KiB
 * page, and runtime/advice.c answers the queries from it for both (linked into libvgpu and
 * the simulator, like runtime/legacy.c). The calls of each layer record into it after their
 * own checks (the range is managed memory of one allocation):
 *   track    a new managed allocation [base, base + len) (forgetting any stale record it
 *            overlaps: memory freed with its context and allocated again)
 *   untrack  the allocation at base is gone
 *   advise   cuMemAdvise over [p, p + n) with loc
 *   prefetch cuMemPrefetchAsync over [p, p + n) to loc
 * 0, or -1 when out of memory (track) or when no tracked allocation holds the range.
 * advice.c also defines the CUDA 13 batches (cuMemPrefetchBatchAsync, cuMemDiscardBatchAsync,
 * cuMemDiscardAndPrefetchBatchAsync and their per-thread-stream forms) as their elements.
 */
int vgpu_advice_track(uint64_t base, uint64_t len);
void vgpu_advice_untrack(uint64_t base);
int vgpu_advice_advise(uint64_t p, uint64_t n, CUmem_advise advice, CUmemLocation loc);
int vgpu_advice_prefetch(uint64_t p, uint64_t n, CUmemLocation loc);
/* A location a prefetch may name: a device or the host (any NUMA form). */
int vgpu_advice_location_ok(CUmemLocation loc);

#endif
