/* SPDX-License-Identifier: MIT */
/* hostmem.c — page-locked host memory calls, answered in the zone (its memory never leaves it). */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14 */
#endif

#include <xengnttab.h>

#include "advice.h"
#include "custom_wire.h"
#include "session.h"

/*
 * Pinned host memory. cuMemHostAlloc/cuMemAllocHost (and cudaMallocHost through them) make
 * a sealed memfd, map it and pass it to the zone's worker, which maps it too (and, on a GPU,
 * registers it with the driver): a copy between it and device memory then names (region,
 * offset, length) and moves no byte through the ring (VGPU_OP_PINNED_*, session.h). The
 * worker checks every range it is named; the regions count against the zone's pinned quota.
 * In a Xen guest the region is pages granted to Dom0 instead (gntalloc), which the worker
 * maps (VGPU_OP_PINNED_GRANT): the same copies without the ring, across domains.
 * Where that is not possible (quota reached, no gntalloc, VGPU_PINNED=0) the memory is
 * ordinary memory of the zone, copied through the ring's bulk area like pageable memory;
 * one log line says so. Registered ranges (cuMemHostRegister) are remembered so
 * cuMemHostGetFlags and cuPointerGetAttribute answer as the driver would. One of whole pages
 * of private anonymous memory is shared with the worker too (share_registered: a memfd takes
 * the pages' place, same contents, same address), so its copies skip the ring and kernels
 * reach it at the worker's address; any other is copied through the ring.
 *
 * Kernels reach a shared region too (mapped pinned memory): the worker registers it with the
 * driver as mapped and says where (VGPU_OP_PINNED_WHERE): its own address of the region and
 * the device address its kernels use. With unified addressing the two are the same, and the
 * zone maps the region at that address as well when it is free in its own address space, so
 * the program's pointer is the kernels' pointer, as on a GPU without vgpu;
 * cuMemHostGetDevicePointer answers the device address in every case.
 *
 * Managed memory (cuMemAllocManaged, cudaMallocManaged) is such a region too, given to the
 * program only when its pointer is the kernels' (else CUDA_ERROR_NOT_SUPPORTED, said once):
 * host and kernels share its pages. On a GPU its kernels then read and write host memory
 * over the bus instead of pages the driver migrates: slower, never wrong. Prefetching and
 * advice have nothing to move: they check their range, and what they set is kept for
 * cuMemRangeGetAttribute (runtime/advice.c).
 */
struct hrange {
	void *base;
	size_t len;
	unsigned flags;
	int owned;   /* 1 cuMemHostAlloc (freed by cuMemFreeHost), 0 registered, OWNED_MANAGED */
	uint64_t id; /* the worker's id of the region shared with it; 0: not shared */
	int fd;      /* a shared region's memfd, offered again if the zone is restored (-1: none) */
	uint64_t dptr; /* the device address of base for kernels (a shared region), 0: none */
};

#define OWNED_MANAGED 2   /* cuMemAllocManaged (freed by cuMemFree) */

static struct {
	pthread_mutex_t lock;
	struct hrange *r;
	size_t n, cap;
	unsigned shared;   /* ranges with an id: every copy asks, most find none (read unlocked) */
} hmap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int hmap_add(void *p, size_t len, unsigned flags, int owned, uint64_t id, int fd, uint64_t dptr)
{
	pthread_mutex_lock(&hmap.lock);
	if (hmap.n == hmap.cap) {
		size_t cap = hmap.cap ? hmap.cap * 2 : 16;
		struct hrange *r = realloc(hmap.r, cap * sizeof(*r));
		if (!r) {
			pthread_mutex_unlock(&hmap.lock);
			return -1;
		}
		hmap.r = r;
		hmap.cap = cap;
	}
	hmap.r[hmap.n++] = (struct hrange){ p, len, flags, owned, id, fd, dptr };
	if (id)
		__atomic_add_fetch(&hmap.shared, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&hmap.lock);
	return 0;
}

