/* SPDX-License-Identifier: MIT */
/* legacy_graph.c — end to end: graph and capture calls as a program built with CUDA 10/11 fetches them (older ABI versions). */
#include "e2e.h"

#include <cudaProfiler.h>

/* (cuCtxAttach and cuCtxDetach are declared deprecated; old programs call them all the same) */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef CUresult (*pfn_begin_v1)(CUstream);
typedef CUresult (*pfn_info_v1)(CUstream, CUstreamCaptureStatus *, cuuint64_t *);
typedef CUresult (*pfn_inst_v1)(CUgraphExec *, CUgraph, CUgraphNode *, char *, size_t);
typedef CUresult (*pfn_edges_v1)(CUgraph, CUgraphNode *, CUgraphNode *, size_t *);
typedef CUresult (*pfn_adddep_v1)(CUgraph, const CUgraphNode *, const CUgraphNode *, size_t);
typedef CUresult (*pfn_write32_v1)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
typedef CUresult (*pfn_prefetch_v1)(CUdeviceptr, size_t, CUdevice, CUstream);
typedef CUresult (*pfn_advise_v1)(CUdeviceptr, size_t, CUmem_advise, CUdevice);

/* The first ABI versions, as a program built with CUDA 3 calls them (cuda.h maps the names on). */
#undef cuDeviceTotalMem
#undef cuMemGetInfo
#undef cuMemAllocHost
CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev);
CUresult cuMemGetInfo(unsigned int *free, unsigned int *total);
CUresult cuMemAllocHost(void **pp, unsigned int bytesize);
CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams, unsigned int flags,
			CUdevice dev);

