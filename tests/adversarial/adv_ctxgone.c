/* SPDX-License-Identifier: MIT */
/* adv_ctxgone.c — objects of a destroyed or released context used afterwards (the fuzzer's context bug class) against a real proxy. */
#include "adv.h"

#include "custom_wire.h"
#include "vgpu_ops.h"

/* Contract: when a context goes away (cuCtxDestroy, last cuDevicePrimaryCtxRelease, or
 * cuDevicePrimaryCtxReset), the driver frees what it owned, and the worker destroys what the
 * driver keeps (graphs, executable graphs, memory pools); ids the zone still holds for
 * those objects must fail (CUDA_ERROR_INVALID_HANDLE, or CUDA_ERROR_CONTEXT_IS_DESTROYED
 * from the driver), never reach freed memory, and the worker keeps serving the zone. The
 * globals of a destroyed context's modules are forgotten with them (their ranges refused, the
 * zone's memory count back to what it was). A primary context's own handle outlives a reset,
 * as the driver's does: it can be made current while idle (calls then fail with
 * CUDA_ERROR_CONTEXT_IS_DESTROYED), and the next retain returns it again. Stream-ordered
 * memory is the exception: the driver leaves it allocated when its context goes, and the zone
 * keeps it (range and charge) until it frees it, resets the device or ends. */

static const struct vgpu_call_desc modload =
	VGPU_WIRE_DESC("cuModuleLoadData", VGPU_OP_cuModuleLoadData, VGPU_CALLF_CUSTOM, vgpu_wire_module_args,
		       VGPU_MW_NARGS);

static const char ptx[] =
	".version 7.0\n.target sm_75\n.address_size 64\n"
	".visible .global .align 4 .u32 counter[64];\n"
	".visible .entry touch()\n{\n ret;\n}\n";

static long stream_create(struct adv_zone *z, CUstream *s)
{
	unsigned fl = 0;
	void *av[] = { &s, &fl };
	return adv_call(z, &vgpu_call_cuStreamCreate, av);
}

static long stream_sync(struct adv_zone *z, CUstream s)
{
	void *av[] = { &s };
	return adv_call(z, &vgpu_call_cuStreamSynchronize, av);
}

static int gone(long r) { return r == CUDA_ERROR_INVALID_HANDLE || r == CUDA_ERROR_CONTEXT_IS_DESTROYED; }

static const struct vgpu_call_desc poolcreate =
	VGPU_WIRE_DESC("cuMemPoolCreate", VGPU_OP_cuMemPoolCreate, VGPU_CALLF_CUSTOM, vgpu_wire_pool_create_args,
		       VGPU_MPW_NARGS);

/* A pool of pinned memory of device 0, no size limit. */
static long pool_create(struct adv_zone *z, CUmemoryPool *out)
{
	CUmemoryPool *po = out;
	uint32_t type = CU_MEM_ALLOCATION_TYPE_PINNED, handles = CU_MEM_HANDLE_TYPE_NONE, usage = 0;
	uint32_t loc_type = CU_MEM_LOCATION_TYPE_DEVICE;
	int32_t id = 0;
	uint64_t max = 0;
	void *av[VGPU_MPW_NARGS] = { [VGPU_MPW_POOL] = &po, [VGPU_MPW_ALLOC_TYPE] = &type,
				     [VGPU_MPW_HANDLE_TYPES] = &handles, [VGPU_MPW_LOC_TYPE] = &loc_type,
				     [VGPU_MPW_LOC_ID] = &id, [VGPU_MPW_MAX_SIZE] = &max, [VGPU_MPW_USAGE] = &usage };
	return adv_call(z, &poolcreate, av);
}

/* In the current context: a graph with a node, its executable graph, a graph captured on
 * stream s with a memory alloc node and its executable graph, and a pool. */
