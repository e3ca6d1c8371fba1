/* SPDX-License-Identifier: MIT */
/* link.h — the JIT link states a zone holds: the driver's state with the logs and options it writes into. */
#ifndef VGPU_PROXY_LINK_H
#define VGPU_PROXY_LINK_H

#include <stddef.h>
#include <stdint.h>

/* The options a link state is created with: the zone's (VGPU_LINK_OPT_MAX at most) and the
 * proxy's own five (two log buffers, their sizes, the wall time). */
#define VGPU_LINK_REC_OPTS 40u

/*
 * One link state. The zone's handle maps to this record, not to the driver's state: the
 * driver writes its logs into info and err and their lengths and the wall time into vals for
 * as long as the state lives, so these must live as long. Records are listed per zone (under
 * the zone's lock) so that a context that goes, or the zone, takes its states with it.
 */
struct vgpu_link_rec {
	void *state;               /* the driver's CUlinkState */
	const void *ctx;           /* the context current when it was made */
	char *info, *err;          /* the driver's log buffers (NULL: none asked for) */
	uint32_t info_cap, err_cap;
	int info_size_i, err_size_i, wall_i;   /* where in vals the driver writes back (-1: none) */
	unsigned nopt;
	int opts[VGPU_LINK_REC_OPTS];
	void *vals[VGPU_LINK_REC_OPTS];
	void *image;               /* the driver's linked image once complete (its memory) */
	size_t image_size;
	int completed;
};

struct vgpu_link_zone {
	struct vgpu_link_rec **recs;
	uint32_t n, cap;
};

struct vgpu_zone;

/* List r in the zone (-1: out of memory); take r out of it (-1: not the zone's). */
int vgpu_link_add(struct vgpu_zone *z, struct vgpu_link_rec *r);
int vgpu_link_take(struct vgpu_zone *z, struct vgpu_link_rec *r);
/* Take out every record of ctx (ctx NULL: every record) into out (cap entries; returns how
 * many; call again while it returns cap). The caller destroys the driver's states and frees. */
uint32_t vgpu_link_take_ctx(struct vgpu_zone *z, const void *ctx, int all, struct vgpu_link_rec **out, uint32_t cap);
void vgpu_link_rec_free(struct vgpu_link_rec *r);
/* Free the list and what is left in it (the driver's states are not touched: the worker
 * destroyed them, or its process is ending). */
void vgpu_link_zone_fini(struct vgpu_link_zone *l);

#endif
