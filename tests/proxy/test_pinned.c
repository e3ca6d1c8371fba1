/* SPDX-License-Identifier: MIT */
/* test_pinned.c — unit tests of a zone's pinned regions mapped by the worker itself (proxy/pinned.c, a Xen guest's granted pages): sizes, the quota, ids, ranges, where kernels reach them, and release. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proxy/pinned.h"
#include "check.h"

/* Stand-in for gntdev: plain memory, and a count of what was released. */
static int released;
static uint64_t released_bytes;

static void *fake_map(uint64_t bytes)
{
	void *p = NULL;
	CHECK_EQ(posix_memalign(&p, 4096, bytes), 0);
	return p;
}

static void fake_release(void *ctx, void *base, uint64_t bytes)
{
	CHECK(ctx == &released);
	released++;
	released_bytes += bytes;
	free(base);
}

/* Stand-in for the driver's registration: mapped (DEVICEMAP) only when maps_ok, and a device
 * address of its own for the mapping when unified is 0. */
static int maps_ok = 1, unified = 1, registered, unregistered;
static unsigned last_flags;

static CUresult fake_register(void *p, size_t bytes, unsigned flags)
{
	(void)p;
	(void)bytes;
	last_flags = flags;
	if ((flags & CU_MEMHOSTREGISTER_DEVICEMAP) && !maps_ok)
		return CUDA_ERROR_NOT_SUPPORTED;
	registered++;
	return CUDA_SUCCESS;
}

static CUresult fake_unregister(void *p)
{
	(void)p;
	unregistered++;
	return CUDA_SUCCESS;
}

static CUresult fake_dptr(CUdeviceptr *d, void *p, unsigned flags)
{
	CHECK_EQ(flags, 0);
	if (!(last_flags & CU_MEMHOSTREGISTER_DEVICEMAP))
		return CUDA_ERROR_INVALID_VALUE;
	*d = unified ? (CUdeviceptr)(uintptr_t)p : 0x7f0000000000ull;
	return CUDA_SUCCESS;
}

