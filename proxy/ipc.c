/* SPDX-License-Identifier: MIT */
/* ipc.c — a zone's IPC exports and imports: bookkeeping, range checks, cleanup (see ipc.h). */
#define __CUDA_API_VERSION_INTERNAL 1
#include "ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "custom_wire.h"
#include "log.h"
#include "zone.h"

void vgpu_ipc_zone_init(struct vgpu_ipc_zone *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
}

void vgpu_ipc_zone_destroy(struct vgpu_ipc_zone *s)
{
	free(s->exp);
	free(s->imp);
	s->exp = NULL;
	s->imp = NULL;
	s->nexp = s->nimp = s->capexp = s->capimp = 0;
	pthread_mutex_destroy(&s->lock);
}

int vgpu_ipc_covers(struct vgpu_ipc_zone *s, uint64_t p, uint64_t len)
{
	int rc = -EFAULT;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < s->nimp && rc; i++) {
		const struct vgpu_ipc_import *m = &s->imp[i];
		/* overflow-safe: p - base and len are compared with what is left, never p + len */
		if (p >= m->base && p - m->base < m->size && len <= m->size - (p - m->base))
			rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Drop export i (s->lock held): out of the registration's table, then out of the list. */
static void export_drop(struct vgpu_zone *z, uint32_t i)
{
	struct vgpu_ipc_zone *s = &z->ipc;
	if (z->pool)
		vgpu_pool_ipc_drop(z->pool, z->pool_slot, s->exp[i].idx);
	s->exp[i] = s->exp[--s->nexp];
}

static void forget(struct vgpu_zone *z, uint32_t kind, uint64_t key)
{
	struct vgpu_ipc_zone *s = &z->ipc;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < s->nexp;)
		if (s->exp[i].kind == kind && s->exp[i].key == key)
			export_drop(z, i);
		else
			i++;
	pthread_mutex_unlock(&s->lock);
}

void vgpu_ipc_mem_freed(struct vgpu_zone *z, uint64_t base)
{
	if (__atomic_load_n(&z->ipc.nexp, __ATOMIC_RELAXED))   /* (a peek is fine: exports are made and freed by the zone's own calls) */
		forget(z, VGPU_IPC_KIND_MEM, base);
}

void vgpu_ipc_event_gone(struct vgpu_zone *z, const void *ev)
{
	if (__atomic_load_n(&z->ipc.nexp, __ATOMIC_RELAXED))
		forget(z, VGPU_IPC_KIND_EVENT, (uint64_t)(uintptr_t)ev);
}

void vgpu_ipc_context_gone(struct vgpu_zone *z, const void *ctx)
{
	struct vgpu_ipc_zone *s = &z->ipc;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < s->nexp;) {
		uint64_t id;
		int held;
		pthread_mutex_lock(&z->lock);
		if (s->exp[i].kind == VGPU_IPC_KIND_MEM)
			held = vgpu_allocmap_at(&z->amap, s->exp[i].key) != NULL;
		else
			held = vgpu_htab_find(&z->htab, VGPU_H_EVENT, (const void *)(uintptr_t)s->exp[i].key, &id) == 0;
		pthread_mutex_unlock(&z->lock);
		if (held)
			i++;
		else
			export_drop(z, i);
	}
	for (uint32_t i = 0; i < s->nimp;)
		if (s->imp[i].ctx == ctx)
			s->imp[i] = s->imp[--s->nimp];
		else
			i++;
	pthread_mutex_unlock(&s->lock);
}

unsigned vgpu_ipc_zone_end(struct vgpu_zone *z, const struct vgpu_backend_fns *f)
{
	struct vgpu_ipc_zone *s = &z->ipc;
	unsigned n = 0;
	pthread_mutex_lock(&s->lock);
	while (s->nexp)
		export_drop(z, s->nexp - 1);
	for (uint32_t i = 0; i < s->nimp; i++)
		for (uint32_t r = 0; r < s->imp[i].refs; r++, n++)
			if (!f->cuIpcCloseMemHandle || f->cuIpcCloseMemHandle((CUdeviceptr)s->imp[i].base) != CUDA_SUCCESS)
				break;   /* (its context went first: the driver unmapped it then) */
	s->nimp = 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}
