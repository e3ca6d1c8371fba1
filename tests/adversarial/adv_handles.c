/* SPDX-License-Identifier: MIT */
/* adv_handles.c — forged, stale and another zone's handles against a real proxy. */
#include "adv.h"

/* Contract (proxy/handles.h, docs/PROTOCOL.md): a handle id the zone's table did not issue,
 * or issued for an object since destroyed, or of another type, is CUDA_ERROR_INVALID_HANDLE,
 * and the owner's objects are untouched. */

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

static long stream_destroy(struct adv_zone *z, CUstream s)
{
	void *av[] = { &s };
	return adv_call(z, &vgpu_call_cuStreamDestroy_v2, av);
}

static long ctx_set(struct adv_zone *z, CUcontext c)
{
	void *av[] = { &c };
	return adv_call(z, &vgpu_call_cuCtxSetCurrent, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	CUstream sa1 = NULL, sa2 = NULL, stale = NULL;

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "owner", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "thief", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	CHECK_EQ(stream_create(&a, &sa1), CUDA_SUCCESS);
	CHECK_EQ(stream_create(&a, &sa2), CUDA_SUCCESS);
	CHECK_EQ(stream_create(&a, &stale), CUDA_SUCCESS);
	CHECK(sa1 && sa2 && stale && sa1 != sa2);

	/* Zone B names A's streams (B created none: in B's table those ids are unknown or another type). */
	CHECK_EQ(stream_sync(&b, sa1), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(stream_destroy(&b, sa2), CUDA_ERROR_INVALID_HANDLE);
	/* ... and A's context. If the ids coincide B's own context is named (same index and
	 * generation in B's table), which is B's, not A's: then it must simply succeed. */
	long r = ctx_set(&b, ca);
	CHECK(ca == cb ? r == CUDA_SUCCESS : r == CUDA_ERROR_INVALID_HANDLE);

	/* Forged ids: made-up generation, made-up index, all ones. */
	CHECK_EQ(stream_sync(&a, (CUstream)(uintptr_t)0x7777777700000002ull), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(stream_sync(&a, (CUstream)(uintptr_t)0x0000000100ffffffull), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(stream_sync(&a, (CUstream)(uintptr_t)UINT64_MAX), CUDA_ERROR_INVALID_HANDLE);
	/* Right index and generation, wrong type: a context id used as a stream. */
	CHECK_EQ(stream_sync(&a, (CUstream)ca), CUDA_ERROR_INVALID_HANDLE);

	/* Stale: destroyed, then used again; a new stream must not revive the old id. */
	CHECK_EQ(stream_destroy(&a, stale), CUDA_SUCCESS);
	CHECK_EQ(stream_sync(&a, stale), CUDA_ERROR_INVALID_HANDLE);
	CUstream fresh = NULL;
	CHECK_EQ(stream_create(&a, &fresh), CUDA_SUCCESS);
	CHECK(fresh != stale);
	CHECK_EQ(stream_sync(&a, stale), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(stream_destroy(&a, stale), CUDA_ERROR_INVALID_HANDLE);

	/* The owner's objects survived all of it. */
	CHECK_EQ(stream_sync(&a, sa1), CUDA_SUCCESS);
	CHECK_EQ(stream_sync(&a, sa2), CUDA_SUCCESS);
	CHECK_EQ(stream_sync(&a, fresh), CUDA_SUCCESS);
	CHECK(adv_alive(&b));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