/* Where a region is: its worker address and its kernels' (mapped when the driver can). */
static void test_where(void)
{
	struct vgpu_pinned p;
	struct vgpu_pinned_drv d = { .host_register = fake_register, .host_unregister = fake_unregister,
				     .host_dptr = fake_dptr };
	const char *why = NULL;
	uint64_t id1 = 0, id2 = 0, id3 = 0, addr = 0, dptr = 0;

	released = 0;
	CHECK_EQ(vgpu_pinned_init(&p, 1 << 20, 0x5eed), 0);
	uint8_t *b1 = fake_map(8192), *b2 = fake_map(4096), *b3 = fake_map(4096);
	CHECK_EQ(vgpu_pinned_map_mem(&p, b1, 8192, fake_release, &released, &d, &id1, &why), CUDA_SUCCESS);
	CHECK_EQ(last_flags, CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_PORTABLE);
	CHECK_EQ(vgpu_pinned_where(&p, id1, &addr, &dptr), CUDA_SUCCESS);
	CHECK_EQ(addr, (uint64_t)(uintptr_t)b1);
	CHECK_EQ(dptr, addr);                                        /* unified addressing */
	CHECK_EQ(vgpu_pinned_covers(&p, dptr, 8192), 0);            /* its device range, whole */
	CHECK_EQ(vgpu_pinned_covers(&p, dptr + 8191, 1), 0);
	CHECK_EQ(vgpu_pinned_covers(&p, dptr + 8191, 2), -EFAULT);  /* past its end */
	CHECK_EQ(vgpu_pinned_covers(&p, dptr - 1, 2), -EFAULT);
	CHECK_EQ(vgpu_pinned_covers(&p, dptr + 8, UINT64_MAX), -EFAULT);
	unified = 0;
	CHECK_EQ(vgpu_pinned_map_mem(&p, b2, 4096, fake_release, &released, &d, &id2, &why), CUDA_SUCCESS);
	CHECK_EQ(vgpu_pinned_where(&p, id2, &addr, &dptr), CUDA_SUCCESS);
	CHECK_EQ(addr, (uint64_t)(uintptr_t)b2);
	CHECK_EQ(dptr, 0x7f0000000000ull);                           /* kernels' own address */
	maps_ok = 0;   /* a driver that cannot map it: registered for copies, no device address */
	CHECK_EQ(vgpu_pinned_map_mem(&p, b3, 4096, fake_release, &released, &d, &id3, &why), CUDA_SUCCESS);
	CHECK_EQ(last_flags, 0);
	CHECK_EQ(vgpu_pinned_where(&p, id3, &addr, &dptr), CUDA_SUCCESS);
	CHECK_EQ(dptr, 0);
	CHECK_EQ(vgpu_pinned_covers(&p, addr, 1), -EFAULT);          /* kernels cannot reach it */
	CHECK_EQ(vgpu_pinned_covers(&p, 0x7f0000000000ull, 4096), 0); /* the second's own address */
	CHECK_EQ(registered, 3);
	/* gaps between the device ranges kernels reach: b1's (unified), 0x7f0000000000 (b2's) */
	uint64_t lo = 0, hi = UINT64_MAX, gen = 0, gen1;
	uint64_t d1 = (uint64_t)(uintptr_t)b1;
	CHECK_EQ(vgpu_pinned_gap(&p, d1 + 8191, 1, &lo, &hi, &gen), -EEXIST);
	CHECK_EQ(vgpu_pinned_gap(&p, 0x7f0000000000ull - 1, 2, &lo, &hi, &gen), -EEXIST);
	CHECK_EQ(vgpu_pinned_gap(&p, (uint64_t)(uintptr_t)b3, 1, &lo, &hi, &gen), 0);   /* not reachable */
	lo = 0, hi = UINT64_MAX;
	CHECK_EQ(vgpu_pinned_gap(&p, 0x7f0000000000ull + 4096, 16, &lo, &hi, &gen), 0);
	CHECK_EQ(lo, 0x7f0000000000ull + 4096);
	CHECK(gen != 0 && gen == p.gen);
	gen1 = gen;
	CHECK_EQ(vgpu_pinned_where(&p, id1 ^ 8, &addr, &dptr), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(vgpu_pinned_unmap(&p, id1, &d), CUDA_SUCCESS);
	CHECK_EQ(vgpu_pinned_where(&p, id1, &addr, &dptr), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(vgpu_pinned_covers(&p, (uint64_t)(uintptr_t)b1, 1), -EFAULT);   /* gone */
	CHECK_EQ(vgpu_pinned_gap(&p, d1 + 8191, 1, &lo, &hi, &gen), 0);           /* and no longer in the way */
	CHECK(gen != gen1);                                                        /* a new generation */
	vgpu_pinned_fini(&p, &d);
	CHECK_EQ(vgpu_pinned_gap(&p, d1, 1, &lo, &hi, &gen), 0);                  /* nothing mapped */
	CHECK_EQ(gen, 0);
	CHECK_EQ(unregistered, 3);
	CHECK_EQ(released, 3);
	released = 0;
	released_bytes = 0;
}

int main(void)
{
	struct vgpu_pinned p;
	struct vgpu_pinned_drv d = { 0 };
	const char *why = NULL;
	uint64_t id = 0, id2 = 0;

	test_where();
	CHECK_EQ(vgpu_pinned_init(&p, 64 << 10, 0x5eed), 0);   /* a 64 KiB quota */
	/* Not a page multiple, or empty: refused, the mapping released at once. */
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(4096), 4095, fake_release, &released, &d, &id, &why),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK(why && *why);
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(4096), 0, fake_release, &released, &d, &id, &why),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(released, 2);
	CHECK_EQ(p.bytes, 0);
	/* A region within the quota: named by an id, its ranges checked like a memfd region's. */
	uint8_t *base = fake_map(32 << 10);
	CHECK_EQ(vgpu_pinned_map_mem(&p, base, 32 << 10, fake_release, &released, &d, &id, &why), CUDA_SUCCESS);
	CHECK(id != 0);
	CHECK_EQ(p.bytes, 32 << 10);
	uint8_t *h = vgpu_pinned_get(&p, id, 4096, 8192);
	CHECK(h == base + 4096);
	if (h)
		vgpu_pinned_put(&p);
	CHECK(vgpu_pinned_get(&p, id, (32 << 10) - 1, 2) == NULL);   /* straddles its end */
	CHECK(vgpu_pinned_get(&p, id, UINT64_MAX, 2) == NULL);
	CHECK(vgpu_pinned_get(&p, id ^ 1, 0, 1) == NULL);             /* no such region */
	/* Over the quota: refused, released, nothing counted. */
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(36 << 10), 36 << 10, fake_release, &released, &d, &id2, &why),
		 CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(released, 3);
	CHECK_EQ(p.bytes, 32 << 10);
	/* It cannot be handed to another worker (no descriptor): export skips it. */
	int fd = -1;
	uint64_t bytes = 0;
	uint64_t addr = 0;
	CHECK_EQ(vgpu_pinned_export(&p, 0, &fd, &bytes, &addr), 0);
	/* Unmapped: released through the mapper, the quota free again. */
	CHECK_EQ(vgpu_pinned_unmap(&p, id, &d), CUDA_SUCCESS);
	CHECK_EQ(released, 4);
	CHECK_EQ(p.bytes, 0);
	CHECK_EQ(vgpu_pinned_unmap(&p, id, &d), CUDA_ERROR_INVALID_VALUE);
	/* What is left at the zone's end is released too. */
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(64 << 10), 64 << 10, fake_release, &released, &d, &id, &why), CUDA_SUCCESS);
	vgpu_pinned_fini(&p, &d);
	CHECK_EQ(released, 5);
	CHECK_EQ(released_bytes, 4095 + 0 + (32 << 10) + (36 << 10) + (64 << 10));
	CHECK_DONE();
}
