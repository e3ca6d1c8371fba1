/* SPDX-License-Identifier: MIT */
/* libcudasim graph memory nodes: stream-ordered allocations captured into a graph (alloc and
 * free nodes) and launched many times at one address; an allocation a launch leaves allocated,
 * freed after it, and the relaunch refused until then; AUTO_FREE_ON_LAUNCH; alloc and free
 * nodes made by hand and read back; the restrictions of cuda.h (no clone, one executable graph,
 * no node removal, no child graph); the graph memory attributes; memory given back when the
 * graphs, their executable graphs or their context go; a kernel touching graph memory after
 * its free node faults. */
#include "simtest.h"

#include <stdint.h>

enum { N = 256 };
static CUmodule mod;
static CUstream s;
static CUdeviceptr out;

static cuuint64_t gattr(CUgraphMem_attribute a)
{
	cuuint64_t v = 12345;
	CK(cuDeviceGetGraphMemAttribute(0, a, &v));
	return v;
}

/* y = a*x + y over N floats, on the stream */
static void saxpy(CUstream st, float a, CUdeviceptr x, CUdeviceptr y)
{
	CUfunction f;
	int n = N;
	CK(cuModuleGetFunction(&f, mod, "saxpy"));
	void *args[] = {&n, &a, &x, &y};
	CK(cuLaunchKernel(f, N / 64, 1, 1, 64, 1, 1, 0, st, args, NULL));
}

static unsigned u32_of(float v) { unsigned u; memcpy(&u, &v, 4); return u; }

static void expect_out(float want)
{
	float h[N];
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(h, out, sizeof(h)));
	for (int i = 0; i < N; i++)
		if (h[i] != want) {
			fprintf(stderr, "out[%d] = %g, expected %g\n", i, (double)h[i], (double)want);
			exit(1);
		}
}

static size_t count_type(CUgraph g, CUgraphNodeType t, CUgraphNode *first)
{
	CUgraphNode nodes[32];
	size_t n = 32, k = 0;
	CK(cuGraphGetNodes(g, nodes, &n));
	for (size_t i = 0; i < n; i++) {
		CUgraphNodeType ty;
		CK(cuGraphNodeGetType(nodes[i], &ty));
		if (ty == t && !k++ && first)
			*first = nodes[i];
	}
	return k;
}

/* alloc, memset, kernel, free captured; the graph launched many times at one address */
static void t_capture(void)
{
	CUgraph g, g2, child;
	CUgraphExec x, x2;
	CUdeviceptr tmp = 0;
	CUgraphNode an, fn, nd;

	CK(cuMemsetD32(out, 0, N));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemAllocAsync(&tmp, N * sizeof(float), s));
	EXPECT(tmp != 0);
	CK(cuMemsetD32Async(tmp, u32_of(1.0f), N, s));
	saxpy(s, 2.0f, tmp, out);
	CK(cuMemFreeAsync(tmp, s));
	CK(cuStreamEndCapture(s, &g));
	EXPECT(count_type(g, CU_GRAPH_NODE_TYPE_MEM_ALLOC, &an) == 1);
	EXPECT(count_type(g, CU_GRAPH_NODE_TYPE_MEM_FREE, &fn) == 1);
	CUDA_MEM_ALLOC_NODE_PARAMS ap;
	CK(cuGraphMemAllocNodeGetParams(an, &ap));
	EXPECT(ap.dptr == tmp && ap.bytesize == N * sizeof(float));
	EXPECT(ap.poolProps.allocType == CU_MEM_ALLOCATION_TYPE_PINNED);
	EXPECT(ap.poolProps.location.type == CU_MEM_LOCATION_TYPE_DEVICE && ap.poolProps.location.id == 0);
	CUdeviceptr fp = 0;
	CK(cuGraphMemFreeNodeGetParams(fn, &fp));
	EXPECT(fp == tmp);
	CK_RC(cuGraphMemFreeNodeGetParams(an, &fp), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGraphMemAllocNodeGetParams(fn, &ap), CUDA_ERROR_INVALID_VALUE);
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) >= N * sizeof(float));

	/* the restrictions of cuda.h for graphs with memory nodes */
	CK_RC(cuGraphClone(&g2, g), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(cuGraphDestroyNode(fn), CUDA_ERROR_INVALID_VALUE);
	CK(cuGraphCreate(&child, 0));
	CK_RC(cuGraphAddChildGraphNode(&nd, child, NULL, 0, g), CUDA_ERROR_INVALID_VALUE);
	CK(cuGraphDestroy(child));
	CK_RC(cuGraphAddMemFreeNode(&nd, g, NULL, 0, tmp), CUDA_ERROR_INVALID_VALUE);   /* freed once */

	CK(cuGraphInstantiate(&x, g, 0));
	CK_RC(cuGraphInstantiate(&x2, g, 0), CUDA_ERROR_NOT_SUPPORTED);   /* one at a time */
	for (int i = 0; i < 5; i++)
		CK(cuGraphLaunch(x, s));
	expect_out(10.0f);
	/* freed by its graph: never by the program */
	CK_RC(cuMemFreeAsync(tmp, s), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemFree(tmp), CUDA_ERROR_INVALID_VALUE);
	CK(cuGraphExecDestroy(x));
	CK(cuGraphInstantiate(&x2, g, 0));   /* the first one is gone */
	CK(cuGraphLaunch(x2, s));
	expect_out(12.0f);
	CK(cuGraphExecDestroy(x2));
	CK(cuGraphDestroy(g));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
}

