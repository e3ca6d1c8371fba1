/* SPDX-License-Identifier: MIT */
/* adv_flood.c — a flood of asynchronous calls with no synchronisation, then one sync, against a real proxy. */
#include "adv.h"

/* Contract: async requests get no reply; the proxy applies back-pressure through the ring
 * (the client blocks when it is full) instead of queueing without bound; the next
 * synchronising call reports the first async error, else CUDA_SUCCESS, and sees all the
 * work done in order. Another zone keeps being served meanwhile. */

static long memset_async(struct adv_zone *z, CUdeviceptr d, unsigned char v, size_t n)
{
	CUstream s = NULL;
	void *av[] = { &d, &v, &n, &s };
	return adv_call(z, &vgpu_call_cuMemsetD8Async, av);
}

static long ctx_sync(struct adv_zone *z)
{
	void *av[] = { NULL };
	return adv_call(z, &vgpu_call_cuCtxSynchronize, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	CUdeviceptr pa = 0;
	enum { N = 4096, FLOOD = 20000 };
	static uint8_t back[N];

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "flooder", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "neighbour", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &pa, N), CUDA_SUCCESS);

	unsigned sent = 0;
	for (unsigned i = 0; i < FLOOD; i++) {
		if (memset_async(&a, pa, (unsigned char)i, N) != 0)
			break;
		sent++;
		if (i % 5000 == 0)
			CHECK(adv_alive(&b));   /* the other zone is served during the flood */
	}
	CHECK_EQ(sent, FLOOD);
	/* Async errors are kept, not lost: one bad memset in the flood is reported by the sync. */
	CHECK_EQ(memset_async(&a, pa + N, 1, 1), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(ctx_sync(&a), CUDA_SUCCESS);
	CHECK_EQ(adv_dtoh(&a, back, pa, N), CUDA_SUCCESS);
	CHECK_EQ(back[0], (uint8_t)(FLOOD - 1));
	CHECK_EQ(back[N - 1], (uint8_t)(FLOOD - 1));
	CHECK(adv_alive(&a) && adv_alive(&b));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