static void make_kept_objects(struct adv_zone *z, CUstream s, CUgraph *g, CUgraphExec *x, CUmemoryPool *pool)
{
	CUgraph *pg = &g[0];
	unsigned gfl = 0;
	void *gc[] = { &pg, &gfl };
	CHECK_EQ(adv_call(z, &vgpu_call_cuGraphCreate, gc), CUDA_SUCCESS);
	CUgraphNode n = NULL, *pn = &n;
	const CUgraphNode *deps = NULL;
	size_t nd = 0;
	void *en[] = { &pn, &g[0], &deps, &nd };
	CHECK_EQ(adv_call(z, &vgpu_call_cuGraphAddEmptyNode, en), CUDA_SUCCESS);
	unsigned cmode = CU_STREAM_CAPTURE_MODE_GLOBAL;
	void *cb[] = { &s, &cmode };
	CHECK_EQ(adv_call(z, &vgpu_call_cuStreamBeginCapture_v2, cb), CUDA_SUCCESS);
	CUdeviceptr d = 0, *pd = &d;
	size_t bytes = 1u << 20;
	void *aa[] = { &pd, &bytes, &s };
	CHECK_EQ(adv_call(z, &vgpu_call_cuMemAllocAsync, aa), CUDA_SUCCESS);
	CUgraph *pg1 = &g[1];
	void *ce[] = { &s, &pg1 };
	CHECK_EQ(adv_call(z, &vgpu_call_cuStreamEndCapture, ce), CUDA_SUCCESS);
	for (int i = 0; i < 2; i++) {
		CUgraphExec *px = &x[i];
		unsigned long long xfl = 0;
		void *ia[] = { &px, &g[i], &xfl };
		CHECK_EQ(adv_call(z, &vgpu_call_cuGraphInstantiateWithFlags, ia), CUDA_SUCCESS);
	}
	CHECK_EQ(pool_create(z, pool), CUDA_SUCCESS);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	CUstream s1 = NULL, s2 = NULL;
	CUdevice dev = 0;

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "releaser", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "neighbour", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	/* Primary context released (it holds one reference): its stream is gone with it. */
	CHECK_EQ(stream_create(&a, &s1), CUDA_SUCCESS);
	CHECK_EQ(stream_sync(&a, s1), CUDA_SUCCESS);
	{
		void *av[] = { &dev };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxRelease_v2, av), CUDA_SUCCESS);
	}
	long r = stream_sync(&a, s1);
	if (!gone(r)) {
		fprintf(stderr, "stream of a released primary context: got %ld\n", r);
		check_failures++;
	}
	/* The same again with a reset instead of a release. */
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(stream_create(&a, &s2), CUDA_SUCCESS);
	{
		void *av[] = { &dev };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxReset_v2, av), CUDA_SUCCESS);
	}
	r = stream_sync(&a, s2);
	if (!gone(r)) {
		fprintf(stderr, "stream of a reset primary context: got %ld\n", r);
		check_failures++;
	}
	/* The reset context's handle is still the zone's: current while idle, retained again. */
	{
		CUcontext c = ca, again = NULL, *pagain = &again;
		void *a_set[] = { &c }, *a_ret[] = { &pagain, &dev };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSetCurrent, a_set), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSynchronize, NULL), CUDA_ERROR_CONTEXT_IS_DESTROYED);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxRetain, a_ret), CUDA_SUCCESS);
		CHECK(again == ca);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSetCurrent, a_set), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSynchronize, NULL), CUDA_SUCCESS);
	}

	/* A created context with a module and its global: all of it goes with the context. */
	{
		unsigned long long allocs0 = 0, mem0 = 0, handles0 = 0, v = 0;
		CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &allocs0), 0);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "mem", &mem0), 0);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "handles", &handles0), 0);
		CUcontext c3 = NULL, *pc3 = &c3;
		unsigned fl = 0;
		void *a_create[] = { &pc3, &fl, &dev };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxCreate_v2, a_create), CUDA_SUCCESS);
		CUmodule mod = NULL, *pmod = &mod;
		const void *img = ptx;
		uint64_t n = sizeof(ptx);
		void *mv[VGPU_MW_NARGS] = { &pmod, &img, &n };
		CHECK_EQ(adv_call(&a, &modload, mv), CUDA_SUCCESS);
		CUdeviceptr g = 0, *pg = &g;
		size_t gsize = 0, *pgsize = &gsize;
		const char *gname = "counter";
		void *gv[] = { &pg, &pgsize, &mod, &gname };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuModuleGetGlobal_v2, gv), CUDA_SUCCESS);
		CHECK_EQ(gsize, 256);
		uint32_t word = 0;
		CHECK_EQ(adv_dtoh(&a, &word, g, sizeof(word)), CUDA_SUCCESS);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &v), 0);
		CHECK_EQ(v, allocs0 + 1);
		void *a_destroy[] = { &c3 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxDestroy_v2, a_destroy), CUDA_SUCCESS);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &v), 0);
		CHECK_EQ(v, allocs0);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "mem", &v), 0);
		CHECK_EQ(v, mem0);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "handles", &v), 0);
		CHECK_EQ(v, handles0);
		/* the global's range is no longer the zone's (back in the primary context) */
		CUcontext c = ca;
		void *a_set[] = { &c };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSetCurrent, a_set), CUDA_SUCCESS);
		CHECK_EQ(adv_dtoh(&a, &word, g, sizeof(word)), CUDA_ERROR_INVALID_VALUE);
	}

	/* Graphs, executable graphs (one with graph memory) and a pool made in a created context,
	 * then in the primary context: the driver keeps such objects when their context goes, so
	 * the worker destroys them as it forgets their handles. Forgotten and kept, they would be
	 * the driver's for the worker's life, made again by every context the zone creates. */
	{
		unsigned long long handles0 = 0, v = 0;
		CHECK_EQ(ptest_stats_field(&p, "releaser", "handles", &handles0), 0);
		CUcontext c4 = NULL, *pc4 = &c4;
		unsigned fl = 0;
		void *a_create[] = { &pc4, &fl, &dev };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxCreate_v2, a_create), CUDA_SUCCESS);
		CUstream s = NULL;
		CHECK_EQ(stream_create(&a, &s), CUDA_SUCCESS);
		CUgraph g[2] = { NULL, NULL };
		CUgraphExec x[2] = { NULL, NULL };
		CUmemoryPool pool = NULL;
		make_kept_objects(&a, s, g, x, &pool);
		void *a_destroy[] = { &c4 };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxDestroy_v2, a_destroy), CUDA_SUCCESS);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "handles", &v), 0);
		CHECK_EQ(v, handles0);
		void *gd[] = { &g[0] };
		r = adv_call(&a, &vgpu_call_cuGraphDestroy, gd);
		if (!gone(r)) {
			fprintf(stderr, "graph of a destroyed context: got %ld\n", r);
			check_failures++;
		}
		/* the same made in the primary context, which the zone then releases */
		CUcontext c = ca;
		void *a_set[] = { &c };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSetCurrent, a_set), CUDA_SUCCESS);
		CHECK_EQ(stream_create(&a, &s), CUDA_SUCCESS);
		make_kept_objects(&a, s, g, x, &pool);
		unsigned st = 0;
		int active = 0, *pactive = &active;
		unsigned *pst = &st;
		void *gs[] = { &dev, &pst, &pactive };
		for (int i = 0; i < 8; i++) {
			void *av[] = { &dev };
			CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxGetState, gs), CUDA_SUCCESS);
			if (!active)
				break;
			CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxRelease_v2, av), CUDA_SUCCESS);
		}
		CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxGetState, gs), CUDA_SUCCESS);
		CHECK_EQ(active, 0);
		void *xd[] = { &x[1] };
		r = adv_call(&a, &vgpu_call_cuGraphExecDestroy, xd);
		if (!gone(r)) {
			fprintf(stderr, "executable graph of a released primary context: got %ld\n", r);
			check_failures++;
		}
		CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	}

	/* Stream-ordered memory is no context's (cuCtxDestroy's documentation says it is left
	 * allocated): made in a created context, it outlives it, still the zone's (its range
	 * usable from another context, its charge kept) until the zone frees it; a reset of the
	 * device frees it, and the zone's count with it; one left at the zone's end is freed
	 * then (the worker's verdict below counts stream-ordered allocations the simulator still
	 * holds). Forgotten with the context, it would be driver memory no quota counts. */
	{
		unsigned long long allocs0 = 0, mem0 = 0, v = 0;
		CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &allocs0), 0);
		CHECK_EQ(ptest_stats_field(&p, "releaser", "mem", &mem0), 0);
		CUdeviceptr d[3] = { 0, 0, 0 };
		size_t sz[3] = { 1u << 20, 256u << 10, 64u << 10 };
		CUcontext c5 = NULL, *pc5 = &c5;
		unsigned fl = 0;
		void *a_create[] = { &pc5, &fl, &dev };
		for (int round = 0; round < 2; round++) {
			CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxCreate_v2, a_create), CUDA_SUCCESS);
			CUstream s = NULL;
			CHECK_EQ(stream_create(&a, &s), CUDA_SUCCESS);
			for (int i = round ? 2 : 0; i < (round ? 3 : 2); i++) {
				CUdeviceptr *pd = &d[i];
				void *aa[] = { &pd, &sz[i], &s };
				CHECK_EQ(adv_call(&a, &vgpu_call_cuMemAllocAsync, aa), CUDA_SUCCESS);
			}
			CHECK_EQ(stream_sync(&a, s), CUDA_SUCCESS);
			void *a_destroy[] = { &c5 };
			CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxDestroy_v2, a_destroy), CUDA_SUCCESS);
			CUcontext c = ca;
			void *a_set[] = { &c };
			CHECK_EQ(adv_call(&a, &vgpu_call_cuCtxSetCurrent, a_set), CUDA_SUCCESS);
			if (round)
				break;   /* d[2]: left to the zone's end */
			CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &v), 0);
			CHECK_EQ(v, allocs0 + 2);
			CHECK_EQ(ptest_stats_field(&p, "releaser", "mem", &v), 0);
			CHECK_EQ(v, mem0 + sz[0] + sz[1]);
			/* usable from the primary context, freed from it */
			const char word[] = "kept";
			char back[sizeof(word)] = "";
			CHECK_EQ(adv_htod(&a, d[1] + 100, word, sizeof(word)), CUDA_SUCCESS);
			CHECK_EQ(adv_dtoh(&a, back, d[1] + 100, sizeof(back)), CUDA_SUCCESS);
			CHECK(memcmp(back, word, sizeof(word)) == 0);
			void *fr[] = { &d[0] };
			CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFree_v2, fr), CUDA_SUCCESS);
			CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &v), 0);
			CHECK_EQ(v, allocs0 + 1);
			/* the device's reset takes d[1] */
			void *av[] = { &dev };
			CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxReset_v2, av), CUDA_SUCCESS);
			CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &v), 0);
			CHECK_EQ(v, allocs0);
			CHECK_EQ(ptest_stats_field(&p, "releaser", "mem", &v), 0);
			CHECK_EQ(v, mem0);
			CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
			CHECK_EQ(adv_dtoh(&a, back, d[1] + 100, sizeof(back)), CUDA_ERROR_INVALID_VALUE);
		}
		CHECK_EQ(ptest_stats_field(&p, "releaser", "allocs", &v), 0);
		CHECK_EQ(v, allocs0 + 1);
	}

	/* The zone and its neighbour are still served. */
	CHECK(adv_alive(&a));
	CHECK(adv_alive(&b));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	/* Each worker checked, once its zone was freed, that the simulator held nothing the zone
	 * made (worker.c zone_leak_check): both said so, and none found anything left. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "[ $(grep -c 'zone freed: the simulator holds no graph' %s) = 2 ]", p.log);
	CHECK_EQ(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep 'zone freed, but the simulator still holds' %s >&2", p.log);
	CHECK(system(cmd) != 0);
	adv_finish(&p);
	CHECK_DONE();
}