/* Remove the range starting at p; returns it through *out. 0 found, -1 not. */
static int hmap_take(void *p, int owned, struct hrange *out /* out */)
{
	int rc = -1;

	pthread_mutex_lock(&hmap.lock);
	for (size_t i = 0; i < hmap.n; i++) {
		if (hmap.r[i].base == p && hmap.r[i].owned == owned) {
			*out = hmap.r[i];
			if (hmap.r[i].id)
				__atomic_sub_fetch(&hmap.shared, 1, __ATOMIC_RELAXED);
			hmap.r[i] = hmap.r[--hmap.n];
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&hmap.lock);
	return rc;
}

/* The range holding [p, p + n) (n = 0: p itself, or the end of a range), or NULL; ranges never
 * overlap. Under hmap.lock. */
static const struct hrange *hmap_find(const void *p, size_t n)
{
	for (size_t i = 0; i < hmap.n; i++) {
		uintptr_t b = (uintptr_t)hmap.r[i].base, a = (uintptr_t)p;
		size_t off = (size_t)(a - b);
		if (a >= b && off <= hmap.r[i].len && n <= hmap.r[i].len - off && (n || off < hmap.r[i].len))
			return &hmap.r[i];
	}
	return NULL;
}

int vgpu_hostmem_lookup(const void *p, unsigned *flags /* out */, uint64_t *dptr /* out */)
{
	pthread_mutex_lock(&hmap.lock);
	const struct hrange *r = hmap_find(p, 0);
	if (r) {
		/* the driver reports every allocation kernels can reach as mapped */
		if (flags)
			*flags = r->flags | (r->dptr ? CU_MEMHOSTALLOC_DEVICEMAP : 0);
		if (dptr)
			*dptr = r->dptr ? r->dptr + (uint64_t)((const char *)p - (const char *)r->base) : 0;
	}
	pthread_mutex_unlock(&hmap.lock);
	return r ? 0 : -1;
}

int vgpu_hostmem_pinned(const void *p, size_t n, uint64_t *id /* out */, uint64_t *off /* out */)
{
	if (!__atomic_load_n(&hmap.shared, __ATOMIC_RELAXED))
		return -1;   /* no region shared with the worker: a pageable copy pays no lock */
	pthread_mutex_lock(&hmap.lock);
	const struct hrange *r = hmap_find(p, n);
	int rc = r && r->id ? 0 : -1;
	if (rc == 0) {
		*id = r->id;
		*off = (uint64_t)((const char *)p - (const char *)r->base);
	}
	pthread_mutex_unlock(&hmap.lock);
	return rc;
}

/* [p, p + n) inside one managed allocation: 1 with a copy of its range in *out (may be NULL). */
static int managed_find(const void *p, size_t n, struct hrange *out)
{
	if (!__atomic_load_n(&hmap.shared, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&hmap.lock);
	const struct hrange *r = hmap_find(p, n);
	int m = r && r->owned == OWNED_MANAGED;
	if (m && out)
		*out = *r;
	pthread_mutex_unlock(&hmap.lock);
	return m;
}

int vgpu_hostmem_managed(const void *p)
{
	return managed_find(p, 1, NULL);
}

int vgpu_hostmem_kernel_reachable(const void *p, size_t n)
{
	if (!__atomic_load_n(&hmap.shared, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&hmap.lock);
	const struct hrange *r = hmap_find(p, n ? n : 1);
	int k = r && r->dptr;
	pthread_mutex_unlock(&hmap.lock);
	return k;
}

int vgpu_hostmem_offer(int sock)
{
	struct vgpu_rejoin_pinned rec = { .magic = VGPU_REJOIN_PINNED_MAGIC };
	int rc = 0;

	pthread_mutex_lock(&hmap.lock);
	for (size_t i = 0; i < hmap.n && rc == 0; i++) {
		if (!hmap.r[i].id || hmap.r[i].fd < 0)
			continue;
		rec.id = hmap.r[i].id;
		rec.bytes = hmap.r[i].len;
		rc = vgpu_fds_send(sock, &rec, sizeof(rec), &hmap.r[i].fd, 1);
	}
	pthread_mutex_unlock(&hmap.lock);
	rec.id = rec.bytes = 0;
	return rc < 0 ? rc : vgpu_fds_send(sock, &rec, sizeof(rec), NULL, 0);
}

/*
 * Registered pages that were shared with the worker go back to being the program's private
 * memory, with their contents (those of region fd, mapped at p): a private anonymous copy
 * moved over them in one step.
 */
static int privatize(void *p, size_t len, int fd)
{
	/*
	 * Fresh pages cost more than the copy on a virtual machine (a fault per page: 1-13 us
	 * each, against 0.1 ms for 4 MiB copied): the copy is allocated at the same offset from
	 * a 2 MiB boundary as p, so that its huge pages (where the system gives them) stay huge
	 * pages at p, and populated in one call before it is written.
	 */
	const size_t huge = 2u << 20;
	size_t span = len + huge;
	uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return -1;
	uint8_t *q = raw + (((uintptr_t)p - (uintptr_t)raw) & (huge - 1));
	if (q > raw)
		munmap(raw, (size_t)(q - raw));
	if (raw + span > q + len)
		munmap(q + len, (size_t)(raw + span - (q + len)));
	(void)madvise(q, len, MADV_HUGEPAGE);
	(void)madvise(q, len, MADV_POPULATE_WRITE);   /* (where the kernel has it; else the copy faults them in) */
	/* the contents read by the kernel from the region's pages (reading them through p would
	 * fault each page the program has not touched since it was registered) */
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, q + done, len - done, (off_t)done);
		if (r > 0)
			done += (size_t)r;
		else if (r == 0 || errno != EINTR)
			break;
	}
	if (done < len)
		memcpy(q + done, (const uint8_t *)p + done, len - done);
	if (mremap(q, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, p) == MAP_FAILED) {
		munmap(q, len);
		return -1;
	}
	return 0;
}

/* After fork the child's zone is a new one: the parent's regions are not shared with it, and
 * registered pages shared with the parent's worker become the child's own again (without
 * that, the child's writes to its copy of the program's memory would reach the parent). */
static void hostmem_atfork_child(void)
{
	pthread_mutex_init(&hmap.lock, NULL);
	for (size_t i = 0; i < hmap.n; i++) {
		if (hmap.r[i].owned == 0 && hmap.r[i].fd >= 0)
			(void)privatize(hmap.r[i].base, hmap.r[i].len, hmap.r[i].fd);
		hmap.r[i].id = 0;
		hmap.r[i].dptr = 0;   /* nor do the child's kernels reach them */
		if (hmap.r[i].fd >= 0)
			close(hmap.r[i].fd);
		hmap.r[i].fd = -1;
	}
	hmap.shared = 0;
}

__attribute__((constructor)) static void hostmem_ctor(void)
{
	pthread_atfork(NULL, NULL, hostmem_atfork_child);
}

/* Xen: the guest's handle for granting pages (opened once, kept). */
static pthread_mutex_t gs_lock = PTHREAD_MUTEX_INITIALIZER;
static xengntshr_handle *gs;

/* Said once per process: pinned memory that could not be shared is ordinary memory. */
static void pinned_refused(size_t bytes, CUresult r, const char *why)
{
	static int off_logged;
	if (!__atomic_exchange_n(&off_logged, 1, __ATOMIC_RELAXED))
		vgpu_client_log(1, "pinned host memory of %zu bytes could not be shared with vgpu-proxy "
				"(%s); it is ordinary memory, copied through the ring", bytes,
				why ? why : r == CUDA_ERROR_NOT_SUPPORTED ? "the transport cannot pass it" :
				r == CUDA_ERROR_OUT_OF_MEMORY ? "the zone's pinned quota is used up" : "refused by the proxy");
}

/* Where the worker has region id (its address) and where its kernels reach it (0: they
 * cannot, or a proxy that does not say). */
static void region_where(uint64_t id, uint64_t *addr /* out */, uint64_t *dptr /* out */)
{
	uint64_t *pa = addr, *pd = dptr;
	void *av[VGPU_PWW_NARGS] = { [VGPU_PWW_ID] = &id, [VGPU_PWW_ADDR] = &pa, [VGPU_PWW_DPTR] = &pd };
	if (vgpu_pinned_call(&vgpu_wire_pinned_where, av, -1) != CUDA_SUCCESS)
		*addr = *dptr = 0;
}

/* In a Xen guest: bytes (page multiple) of pages granted to Dom0, which the zone's worker maps
 * and answers with its id and the region's device address (0: none); NULL (nothing left
 * behind) when that is not possible. */
static void *granted_region(size_t bytes, uint64_t *id /* out */, uint64_t *dptr /* out */)
{
	uint32_t n = (uint32_t)(bytes / 4096u);
	if (bytes % 4096u || n == 0 || n > VGPU_PINNED_GRANT_MAX_PAGES) {
		pinned_refused(bytes, CUDA_ERROR_NOT_SUPPORTED, "a granted region holds at most 64 MiB");
		return NULL;
	}
	pthread_mutex_lock(&gs_lock);
	if (!gs)
		gs = xengntshr_open(NULL, 0);
	xengntshr_handle *h = gs;
	pthread_mutex_unlock(&gs_lock);
	uint32_t *refs = h ? malloc((size_t)n * sizeof(*refs)) : NULL;
	void *p = refs ? xengntshr_share_pages(h, 0, n, refs, 1) : NULL;
	if (!p) {
		free(refs);
		pinned_refused(bytes, CUDA_ERROR_NOT_SUPPORTED, !h ? "no gntalloc device to grant its pages" :
			       "granting its pages failed: the guest's grant table is full (max_grant_frames)");
		return NULL;
	}
	uint64_t want = bytes, *pid = id;
	const uint32_t *pr = refs;
	void *av[VGPU_PGW_NARGS] = { [VGPU_PGW_BYTES] = &want, [VGPU_PGW_NREFS] = &n, [VGPU_PGW_REFS] = &pr,
				     [VGPU_PGW_ID] = &pid };
	CUresult r = vgpu_pinned_call(&vgpu_wire_pinned_grant, av, -1);
	free(refs);
	if (r != CUDA_SUCCESS) {
		xengntshr_unshare(h, p, n);
		pinned_refused(bytes, r, NULL);
		return NULL;
	}
	uint64_t addr;
	region_where(*id, &addr, dptr);   /* granted pages stay where the guest has them */
	return p;
}

/*
 * A region shared with the worker: a sealed memfd of bytes (page multiple) mapped here,
 * passed to the worker, which answers with its id, then says where it has it and where its
 * kernels reach it (*dptr, 0: they cannot). Mapped here at the worker's address when that is
 * also the kernels' and free here: then kernels take the program's own pointers. NULL
 * (nothing left behind) when the transport, the quota or the system does not allow it.
 */
/*
 * A sealed memfd of bytes (page multiple), mapped here (map; NULL: not mapped) and passed to
 * the zone's worker, which maps it too (sealed: it refuses one that could shrink under its
 * mapping) and answers with its id. The fd, with *map and *id set; or -1 with nothing left
 * behind, *why saying whether the worker refused (CUDA_SUCCESS: the system did).
 */
static int worker_region(size_t bytes, const char *name, void **map /* out */, uint64_t *id /* out */,
			 CUresult *why /* out */)
{
	uint64_t want = bytes, *pid = id;
	void *av[VGPU_PMW_NARGS] = { [VGPU_PMW_BYTES] = &want, [VGPU_PMW_ID] = &pid };
	void *p = MAP_FAILED;
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	*why = CUDA_SUCCESS;
	if (fd < 0)
		return -1;
	int sealed = ftruncate(fd, (off_t)bytes) == 0 &&
		     fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0;
	if (sealed && map)
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sealed && (!map || p != MAP_FAILED) &&
	    (*why = vgpu_pinned_call(&vgpu_wire_pinned_map, av, fd)) == CUDA_SUCCESS) {
		if (map)
			*map = p;
		return fd;
	}
	if (p != MAP_FAILED)
		munmap(p, bytes);
	close(fd);
	return -1;
}

