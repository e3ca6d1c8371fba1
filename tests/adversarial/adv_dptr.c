/* SPDX-License-Identifier: MIT */
/* adv_dptr.c — device pointers just outside an allocation, wrapping around 2^64, into another zone's memory, and bad frees. */
#include "adv.h"

/* Contract (proxy/allocmap.h, docs/PROTOCOL.md): every device range must lie inside ONE of
 * the zone's allocations, checked without overflow, else CUDA_ERROR_INVALID_VALUE and the
 * memory is untouched; a free must name the start of one of the zone's allocations. */

static long memfree(struct adv_zone *z, CUdeviceptr d)
{
	void *av[] = { &d };
	return adv_call(z, &vgpu_call_cuMemFree_v2, av);
}

static long dtod(struct adv_zone *z, CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	void *av[] = { &dst, &src, &n };
	return adv_call(z, &vgpu_call_cuMemcpyDtoD_v2, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	CUdeviceptr pa = 0, lo = 0, hi = 0, x1 = 0, x2 = 0, pb = 0;
	enum { N = 4096 };
	static uint8_t da[N], db[N], back[N], junk[2 * N];

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "attacker", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "victim", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	/* pa sits between two allocations the zone then frees: whatever lies right before and
	 * after it is not the zone's (whether or not the backend packs allocations). */
	CHECK_EQ(adv_alloc(&b, &pb, N), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &lo, N), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &pa, N), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &hi, N), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &x1, N), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &x2, N), CUDA_SUCCESS);
	CHECK_EQ(memfree(&a, lo), CUDA_SUCCESS);
	CHECK_EQ(memfree(&a, hi), CUDA_SUCCESS);
	for (unsigned i = 0; i < N; i++) {
		da[i] = (uint8_t)(i ^ 0x5a);
		db[i] = (uint8_t)(i * 3 + 11);
		junk[i] = junk[N + i] = 0xee;
	}
	CHECK_EQ(adv_htod(&a, pa, da, N), CUDA_SUCCESS);
	CHECK_EQ(adv_htod(&b, pb, db, N), CUDA_SUCCESS);

	/* Just outside the zone's own allocation, on both ends, and straddling it. */
	CHECK_EQ(adv_htod(&a, pa + N, junk, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_htod(&a, pa - 1, junk, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_htod(&a, pa - 1, junk, 2), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_htod(&a, pa + N - 1, junk, 2), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_htod(&a, pa, junk, N + 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_dtoh(&a, back, pa + 1, N), CUDA_ERROR_INVALID_VALUE);
	/* Spanning two allocations of the same zone (adjacent or not): still one range per allocation. */
	CHECK_EQ(dtod(&a, pa, x2 - 8, 16), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod(&a, x1 + N - 8, pa, 16), CUDA_ERROR_INVALID_VALUE);
	/* Wrapping around the address space: base near 2^64, and a length that wraps from inside. */
	CHECK_EQ(adv_htod(&a, (CUdeviceptr)0xfffffffffffffff0ull, junk, 32), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod(&a, pa + 16, pa, (size_t)(0 - (uint64_t)16)), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod(&a, pa, pa + 16, (size_t)UINT64_MAX), CUDA_ERROR_INVALID_VALUE);
	/* Null and small pointers. */
	CHECK_EQ(adv_htod(&a, 0, junk, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_dtoh(&a, back, 16, 16), CUDA_ERROR_INVALID_VALUE);

	/* The other zone's memory: read, write, copy out of and into, free. */
	CHECK_EQ(adv_dtoh(&a, back, pb, N), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_htod(&a, pb, junk, N), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod(&a, pa, pb, N), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod(&a, pb, pa, N), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(memfree(&a, pb), CUDA_ERROR_INVALID_VALUE);
	/* Frees that do not name an allocation's start. */
	CHECK_EQ(memfree(&a, pa + 16), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(memfree(&a, pa + N), CUDA_ERROR_INVALID_VALUE);
	/* Freed memory is no longer the zone's. */
	CHECK_EQ(adv_htod(&a, lo, junk, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_dtoh(&a, back, hi, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(memfree(&a, lo), CUDA_ERROR_INVALID_VALUE);

	/* Nothing was written: both zones read back exactly their own bytes, channels alive. */
	CHECK_EQ(adv_dtoh(&a, back, pa, N), CUDA_SUCCESS);
	CHECK(memcmp(back, da, N) == 0);
	CHECK_EQ(adv_dtoh(&b, back, pb, N), CUDA_SUCCESS);
	CHECK(memcmp(back, db, N) == 0);
	CHECK(adv_alive(&a) && adv_alive(&b));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
