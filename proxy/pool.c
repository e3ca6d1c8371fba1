/* SPDX-License-Identifier: MIT */
/* pool.c — a registration's device-memory budget shared by its zones' workers (see pool.h). */
#include "pool.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct vgpu_pool *vgpu_pool_create(uint64_t limit)
{
	pthread_mutexattr_t a;
	struct vgpu_pool *p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->limit = limit;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&p->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (rc) {
		munmap(p, sizeof(*p));
		errno = rc;
		return NULL;
	}
	return p;
}

void vgpu_pool_destroy(struct vgpu_pool *p)
{
	if (p)
		munmap(p, sizeof(*p));
}

/* Lock; if the previous owner died inside, the total may lag its slots: recompute it. */
static void pool_lock(struct vgpu_pool *p)
{
	if (pthread_mutex_lock(&p->lock) == EOWNERDEAD) {
		uint64_t t = 0;
		for (unsigned i = 0; i < VGPU_POOL_SLOTS; i++)
			t += p->slot[i];
		p->total = t;
		pthread_mutex_consistent(&p->lock);
	}
}

int vgpu_pool_slot_take(struct vgpu_pool *p)
{
	int s = -1;
	pool_lock(p);
	for (unsigned i = 0; i < VGPU_POOL_SLOTS && s < 0; i++) {
		if (!p->used[i]) {
			p->used[i] = 1;
			p->total -= p->slot[i]; /* 0 unless a drop was missed */
			p->slot[i] = 0;
			s = (int)i;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return s;
}

void vgpu_pool_slot_drop(struct vgpu_pool *p, int slot)
{
	if (slot < 0 || slot >= VGPU_POOL_SLOTS)
		return;
	pool_lock(p);
	p->total -= p->slot[slot] <= p->total ? p->slot[slot] : p->total;
	p->slot[slot] = 0;
	p->used[slot] = 0;
	pthread_mutex_unlock(&p->lock);
}

int vgpu_pool_charge(struct vgpu_pool *p, int slot, uint64_t n, int force)
{
	int rc = 0;
	pool_lock(p);
	if (!force && p->limit && (p->total > p->limit || n > p->limit - p->total)) {
		rc = -EDQUOT;
	} else {
		p->slot[slot] = n > UINT64_MAX - p->slot[slot] ? UINT64_MAX : p->slot[slot] + n;
		p->total = n > UINT64_MAX - p->total ? UINT64_MAX : p->total + n;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void vgpu_pool_uncharge(struct vgpu_pool *p, int slot, uint64_t n)
{
	pool_lock(p);
	if (n > p->slot[slot])
		n = p->slot[slot];
	p->slot[slot] -= n;
	p->total -= n <= p->total ? n : p->total;
	pthread_mutex_unlock(&p->lock);
}

uint64_t vgpu_pool_total(struct vgpu_pool *p)
{
	pool_lock(p);
	uint64_t t = p->total;
	pthread_mutex_unlock(&p->lock);
	return t;
}
