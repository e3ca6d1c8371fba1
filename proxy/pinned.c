/* SPDX-License-Identifier: MIT */
/* pinned.c — the zone's pinned host memory regions (see pinned.h). */
#include "pinned.h"
#include "allocmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int vgpu_pinned_init(struct vgpu_pinned *p, uint64_t limit, uint64_t key)
{
	memset(p, 0, sizeof(*p));
	p->key = key | 1ull << 63;   /* ids are never 0 */
	p->limit = limit;
	if (pthread_rwlock_init(&p->lock, NULL) != 0)
		return -ENOMEM;
	p->live = 1;
	return 0;
}

/* Slot of wire id, or -1. Under the lock. */
static int slot_of(const struct vgpu_pinned *p, uint64_t id)
{
	uint64_t s = (id ^ p->key) - 1;

	return s < p->n && p->r[s].base ? (int)s : -1;
}

/* A region refused: its memfd closed, or the worker's own mapping released. */
static void give_back(int fd, void *base, void (*release)(void *, void *, uint64_t), void *rctx, uint64_t bytes)
{
	if (fd >= 0)
		close(fd);
	else
		release(rctx, base, bytes);
}

/*
 * Where a memfd region is mapped. The zone learns the address (with unified addressing it is
 * its kernels' address), so it is drawn at random, 2 MiB aligned, in [16 TiB, 96 TiB) of the
 * address space, away from the worker's libraries, heap and stacks, and says nothing of where
 * those are. hint (a region's address before its zone moved here) is tried first, so that the
 * pointers the zone's kernels were given stay valid. Never over anything mapped already
 * (MAP_FIXED_NOREPLACE); anywhere when no such place is free.
 */
