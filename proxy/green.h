/* SPDX-License-Identifier: MIT */
/*
 * green.h — what a zone holds of green contexts beyond its handle table (custom_green.c).
 *
 * The driver's CUdevResource is a struct with 92 bytes of its own inside, which a zone hands
 * back to split or to make a descriptor: the worker remembers every resource the driver gave
 * the zone and passes on only those, byte for byte. A green context's CUcontext
 * (cuCtxFromGreenCtx) is "a normal primary context but with the resources of the green
 * context" (cuda.h): what a zone makes while it is current belongs to the device's primary
 * context, so it stays when the green context goes.
 */
#ifndef VGPU_PROXY_GREEN_H
#define VGPU_PROXY_GREEN_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VGPU_GREEN_RESOURCE_BYTES 144u     /* sizeof(CUdevResource) in CUDA 13 (checked in custom_green.c) */
#define VGPU_GREEN_ISSUED_MAX 1024u        /* distinct resources a zone is given at most */

struct vgpu_green_zone {
	pthread_mutex_t lock;
	struct vgpu_green_ctx { void *green; void *alias; void *primary; int dev; } *ctx;
	uint32_t nctx, capctx;
	uint8_t (*issued)[VGPU_GREEN_RESOURCE_BYTES];
	uint32_t nissued, capissued;
};

static inline void vgpu_green_zone_init(struct vgpu_green_zone *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
}

static inline void vgpu_green_zone_fini(struct vgpu_green_zone *g)
{
	free(g->ctx);
	free(g->issued);
	g->ctx = NULL;
	g->issued = NULL;
	g->nctx = g->capctx = g->nissued = g->capissued = 0;
	pthread_mutex_destroy(&g->lock);
}

struct vgpu_zone;
struct vgpu_backend_fns;
/* The context new objects belong to when ctx is current: the primary context of a green
 * context's CUcontext, ctx itself otherwise. */
const void *vgpu_green_owner_ctx(struct vgpu_zone *z, const void *ctx);
/* 1 when ctx is a green context's CUcontext (not a context of its own to destroy or release). */
int vgpu_green_is_alias(struct vgpu_zone *z, const void *ctx);
/* The zone ends: its green contexts are destroyed through f (after their streams went);
 * returns how many. */
unsigned vgpu_green_zone_end(struct vgpu_zone *z, const struct vgpu_backend_fns *f);

#endif
