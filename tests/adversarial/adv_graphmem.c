/* SPDX-License-Identifier: MIT */
/* adv_graphmem.c — graph memory nodes: a captured allocation stays charged while its graph (or an executable graph made from it) lives, and stays the zone's own. */
#include "adv.h"

/*
 * Contract (proxy/custom.c hook_dptr_alloc, chanloop.c prepare_destroys): a stream-ordered
 * allocation made inside a capture belongs to the capture's graph, which allocates it again
 * at each launch: it is charged to the zone's quota and usable in the zone's range checks
 * for as long as the graph lives, whatever frees it in between (a free node in the capture,
 * or the program after a launch), and both end with the graph. Another zone cannot name it.
 * Without this a zone could capture a graph that allocates its whole quota, have the charge
 * given back by the captured free, allocate the quota again, and launch the graph.
 */

static long alloc_async(struct adv_zone *z, CUdeviceptr *p, size_t n, CUstream s)
{
	void *av[] = { &p, &n, &s };
	return adv_call(z, &vgpu_call_cuMemAllocAsync, av);
}

static long free_async(struct adv_zone *z, CUdeviceptr p, CUstream s)
{
	void *av[] = { &p, &s };
	return adv_call(z, &vgpu_call_cuMemFreeAsync, av);
}

static long memset8(struct adv_zone *z, CUdeviceptr p, size_t n)
{
	unsigned char v = 0x5a;
	void *av[] = { &p, &v, &n };
	return adv_call(z, &vgpu_call_cuMemsetD8_v2, av);
}

