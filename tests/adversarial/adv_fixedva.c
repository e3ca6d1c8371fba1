/* SPDX-License-Identifier: MIT */
/* adv_fixedva.c — device memory at fixed addresses (vgpu-proxy --device-va fixed@BASE) against a real proxy: placement, neighbours in one slab, ranges, frees, quota, a destroyed context, stream-ordered allocations and frees, two zones at the same addresses. */
#include "adv.h"

/* Contract (proxy/devva.h, docs/ARCHITECTURE.md): every cuMemAlloc/cuMemAllocPitch of a zone
 * lands in the window; small allocations share granules, yet a copy, memset or free naming
 * one never reaches its neighbour; ranges and pointer attributes name the allocation, not
 * the mapping; freeing gives the memory back to the device and the quota; a destroyed
 * context's memory goes with it; a stream-ordered allocation (from the default pool or a
 * pool of device memory the zone created, counted by that pool, within its maxSize) is the
 * window's outside a capture, and its stream-ordered free does not give its memory to another stream before
 * its own stream has passed it; two zones (two workers) have the same addresses and never
 * each other's bytes. */

#define BASE 0x500000000000ull
#define WINDOW (1ull << 40)

static const struct vgpu_call_desc ptrattr =
	VGPU_WIRE_DESC("cuPointerGetAttribute", VGPU_OP_cuPointerGetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pointer_attr_args, VGPU_PW_NARGS);

static const struct vgpu_call_desc poolattr =
	VGPU_WIRE_DESC("cuMemPoolGetAttribute", VGPU_OP_cuMemPoolGetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pool_get_attr_args, VGPU_PAG_NARGS);

static const struct vgpu_call_desc poolcreate =
	VGPU_WIRE_DESC("cuMemPoolCreate", VGPU_OP_cuMemPoolCreate, VGPU_CALLF_CUSTOM, vgpu_wire_pool_create_args,
		       VGPU_MPW_NARGS);

/* A pool of pinned memory of device 0, at most max bytes. */
static CUresult pool_create(struct adv_zone *z, CUmemoryPool *out, uint64_t max)
{
	CUmemoryPool *po = out;
	uint32_t type = CU_MEM_ALLOCATION_TYPE_PINNED, handles = CU_MEM_HANDLE_TYPE_NONE, usage = 0;
	uint32_t loc_type = CU_MEM_LOCATION_TYPE_DEVICE;
	int32_t id = 0;
	void *av[VGPU_MPW_NARGS] = { [VGPU_MPW_POOL] = &po, [VGPU_MPW_ALLOC_TYPE] = &type,
				     [VGPU_MPW_HANDLE_TYPES] = &handles, [VGPU_MPW_LOC_TYPE] = &loc_type,
				     [VGPU_MPW_LOC_ID] = &id, [VGPU_MPW_MAX_SIZE] = &max, [VGPU_MPW_USAGE] = &usage };
	return adv_call(z, &poolcreate, av);
}

static uint64_t pool_used(struct adv_zone *z, CUmemoryPool pool)
{
	uint64_t v = UINT64_MAX, *pv = &v;
	uint32_t at = CU_MEMPOOL_ATTR_USED_MEM_CURRENT;
	void *av[VGPU_PAG_NARGS] = { [VGPU_PAG_VALUE] = &pv, [VGPU_PAG_POOL] = &pool, [VGPU_PAG_ATTR] = &at };
	return adv_call(z, &poolattr, av) == CUDA_SUCCESS ? v : UINT64_MAX;
}

static int in_window(CUdeviceptr p, size_t n)
{
	return p >= BASE && p - BASE < WINDOW && n <= WINDOW - (p - BASE);
}

static long memfree(struct adv_zone *z, CUdeviceptr d)
{
	void *av[] = { &d };
	return adv_call(z, &vgpu_call_cuMemFree_v2, av);
}

static long mem_info(struct adv_zone *z, size_t *freeb)
{
	size_t total = 0, *pt = &total;
	void *av[] = { &freeb, &pt };
	return adv_call(z, &vgpu_call_cuMemGetInfo_v2, av);
}

