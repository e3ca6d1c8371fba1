/* SPDX-License-Identifier: MIT */
/*
 * pool.h — the budgets shared by every zone of one registration (e.g. all the CUDA
 * processes of one pod), across worker processes: device memory and live handles.
 *
 * One MAP_SHARED page per registration, made by the supervisor before it forks the
 * registration's workers. Each worker charges and uncharges its own slot and the totals
 * under a process-shared robust mutex; when a worker dies (even holding the mutex), the
 * supervisor drops its slot from the totals, so a budget never keeps a dead zone's share.
 */
#ifndef VGPU_PROXY_POOL_H
#define VGPU_PROXY_POOL_H

#include <pthread.h>
#include <stdint.h>

#define VGPU_POOL_SLOTS 256   /* zones (processes) of one registration at once */

enum vgpu_pool_res {
	VGPU_POOL_MEM = 0,      /* device bytes (allocated or reserved) */
	VGPU_POOL_HANDLES = 1,  /* live handles */
	VGPU_POOL_NRES
};

/*
 * IPC handles the registration's zones exported (proxy/ipc.c): the driver's handle, kept
 * here where only workers read and write it, named to zones by (index, nonce). An entry
 * belongs to the exporting zone's slot and goes when the zone frees what it names, ends or
 * dies (vgpu_pool_slot_drop).
 */
#define VGPU_IPC_ENTRIES 1024
struct vgpu_ipc_entry {
	uint32_t kind;                /* 0: free; VGPU_IPC_KIND_MEM or _EVENT (custom_wire.h) */
	int32_t slot;                 /* the exporting zone's slot */
	uint64_t size;                /* memory: the allocation's size */
	uint8_t nonce[16];
	uint8_t drv[64];              /* the driver's CUipcMemHandle / CUipcEventHandle */
};

struct vgpu_pool {
	pthread_mutex_t lock;                         /* PTHREAD_PROCESS_SHARED | PTHREAD_MUTEX_ROBUST */
	uint64_t limit[VGPU_POOL_NRES];               /* 0 = unlimited */
	uint64_t total[VGPU_POOL_NRES];               /* == the sum of the slots whenever lock is free */
	uint64_t slot[VGPU_POOL_SLOTS][VGPU_POOL_NRES];
	uint8_t used[VGPU_POOL_SLOTS];                /* slot handed to a live zone (supervisor only) */
	struct vgpu_ipc_entry ipc[VGPU_IPC_ENTRIES];  /* under lock */
	uint32_t ipc_n[VGPU_POOL_SLOTS];              /* live ipc entries of each slot: a zone that
						       * exported nothing starts and ends without
						       * reading the 96 KiB table */
};

/* Map and initialise a pool (NULL on failure, errno set); free with vgpu_pool_destroy. */
struct vgpu_pool *vgpu_pool_create(uint64_t mem_limit, uint64_t handle_limit, int *fd /* out */);
/* Map the pool behind fd (a memfd from vgpu_pool_create in another process); NULL if it is not one. */
struct vgpu_pool *vgpu_pool_map(int fd);
void vgpu_pool_destroy(struct vgpu_pool *p);
/* Supervisor: a free slot for a new zone (-1 when all VGPU_POOL_SLOTS are taken); after the
 * zone's worker has ended, give it back: its share leaves the totals. */
int vgpu_pool_slot_take(struct vgpu_pool *p);
void vgpu_pool_slot_drop(struct vgpu_pool *p, int slot);
/* Worker: charge n units of res to slot; force = 1 charges past the limit (what exists
 * already), else -EDQUOT when total + n would exceed it. */
int vgpu_pool_charge(struct vgpu_pool *p, int slot, enum vgpu_pool_res res, uint64_t n, int force);
void vgpu_pool_uncharge(struct vgpu_pool *p, int slot, enum vgpu_pool_res res, uint64_t n);
/* IPC: record an export of slot's (a fresh random nonce, returned with the index): 0, or
 * -ENOSPC when the table is full, or -errno from getrandom. */
int vgpu_pool_ipc_put(struct vgpu_pool *p, int slot, uint32_t kind, const uint8_t drv[64], uint64_t size,
		      uint32_t *idx /* out */, uint8_t nonce[16] /* out */);
/* Look an export up by index and nonce (compared in constant time) and kind: its driver
 * handle, size and exporting slot. -ENOENT when no live entry matches. */
int vgpu_pool_ipc_get(struct vgpu_pool *p, uint32_t idx, const uint8_t nonce[16], uint32_t kind,
		      uint8_t drv[64] /* out */, uint64_t *size /* out */, int *slot /* out */);
/* Forget slot's entry idx (only if it is slot's). */
void vgpu_pool_ipc_drop(struct vgpu_pool *p, int slot, uint32_t idx);

/* The current total of res (for list). */
uint64_t vgpu_pool_total(struct vgpu_pool *p, enum vgpu_pool_res res);

#endif
