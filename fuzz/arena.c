/* SPDX-License-Identifier: MIT */
/* arena.c — each zone's fiber keeps the channel loop's 1 MiB scratch arena between its channels (linked with --wrap). */
/*
 * Why: vgpu_chan_serve() allocates a VGPU_ARENA_SIZE (1 MiB) arena per channel and frees it
 * when the channel closes; a run opens a channel per zone plus one after every CLOSE. Under
 * ASan a block that large is a fresh mmap with its shadow poisoned, unpoisoned, poisoned
 * again in the quarantine and unmapped: page faults and system calls that were over half
 * of a typical run's time. Here the first arena a zone's fiber asks for is kept, and later
 * channels of that zone get the same block.
 *
 * What stays the same: the channel loop sees a block of the size it asked for, empty
 * (used = 0) and poisoned, as vgpu_arena_init leaves a new one; vgpu_arena_alloc zeroes
 * every piece it hands out and unpoisons only that piece, so nothing of an earlier channel
 * can be read through it; overflowing the block still hits the heap redzone of the real
 * allocation; and between vgpu_arena_fini and the next channel's vgpu_arena_init the whole
 * block is poisoned, so a pointer into a closed channel's arena that is used later is
 * still an ASan report (use-after-poison instead of heap-use-after-free). Since only
 * [base, base + used) can be unpoisoned (runtime/codec.c), poisoning that much at the end
 * is enough: the cost is what the channel's last call used, not the 1 MiB. Any other
 * caller (not a zone's fiber, another size, a second arena on one fiber) gets the real
 * functions.
 */
#include <sanitizer/asan_interface.h>

#include "fz.h"

int __real_vgpu_arena_init(struct vgpu_arena *a, size_t size);
void __real_vgpu_arena_fini(struct vgpu_arena *a);
int __wrap_vgpu_arena_init(struct vgpu_arena *a, size_t size);
void __wrap_vgpu_arena_fini(struct vgpu_arena *a);

static struct fz_zone *self(void)
{
	return fz_self >= 0 && fz_self < FZ_ZONES ? &fz.z[fz_self] : NULL;
}

int __wrap_vgpu_arena_init(struct vgpu_arena *a, size_t size)
{
	struct fz_zone *zz = self();
	if (!zz || zz->arena_busy || (zz->arena.base && zz->arena.size != size))
		return __real_vgpu_arena_init(a, size);
	if (!zz->arena.base) {
		int rc = __real_vgpu_arena_init(&zz->arena, size);
		if (rc < 0)
			return rc;
	}
	zz->arena_busy = 1;
	a->base = zz->arena.base;
	a->size = zz->arena.size;
	a->used = 0;
	return 0;
}

void __wrap_vgpu_arena_fini(struct vgpu_arena *a)
{
	struct fz_zone *zz = self();
	if (!zz || !zz->arena_busy || a->base != zz->arena.base) {
		__real_vgpu_arena_fini(a);
		return;
	}
	ASAN_POISON_MEMORY_REGION(zz->arena.base, a->used);
	zz->arena_busy = 0;
	a->base = NULL;
	a->size = a->used = 0;
}