/* Capture, on stream s, an allocation of n bytes that the capture then frees; its graph. */
static CUgraph capture_alloc_free(struct adv_zone *z, CUstream s, size_t n, CUdeviceptr *p)
{
	unsigned mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
	void *ba[] = { &s, &mode };
	CHECK_EQ(adv_call(z, &vgpu_call_cuStreamBeginCapture_v2, ba), CUDA_SUCCESS);
	CHECK_EQ(alloc_async(z, p, n, s), CUDA_SUCCESS);
	CHECK_EQ(free_async(z, *p, s), CUDA_SUCCESS);
	CUgraph g = NULL, *pg = &g;
	void *ea[] = { &s, &pg };
	CHECK_EQ(adv_call(z, &vgpu_call_cuStreamEndCapture, ea), CUDA_SUCCESS);
	CHECK(g != NULL);
	return g;
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	const char *extra[] = { "--zone-mem-limit", "4M", NULL };

	if (adv_start(&p, extra) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "grapher", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "neighbour", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	CUstream s = NULL, *ps = &s;
	unsigned sfl = CU_STREAM_NON_BLOCKING;
	void *sa[] = { &ps, &sfl };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamCreate, sa), CUDA_SUCCESS);

	/*
	 * A copy to host memory on a capturing stream, as a zone other than libvgpu may send it
	 * (libvgpu captures such copies through staging of its own: libvgpu/gcopy.c): refused,
	 * small (its bytes inline in the reply) or large (on the bulk stream), since the graph
	 * would keep the address of the worker's reply buffer or staging, written at each launch
	 * long after the call. The capture itself goes on.
	 */
	{
		CUdeviceptr src = 0;
		CHECK_EQ(adv_alloc(&a, &src, 256u << 10), CUDA_SUCCESS);
		static unsigned char host[128u << 10];
		unsigned cm = CU_STREAM_CAPTURE_MODE_GLOBAL;
		void *cb2[] = { &s, &cm };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamBeginCapture_v2, cb2), CUDA_SUCCESS);
		size_t sizes[] = { 8, sizeof(host) };
		for (unsigned i = 0; i < 2; i++) {
			void *hp = host, *cp[] = { &hp, &src, &sizes[i], &s };
			CHECK_EQ(adv_call(&a, &vgpu_call_cuMemcpyDtoHAsync_v2, cp), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
		}
		CUgraph cg = NULL, *pcg = &cg;
		void *ce[] = { &s, &pcg };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamEndCapture, ce), CUDA_SUCCESS);
		void *cd[] = { &cg };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphDestroy, cd), CUDA_SUCCESS);
		void *fs[] = { &src };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFree_v2, fs), CUDA_SUCCESS);
	}

	/* 3 MiB allocated and freed inside the capture: the graph holds them. */
	CUdeviceptr gp = 0, d = 0;
	CUgraph g = capture_alloc_free(&a, s, 3u << 20, &gp);
	CHECK_EQ(adv_alloc(&a, &d, 2u << 20), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(adv_alloc(&a, &d, 512u << 10), CUDA_SUCCESS);
	/* the graph's memory is the zone's to name (its own context's: touched outside the graph's
	 * launches it faults there, as on a GPU), never the neighbour's */
	CHECK_EQ(memset8(&b, gp, 4096), CUDA_ERROR_INVALID_VALUE);
	/* the zone cannot take the graph's allocation away from it */
	void *fa[] = { &gp };
	CHECK(adv_call(&a, &vgpu_call_cuMemFree_v2, fa) != CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &d, 2u << 20), CUDA_ERROR_OUT_OF_MEMORY);

	/* The graph goes: its memory is given back, and can no longer be named. */
	void *da[] = { &g };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphDestroy, da), CUDA_SUCCESS);
	CHECK_EQ(memset8(&a, gp, 4096), CUDA_ERROR_INVALID_VALUE);   /* refused by the proxy: no range */
	CUdeviceptr d2 = 0, d3_probe = 0;
	CHECK_EQ(adv_alloc(&a, &d2, 2u << 20), CUDA_SUCCESS);

	/*
	 * An allocation the graph does not free, the graph destroyed once instantiated: the
	 * executable graph allocates it at each launch, and what a launch left allocated the
	 * zone may use and free. It stays charged and the zone's to name while the executable
	 * graph lives, never the neighbour's, and goes with the executable graph.
	 */
	CUdeviceptr gk = 0;
	unsigned cmode = CU_STREAM_CAPTURE_MODE_GLOBAL;
	void *cba[] = { &s, &cmode };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamBeginCapture_v2, cba), CUDA_SUCCESS);
	CHECK_EQ(alloc_async(&a, &gk, 1u << 20, s), CUDA_SUCCESS);
	CUgraph gkg = NULL, *pgkg = &gkg;
	void *cea[] = { &s, &pgkg };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamEndCapture, cea), CUDA_SUCCESS);
	CUgraphExec x = NULL, *px = &x;
	unsigned long long xfl = 0;
	void *ia[] = { &px, &gkg, &xfl };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphInstantiateWithFlags, ia), CUDA_SUCCESS);
	void *gda[] = { &gkg };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphDestroy, gda), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &d3_probe, 1u << 20), CUDA_ERROR_OUT_OF_MEMORY);   /* still charged */
	void *la[] = { &x, &s };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphLaunch, la), CUDA_SUCCESS);
	void *ssa[] = { &s };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamSynchronize, ssa), CUDA_SUCCESS);
	CHECK_EQ(memset8(&a, gk, 4096), CUDA_SUCCESS);
	CHECK_EQ(memset8(&b, gk, 4096), CUDA_ERROR_INVALID_VALUE);
	void *gfa[] = { &gk };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFree_v2, gfa), CUDA_SUCCESS);   /* freed outside the graph */
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphLaunch, la), CUDA_SUCCESS);     /* allocated again */
	CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamSynchronize, ssa), CUDA_SUCCESS);
	CHECK_EQ(free_async(&a, gk, s), CUDA_SUCCESS);
	CHECK_EQ(adv_call(&a, &vgpu_call_cuStreamSynchronize, ssa), CUDA_SUCCESS);
	void *xda[] = { &x };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphExecDestroy, xda), CUDA_SUCCESS);
	CHECK_EQ(memset8(&a, gk, 4096), CUDA_ERROR_INVALID_VALUE);   /* gone with the executable graph */
	CHECK_EQ(adv_alloc(&a, &d3_probe, 1u << 20), CUDA_SUCCESS);   /* and given back */
	void *pfa[] = { &d3_probe };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFree_v2, pfa), CUDA_SUCCESS);

	/* A graph that goes with its context: a reset gives its memory back too. */
	CUdeviceptr gp2 = 0;
	(void)capture_alloc_free(&a, s, 1u << 20, &gp2);
	CUdeviceptr d3 = 0;
	CHECK_EQ(adv_alloc(&a, &d3, 1u << 20), CUDA_ERROR_OUT_OF_MEMORY);
	CUdevice dev = 0;
	void *rs[] = { &dev };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxReset_v2, rs), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &d3, 4u << 20), CUDA_SUCCESS);

	CHECK(adv_alive(&a) && adv_alive(&b));
	(void)cb;
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
