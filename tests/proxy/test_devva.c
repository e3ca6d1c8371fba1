/* SPDX-License-Identifier: MIT */
/* test_devva.c — unit tests of a zone's device memory in a fixed window (proxy/devva.c) against a stand-in driver: placement, slabs of small allocations, frees, ranges the driver refuses, falling back, and release. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proxy/devva.h"
#include "check.h"

#define GRAN (2ull << 20)
#define WIN 0x600000000000ull

/*
 * The stand-in driver's virtual memory: reservations (a hint taken unless it overlaps one,
 * or falls in [refuse_lo, refuse_hi)), physical allocations (counted, with a budget) and
 * mappings, each checked the way the driver checks them.
 */
struct resv { uint64_t base, size; int mapped; uint64_t handle; };
static struct resv res[256];
static int nres, nphys, nsync, ctx_ok = 1, have_vmm = 1;
static uint64_t refuse_lo, refuse_hi, phys_bytes, phys_budget = 1ull << 40, next_other = 0x7f0000000000ull;

static struct resv *resv_at(uint64_t p)
{
	for (int i = 0; i < nres; i++)
		if (res[i].size && p >= res[i].base && p - res[i].base < res[i].size)
			return &res[i];
	return NULL;
}

static CUresult f_reserve(CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr, unsigned long long flags)
{
	CHECK_EQ(align, 0);
	CHECK_EQ(flags, 0);
	CHECK_EQ(size % GRAN, 0);
	uint64_t at = addr;
	int taken = at >= refuse_lo && at < refuse_hi;
	for (int i = 0; i < nres && !taken; i++)
		taken = res[i].size && at < res[i].base + res[i].size && res[i].base < at + size;
	if (!at || taken) {
		at = next_other;   /* elsewhere, as a hint is only a hint */
		next_other += size;
	}
	CHECK(nres < 256);
	res[nres++] = (struct resv){ at, size, 0, 0 };
	*ptr = at;
	return CUDA_SUCCESS;
}

static CUresult f_addr_free(CUdeviceptr p, size_t size)
{
	struct resv *r = resv_at(p);
	if (!r || r->base != p || r->size != size || r->mapped)
		return CUDA_ERROR_INVALID_VALUE;
	r->size = 0;
	return CUDA_SUCCESS;
}

static CUresult f_create(CUmemGenericAllocationHandle *h, size_t size, const CUmemAllocationProp *prop,
			 unsigned long long flags)
{
	CHECK_EQ(flags, 0);
	CHECK_EQ(prop->type, CU_MEM_ALLOCATION_TYPE_PINNED);
	CHECK_EQ(prop->location.type, CU_MEM_LOCATION_TYPE_DEVICE);
	CHECK_EQ(prop->location.id, 0);
	if (phys_bytes + size > phys_budget)
		return CUDA_ERROR_OUT_OF_MEMORY;
	phys_bytes += size;
	nphys++;
	*h = (CUmemGenericAllocationHandle)size;   /* the handle carries its size */
	return CUDA_SUCCESS;
}

static CUresult f_release(CUmemGenericAllocationHandle h)
{
	phys_bytes -= (uint64_t)h;
	nphys--;
	return CUDA_SUCCESS;
}

static CUresult f_map(CUdeviceptr p, size_t size, size_t off, CUmemGenericAllocationHandle h, unsigned long long flags)
{
	struct resv *r = resv_at(p);
	CHECK(r && r->base == p && r->size == size && !r->mapped && off == 0 && flags == 0 && (uint64_t)h == size);
	r->mapped = 1;
	r->handle = h;
	return CUDA_SUCCESS;
}