/* The worker lets region id go (after the copies queued on it). */
static void worker_unmap(uint64_t id)
{
	void *av[VGPU_PUW_NARGS] = { [VGPU_PUW_ID] = &id };
	(void)vgpu_pinned_call(&vgpu_wire_pinned_unmap, av, -1);
}

static void *pinned_region(size_t bytes, uint64_t *id /* out */, int *kept /* out */, uint64_t *dptr /* out */)
{
	const char *e = getenv("VGPU_PINNED");
	CUresult r;
	void *p = NULL;
	int fd;

	if (e && !strcmp(e, "0"))
		return NULL;
	*dptr = 0;
	if (vgpu_client_xen())
		return granted_region(bytes, id, dptr);
	if ((fd = worker_region(bytes, "vgpu-pinned", &p, id, &r)) < 0) {
		if (r != CUDA_SUCCESS)
			pinned_refused(bytes, r, NULL);
		return NULL;
	}
	*kept = fd;   /* offered again should the zone be restored elsewhere (rejoining) */
	uint64_t addr;
	region_where(*id, &addr, dptr);
	if (*dptr && *dptr == addr && addr != (uint64_t)(uintptr_t)p) {
		void *q = mmap((void *)(uintptr_t)addr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE,
			       fd, 0);
		if (q == (void *)(uintptr_t)addr) {
			munmap(p, bytes);
			p = q;
		} else if (q != MAP_FAILED) {
			munmap(q, bytes);   /* a kernel without MAP_FIXED_NOREPLACE placed it elsewhere */
		}
	}
	return p;
}