/* The entry point a program built with CUDA `version` gets for `name`. */
static void *entry(const char *name, int version)
{
	CUdriverProcAddressQueryResult st;
	void *p = NULL;
	CK(cuGetProcAddress(name, &p, version, CU_GET_PROC_ADDRESS_DEFAULT, &st));
	EXPECT(p && st == CU_GET_PROC_ADDRESS_SUCCESS);
	return p;
}

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUstream s;
	CUdeviceptr d;
	CUgraph g;
	CUgraphExec ge;
	CUgraphNode errnode = (CUgraphNode)1, a, b;
	char log[16] = "x";
	unsigned vals[256];

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&d, sizeof(vals)));

	pfn_begin_v1 begin = (pfn_begin_v1)entry("cuStreamBeginCapture", 10000);
	pfn_info_v1 info = (pfn_info_v1)entry("cuStreamGetCaptureInfo", 10010);
	pfn_inst_v1 inst = (pfn_inst_v1)entry("cuGraphInstantiate", 10000);
	pfn_edges_v1 edges = (pfn_edges_v1)entry("cuGraphGetEdges", 10000);
	pfn_adddep_v1 adddep = (pfn_adddep_v1)entry("cuGraphAddDependencies", 10000);

	CK(begin(s));
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	cuuint64_t id = 0;
	CK(info(s, &st, &id));
	EXPECT(st == CU_STREAM_CAPTURE_STATUS_ACTIVE && id != 0);
	CK(cuMemsetD32Async(d, 0x1234, 256, s));
	CK(cuStreamEndCapture(s, &g));

	/* two empty nodes joined by an edge through the old form */
	CK(cuGraphAddEmptyNode(&a, g, NULL, 0));
	CK(cuGraphAddEmptyNode(&b, g, NULL, 0));
	CK(adddep(g, &a, &b, 1));
	size_t n = 0;
	CK(edges(g, NULL, NULL, &n));
	EXPECT(n == 1);

	CK(inst(&ge, g, &errnode, log, sizeof(log)));
	EXPECT(errnode == NULL && log[0] == 0);
	for (int round = 0; round < 2; round++) {
		memset(vals, 0, sizeof(vals));
		/* on s: a cuMemsetD32 of device memory may still run when the graph's own does on a
		 * non-blocking stream (the driver's memset does not wait for it) */
		CK(cuMemsetD32Async(d, 0, 256, s));
		CK(cuGraphLaunch(ge, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(vals, d, sizeof(vals)));
		for (int i = 0; i < 256; i++)
			EXPECT(vals[i] == 0x1234);
	}
	/* a stream memory operation as CUDA 9 fetched it, and the profiler bracket benchmarks use */
	/* (served only where the device says CAN_USE_STREAM_MEM_OPS_V1, which needs an option of
	 * NVIDIA's kernel module: "not supported" elsewhere, as on the simulator) */
	pfn_write32_v1 write32 = (pfn_write32_v1)entry("cuStreamWriteValue32", 9000);
	pfn_write32_v1 write32_v2 = (pfn_write32_v1)entry("cuStreamWriteValue32", 11070);
	int v1 = 0;
	CK(cuDeviceGetAttribute(&v1, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1, dev));
	CK(cuProfilerStart());
	if (v1) {
		CK(write32(s, d, 0xfeedu, 0));
	} else {
		CK_ERR(write32(s, d, 0xfeedu, 0), CUDA_ERROR_NOT_SUPPORTED);
		CK(write32_v2(s, d, 0xfeedu, 0));
	}
	CK(cuStreamSynchronize(s));
	CK(cuProfilerStop());
	CK(cuMemcpyDtoH(vals, d, 4));
	EXPECT(vals[0] == 0xfeedu);
	/* managed memory's prefetch and advice as CUDA 8-12.1 fetched them (a device, not a location) */
	{
		pfn_prefetch_v1 prefetch = (pfn_prefetch_v1)entry("cuMemPrefetchAsync", 8000);
		pfn_advise_v1 advise = (pfn_advise_v1)entry("cuMemAdvise", 8000);
		CUdriverProcAddressQueryResult qs;
		pfn_prefetch_v1 prefetch_ptsz = NULL;
		CK(cuGetProcAddress("cuMemPrefetchAsync", (void **)&prefetch_ptsz, 8000,
				    CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &qs));
		EXPECT(prefetch_ptsz && qs == CU_GET_PROC_ADDRESS_SUCCESS);
		CUdeviceptr m;
		CK(cuMemAllocManaged(&m, 1 << 16, CU_MEM_ATTACH_GLOBAL));
		unsigned *hm = (unsigned *)(uintptr_t)m;
		for (int i = 0; i < 256; i++)
			hm[i] = 7u * (unsigned)i;
		CK(advise(m, 1 << 16, CU_MEM_ADVISE_SET_READ_MOSTLY, dev));
		CK(advise(m, 1 << 16, CU_MEM_ADVISE_SET_PREFERRED_LOCATION, CU_DEVICE_CPU));
		CK(prefetch(m, 1 << 16, dev, s));
		CK(prefetch_ptsz(m, 1 << 12, CU_DEVICE_CPU, NULL));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(vals, m, sizeof(vals)));
		for (int i = 0; i < 256; i++)
			EXPECT(vals[i] == 7u * (unsigned)i);
		EXPECT(prefetch(m + (1 << 16), 4096, dev, s) == CUDA_ERROR_INVALID_VALUE);   /* past its end */
		EXPECT(advise(m, 1 << 16, (CUmem_advise)0, dev) == CUDA_ERROR_INVALID_VALUE);
		CK(cuMemFree(m));
	}
	/* the first, 32-bit-size versions of memory and context calls */
	unsigned int total32 = 0, free32 = 0, all32 = 0;
	CK(cuDeviceTotalMem(&total32, dev));
	CUresult rinfo = cuMemGetInfo(&free32, &all32);
	if (e2e_real_driver_direct() && rinfo == CUDA_ERROR_INVALID_CONTEXT) {
		/* driver 580 answers this to the 32-bit cuMemGetInfo with a context current (H200);
		 * vgpu and the simulator answer from the current context */
	} else {
		CK(rinfo);
		EXPECT(total32 > 0 && free32 <= all32);
	}
	void *ph = NULL;
	CK(cuMemAllocHost(&ph, 4096));
	CK(cuMemFreeHost(ph));
	CUcontext c3;
	CK(cuCtxCreate_v3(&c3, NULL, 0, 0, dev));
	CK(cuCtxDestroy(c3));
	/* CUDA 1-3's usage count, with which PyCUDA still ends every context: each attach takes a
	 * reference to the current context, each detach gives one back, the last destroys it */
	CUcontext c1, a1 = NULL, cur = NULL;
	CUdeviceptr x;
	CK(cuCtxCreate_v3(&c1, NULL, 0, 0, dev));
	CK_ERR(cuCtxAttach(NULL, 0), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuCtxAttach(&a1, 1), CUDA_ERROR_INVALID_VALUE);
	CK(cuCtxAttach(&a1, 0));
	EXPECT(a1 == c1);
	CK(cuCtxAttach(&a1, 0));
	CK(cuCtxDetach(c1));
	CK(cuCtxDetach(c1));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == c1);                                   /* still there, still current */
	CK(cuMemAlloc(&x, 256));
	CK(cuMemFree(x));
	CK(cuCtxDetach(c1));                                 /* its creation's reference: gone */
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur != c1);
	CK_ERR(cuCtxDetach(NULL), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxSetCurrent(NULL));
	CK_ERR(cuCtxAttach(&a1, 0), CUDA_ERROR_INVALID_CONTEXT);   /* none current */
	CK(cuCtxSetCurrent(ctx));
	printf("legacy_graph: capture, edges and instantiate through their CUDA 10 entry points; managed prefetch and advice through CUDA 8's; contexts attached and detached\n");
	CK(cuGraphExecDestroy(ge));
	CK(cuGraphDestroy(g));
	CK(cuMemFree(d));
	CK(cuStreamDestroy(s));
	CK(cuDevicePrimaryCtxRelease(dev));
	return 0;
}