static CUresult f_set_access(CUdeviceptr p, size_t size, const CUmemAccessDesc *d, size_t n)
{
	struct resv *r = resv_at(p);
	CHECK(r && r->mapped && r->size == size && n == 1 && d->flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
	return CUDA_SUCCESS;
}

static CUresult f_unmap(CUdeviceptr p, size_t size)
{
	struct resv *r = resv_at(p);
	if (!r || !r->mapped || r->size != size)
		return CUDA_ERROR_INVALID_VALUE;
	r->mapped = 0;
	return CUDA_SUCCESS;
}

static CUresult f_gran(size_t *g, const CUmemAllocationProp *prop, CUmemAllocationGranularity_flags o)
{
	(void)prop;
	(void)o;
	*g = GRAN;
	return CUDA_SUCCESS;
}

static CUresult f_get_device(CUdevice *d)
{
	*d = 0;
	return ctx_ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

static CUresult f_sync(void)
{
	nsync++;
	return CUDA_SUCCESS;
}

/* Stand-in events: each done once the test says so (ev_done). */
static int ev_done[256], nev_made, nev_destroyed;
static CUresult f_ev_create(CUevent *e, unsigned flags)
{
	(void)flags;
	*e = (CUevent)(uintptr_t)++nev_made;
	ev_done[nev_made % 256] = 0;
	return CUDA_SUCCESS;
}
static CUresult f_ev_record(CUevent e, CUstream s)
{
	(void)e;
	(void)s;
	return CUDA_SUCCESS;
}
static CUresult f_ev_query(CUevent e)
{
	return ev_done[(uintptr_t)e % 256] ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}
static CUresult f_ev_destroy(CUevent e)
{
	(void)e;
	nev_destroyed++;
	return CUDA_SUCCESS;
}
static CUresult f_ctx_current(CUcontext *c)
{
	*c = (CUcontext)(uintptr_t)0xc0;
	return CUDA_SUCCESS;
}

static struct vgpu_backend_fns fns(void)
{
	struct vgpu_backend_fns f;
	memset(&f, 0, sizeof(f));
	f.cuMemAddressReserve = f_reserve;
	f.cuMemAddressFree = f_addr_free;
	f.cuMemCreate = f_create;
	f.cuMemRelease = f_release;
	f.cuMemMap = f_map;
	f.cuMemSetAccess = f_set_access;
	f.cuMemUnmap = f_unmap;
	f.cuMemGetAllocationGranularity = f_gran;
	f.cuCtxGetDevice = f_get_device;
	f.cuCtxSynchronize = f_sync;
	f.cuEventCreate = f_ev_create;
	f.cuEventRecord = f_ev_record;
	f.cuEventQuery = f_ev_query;
	f.cuEventDestroy_v2 = f_ev_destroy;
	f.cuCtxGetCurrent = f_ctx_current;
	if (!have_vmm)
		f.cuMemCreate = NULL;
	return f;
}

static int mapped_count(void)
{
	int n = 0;
	for (int i = 0; i < nres; i++)
		n += res[i].size && res[i].mapped;
	return n;
}

int main(void)
{
	struct vgpu_devva d;
	struct vgpu_backend_fns f = fns();
	uint64_t p[64], q;
	int r;

	/* Off: nothing is its, nothing is freed here. */
	vgpu_devva_init(&d);
	CHECK(!vgpu_devva_on(&d));
	CHECK_EQ(vgpu_devva_free(&d, &f, WIN, 1, &r), 0);
	CHECK_EQ(vgpu_devva_enable(&d, WIN + 4096, 1ull << 40), -EINVAL);   /* not on 2 MiB */
	CHECK_EQ(vgpu_devva_enable(&d, WIN, 0), -EINVAL);
	CHECK_EQ(vgpu_devva_enable(&d, UINT64_MAX - GRAN + 1, 2 * GRAN), -EINVAL);   /* wraps */
	CHECK_EQ(vgpu_devva_enable(&d, WIN, 1ull << 40), 0);
	CHECK(vgpu_devva_on(&d));

	/* A large allocation: its own granules at the window's start, rounded up. */
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 3 * GRAN + 1, &p[0]), CUDA_SUCCESS);
	CHECK_EQ(p[0], WIN);
	CHECK_EQ(phys_bytes, 4 * GRAN);
	/* Small ones share a slab after it, 512-byte units, first fit. */
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 1, &p[1]), CUDA_SUCCESS);
	CHECK_EQ(p[1], WIN + 4 * GRAN);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 513, &p[2]), CUDA_SUCCESS);
	CHECK_EQ(p[2], WIN + 4 * GRAN + 512);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 100, &p[3]), CUDA_SUCCESS);
	CHECK_EQ(p[3], WIN + 4 * GRAN + 1536);
	CHECK_EQ(phys_bytes, 5 * GRAN);
	CHECK(vgpu_devva_in_window(&d, p[3]));
	CHECK(!vgpu_devva_in_window(&d, WIN - 1));
	CHECK(!vgpu_devva_in_window(&d, WIN + (1ull << 40)));
	/* A freed small one's units are taken again; its neighbours are untouched. */
	CHECK_EQ(vgpu_devva_free(&d, &f, p[2], 1, &r), 1);
	CHECK_EQ(r, CUDA_SUCCESS);
	CHECK_EQ(nsync, 1);   /* the device was done with it first */
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 1024, &q), CUDA_SUCCESS);
	CHECK_EQ(q, p[2]);
	CHECK_EQ(vgpu_devva_free(&d, &f, q, 0, &r), 1);
	CHECK_EQ(nsync, 1);
	/* A pointer inside an allocation, or to a free unit, is not one to free. */
	CHECK_EQ(vgpu_devva_free(&d, &f, p[1] + 512, 0, &r), 1);
	CHECK_EQ(r, CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(vgpu_devva_free(&d, &f, p[0] + GRAN, 0, &r), 1);
	CHECK_EQ(r, CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(vgpu_devva_free(&d, &f, p[1] + 4096, 0, &r), 1);
	CHECK_EQ(r, CUDA_ERROR_INVALID_VALUE);
	/* Outside the window, or in none of its chunks: the driver's. */
	CHECK_EQ(vgpu_devva_free(&d, &f, 0x7f0000001000ull, 0, &r), 0);
	CHECK_EQ(vgpu_devva_free(&d, &f, WIN + 100 * GRAN, 0, &r), 0);
	/* A slab that fills up: the next small one opens another. */
	uint64_t fill[8];
	for (int i = 0; i < 4; i++)
		CHECK_EQ(vgpu_devva_alloc(&d, &f, GRAN / 4, &fill[i]), CUDA_SUCCESS);
	CHECK_EQ(fill[0], p[3] + 512);
	CHECK_EQ(fill[3], WIN + 5 * GRAN);   /* the first slab had no room left for the fourth */
	CHECK_EQ(phys_bytes, 6 * GRAN);
	/* Half a granule or more has granules of its own. */
	CHECK_EQ(vgpu_devva_alloc(&d, &f, GRAN / 2, &p[4]), CUDA_SUCCESS);
	CHECK_EQ(p[4], WIN + 6 * GRAN);
	CHECK_EQ(phys_bytes, 7 * GRAN);
	/* The last allocation of a slab gone: its memory and its addresses go back. */
	CHECK_EQ(vgpu_devva_free(&d, &f, fill[3], 1, &r), 1);
	CHECK_EQ(phys_bytes, 6 * GRAN);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, GRAN, &q), CUDA_SUCCESS);
	CHECK_EQ(q, WIN + 5 * GRAN);   /* the gap it left, first fit */
	CHECK_EQ(vgpu_devva_free(&d, &f, q, 1, &r), 1);
	/* Big ones freed: memory back, reservation given up. */
	CHECK_EQ(vgpu_devva_free(&d, &f, p[0], 1, &r), 1);
	CHECK_EQ(r, CUDA_SUCCESS);
	CHECK_EQ(phys_bytes, 2 * GRAN);   /* the first slab and p[4] */
	CHECK_EQ(vgpu_devva_free(&d, &f, p[0], 1, &r), 0);   /* twice: no longer the window's */

	/* Ranges the driver will not give (a restored allocation, the zone's own reservation)
	 * are skipped and not asked for again. */
	refuse_lo = WIN;
	refuse_hi = WIN + 3 * GRAN;
	int before = nres;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 3 * GRAN, &p[5]), CUDA_SUCCESS);
	CHECK_EQ(p[5], WIN + 7 * GRAN);   /* [0, 3) refused, [3, 4) too small, [4, 5) slab, [5, 6) too small, [6, 7) p[4] */
	CHECK_EQ(nres - before, 2);         /* one refused try, then the range it got */
	before = nres;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, GRAN, &p[6]), CUDA_SUCCESS);
	CHECK_EQ(p[6], WIN + 3 * GRAN);
	CHECK_EQ(nres - before, 1);         /* the blocked range was not tried again */
	refuse_lo = refuse_hi = 0;
	/* The driver's own answers pass through: no context, no memory, size 0. */
	ctx_ok = 0;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &q), CUDA_ERROR_INVALID_CONTEXT);
	ctx_ok = 1;
	phys_budget = phys_bytes + GRAN;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 2 * GRAN, &q), CUDA_ERROR_OUT_OF_MEMORY);
	phys_budget = 1ull << 40;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 0, &q), CUDA_ERROR_INVALID_VALUE);
	int live = mapped_count();
	CHECK(live > 0);

	/* Many small allocations from a full window's worth of slabs, freed in another order. */
	for (int i = 0; i < 64; i++)
		CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096 + (uint64_t)i * 8192, &p[i]), CUDA_SUCCESS);
	for (int i = 0; i < 64; i++)
		for (int j = i + 1; j < 64; j++)   /* disjoint */
			CHECK(p[i] + 4096 + (uint64_t)i * 8192 <= p[j] || p[j] + 4096 + (uint64_t)j * 8192 <= p[i]);
	for (int i = 0; i < 64; i += 2)
		CHECK_EQ(vgpu_devva_free(&d, &f, p[i], 0, &r), 1);
	for (int i = 63; i > 0; i -= 2)
		CHECK_EQ(vgpu_devva_free(&d, &f, p[i], 0, &r), 1);
	CHECK_EQ(mapped_count(), live);

	/* The zone's end: every chunk unmapped and released. */
	CHECK(vgpu_devva_release_all(&d, &f) > 0);
	CHECK_EQ(mapped_count(), 0);
	CHECK_EQ(phys_bytes, 0);
	CHECK_EQ(nphys, 0);
	for (int i = 0; i < nres; i++)
		CHECK_EQ(res[i].size, 0);   /* every reservation given back, refused ones at once */
	vgpu_devva_destroy(&d);

	/* Freed chunks kept idle, up to the cap, for the next allocation of their size. */
	int tried;
	vgpu_devva_init(&d);
	CHECK_EQ(vgpu_devva_enable(&d, WIN, 1ull << 40), 0);
	vgpu_devva_set_idle(&d, 0);
	CHECK_EQ(d.idle_cap, VGPU_DEVVA_IDLE_MAX);
	vgpu_devva_set_idle(&d, 8 * GRAN);   /* an eighth of a 16 MiB quota */
	CHECK_EQ(d.idle_cap, GRAN);
	d.idle_cap = 4 * GRAN;
	uint64_t a2, a3, s1;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 2 * GRAN, &a2), CUDA_SUCCESS);
	CHECK_EQ(vgpu_devva_free(&d, &f, a2, 1, &r), 1);
	CHECK_EQ(phys_bytes, 2 * GRAN);   /* still mapped, idle */
	CHECK_EQ(d.idle_bytes, 2 * GRAN);
	CHECK_EQ(vgpu_devva_free(&d, &f, a2, 1, &r), 1);   /* no allocation lives there */
	CHECK_EQ(r, CUDA_ERROR_INVALID_VALUE);
	tried = nres;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 2 * GRAN - 100, &q), CUDA_SUCCESS);   /* the same size: taken again */
	CHECK_EQ(q, a2);
	CHECK_EQ(nres, tried);
	CHECK_EQ(d.idle_bytes, 0);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 3 * GRAN, &a3), CUDA_SUCCESS);   /* another size: a new one */
	CHECK_EQ(nres, tried + 1);
	CHECK_EQ(vgpu_devva_free(&d, &f, q, 1, &r), 1);
	CHECK_EQ(vgpu_devva_free(&d, &f, a3, 1, &r), 1);   /* 2 + 3 granules idle would pass the cap */
	CHECK_EQ(d.idle_bytes, 2 * GRAN);
	CHECK_EQ(phys_bytes, 2 * GRAN);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 3 * GRAN, &q), CUDA_SUCCESS);
	CHECK_EQ(vgpu_devva_free(&d, &f, q, 1, &r), 1);   /* dropped: it did not fit */
	CHECK_EQ(d.idle_bytes, 2 * GRAN);
	/* An emptied slab goes idle and serves as the next slab. */
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 64, &s1), CUDA_SUCCESS);
	CHECK_EQ(vgpu_devva_free(&d, &f, s1, 1, &r), 1);
	CHECK_EQ(d.idle_bytes, 3 * GRAN);
	tried = nres;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 700, &q), CUDA_SUCCESS);
	CHECK_EQ(q, s1);
	CHECK_EQ(nres, tried);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 100, &a3), CUDA_SUCCESS);
	CHECK_EQ(a3, s1 + 1024);   /* a slab again: units after the first allocation */
	/* A device out of memory: the idle chunks go first, then the allocation is made. */
	phys_budget = phys_bytes + GRAN;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 3 * GRAN, &a2), CUDA_SUCCESS);
	CHECK_EQ(d.idle_bytes, 0);
	phys_budget = 1ull << 40;
	/* Asked how much memory is free: the idle chunks go back to the device. */
	CHECK_EQ(vgpu_devva_free(&d, &f, a2, 1, &r), 1);
	CHECK_EQ(d.idle_bytes, 3 * GRAN);
	vgpu_devva_trim(&d, &f);
	CHECK_EQ(d.idle_bytes, 0);
	CHECK_EQ(phys_bytes, GRAN);   /* the slab in use */
	CHECK_EQ(vgpu_devva_release_all(&d, &f), 1);
	CHECK_EQ(phys_bytes, 0);
	vgpu_devva_destroy(&d);

	/* Stream-ordered frees: a unit comes back only once its stream is past the free (its
	 * event done), neighbours in a slab each on their own, a second free refused meanwhile;
	 * a destroyed context's frees come back without their events; the end destroys the
	 * events still waiting. */
	vgpu_devva_init(&d);
	CHECK_EQ(vgpu_devva_enable(&d, WIN, 1ull << 40), 0);
	uint64_t o1, o2, o3, o4;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &o1), CUDA_SUCCESS);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &o2), CUDA_SUCCESS);
	CHECK_EQ(o2, o1 + 4096);
	int made = nev_made;
	CHECK_EQ(vgpu_devva_free_async(&d, &f, o2, NULL, &r), 1);
	CHECK_EQ(r, CUDA_SUCCESS);
	CHECK_EQ(vgpu_devva_free_async(&d, &f, o1, NULL, &r), 1);
	CHECK_EQ(r, CUDA_SUCCESS);
	CHECK_EQ(nev_made, made + 2);
	CHECK_EQ(vgpu_devva_free_async(&d, &f, o1, NULL, &r), 1);
	CHECK_EQ(r, CUDA_ERROR_INVALID_VALUE);   /* already freed */
	CHECK_EQ(vgpu_devva_free(&d, &f, o1, 1, &r), 1);
	CHECK_EQ(r, CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &o3), CUDA_SUCCESS);
	CHECK_EQ(o3, o2 + 4096);   /* neither is back yet */
	ev_done[(made + 2) % 256] = 1;   /* o1's stream is past its free, o2's is not */
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &o4), CUDA_SUCCESS);
	CHECK_EQ(o4, o1);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &q), CUDA_SUCCESS);
	CHECK_EQ(q, o3 + 4096);    /* o2's units still held */
	vgpu_devva_forget_ctx(&d, &f, (void *)(uintptr_t)0xc0);   /* its context went: o2 is back */
	CHECK_EQ(d.nlater, 0);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &o1), CUDA_SUCCESS);
	CHECK_EQ(o1, o2);
	CHECK_EQ(vgpu_devva_free_async(&d, &f, o3, NULL, &r), 1);
	int destroyed = nev_destroyed;
	CHECK_EQ(vgpu_devva_release_all(&d, &f), 1);
	CHECK_EQ(nev_destroyed, destroyed + 1);
	CHECK_EQ(d.nlater, 0);
	CHECK_EQ(phys_bytes, 0);
	vgpu_devva_destroy(&d);

	/* A driver that gives none of the window: after MAX_TRIES refused ranges the caller is
	 * told to ask the driver, and from then on at once (no reservation tried). */
	vgpu_devva_init(&d);
	CHECK_EQ(vgpu_devva_enable(&d, WIN, 1ull << 40), 0);
	refuse_lo = WIN;
	refuse_hi = WIN + (1ull << 40);
	tried = nres;
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 5 * GRAN, &q), CUDA_ERROR_NOT_SUPPORTED);
	CHECK(d.fell_back);
	CHECK_EQ(nres - tried, 16);
	tried = nres;
	refuse_lo = refuse_hi = 0;   /* even where it would now: the zone's placement stays the driver's */
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &q), CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EQ(nres, tried);
	CHECK_EQ(mapped_count(), 0);
	CHECK_EQ(nphys, 0);
	vgpu_devva_destroy(&d);

	/* A driver without the virtual memory calls: every allocation is the driver's. */
	have_vmm = 0;
	f = fns();
	vgpu_devva_init(&d);
	CHECK_EQ(vgpu_devva_enable(&d, WIN, 1ull << 40), 0);
	CHECK_EQ(vgpu_devva_alloc(&d, &f, 4096, &q), CUDA_ERROR_NOT_SUPPORTED);
	CHECK(d.fell_back);
	vgpu_devva_destroy(&d);
	CHECK_DONE();
}