/* an allocation the graph leaves allocated: usable after the launch, freed by the program,
 * and the relaunch refused until it is */
static void t_persistent(void)
{
	CUgraph g;
	CUgraphExec x;
	CUdeviceptr p = 0;
	float h[N];

	CK(cuMemsetD32(out, 0, N));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemAllocAsync(&p, N * sizeof(float), s));
	CK(cuMemsetD32Async(p, u32_of(3.0f), N, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&x, g, 0));
	CK_RC(cuMemFreeAsync(p, s), CUDA_ERROR_INVALID_VALUE);   /* no launch made it yet */
	CK(cuGraphLaunch(x, s));
	saxpy(s, 1.0f, p, out);                               /* stream work after the launch */
	CK(cuMemcpyDtoHAsync(h, p, sizeof(h), s));
	expect_out(3.0f);
	EXPECT(h[0] == 3.0f && h[N - 1] == 3.0f);
	CK_RC(cuGraphLaunch(x, s), CUDA_ERROR_INVALID_VALUE);   /* p is still allocated */
	CK(cuMemFreeAsync(p, s));
	CK_RC(cuMemFreeAsync(p, s), CUDA_ERROR_INVALID_VALUE);  /* twice */
	CK(cuGraphLaunch(x, s));                                /* same address again */
	saxpy(s, 1.0f, p, out);
	expect_out(6.0f);
	CK(cuMemFree(p));                                       /* the synchronous free too */
	CK_RC(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
	/* left allocated when the graph goes: the memory outlives it until the program frees it */
	CK(cuGraphLaunch(x, s));
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) >= N * sizeof(float));
	saxpy(s, 1.0f, p, out);
	expect_out(9.0f);
	CK(cuMemFreeAsync(p, s));
	CK(cuStreamSynchronize(s));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
}

/* AUTO_FREE_ON_LAUNCH frees what the previous launch left; a pool's allocation in a capture */
static void t_autofree_pool(void)
{
	CUgraph g;
	CUgraphExec x;
	CUdeviceptr p = 0;
	CUmemoryPool pool;
	CUmemPoolProps pp;
	memset(&pp, 0, sizeof(pp));
	pp.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	pp.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	pp.location.id = 0;
	CK(cuMemPoolCreate(&pool, &pp));

	CK(cuMemsetD32(out, 0, N));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemAllocFromPoolAsync(&p, N * sizeof(float), pool, s));
	CK(cuMemsetD32Async(p, u32_of(0.5f), N, s));
	saxpy(s, 2.0f, p, out);
	CK(cuStreamEndCapture(s, &g));
	cuuint64_t used = 1;
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
	EXPECT(used == 0);                                   /* the graph's, not the pool's */
	CK(cuGraphInstantiateWithFlags(&x, g, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
	for (int i = 0; i < 4; i++)
		CK(cuGraphLaunch(x, s));
	expect_out(4.0f);
	CK(cuMemFreeAsync(p, s));
	CK(cuGraphLaunch(x, s));
	expect_out(5.0f);
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	/* the last launch left it allocated: it outlives the graph until freed */
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == N * sizeof(float));
	CK(cuMemFree(p));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
	CK(cuMemPoolDestroy(pool));
}

