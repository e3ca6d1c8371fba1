/* SPDX-License-Identifier: MIT */
/* vmm.c — virtual memory management in the simulator: address reservations, physical allocations, mappings. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * As everywhere in the simulator, a device address is the host address of its bytes. A
 * reservation is an inaccessible host mapping; physical memory is a memfd; cuMemMap maps
 * the memfd into the reservation (still inaccessible) and cuMemSetAccess opens it and puts
 * the range in the allocation table (kind ALLOC_VMM), from where copies, memsets and kernels
 * reach it like any device memory. Granularity is 2 MiB, as on GPUs.
 */

#define GRANULE (2ull << 20)
#define MAGIC_PHYS 0x50485953u

struct sim_phys {
	uint32_t magic;
	int fd;
	uint64_t size;
	int dev;
	uint32_t refs;               /* cuMemCreate and each retain, less each release */
	uint32_t maps;               /* mappings of it; freed when both are 0 */
	struct sim_phys *next;
};

struct sim_map {
	uint64_t base, size;
	struct sim_phys *phys;
	int access;                  /* cuMemSetAccess done: in the allocation table */
	struct sim_map *next;
};


struct sim_resv {
	uint64_t base, size;
	struct sim_resv *next;
};

static pthread_mutex_t vmm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_phys *physs;
static struct sim_map *maps;
static struct sim_resv *resvs;

static int prop_ok(const CUmemAllocationProp *p)
{
	return p && p->type == CU_MEM_ALLOCATION_TYPE_PINNED && p->location.type == CU_MEM_LOCATION_TYPE_DEVICE &&
	       p->location.id >= 0 && p->location.id < g_ndev && !p->win32HandleMetaData;
}

CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
				       CUmemAllocationGranularity_flags option)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!granularity || !prop_ok(prop) || option > CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)
		return CUDA_ERROR_INVALID_VALUE;
	*granularity = GRANULE;
	return CUDA_SUCCESS;
}

static struct sim_resv *resv_holding(uint64_t p, uint64_t size)
{
	for (struct sim_resv *r = resvs; r; r = r->next)
		if (p >= r->base && p - r->base < r->size && size <= r->size - (p - r->base))
			return r;
	return NULL;
}

CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
			     unsigned long long flags)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!ptr || !size || size % GRANULE || flags || (alignment && (alignment & (alignment - 1))))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t align = alignment > GRANULE ? alignment : GRANULE;
	struct sim_resv *r = calloc(1, sizeof(*r));
	if (!r)
		return CUDA_ERROR_OUT_OF_MEMORY;
	/* Like the driver, take the hint when that range is free and suitably aligned (a zone
	 * restored from a checkpoint gets its old addresses back this way); otherwise it is only
	 * a hint: over-reserve, then trim to an aligned range. */
	uint64_t base = 0;
	if (addr && !(addr % align) && addr + size > addr) {
		void *at = mmap((void *)(uintptr_t)addr, size, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (at != MAP_FAILED && (uint64_t)(uintptr_t)at != addr)
			munmap(at, size);   /* a kernel without MAP_FIXED_NOREPLACE placed it elsewhere */
		else if (at != MAP_FAILED)
			base = addr;
	}
	if (!base) {
		uint8_t *raw = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (raw == MAP_FAILED) {
			free(r);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		base = ((uint64_t)(uintptr_t)raw + align - 1) & ~(align - 1);
		if (base > (uint64_t)(uintptr_t)raw)
			munmap(raw, base - (uint64_t)(uintptr_t)raw);
		uint64_t end = (uint64_t)(uintptr_t)raw + size + align;
		if (end > base + size)
			munmap((void *)(uintptr_t)(base + size), end - (base + size));
	}
	r->base = base;
	r->size = size;
	pthread_mutex_lock(&vmm_lock);
	r->next = resvs;
	resvs = r;
	pthread_mutex_unlock(&vmm_lock);
	*ptr = base;
	return CUDA_SUCCESS;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_mutex_lock(&vmm_lock);
	struct sim_resv **pp = &resvs;
	while (*pp && !((*pp)->base == ptr && (*pp)->size == size))
		pp = &(*pp)->next;
	struct sim_resv *r = *pp;
	int busy = 0;
	for (struct sim_map *m = maps; r && m; m = m->next)
		busy |= m->base >= r->base && m->base - r->base < r->size;
	if (!r || busy) {
		pthread_mutex_unlock(&vmm_lock);
		return CUDA_ERROR_INVALID_VALUE;   /* not a reservation, or still mapped */
	}
	*pp = r->next;
	pthread_mutex_unlock(&vmm_lock);
	munmap((void *)(uintptr_t)r->base, r->size);
	free(r);
	return CUDA_SUCCESS;
}

/*
 * Test hook: the physical allocations (cuMemCreate's, held or mapped), mappings and address
 * reservations that exist now. Virtual memory outlives contexts, and the worker keeps tables
 * of a zone's to give it all back at the zone's end (proxy/vmm.c); one left once every zone
 * ended was forgotten on the way. The fuzz harness's leak oracle and the worker's verdict
 * read it, as vgpu_sim_live_objects.
 */
SIM_EXPORT void vgpu_sim_live_vmm(long *phys, long *mappings, long *reservations)
{
	long np = 0, nm = 0, nr = 0;
	pthread_mutex_lock(&vmm_lock);
	for (const struct sim_phys *p = physs; p; p = p->next)
		np++;
	for (const struct sim_map *m = maps; m; m = m->next)
		nm++;
	for (const struct sim_resv *r = resvs; r; r = r->next)
		nr++;
	pthread_mutex_unlock(&vmm_lock);
	*phys = np;
	*mappings = nm;
	*reservations = nr;
}

/* A live handle: one the program still holds a reference to. Under vmm_lock. */
static struct sim_phys *phys_get(CUmemGenericAllocationHandle h)
{
	for (struct sim_phys *p = physs; p; p = p->next)
		if ((uint64_t)(uintptr_t)p == h && p->magic == MAGIC_PHYS && p->refs)
			return p;
	return NULL;
}

/* Under vmm_lock: free p once nothing holds or maps it. */
static void phys_maybe_free(struct sim_phys *p)
{
	if (p->refs || p->maps)
		return;
	struct sim_phys **pp = &physs;
	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	close(p->fd);
	sim_mem_uncharge(p->dev, p->size);
	p->magic = 0;
	free(p);
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
		     unsigned long long flags)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!handle || !size || size % GRANULE || flags || !prop_ok(prop))
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->requestedHandleTypes & ~(unsigned)CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return CUDA_ERROR_NOT_SUPPORTED;   /* Windows and fabric handles */
	struct sim_phys *p = calloc(1, sizeof(*p));
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	/* device memory like cuMemAlloc's: cuMemGetInfo counts it, the device's size bounds it */
	if (sim_mem_charge(prop->location.id, size) < 0) {
		free(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	p->fd = memfd_create("vgpu-sim-phys", MFD_CLOEXEC);
	if (p->fd < 0 || ftruncate(p->fd, (off_t)size) < 0) {
		if (p->fd >= 0)
			close(p->fd);
		sim_mem_uncharge(prop->location.id, size);
		free(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	p->magic = MAGIC_PHYS;
	p->refs = 1;
	p->size = size;
	p->dev = prop->location.id;
	pthread_mutex_lock(&vmm_lock);
	p->next = physs;
	physs = p;
	pthread_mutex_unlock(&vmm_lock);
	*handle = (CUmemGenericAllocationHandle)(uintptr_t)p;
	return CUDA_SUCCESS;
}

/* The memory lives on in its mappings until the last is unmapped. */
CUresult cuMemRelease(CUmemGenericAllocationHandle h)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_mutex_lock(&vmm_lock);
	struct sim_phys *p = phys_get(h);
	if (!p) {
		pthread_mutex_unlock(&vmm_lock);
		return CUDA_ERROR_INVALID_VALUE;
	}
	p->refs--;
	phys_maybe_free(p);
	pthread_mutex_unlock(&vmm_lock);
	return CUDA_SUCCESS;
}

CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!handle)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t a = (uint64_t)(uintptr_t)addr;
	CUresult rc = CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&vmm_lock);
	for (struct sim_map *m = maps; m; m = m->next)
		if (a >= m->base && a - m->base < m->size) {
			m->phys->refs++;
			*handle = (CUmemGenericAllocationHandle)(uintptr_t)m->phys;
			rc = CUDA_SUCCESS;
			break;
		}
	pthread_mutex_unlock(&vmm_lock);
	return rc;
}

CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop, CUmemGenericAllocationHandle h)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!prop)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&vmm_lock);
	struct sim_phys *p = phys_get(h);
	if (p) {
		memset(prop, 0, sizeof(*prop));
		prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
		prop->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
		prop->location.id = p->dev;
	}
	pthread_mutex_unlock(&vmm_lock);
	return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle h,
		  unsigned long long flags)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!size || flags || ptr % GRANULE || size % GRANULE || offset % GRANULE)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_map *m = calloc(1, sizeof(*m));
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&vmm_lock);
	struct sim_phys *p = phys_get(h);
	int overlap = 0;
	for (struct sim_map *o = maps; o; o = o->next)
		overlap |= ptr < o->base + o->size && o->base < ptr + size;
	if (p && (offset > p->size || size > p->size - offset)) {
		/* past the allocation's end: the NVIDIA driver answers "not supported" (H200, 580) */
		pthread_mutex_unlock(&vmm_lock);
		free(m);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (!p || !resv_holding(ptr, size) || overlap ||
	    mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, p->fd, (off_t)offset) == MAP_FAILED) {
		pthread_mutex_unlock(&vmm_lock);
		free(m);
		return CUDA_ERROR_INVALID_VALUE;
	}
	m->base = ptr;
	m->size = size;
	m->phys = p;
	p->maps++;
	m->next = maps;
	maps = m;
	pthread_mutex_unlock(&vmm_lock);
	return CUDA_SUCCESS;
}

