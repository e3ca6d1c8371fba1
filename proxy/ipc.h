/* SPDX-License-Identifier: MIT */
/*
 * ipc.h — a zone's IPC exports and imports (the handlers are in custom_ipc.c).
 *
 * A zone is one process; the processes of one pod share a registration. An IPC handle a zone
 * exports is the proxy's (index and random nonce of an entry in the registration's shared
 * table, pool.h), the driver's handle stays in that table, and only a zone of the same
 * registration can open it: its worker looks the entry up and calls the driver with the
 * driver's handle. What a zone imported is checked like its own memory (vgpu_ipc_covers) but
 * is not charged to it: the exporting zone pays for the memory.
 */
#ifndef VGPU_PROXY_IPC_H
#define VGPU_PROXY_IPC_H

#include <pthread.h>
#include <stdint.h>

struct vgpu_ipc_export {
	uint32_t kind;          /* VGPU_IPC_KIND_MEM / _EVENT */
	uint32_t idx;           /* entry in the registration's table */
	uint64_t key;           /* the allocation's base, or the driver's event */
	uint8_t nonce[16];
};

struct vgpu_ipc_import {
	uint64_t base, size;
	uint32_t refs;          /* opens not yet closed (the driver counts them too) */
	const void *ctx;        /* the context it was opened in (the driver unmaps it with it) */
};

struct vgpu_ipc_zone {
	pthread_mutex_t lock;   /* serialises the IPC calls; the arrays are read under it */
	struct vgpu_ipc_export *exp;
	uint32_t nexp, capexp;
	struct vgpu_ipc_import *imp;
	uint32_t nimp, capimp;
	int used;               /* the zone exported or imported something (checkpoints do not carry it) */
};

void vgpu_ipc_zone_init(struct vgpu_ipc_zone *s);
void vgpu_ipc_zone_destroy(struct vgpu_ipc_zone *s);
/* Is [p, p+len) inside memory the zone imported? 0 yes, -EFAULT no. */
int vgpu_ipc_covers(struct vgpu_ipc_zone *s, uint64_t p, uint64_t len);

struct vgpu_zone;
struct vgpu_backend_fns;
/* The zone freed the allocation at base, or destroyed the driver event ev: their exports go
 * from the registration's table (no zone can open them any more). */
void vgpu_ipc_mem_freed(struct vgpu_zone *z, uint64_t base);
void vgpu_ipc_event_gone(struct vgpu_zone *z, const void *ev);
/* A context of the zone went (with its memory, events and imported mappings): exports of
 * what the zone no longer holds and imports opened in it are forgotten. */
void vgpu_ipc_context_gone(struct vgpu_zone *z, const void *ctx);
/* The zone ends: its imports are closed through f (a context current), its exports dropped.
 * Returns how many imports were closed. */
unsigned vgpu_ipc_zone_end(struct vgpu_zone *z, const struct vgpu_backend_fns *f);

#endif
