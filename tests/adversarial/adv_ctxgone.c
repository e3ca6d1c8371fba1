/* SPDX-License-Identifier: MIT */
/* adv_ctxgone.c — objects of a destroyed or released context used afterwards (the fuzzer's context bug class) against a real proxy. */
#include "adv.h"

#include "custom_wire.h"
#include "vgpu_ops.h"

/* Contract: when a context goes away (cuCtxDestroy, last cuDevicePrimaryCtxRelease, or
 * cuDevicePrimaryCtxReset), the driver frees what it owned; ids the zone still holds for
 * those objects must fail (CUDA_ERROR_INVALID_HANDLE, or CUDA_ERROR_CONTEXT_IS_DESTROYED
 * from the driver), never reach freed memory, and the worker keeps serving the zone. The
 * globals of a destroyed context's modules are forgotten with them (their ranges refused, the
 * zone's memory count back to what it was). A primary context's own handle outlives a reset,
 * as the driver's does: it can be made current while idle (calls then fail with
 * CUDA_ERROR_CONTEXT_IS_DESTROYED), and the next retain returns it again. */

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

	/* The zone and its neighbour are still served. */
	CHECK(adv_alive(&a));
	CHECK(adv_alive(&b));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
