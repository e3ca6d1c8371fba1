/* SPDX-License-Identifier: MIT */
/* pool.c — a registration's budgets (device memory, handles) shared by its zones' workers (see pool.h). */
#include "pool.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct vgpu_pool *vgpu_pool_create(uint64_t mem_limit, uint64_t handle_limit, int *fd /* out */)
{
	pthread_mutexattr_t a;
	struct vgpu_pool *p;

	/* a memfd, so that a supervisor started after this one can map the same budget */
	*fd = memfd_create("vgpu-pool", MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, sizeof(*p)) < 0 ||
	    (p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0)) == MAP_FAILED) {
		close(*fd);
		*fd = -1;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->limit[VGPU_POOL_MEM] = mem_limit;
	p->limit[VGPU_POOL_HANDLES] = handle_limit;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&p->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (rc) {
		munmap(p, sizeof(*p));
		close(*fd);
		*fd = -1;
		errno = rc;
		return NULL;
	}
	return p;
}

struct vgpu_pool *vgpu_pool_map(int fd)
{
	struct stat st;
	struct vgpu_pool *p;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != sizeof(*p))
		return NULL;
	p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void vgpu_pool_destroy(struct vgpu_pool *p)
{
	if (p)
		munmap(p, sizeof(*p));
}

/* Lock; if the previous owner died inside, the totals may lag the slots and the entry counts
 * the entries: recompute them. */
static void pool_lock(struct vgpu_pool *p)
{
	if (pthread_mutex_lock(&p->lock) == EOWNERDEAD) {
		for (unsigned r = 0; r < VGPU_POOL_NRES; r++) {
			uint64_t t = 0;
			for (unsigned i = 0; i < VGPU_POOL_SLOTS; i++)
				t += p->slot[i][r];
			p->total[r] = t;
		}
		memset(p->ipc_n, 0, sizeof(p->ipc_n));
		for (unsigned e = 0; e < VGPU_IPC_ENTRIES; e++)
			if (p->ipc[e].kind && p->ipc[e].slot >= 0 && p->ipc[e].slot < VGPU_POOL_SLOTS)
				p->ipc_n[p->ipc[e].slot]++;
		pthread_mutex_consistent(&p->lock);
	}
}

/* Free entry e, which is live (lock held). */
static void entry_free(struct vgpu_pool *p, unsigned e)
{
	int32_t s = p->ipc[e].slot;
	if (s >= 0 && s < VGPU_POOL_SLOTS && p->ipc_n[s])
		p->ipc_n[s]--;
	memset(&p->ipc[e], 0, sizeof(p->ipc[e]));
}

/* Remove slot i's share from the totals and zero it, and forget its exports (lock held). */
static void slot_clear(struct vgpu_pool *p, unsigned i)
{
	for (unsigned e = 0; e < VGPU_IPC_ENTRIES && p->ipc_n[i]; e++)
		if (p->ipc[e].kind && p->ipc[e].slot == (int32_t)i)
			entry_free(p, e);
	for (unsigned r = 0; r < VGPU_POOL_NRES; r++) {
		p->total[r] -= p->slot[i][r] <= p->total[r] ? p->slot[i][r] : p->total[r];
		p->slot[i][r] = 0;
	}
}

int vgpu_pool_slot_take(struct vgpu_pool *p)
{
	int s = -1;
	pool_lock(p);
	for (unsigned i = 0; i < VGPU_POOL_SLOTS && s < 0; i++) {
		if (!p->used[i]) {
			p->used[i] = 1;
			slot_clear(p, i); /* nothing, unless a drop was missed */
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
	slot_clear(p, (unsigned)slot);
	p->used[slot] = 0;
	pthread_mutex_unlock(&p->lock);
}

int vgpu_pool_charge(struct vgpu_pool *p, int slot, enum vgpu_pool_res res, uint64_t n, int force)
{
	int rc = 0;
	uint64_t lim = p->limit[res];
	pool_lock(p);
	uint64_t *t = &p->total[res], *sl = &p->slot[slot][res];
	if (!force && lim && (*t > lim || n > lim - *t)) {
		rc = -EDQUOT;
	} else {
		*sl = n > UINT64_MAX - *sl ? UINT64_MAX : *sl + n;
		*t = n > UINT64_MAX - *t ? UINT64_MAX : *t + n;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void vgpu_pool_uncharge(struct vgpu_pool *p, int slot, enum vgpu_pool_res res, uint64_t n)
{
	pool_lock(p);
	uint64_t *t = &p->total[res], *sl = &p->slot[slot][res];
	if (n > *sl)
		n = *sl;
	*sl -= n;
	*t -= n <= *t ? n : *t;
	pthread_mutex_unlock(&p->lock);
}

int vgpu_pool_ipc_put(struct vgpu_pool *p, int slot, uint32_t kind, const uint8_t drv[64], uint64_t size,
		      uint32_t *idx, uint8_t nonce[16])
{
	if (slot < 0 || slot >= VGPU_POOL_SLOTS || !kind)
		return -EINVAL;
	if (getrandom(nonce, 16, 0) != 16)
		return -EIO;
	int rc = -ENOSPC;
	pool_lock(p);
	for (uint32_t e = 0; e < VGPU_IPC_ENTRIES; e++) {
		struct vgpu_ipc_entry *x = &p->ipc[e];
		if (x->kind)
			continue;
		x->kind = kind;
		x->slot = slot;
		x->size = size;
		memcpy(x->nonce, nonce, 16);
		memcpy(x->drv, drv, 64);
		p->ipc_n[slot]++;
		*idx = e;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int vgpu_pool_ipc_get(struct vgpu_pool *p, uint32_t idx, const uint8_t nonce[16], uint32_t kind,
		      uint8_t drv[64], uint64_t *size, int *slot)
{
	if (idx >= VGPU_IPC_ENTRIES || !kind)
		return -ENOENT;
	int rc = -ENOENT;
	pool_lock(p);
	const struct vgpu_ipc_entry *x = &p->ipc[idx];
	uint8_t diff = 0;
	for (unsigned i = 0; i < 16; i++)
		diff |= x->nonce[i] ^ nonce[i];
	if (x->kind == kind && !diff) {
		memcpy(drv, x->drv, 64);
		*size = x->size;
		*slot = x->slot;
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void vgpu_pool_ipc_drop(struct vgpu_pool *p, int slot, uint32_t idx)
{
	if (idx >= VGPU_IPC_ENTRIES)
		return;
	pool_lock(p);
	if (p->ipc[idx].kind && p->ipc[idx].slot == slot)
		entry_free(p, idx);
	pthread_mutex_unlock(&p->lock);
}

uint64_t vgpu_pool_total(struct vgpu_pool *p, enum vgpu_pool_res res)
{
	pool_lock(p);
	uint64_t t = p->total[res];
	pthread_mutex_unlock(&p->lock);
	return t;
}