static long range_of(struct adv_zone *z, CUdeviceptr p, CUdeviceptr *base, size_t *size)
{
	void *av[] = { &base, &size, &p };
	return adv_call(z, &vgpu_call_cuMemGetAddressRange_v2, av);
}

static long attr(struct adv_zone *z, CUpointer_attribute a, CUdeviceptr p, uint64_t *v)
{
	uint32_t at = a;
	*v = 0;
	void *av[VGPU_PW_NARGS] = { [VGPU_PW_VALUE] = &v, [VGPU_PW_ATTR] = &at, [VGPU_PW_PTR] = &p };
	return adv_call(z, &ptrattr, av);
}

static long memset8(struct adv_zone *z, CUdeviceptr p, unsigned char c, size_t n)
{
	void *av[] = { &p, &c, &n };
	return adv_call(z, &vgpu_call_cuMemsetD8_v2, av);
}

static long dtod(struct adv_zone *z, CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	void *av[] = { &dst, &src, &n };
	return adv_call(z, &vgpu_call_cuMemcpyDtoD_v2, av);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	/* the device's own answers to cuMemGetInfo: what is back on the device is what is checked */
	const char *extra[] = { "--device-va", "fixed@500000000000", "--zone-mem-limit", "64M", "--zone-mem-view", "device",
				NULL };
	static uint8_t in[4 << 20], out[4 << 20];

	if (adv_start(&p, extra) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "placed", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "same-addresses", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	size_t free0 = 0, f = 0;
	CHECK_EQ(mem_info(&a, &free0), CUDA_SUCCESS);

	/* Small, odd and large sizes, and a pitched one: all in the window. */
	static const size_t sizes[] = { 1, 100, 512, 513, 4096, 65537, (1u << 20) - 1, 1u << 20, (3u << 20) + 5 };
	enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
	CUdeviceptr d[NS];
	for (int i = 0; i < NS; i++) {
		CHECK_EQ(adv_alloc(&a, &d[i], sizes[i]), CUDA_SUCCESS);
		CHECK(in_window(d[i], sizes[i]));
		CHECK_EQ(d[i] % 256, 0);
	}
	CUdeviceptr pd = 0, *ppd = &pd;
	size_t pitch = 0, *ppitch = &pitch, width = 1000, height = 37;
	unsigned elem = 4;
	void *apitch[] = { &ppd, &ppitch, &width, &height, &elem };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocPitch_v2, apitch), CUDA_SUCCESS);
	CHECK(pitch >= width && in_window(pd, pitch * height));
	CHECK_EQ(mem_info(&a, &f), CUDA_SUCCESS);
	CHECK(f < free0);   /* the device counts the window's memory */

	/* Each allocation's bytes are its own: written whole, read back whole. */
	for (int i = 0; i < NS; i++) {
		fill(in, sizes[i], (unsigned)i);
		CHECK_EQ(adv_htod(&a, d[i], in, sizes[i]), CUDA_SUCCESS);
	}
	for (int i = 0; i < NS; i++) {
		fill(in, sizes[i], (unsigned)i);
		memset(out, 0, sizes[i]);
		CHECK_EQ(adv_dtoh(&a, out, d[i], sizes[i]), CUDA_SUCCESS);
		CHECK(memcmp(in, out, sizes[i]) == 0);
	}

	/* Neighbours in one slab (1, 100 and 512 bytes share a granule): nothing past one's end
	 * reaches the next, by copy, memset or a device-to-device copy. */
	CHECK(d[1] - d[0] < (2u << 20) && d[2] - d[1] < (2u << 20));
	CHECK_EQ(adv_htod(&a, d[0], in, 2), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_dtoh(&a, out, d[1], 101), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_htod(&a, d[1] + 100, in, 1), CUDA_ERROR_INVALID_VALUE);   /* the gap after it */
	CHECK_EQ(memset8(&a, d[1], 0xee, 512), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod(&a, d[2], d[1], 512), CUDA_ERROR_INVALID_VALUE);
	fill(in, 512, 2);
	CHECK_EQ(adv_dtoh(&a, out, d[2], 512), CUDA_SUCCESS);
	CHECK(memcmp(in, out, 512) == 0);

	/* Ranges and attributes name the allocation, not the granule holding it. */
	CUdeviceptr rb = 0;
	size_t rs = 0;
	CHECK_EQ(range_of(&a, d[1] + 50, &rb, &rs), CUDA_SUCCESS);
	CHECK_EQ(rb, d[1]);
	CHECK_EQ(rs, 100);
	CHECK_EQ(range_of(&a, d[8] + (3u << 20), &rb, &rs), CUDA_SUCCESS);
	CHECK_EQ(rb, d[8]);
	CHECK_EQ(rs, (3u << 20) + 5);
	uint64_t v = 0;
	CHECK_EQ(attr(&a, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, d[4] + 4095, &v), CUDA_SUCCESS);
	CHECK_EQ(v, d[4]);
	CHECK_EQ(attr(&a, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d[4], &v), CUDA_SUCCESS);
	CHECK_EQ(v, 4096);
	CHECK_EQ(attr(&a, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d[4], &v), CUDA_SUCCESS);
	CHECK_EQ(v, CU_MEMORYTYPE_DEVICE);
	CHECK_EQ(attr(&a, CU_POINTER_ATTRIBUTE_CONTEXT, d[4], &v), CUDA_SUCCESS);
	CHECK_EQ(v, (uint64_t)(uintptr_t)ca);   /* the zone's handle of the context it was made in */
	CHECK(range_of(&a, d[1] + 100, &rb, &rs) != CUDA_SUCCESS);   /* between two: no one's */

	/* The same addresses in the other zone's worker hold that zone's bytes, never these. */
	CUdeviceptr e = 0;
	CHECK_EQ(adv_alloc(&b, &e, 1), CUDA_SUCCESS);
	CHECK_EQ(e, d[0]);
	uint8_t x = 0x5a, y = 0;
	CHECK_EQ(adv_htod(&b, e, &x, 1), CUDA_SUCCESS);
	CHECK_EQ(adv_dtoh(&a, &y, d[0], 1), CUDA_SUCCESS);
	fill(in, 1, 0);
	CHECK_EQ(y, in[0]);
	CHECK_EQ(adv_dtoh(&b, out, d[8], 16), CUDA_ERROR_INVALID_VALUE);   /* a's address, not b's memory */

	/* Frees: the start only; a freed small one's units serve the next one of its size. */
	CHECK_EQ(memfree(&a, d[1] + 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(memfree(&a, d[1]), CUDA_SUCCESS);
	CHECK_EQ(memfree(&a, d[1]), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(adv_dtoh(&a, out, d[1], 1), CUDA_ERROR_INVALID_VALUE);
	CUdeviceptr again = 0;
	CHECK_EQ(adv_alloc(&a, &again, 100), CUDA_SUCCESS);
	CHECK_EQ(again, d[1]);
	d[1] = again;
	/* The quota counts them: 64 MiB, of which about 5.2 MiB are held. */
	CUdeviceptr big = 0;
	CHECK_EQ(adv_alloc(&a, &big, 60u << 20), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(adv_alloc(&a, &big, 40u << 20), CUDA_SUCCESS);
	CHECK(in_window(big, 40u << 20));
	CHECK_EQ(memfree(&a, big), CUDA_SUCCESS);
	for (int i = 0; i < NS; i++)
		CHECK_EQ(memfree(&a, d[i]), CUDA_SUCCESS);
	CHECK_EQ(memfree(&a, pd), CUDA_SUCCESS);
	unsigned long long mem = 1;
	CHECK_EQ(ptest_stats_field(&p, "placed", "mem", &mem), 0);
	CHECK_EQ(mem, 0);
	CHECK_EQ(mem_info(&a, &f), CUDA_SUCCESS);
	CHECK_EQ(f, free0);   /* every granule back on the device */

	/* A created context's memory goes with it (the driver frees cuMemAlloc's; the window's
	 * is the worker's to free). */
	{
		CUcontext c3 = NULL, *pc3 = &c3;
		unsigned fl = 0;
		CUdevice dev = 0;
		void *a_create[] = { &pc3, &fl, &dev };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxCreate_v2, a_create), CUDA_SUCCESS);
		CUdeviceptr g1 = 0, g2 = 0;
		CHECK_EQ(adv_alloc(&a, &g1, 3u << 20), CUDA_SUCCESS);
		CHECK_EQ(adv_alloc(&a, &g2, 300), CUDA_SUCCESS);
		CHECK(in_window(g1, 3u << 20) && in_window(g2, 300));
		CHECK_EQ(attr(&a, CU_POINTER_ATTRIBUTE_CONTEXT, g2, &v), CUDA_SUCCESS);
		CHECK_EQ(v, (uint64_t)(uintptr_t)c3);
		void *a_destroy[] = { &c3 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxDestroy_v2, a_destroy), CUDA_SUCCESS);
		CUcontext c = ca;
		void *a_set[] = { &c };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSetCurrent, a_set), CUDA_SUCCESS);
		CHECK_EQ(adv_dtoh(&a, out, g1, 16), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(mem_info(&a, &f), CUDA_SUCCESS);
		CHECK_EQ(f, free0);
		CHECK_EQ(ptest_stats_field(&p, "placed", "mem", &mem), 0);
		CHECK_EQ(mem, 0);
	}
	/* Stream-ordered allocations are the window's too, and a stream-ordered free gives the
	 * memory back only once its stream has passed it: s1 is held by a wait on a flag, the
	 * allocation freed behind it is not handed to s2, and is once s1 has run. */
	{
		CUstream s1 = NULL, s2 = NULL, *ps1 = &s1, *ps2 = &s2;
		unsigned nb = CU_STREAM_NON_BLOCKING;
		void *a_s1[] = { &ps1, &nb }, *a_s2[] = { &ps2, &nb };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamCreate, a_s1), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamCreate, a_s2), CUDA_SUCCESS);
		CUdeviceptr flag = 0, oa = 0, ob = 0, oc = 0, *poa = &oa, *pob = &ob, *poc = &oc;
		CHECK_EQ(adv_alloc(&a, &flag, 4), CUDA_SUCCESS);
		CHECK_EQ(memset8(&a, flag, 0, 4), CUDA_SUCCESS);
		unsigned one = 1, geq = CU_STREAM_WAIT_VALUE_GEQ;
		size_t n4k = 4096, cnt = 1;
		void *a_wait[] = { &s1, &flag, &one, &geq };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamWaitValue32_v2, a_wait), CUDA_SUCCESS);
		void *a_aa[] = { &poa, &n4k, &s1 }, *a_ab[] = { &pob, &n4k, &s2 }, *a_ac[] = { &poc, &n4k, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocAsync, a_aa), CUDA_SUCCESS);
		CHECK(in_window(oa, 4096));
		void *a_fa[] = { &oa, &s1 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fa), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fa), CUDA_ERROR_INVALID_VALUE);   /* freed once */
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocAsync, a_ab), CUDA_SUCCESS);
		CHECK(in_window(ob, 4096) && ob != oa);   /* s1 has not passed the free */
		void *a_set1[] = { &flag, &one, &cnt, &s2 }, *a_sync1[] = { &s1 }, *a_sync2[] = { &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemsetD32Async, a_set1), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamSynchronize, a_sync1), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocAsync, a_ac), CUDA_SUCCESS);
		CHECK_EQ(oc, oa);   /* it has: the same units serve the next allocation of the size */
		/* from the device's default pool by name: the window's too */
		CUmemoryPool defpool = NULL, *pdp = &defpool;
		CUdevice dev0 = 0;
		void *a_dp[] = { &pdp, &dev0 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuDeviceGetDefaultMemPool, a_dp), CUDA_SUCCESS);
		uint64_t used0 = pool_used(&a, defpool);   /* oc and ob, 8 KiB */
		CHECK_EQ(used0, 8192);
		CUdeviceptr op = 0, *pop = &op;
		void *a_ap[] = { &pop, &n4k, &defpool, &s2 }, *a_fp[] = { &op, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocFromPoolAsync, a_ap), CUDA_SUCCESS);
		CHECK(in_window(op, 4096));
		CHECK_EQ(pool_used(&a, defpool), used0 + 4096);   /* the pool's usage counts the window's */
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fp), CUDA_SUCCESS);
		CHECK_EQ(pool_used(&a, defpool), used0);
		/* from a pool the zone created of device memory, by name and as the device's current
		 * pool: the window's too, counted by that pool (not the default one), within its
		 * maxSize (12 KiB: a third 4 KiB allocation fits, a fourth is refused) */
		CUmemoryPool mine = NULL;
		CHECK_EQ(pool_create(&a, &mine, 12288), CUDA_SUCCESS);
		CUdeviceptr m1 = 0, m2 = 0, m3 = 0, m4 = 0, *pm1 = &m1, *pm2 = &m2, *pm3 = &m3, *pm4 = &m4;
		void *a_m1[] = { &pm1, &n4k, &mine, &s2 }, *a_m3[] = { &pm3, &n4k, &mine, &s2 };
		void *a_m4[] = { &pm4, &n4k, &mine, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocFromPoolAsync, a_m1), CUDA_SUCCESS);
		CHECK(in_window(m1, 4096));
		void *a_set[] = { &dev0, &mine }, *a_setdef[] = { &dev0, &defpool }, *a_m2[] = { &pm2, &n4k, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuDeviceSetMemPool, a_set), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocAsync, a_m2), CUDA_SUCCESS);
		CHECK(in_window(m2, 4096));
		CHECK_EQ(pool_used(&a, mine), 8192);
		CHECK_EQ(pool_used(&a, defpool), used0);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocFromPoolAsync, a_m3), CUDA_SUCCESS);
		CHECK(in_window(m3, 4096));
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocFromPoolAsync, a_m4), CUDA_ERROR_OUT_OF_MEMORY);
		CHECK_EQ(pool_used(&a, mine), 12288);
		void *a_fm1[] = { &m1, &s2 }, *a_fm2[] = { &m2, &s2 }, *a_fm3[] = { &m3, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fm1), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fm2), CUDA_SUCCESS);
		CHECK_EQ(pool_used(&a, mine), 4096);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuDeviceSetMemPool, a_setdef), CUDA_SUCCESS);
		void *a_pd[] = { &mine };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemPoolDestroy, a_pd), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fm3), CUDA_SUCCESS);   /* outlives its pool */
		/* during a capture the allocation is a graph's memory node: the driver's */
		unsigned mode = CU_STREAM_CAPTURE_MODE_RELAXED;
		void *a_begin[] = { &s2, &mode };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamBeginCapture_v2, a_begin), CUDA_SUCCESS);
		CUdeviceptr og = 0, *pog = &og;
		void *a_ag[] = { &pog, &n4k, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocAsync, a_ag), CUDA_SUCCESS);
		CHECK(og && !in_window(og, 1));
		void *a_fg[] = { &og, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fg), CUDA_SUCCESS);
		CUgraph g = NULL, *pg = &g;
		void *a_end[] = { &s2, &pg };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamEndCapture, a_end), CUDA_SUCCESS);
		void *a_gd[] = { &g };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphDestroy, a_gd), CUDA_SUCCESS);
		void *a_fb[] = { &ob, &s2 }, *a_fc[] = { &oc, &s2 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fb), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFreeAsync, a_fc), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamSynchronize, a_sync2), CUDA_SUCCESS);
		CHECK_EQ(pool_used(&a, defpool), 0);
		CHECK_EQ(memfree(&a, flag), CUDA_SUCCESS);
		CHECK_EQ(mem_info(&a, &f), CUDA_SUCCESS);
		CHECK_EQ(f, free0);   /* every stream-ordered free given back */
		CHECK_EQ(ptest_stats_field(&p, "placed", "mem", &mem), 0);
		CHECK_EQ(mem, 0);
	}
	CHECK(adv_alive(&a) && adv_alive(&b));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