/* alloc and free nodes made by hand, also through the generic call */
static void t_explicit(void)
{
	CUgraph g;
	CUgraphExec x;
	CUgraphNode a, a2, m, k, f, f2, bad;
	CUDA_MEM_ALLOC_NODE_PARAMS ap;
	CUmemAccessDesc acc = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};

	memset(&ap, 0, sizeof(ap));
	ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	ap.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	ap.poolProps.location.id = 0;
	ap.accessDescs = &acc;
	ap.accessDescCount = 1;
	ap.bytesize = N * sizeof(float);
	CK(cuGraphCreate(&g, 0));
	CK_RC(cuGraphAddMemAllocNode(&a, g, NULL, 0, NULL), CUDA_ERROR_INVALID_VALUE);
	ap.bytesize = 0;
	CK_RC(cuGraphAddMemAllocNode(&a, g, NULL, 0, &ap), CUDA_ERROR_INVALID_VALUE);
	ap.bytesize = N * sizeof(float);
	CK(cuGraphAddMemAllocNode(&a, g, NULL, 0, &ap));
	EXPECT(ap.dptr != 0);
	CUDA_MEM_ALLOC_NODE_PARAMS back;
	CK(cuGraphMemAllocNodeGetParams(a, &back));
	EXPECT(back.dptr == ap.dptr && back.bytesize == ap.bytesize && back.accessDescCount == 1 &&
	       back.accessDescs && back.accessDescs != &acc && back.accessDescs[0].flags == acc.flags);

	/* the generic form: a second allocation */
	CUgraphNodeParams np;
	memset(&np, 0, sizeof(np));
	np.type = CU_GRAPH_NODE_TYPE_MEM_ALLOC;
	np.alloc.poolProps = ap.poolProps;
	np.alloc.bytesize = N * sizeof(float);
	CK(cuGraphAddNode(&a2, g, &a, NULL, 1, &np));
	EXPECT(np.alloc.dptr != 0 && np.alloc.dptr != ap.dptr);

	CUDA_MEMSET_NODE_PARAMS ms = {ap.dptr, 0, u32_of(4.0f), 4, N, 1};
	CK(cuGraphAddMemsetNode(&m, g, &a2, 1, &ms, NULL));
	CUfunction fn;
	CK(cuModuleGetFunction(&fn, mod, "saxpy"));
	int n = N;
	float al = 1.0f;
	CUdeviceptr xx = ap.dptr, yy = out;
	void *args[] = {&n, &al, &xx, &yy};
	CUDA_KERNEL_NODE_PARAMS kp;
	memset(&kp, 0, sizeof(kp));
	kp.func = fn;
	kp.gridDimX = N / 64; kp.gridDimY = kp.gridDimZ = 1;
	kp.blockDimX = 64; kp.blockDimY = kp.blockDimZ = 1;
	kp.kernelParams = args;
	CK(cuGraphAddKernelNode(&k, g, &m, 1, &kp));
	CK(cuGraphAddMemFreeNode(&f, g, &k, 1, ap.dptr));
	CK_RC(cuGraphAddMemFreeNode(&bad, g, &k, 1, ap.dptr), CUDA_ERROR_INVALID_VALUE);   /* twice */
	CK_RC(cuGraphAddMemFreeNode(&bad, g, &k, 1, out), CUDA_ERROR_INVALID_VALUE);       /* not a graph's */
	CK_RC(cuGraphAddMemFreeNode(&bad, g, &k, 1, ap.dptr + 4), CUDA_ERROR_INVALID_VALUE);
	memset(&np, 0, sizeof(np));
	np.type = CU_GRAPH_NODE_TYPE_MEM_FREE;
	np.free.dptr = 0;
	CK_RC(cuGraphAddNode(&bad, g, &k, NULL, 1, &np), CUDA_ERROR_INVALID_VALUE);
	CUdeviceptr second = 0;
	CK(cuGraphMemAllocNodeGetParams(a2, &back));
	second = back.dptr;
	np.free.dptr = second;
	CK(cuGraphAddNode(&f2, g, &f, NULL, 1, &np));
	CUdeviceptr fp;
	CK(cuGraphMemFreeNodeGetParams(f, &fp));
	EXPECT(fp == ap.dptr);
	CK(cuGraphMemFreeNodeGetParams(f2, &fp));
	EXPECT(fp == second);
	CK_RC(cuGraphRemoveDependencies(g, &k, &f, NULL, 1), CUDA_ERROR_INVALID_VALUE);

	CK(cuMemsetD32(out, 0, N));
	CK(cuGraphInstantiate(&x, g, 0));
	for (int i = 0; i < 3; i++)
		CK(cuGraphLaunch(x, s));
	expect_out(12.0f);
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 2 * N * sizeof(float));
	CK(cuGraphDestroy(g));                                /* the executable graph keeps it */
	CK(cuGraphLaunch(x, s));
	expect_out(16.0f);
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 2 * N * sizeof(float));
	CK(cuGraphExecDestroy(x));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
}