int sim_vmm_mapping(uint64_t p, uint64_t *base, uint64_t *size)
{
	int found = 0;
	pthread_mutex_lock(&vmm_lock);
	for (struct sim_map *m = maps; m && !found; m = m->next)
		if (p >= m->base && p - m->base < m->size) {
			*base = m->base;
			*size = m->size;
			found = 1;
		}
	pthread_mutex_unlock(&vmm_lock);
	return found;
}

/* Under vmm_lock: back to an inaccessible part of its reservation. */
static void map_drop(struct sim_map *m)
{
	if (m->access)
		sim_mem_free(m->base, ALLOC_VMM);
	m->phys->maps--;
	phys_maybe_free(m->phys);
	mmap((void *)(uintptr_t)m->base, m->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
	     -1, 0);
	free(m);
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_mutex_lock(&vmm_lock);
	/* the range must be whole mappings, end to end */
	uint64_t covered = 0;
	for (struct sim_map *m = maps; m; m = m->next)
		if (m->base >= ptr && m->base - ptr < size)
			covered += m->size <= size - (m->base - ptr) ? m->size : UINT64_MAX / 2;
	if (!size || covered != size) {
		pthread_mutex_unlock(&vmm_lock);
		return CUDA_ERROR_INVALID_VALUE;
	}
	CUresult crc;
	struct sim_ctx *cur = sim_ctx_current(&crc);
	if (cur)
		sim_ctx_sync(sim_ctx_res(cur));   /* work in flight may still use the range */
	for (struct sim_map **pp = &maps; *pp;) {
		struct sim_map *m = *pp;
		if (m->base >= ptr && m->base - ptr < size) {
			*pp = m->next;
			map_drop(m);
		} else {
			pp = &m->next;
		}
	}
	pthread_mutex_unlock(&vmm_lock);
	return CUDA_SUCCESS;
}

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!desc || !count || !size)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned prot = 0;
	for (size_t i = 0; i < count; i++) {
		if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || desc[i].location.id < 0 ||
		    desc[i].location.id >= g_ndev || desc[i].flags > CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			return CUDA_ERROR_INVALID_VALUE;
		prot |= desc[i].flags;
	}
	CUresult rc = CUDA_SUCCESS;
	pthread_mutex_lock(&vmm_lock);
	uint64_t covered = 0;
	for (struct sim_map *m = maps; m; m = m->next)
		if (m->base >= ptr && m->base - ptr < size && m->size <= size - (m->base - ptr))
			covered += m->size;
	if (covered != size) {
		pthread_mutex_unlock(&vmm_lock);
		return CUDA_ERROR_INVALID_VALUE;   /* not whole mappings, end to end */
	}
	for (struct sim_map *m = maps; m && rc == CUDA_SUCCESS; m = m->next) {
		if (!(m->base >= ptr && m->base - ptr < size))
			continue;
		/* the simulator has no read-only device memory: any access opens the range */
		int open = prot != CU_MEM_ACCESS_FLAGS_PROT_NONE;
		if (mprotect((void *)(uintptr_t)m->base, m->size, open ? PROT_READ | PROT_WRITE : PROT_NONE) < 0) {
			rc = CUDA_ERROR_INVALID_VALUE;
		} else if (open && !m->access) {
			if (sim_mem_add_vmm(m->base, m->size, m->phys->dev) < 0)
				rc = CUDA_ERROR_OUT_OF_MEMORY;
			else
				m->access = 1;
		} else if (!open && m->access) {
			sim_mem_free(m->base, ALLOC_VMM);
			m->access = 0;
		}
	}
	pthread_mutex_unlock(&vmm_lock);
	return rc;
}

CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location, CUdeviceptr ptr)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!flags || !location || location->type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&vmm_lock);
	CUresult rc = CUDA_ERROR_INVALID_VALUE;
	for (struct sim_map *m = maps; m; m = m->next)
		if (ptr >= m->base && ptr - m->base < m->size) {
			*flags = m->access ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : CU_MEM_ACCESS_FLAGS_PROT_NONE;
			rc = CUDA_SUCCESS;
		}
	pthread_mutex_unlock(&vmm_lock);
	return rc;
}
