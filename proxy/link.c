/* SPDX-License-Identifier: MIT */
/* link.c — the zone's list of JIT link states (link.h). */
#include "link.h"

#include <pthread.h>
#include <stdlib.h>

#include "zone.h"

void vgpu_link_rec_free(struct vgpu_link_rec *r)
{
	if (!r)
		return;
	free(r->info);
	free(r->err);
	free(r);
}

int vgpu_link_add(struct vgpu_zone *z, struct vgpu_link_rec *r)
{
	struct vgpu_link_zone *l = &z->links;
	pthread_mutex_lock(&z->lock);
	int rc = vgpu_room_for_one(&l->recs, &l->cap, l->n, sizeof(*l->recs), 8);
	if (rc == 0)
		l->recs[l->n++] = r;
	pthread_mutex_unlock(&z->lock);
	return rc;
}

int vgpu_link_take(struct vgpu_zone *z, struct vgpu_link_rec *r)
{
	struct vgpu_link_zone *l = &z->links;
	int rc = -1;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < l->n; i++)
		if (l->recs[i] == r) {
			l->recs[i] = l->recs[--l->n];
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

uint32_t vgpu_link_take_ctx(struct vgpu_zone *z, const void *ctx, int all, struct vgpu_link_rec **out, uint32_t cap)
{
	struct vgpu_link_zone *l = &z->links;
	uint32_t n = 0;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < l->n && n < cap;)
		if (all || l->recs[i]->ctx == ctx) {
			out[n++] = l->recs[i];
			l->recs[i] = l->recs[--l->n];
		} else {
			i++;
		}
	pthread_mutex_unlock(&z->lock);
	return n;
}

void vgpu_link_zone_fini(struct vgpu_link_zone *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		vgpu_link_rec_free(l->recs[i]);
	free(l->recs);
	l->recs = NULL;
	l->n = l->cap = 0;
}