static void t_attributes(void)
{
	cuuint64_t v = 0;
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT) == 0);
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH) >= 2 * N * sizeof(float));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) >= 2 * N * sizeof(float));
	CK(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &v));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH) == 0);
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) > 0);
	CK(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH, &v));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) == 0);
	CK_RC(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &v), CUDA_ERROR_INVALID_VALUE);
	v = 5;
	CK_RC(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &v), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuDeviceGetGraphMemAttribute(0, (CUgraphMem_attribute)99, &v), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuDeviceGetGraphMemAttribute(7, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &v), CUDA_ERROR_INVALID_DEVICE);
	CK(cuDeviceGraphMemTrim(0));
	CK_RC(cuDeviceGraphMemTrim(7), CUDA_ERROR_INVALID_DEVICE);
}

/* a context of its own: its graph memory goes with it, and a kernel reaching graph memory
 * after the free node faults (sticky, so last) */
static void t_context_and_fault(CUcontext main_ctx)
{
	CUcontext c2;
	CUstream s2;
	CUmodule m2;
	CUgraph g, keep;
	CUgraphExec x;
	CUdeviceptr p = 0, q = 0, o2;
	CK(cuCtxCreate(&c2, NULL, 0, 0));
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&m2, img));
	free(img);
	CK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&o2, N * sizeof(float)));

	CK(cuStreamBeginCapture(s2, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemAllocAsync(&q, 4096, s2));
	CK(cuStreamEndCapture(s2, &keep));                   /* left alive: the context takes it */
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 4096);

	CK(cuStreamBeginCapture(s2, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemAllocAsync(&p, N * sizeof(float), s2));
	CK(cuMemsetD32Async(p, 0, N, s2));
	CK(cuMemFreeAsync(p, s2));
	CK(cuStreamEndCapture(s2, &g));
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, s2));
	CK(cuStreamSynchronize(s2));
	CUfunction f;
	int n = N;
	float a = 1.0f;
	CK(cuModuleGetFunction(&f, m2, "saxpy"));
	void *args[] = {&n, &a, &p, &o2};
	CK(cuLaunchKernel(f, N / 64, 1, 1, 64, 1, 1, 0, s2, args, NULL));
	CK_RC(cuStreamSynchronize(s2), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK(cuGraphExecDestroy(x));
	CK(cuCtxDestroy(c2));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
	CK(cuCtxSetCurrent(main_ctx));
	CK(cuGraphDestroy(keep));                            /* its memory went with the context */
	CK(cuGraphDestroy(g));
	EXPECT(gattr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "64M", 1);
	CUcontext ctx;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&mod, img));
	free(img);
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&out, N * sizeof(float)));
	t_capture();
	t_persistent();
	t_autofree_pool();
	t_explicit();
	t_attributes();
	t_context_and_fault(ctx);
	CK(cuStreamDestroy(s));
	CK(cuCtxDestroy(ctx));
	printf("test_sim_graphmem: all checks passed\n");
	return 0;
}