/* Unmap here and, for a shared region, in the worker (after the copies queued on it). */
static void pinned_unmap(void *p, size_t len, uint64_t id)
{
	if (id) {
		worker_unmap(id);
		if (vgpu_client_xen() && gs) {   /* in a Xen guest every shared region is granted pages */
			xengntshr_unshare(gs, p, (uint32_t)(len / 4096u));
			return;
		}
	}
	munmap(p, len);
}

static CUresult need_init(void)
{
	CUresult err = CUDA_SUCCESS;
	return vgpu_conn_get(&err) ? CUDA_SUCCESS : err;
}

CUresult CUDAAPI cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
	CUresult r = need_init();
	void *p;

	if (r != CUDA_SUCCESS)
		return r;
	if (!pp || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (Flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED))
		return CUDA_ERROR_INVALID_VALUE;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (bytesize + page - 1) & ~(page - 1);
	uint64_t id = 0, dptr = 0;
	int fd = -1;
	p = pinned_region(len, &id, &fd, &dptr);
	if (!p) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return CUDA_ERROR_OUT_OF_MEMORY;
	}
	(void)mlock(p, len); /* best effort: RLIMIT_MEMLOCK may forbid it */
	if (hmap_add(p, len, Flags, 1, id, fd, dptr) < 0) {
		if (fd >= 0)
			close(fd);
		pinned_unmap(p, len, id);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*pp = p;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	CUresult r = need_init();

	if (r != CUDA_SUCCESS)
		return r;
	if (!dptr || bytesize == 0 || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
		return CUDA_ERROR_INVALID_VALUE;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (bytesize + page - 1) & ~(page - 1);
	uint64_t id = 0, d = 0;
	int fd = -1;
	void *p = len >= bytesize ? pinned_region(len, &id, &fd, &d) : NULL;
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;   /* the pinned quota (or the system) said no; logged */
	if (d != (uint64_t)(uintptr_t)p) {
		/* kernels would not see the program's pointer: not managed memory as programs use it */
		close(fd);
		pinned_unmap(p, len, id);
		return vgpu_client_unsupported("cuMemAllocManaged where the zone cannot map its region at the "
					       "kernels' address");
	}
	if (vgpu_advice_track((uint64_t)(uintptr_t)p, len) < 0 || hmap_add(p, len, flags, OWNED_MANAGED, id, fd, d) < 0) {
		vgpu_advice_untrack((uint64_t)(uintptr_t)p);
		close(fd);
		pinned_unmap(p, len, id);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*dptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

int vgpu_hostmem_free_managed(CUdeviceptr p)
{
	struct hrange h;

	if (!p || !__atomic_load_n(&hmap.shared, __ATOMIC_RELAXED) || hmap_take((void *)(uintptr_t)p, OWNED_MANAGED, &h) < 0)
		return -1;
	pinned_unmap(h.base, h.len, h.id);   /* the worker finishes the work queued on it first */
	if (h.fd >= 0)
		close(h.fd);
	vgpu_advice_untrack((uint64_t)(uintptr_t)h.base);
	return 0;
}

/* Prefetching and advice: the pages are where both sides use them; the range is checked. */
static CUresult managed_range(CUdeviceptr p, size_t n)
{
	CUresult err;

	if (!vgpu_conn_get(&err))
		return err;
	return n && managed_find((const void *)(uintptr_t)p, n, NULL) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuMemPrefetchAsync_v2(CUdeviceptr p, size_t n, CUmemLocation loc, unsigned int flags, CUstream s)
{
	(void)s;
	CUresult r = flags || !vgpu_advice_location_ok(loc) ? CUDA_ERROR_INVALID_VALUE : managed_range(p, n);
	if (r == CUDA_SUCCESS)
		(void)vgpu_advice_prefetch(p, n, loc);   /* answered by cuMemRangeGetAttribute */
	return r;
}

CUresult CUDAAPI cuMemPrefetchAsync_v2_ptsz(CUdeviceptr p, size_t n, CUmemLocation loc, unsigned int flags,
					     CUstream s)
{
	return cuMemPrefetchAsync_v2(p, n, loc, flags, s);
}

CUresult CUDAAPI cuMemAdvise_v2(CUdeviceptr p, size_t n, CUmem_advise advice, CUmemLocation loc)
{
	if ((unsigned)advice < CU_MEM_ADVISE_SET_READ_MOSTLY || (unsigned)advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = managed_range(p, n);
	if (r == CUDA_SUCCESS)
		(void)vgpu_advice_advise(p, n, advice, loc);
	return r;
}

/* Attaching managed memory to a stream limits who may touch it while work runs: the pages are
 * shared all the time, so the attachment is checked (the whole allocation, a known kind) and
 * has nothing more to do. */
CUresult CUDAAPI cuStreamAttachMemAsync(CUstream s, CUdeviceptr p, size_t length, unsigned int flags)
{
	CUresult err;
	struct hrange h;

	(void)s;
	if (!vgpu_conn_get(&err))
		return err;
	if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST && flags != CU_MEM_ATTACH_SINGLE)
		return CUDA_ERROR_INVALID_VALUE;
	/* length: 0, or the allocation (from its start; its size here is rounded up to pages) */
	if (!managed_find((const void *)(uintptr_t)p, 1, &h) ||
	    (length && ((uintptr_t)p != (uintptr_t)h.base || length > h.len)))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamAttachMemAsync_ptsz(CUstream s, CUdeviceptr p, size_t length, unsigned int flags)
{
	return cuStreamAttachMemAsync(s, p, length, flags);
}

CUresult CUDAAPI cuMemAllocHost_v2(void **pp, size_t bytesize)
{
	return cuMemHostAlloc(pp, bytesize, 0);
}

CUresult CUDAAPI cuMemFreeHost(void *p)
{
	struct hrange h;

	if (!p)
		return CUDA_SUCCESS;   /* as the driver: free(NULL) */
	if (hmap_take(p, 1, &h) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	pinned_unmap(h.base, h.len, h.id);
	if (h.fd >= 0)
		close(h.fd);
	return CUDA_SUCCESS;
}

/*
 * [p, p + n) (page-aligned) is wholly inside one private anonymous writable mapping of this
 * process (the heap, or memory from mmap): pages that only this process uses and that no file
 * stands behind, which may therefore become a shared region with the same contents.
 */
static int private_anonymous(uintptr_t p, size_t n)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int ok = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, inode;
		char perms[8] = "", path[256] = "";
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %255s", &lo, &hi, perms, &inode, path) < 4)
			continue;
		if (p < lo || p >= hi)
			continue;
		ok = p + n <= hi && !strcmp(perms, "rw-p") && inode == 0 && (!path[0] || !strcmp(path, "[heap]"));
		break;
	}
	fclose(f);
	return ok;
}

/*
 * Registered memory shared with the worker, so that its copies move no byte through the ring
 * and kernels reach it (through cuMemHostGetDevicePointer: the worker's address differs). Only
 * where the range is whole pages of private anonymous memory: then a sealed memfd the worker
 * maps takes the pages' place, with their contents, and the program sees the same memory at
 * the same address. A range that shares its first or last page with other data stays as it is
 * (another thread writing there while the pages are replaced would lose the write), as does a
 * file's or shared memory; such ranges are copied through the ring. 0, or -1 with nothing
 * changed.
 */
static int share_registered(void *p, size_t n, uint64_t *id /* out */, int *kept /* out */, uint64_t *dptr /* out */)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const char *e = getenv("VGPU_PINNED_REGISTER");
	uint64_t addr = 0;
	CUresult why;
	int fd;

	if ((e && !strcmp(e, "0")) || vgpu_client_xen() || ((uintptr_t)p | n) & (page - 1) ||
	    !private_anonymous((uintptr_t)p, n))
		return -1;
	if ((e = getenv("VGPU_PINNED")) && !strcmp(e, "0"))
		return -1;
	if ((fd = worker_region(n, "vgpu-registered", NULL, id, &why)) < 0)
		return -1;
	/* the contents, then the region in the pages' place: from here the program's pointer
	 * names the shared pages. The kernel writes the contents, allocating the region's pages
	 * as it goes (copying through a mapping would take a page fault per page), and the
	 * mapping is populated at once. */
	int ok = 1;
	for (size_t done = 0; ok && done < n;) {
		ssize_t w = pwrite(fd, (const char *)p + done, n - done, (off_t)done);
		if (w > 0)
			done += (size_t)w;
		else
			ok = w < 0 && errno == EINTR;
	}
	void *at = ok ? mmap(p, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) : MAP_FAILED;
	if (at != p) {
		worker_unmap(*id);
		close(fd);
		return -1;
	}
	region_where(*id, &addr, dptr);
	*kept = fd;
	return 0;
}

/* Registered pages shared with the worker given back: the worker lets go, the pages become
 * the program's private memory again with their contents, the memfd is closed. 0 or -1 (the
 * pages could not be made private: they keep their contents in the memfd's pages). */
static int unshare_registered(void *p, size_t len, uint64_t id, int fd)
{
	if (id)
		worker_unmap(id);
	int rc = privatize(p, len, fd);
	close(fd);
	return rc;
}

CUresult CUDAAPI cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
	CUresult r = need_init();
	uint64_t id = 0, dptr = 0;
	int fd = -1;

	if (r != CUDA_SUCCESS)
		return r;
	if (!p || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (Flags & CU_MEMHOSTREGISTER_IOMEMORY)
		return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&hmap.lock);
	int taken = hmap_find(p, 1) || hmap_find((const char *)p + bytesize - 1, 1);
	pthread_mutex_unlock(&hmap.lock);
	if (taken)
		return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	(void)share_registered(p, bytesize, &id, &fd, &dptr);
	if (hmap_add(p, bytesize, Flags, 0, id, fd, dptr) < 0) {
		if (fd >= 0)
			(void)unshare_registered(p, bytesize, id, fd);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostUnregister(void *p)
{
	struct hrange h;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;   /* as the driver: not "not registered" */
	if (hmap_take(p, 0, &h) < 0)
		return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	if (h.fd >= 0 && unshare_registered(h.base, h.len, h.id, h.fd) < 0)
		vgpu_client_log(0, "cuMemHostUnregister: %zu registered bytes could not be made private "
				"memory again; they keep their contents in a region the worker no longer maps", h.len);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
	unsigned f;

	if (!pFlags || vgpu_hostmem_lookup(p, &f, NULL) < 0 || vgpu_hostmem_managed(p))
		return CUDA_ERROR_INVALID_VALUE;
	*pFlags = f;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
	uint64_t d = 0;

	if (!pdptr || Flags || vgpu_hostmem_lookup(p, NULL, &d) < 0)
		return CUDA_ERROR_INVALID_VALUE;   /* not pinned memory, as the driver says */
	if (!d)   /* registered pages of the program, or a region its worker could not map */
		return vgpu_client_unsupported("cuMemHostGetDevicePointer of memory not shared with the worker");
	*pdptr = (CUdeviceptr)d;
	return CUDA_SUCCESS;
}