static void *map_placed(int fd, uint64_t bytes, uint64_t hint)
{
	void *m;
	for (int i = 0; i < 9; i++) {
		uint64_t at = hint, r;
		if (i > 0 || !hint) {
			if (getrandom(&r, sizeof(r), 0) != sizeof(r))
				break;
			at = (0x100000000000ull + r % 0x500000000000ull) & ~0x1fffffull;
		}
		m = mmap((void *)(uintptr_t)at, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
		if (m == (void *)(uintptr_t)at)
			return m;
		if (m != MAP_FAILED)
			munmap(m, bytes);   /* a kernel without MAP_FIXED_NOREPLACE put it elsewhere */
	}
	return mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

/* map (at == UINT32_MAX: the first free slot) or map_at of memfd fd (near hint, see
 * map_placed); or, with fd < 0, the worker's own mapping base (released with release on
 * failure). */
static CUresult map_region(struct vgpu_pinned *p, int fd, void *base, void (*release)(void *, void *, uint64_t),
			   void *rctx, uint64_t bytes, const struct vgpu_pinned_drv *d, uint32_t at, uint64_t hint,
			   uint64_t *id, const char **why)
{
	const int need = F_SEAL_SHRINK | F_SEAL_GROW;
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	CUresult res = CUDA_SUCCESS;
	void *m = MAP_FAILED;
	int seals;

	*why = "";
	if (fd < 0) {
		if (bytes == 0 || bytes % (uint64_t)page) {
			*why = "the region's size is not a non-zero multiple of the page size";
			res = CUDA_ERROR_INVALID_VALUE;
		}
	} else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = "the passed descriptor is not a memfd";
		res = CUDA_ERROR_INVALID_VALUE;
	} else if ((seals = fcntl(fd, F_GET_SEALS)) < 0 || (seals & need) != need) {
		/* unsealed, the zone could shrink it under our mapping and make us fault */
		*why = "the memfd is not sealed against shrinking and growing";
		res = CUDA_ERROR_INVALID_VALUE;
	} else if (bytes == 0 || (uint64_t)st.st_size != bytes || bytes % (uint64_t)page) {
		*why = "the memfd's size is not the declared size (a non-zero multiple of the page size)";
		res = CUDA_ERROR_INVALID_VALUE;
	}
	if (res != CUDA_SUCCESS) {
		give_back(fd, base, release, rctx, bytes);
		return res;
	}
	pthread_rwlock_wrlock(&p->lock);
	uint32_t s = 0;
	if (at == UINT32_MAX) {
		while (s < p->n && p->r[s].base)
			s++;
	} else {
		s = at;
	}
	if (at != UINT32_MAX && (at >= VGPU_PINNED_MAX_REGIONS || (at < p->n && p->r[at].base))) {
		*why = "that region slot is taken or out of range";
		res = CUDA_ERROR_INVALID_VALUE;
	} else if (bytes > p->limit || p->bytes > p->limit - bytes) {
		*why = "the zone's pinned-memory quota (--zone-pinned-limit) would be exceeded";
		res = CUDA_ERROR_OUT_OF_MEMORY;
	} else if (s == VGPU_PINNED_MAX_REGIONS) {
		*why = "the zone has as many pinned regions as it may";
		res = CUDA_ERROR_OUT_OF_MEMORY;
	} else if (s >= p->cap) {
		uint32_t cap = p->cap ? p->cap : 16;
		while (cap <= s)
			cap *= 2;
		struct vgpu_pinned_region *r = realloc(p->r, cap * sizeof(*r));
		if (r) {
			memset(r + p->cap, 0, (cap - p->cap) * sizeof(*r));
			p->r = r;
			p->cap = cap;
		} else {
			*why = "out of memory";
			res = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	if (res == CUDA_SUCCESS && fd < 0)
		m = base;
	else if (res == CUDA_SUCCESS && (m = map_placed(fd, bytes, hint)) == MAP_FAILED) {
		*why = "mapping the region failed";
		res = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (res != CUDA_SUCCESS)
		give_back(fd, base, release, rctx, bytes);
	if (res == CUDA_SUCCESS) {
		/* On a GPU the driver then DMAs straight from and to it (failing that it stages), and
		 * the zone's kernels may address it (mapped pinned memory, zero-copy access). */
		CUdeviceptr dp = 0;
		int reg = d->host_register &&
			  (d->host_register(m, bytes, CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_PORTABLE) ==
				   CUDA_SUCCESS ||
			   d->host_register(m, bytes, 0) == CUDA_SUCCESS);
		if (reg && d->host_dptr && d->host_dptr(&dp, m, 0) != CUDA_SUCCESS)
			dp = 0;
		p->r[s] = (struct vgpu_pinned_region){ m, bytes, reg, (uint64_t)dp, fd, fd < 0 ? release : NULL, rctx };
		for (uint32_t k = p->n; k < s; k++)
			p->r[k] = (struct vgpu_pinned_region){ .fd = -1 };   /* free slots below it */
		if (s >= p->n)
			p->n = s + 1;
		p->bytes += bytes;
		__atomic_store_n(&p->gen, vgpu_table_gen_next(), __ATOMIC_RELEASE);
		*id = p->key ^ ((uint64_t)s + 1);
	}
	pthread_rwlock_unlock(&p->lock);
	return res;
}

CUresult vgpu_pinned_map(struct vgpu_pinned *p, int fd, uint64_t bytes, const struct vgpu_pinned_drv *d,
			 uint64_t *id /* out */, const char **why /* out */)
{
	return map_region(p, fd, NULL, NULL, NULL, bytes, d, UINT32_MAX, 0, id, why);
}

CUresult vgpu_pinned_map_mem(struct vgpu_pinned *p, void *base, uint64_t bytes,
			     void (*release)(void *ctx, void *base, uint64_t bytes), void *ctx,
			     const struct vgpu_pinned_drv *d, uint64_t *id, const char **why)
{
	return map_region(p, -1, base, release, ctx, bytes, d, UINT32_MAX, 0, id, why);
}

int vgpu_pinned_export(struct vgpu_pinned *p, uint32_t i, int *fd, uint64_t *bytes, uint64_t *addr)
{
	pthread_rwlock_rdlock(&p->lock);
	/* a region the worker mapped itself (a Xen guest's grants) has no descriptor to hand
	 * over; Xen zones are never taken over (their channels cannot move either) */
	int rc = i >= p->n ? -1 : p->r[i].base && p->r[i].fd >= 0 ? 1 : 0;
	if (rc == 1) {
		*fd = p->r[i].fd;
		*bytes = p->r[i].bytes;
		*addr = (uint64_t)(uintptr_t)p->r[i].base;
	}
	pthread_rwlock_unlock(&p->lock);
	return rc;
}

CUresult vgpu_pinned_map_at(struct vgpu_pinned *p, uint64_t key, uint32_t slot, int fd, uint64_t bytes,
			    uint64_t hint, const struct vgpu_pinned_drv *d, const char **why)
{
	uint64_t id;
	pthread_rwlock_wrlock(&p->lock);
	int empty = p->bytes == 0;
	if (empty)
		p->key = key | 1ull << 63;
	int ok = p->key == (key | 1ull << 63);
	pthread_rwlock_unlock(&p->lock);
	if (!ok) {
		*why = "the zone's region ids were set already";
		close(fd);
		return CUDA_ERROR_INVALID_VALUE;
	}
	return map_region(p, fd, NULL, NULL, NULL, bytes, d, slot, hint, &id, why);
}

static void region_free(struct vgpu_pinned *p, uint32_t s, const struct vgpu_pinned_drv *d)
{
	struct vgpu_pinned_region *r = &p->r[s];

	if (r->registered && d->host_unregister)
		d->host_unregister(r->base);
	if (r->release)
		r->release(r->release_ctx, r->base, r->bytes);
	else
		munmap(r->base, r->bytes);
	if (r->fd >= 0)
		close(r->fd);
	p->bytes -= r->bytes;
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	__atomic_store_n(&p->gen, vgpu_table_gen_next(), __ATOMIC_RELEASE);
}

CUresult vgpu_pinned_unmap(struct vgpu_pinned *p, uint64_t id, const struct vgpu_pinned_drv *d)
{
	pthread_rwlock_wrlock(&p->lock);
	int s = slot_of(p, id);
	if (s >= 0) {
		/* like the driver's cuMemFreeHost: the copies queued on it are finished first */
		if (d->ctx_synchronize)
			d->ctx_synchronize();
		region_free(p, (uint32_t)s, d);
	}
	pthread_rwlock_unlock(&p->lock);
	return s >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

void *vgpu_pinned_get(struct vgpu_pinned *p, uint64_t id, uint64_t off, uint64_t len)
{
	pthread_rwlock_rdlock(&p->lock);
	int s = slot_of(p, id);
	if (s >= 0 && off <= p->r[s].bytes && len <= p->r[s].bytes - off)
		return (char *)p->r[s].base + off;
	pthread_rwlock_unlock(&p->lock);
	return NULL;
}

CUresult vgpu_pinned_where(struct vgpu_pinned *p, uint64_t id, uint64_t *addr, uint64_t *dptr)
{
	pthread_rwlock_rdlock(&p->lock);
	int s = slot_of(p, id);
	if (s >= 0) {
		*addr = (uint64_t)(uintptr_t)p->r[s].base;
		*dptr = p->r[s].dptr;
	}
	pthread_rwlock_unlock(&p->lock);
	return s >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

int vgpu_pinned_covers(struct vgpu_pinned *p, uint64_t d, uint64_t len)
{
	int rc = -EFAULT;
	if (!p->live)
		return rc;
	pthread_rwlock_rdlock(&p->lock);
	for (uint32_t i = 0; i < p->n && rc; i++) {
		const struct vgpu_pinned_region *r = &p->r[i];
		if (r->base && r->dptr && d >= r->dptr && d - r->dptr <= r->bytes && len <= r->bytes - (d - r->dptr))
			rc = 0;
	}
	pthread_rwlock_unlock(&p->lock);
	return rc;
}

int vgpu_pinned_gap(struct vgpu_pinned *p, uint64_t d, uint64_t len, uint64_t *lo, uint64_t *hi, uint64_t *gen)
{
	int rc = 0;
	if (gen)
		*gen = 0;
	if (!p->live)
		return rc;
	pthread_rwlock_rdlock(&p->lock);
	if (gen)
		*gen = p->gen;
	uint64_t last = d + len - 1;
	for (uint32_t i = 0; i < p->n && !rc; i++) {
		const struct vgpu_pinned_region *r = &p->r[i];
		if (!r->base || !r->dptr)
			continue;
		uint64_t end = r->dptr + r->bytes;   /* exclusive; a device range never wraps */
		if (r->dptr <= last && end > d)
			rc = -EEXIST;
		else if (end <= d && end > *lo)
			*lo = end;
		else if (r->dptr > last && r->dptr < *hi)
			*hi = r->dptr;
	}
	pthread_rwlock_unlock(&p->lock);
	return rc;
}

uint32_t vgpu_pinned_granted(struct vgpu_pinned *p)
{
	uint32_t n = 0;
	pthread_rwlock_rdlock(&p->lock);
	for (uint32_t i = 0; i < p->n; i++)
		n += p->r[i].base && p->r[i].fd < 0;
	pthread_rwlock_unlock(&p->lock);
	return n;
}

void vgpu_pinned_put(struct vgpu_pinned *p)
{
	pthread_rwlock_unlock(&p->lock);
}

void vgpu_pinned_fini(struct vgpu_pinned *p, const struct vgpu_pinned_drv *d)
{
	if (!p->live)
		return;
	for (uint32_t s = 0; s < p->n; s++)
		if (p->r[s].base)
			region_free(p, s, d);
	free(p->r);
	pthread_rwlock_destroy(&p->lock);
	memset(p, 0, sizeof(*p));
}
