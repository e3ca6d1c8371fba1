/* SPDX-License-Identifier: MIT */
/* adv_ctxgone.c — objects of a destroyed or released context used afterwards (the fuzzer's context bug class) against a real proxy. */
#include "adv.h"

/* Contract: when a context goes away (cuCtxDestroy, last cuDevicePrimaryCtxRelease, or
 * cuDevicePrimaryCtxReset), the driver frees what it owned; ids the zone still holds for
 * those objects must fail (CUDA_ERROR_INVALID_HANDLE, or CUDA_ERROR_CONTEXT_IS_DESTROYED
 * from the driver), never reach freed memory, and the worker keeps serving the zone. */

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
	/* The zone and its neighbour are still served. */
	CHECK(adv_alive(&a));
	CHECK(adv_alive(&b));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
