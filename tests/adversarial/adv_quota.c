/* SPDX-License-Identifier: MIT */
/* adv_quota.c — device-memory and handle quota exhaustion (--zone-mem-limit, --zone-handle-limit) against a real proxy. */
#include "adv.h"

/* Contract (proxy/zone.h, DESIGN): a zone over its quota gets CUDA_ERROR_OUT_OF_MEMORY and
 * never another zone's share; freeing gives the quota back; context limits the driver backs
 * with device memory (malloc heap, printf buffer, stack) are charged to it too. */

static long memfree(struct adv_zone *z, CUdeviceptr d)
{
	void *av[] = { &d };
	return adv_call(z, &vgpu_call_cuMemFree_v2, av);
}

static long set_limit(struct adv_zone *z, CUlimit limit, size_t value)
{
	void *av[] = { &limit, &value };
	return adv_call(z, &vgpu_call_cuCtxSetLimit, av);
}

static long get_limit(struct adv_zone *z, CUlimit limit, size_t *value)
{
	void *av[] = { &value, &limit };
	return adv_call(z, &vgpu_call_cuCtxGetLimit, av);
}

static long event_create(struct adv_zone *z, CUevent *e)
{
	unsigned fl = 0;
	void *av[] = { &e, &fl };
	return adv_call(z, &vgpu_call_cuEventCreate, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	CUdeviceptr a1 = 0, a2 = 0, a3 = 0, b1 = 0;
	const char *extra[] = { "--zone-mem-limit", "1M", "--zone-handle-limit", "16", NULL };

	if (adv_start(&p, extra) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "greedy", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "neighbour", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	/* Memory: 768 KiB fits the 1 MiB quota, 512 KiB more does not, nor 2^63 or 2^64-1 bytes. */
	CHECK_EQ(adv_alloc(&a, &a1, 768u << 10), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &a2, 512u << 10), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(adv_alloc(&a, &a2, (size_t)1 << 63), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(adv_alloc(&a, &a2, (size_t)UINT64_MAX), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(adv_alloc(&a, &a2, 256u << 10), CUDA_SUCCESS);   /* exactly at the limit */
	CHECK_EQ(adv_alloc(&a, &a3, 1), CUDA_ERROR_OUT_OF_MEMORY);
	/* The neighbour's quota is its own. */
	CHECK_EQ(adv_alloc(&b, &b1, 1u << 20), CUDA_SUCCESS);
	/* Freeing gives it back. */
	CHECK_EQ(memfree(&a, a1), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &a3, 512u << 10), CUDA_SUCCESS);

	/* Handles: 16 live per zone (the context counts); events until the table is full. */
	unsigned made = 0;
	long r = CUDA_SUCCESS;
	for (unsigned i = 0; i < 64; i++) {
		CUevent e = NULL;
		r = event_create(&a, &e);
		if (r != CUDA_SUCCESS)
			break;
		made++;
	}
	CHECK_EQ(r, CUDA_ERROR_OUT_OF_MEMORY);
	CHECK(made > 0 && made < 16);
	/* The neighbour can still create its own. */
	CUevent eb = NULL;
	CHECK_EQ(event_create(&b, &eb), CUDA_SUCCESS);
	CHECK(adv_alive(&a) && adv_alive(&b));

	/* Context limits the driver backs with device memory count against the quota: a malloc
	 * heap of 2 MiB is refused (the limit stays), a printf buffer of 512 KiB is charged (768
	 * KiB more no longer fit) and given back when it shrinks, a 4 KiB stack costs 4 KiB for
	 * every thread the device holds at once. */
	struct adv_zone c;
	CUcontext cc = NULL;
	CUdeviceptr c1 = 0;
	size_t heap = 0, heap_after = 0;
	CHECK_EQ(adv_open(&p, &c, "limits", NULL), 0);
	CHECK_EQ(adv_init_ctx(&c, &cc), CUDA_SUCCESS);
	CHECK_EQ(get_limit(&c, CU_LIMIT_MALLOC_HEAP_SIZE, &heap), CUDA_SUCCESS);
	CHECK_EQ(set_limit(&c, CU_LIMIT_MALLOC_HEAP_SIZE, 2u << 20), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(get_limit(&c, CU_LIMIT_MALLOC_HEAP_SIZE, &heap_after), CUDA_SUCCESS);
	CHECK_EQ(heap_after, heap);
	CHECK_EQ(set_limit(&c, CU_LIMIT_PRINTF_FIFO_SIZE, 512u << 10), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&c, &c1, 768u << 10), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(set_limit(&c, CU_LIMIT_PRINTF_FIFO_SIZE, 128u << 10), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&c, &c1, 768u << 10), CUDA_SUCCESS);
	CHECK_EQ(set_limit(&c, CU_LIMIT_STACK_SIZE, 4096), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(set_limit(&c, CU_LIMIT_STACK_SIZE, (size_t)1 << 62), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK(adv_alive(&c));
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	vgpu_chan_close(c.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
