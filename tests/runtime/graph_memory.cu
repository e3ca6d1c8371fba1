// SPDX-License-Identifier: MIT
// graph_memory — graph memory nodes as programs use them: a temporary buffer taken with
// cudaMallocAsync and given back with cudaFreeAsync inside a stream capture around kernels,
// the graph launched many times; the same from a created pool (cudaMallocFromPoolAsync); an
// allocation the graph leaves allocated, used after the launch and freed by the program (the
// relaunch refused until then); cudaGraphInstantiateFlagAutoFreeOnLaunch; the graph memory
// attributes and trim; alloc and free nodes added by hand.
#include "rt.h"
#include <cstring>

__global__ void fill(float *p, float v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = v + i;
}

__global__ void accum(const float *p, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] += p[i];
}

__global__ void scale(float *p, float k, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] *= k;
}

static const int n = 4096;
static float h[n], want[n];

static unsigned long long gattr(cudaGraphMemAttributeType a)
{
	unsigned long long v = 0;
	CHECK(cudaDeviceGetGraphMemAttribute(0, a, &v));
	return v;
}

static void count_nodes(cudaGraph_t g, size_t *allocs, size_t *frees)
{
	cudaGraphNode_t nodes[16];
	size_t num = 16;
	*allocs = *frees = 0;
	CHECK(cudaGraphGetNodes(g, nodes, &num));
	for (size_t i = 0; i < num; i++) {
		cudaGraphNodeType t;
		CHECK(cudaGraphNodeGetType(nodes[i], &t));
		*allocs += t == cudaGraphNodeTypeMemAlloc;
		*frees += t == cudaGraphNodeTypeMemFree;
	}
}

int main()
{
	cudaStream_t s;
	float *out;
	cudaGraph_t g;
	cudaGraphExec_t ge, ge2;
	CHECK(cudaStreamCreate(&s));
	CHECK(cudaMalloc(&out, n * sizeof(float)));
	CHECK(cudaMemset(out, 0, n * sizeof(float)));

	/* 1. a temporary inside the capture: one address for every launch */
	float *tmp = nullptr;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	CHECK(cudaMallocAsync(&tmp, n * sizeof(float), s));
	fill<<<n / 256, 256, 0, s>>>(tmp, 1.0f, n);
	accum<<<n / 256, 256, 0, s>>>(tmp, out, n);
	CHECK(cudaFreeAsync(tmp, s));
	CHECK(cudaStreamEndCapture(s, &g));
	size_t na, nf;
	count_nodes(g, &na, &nf);
	EXPECT(na == 1 && nf == 1, "%zu alloc and %zu free nodes", na, nf);
	printf("graph_memory capture: 1 alloc node, 1 free node\n");
	CHECK(cudaGraphInstantiate(&ge, g, 0));
	cudaError_t e = cudaGraphInstantiate(&ge2, g, 0);
	EXPECT(e != cudaSuccess, "a second executable graph of a graph with memory nodes");
	(void)cudaGetLastError();
	printf("graph_memory second instantiation refused\n");
	for (int i = 0; i < 10; i++)
		CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaMemcpyAsync(h, out, sizeof(h), cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < n; i++)
		want[i] = 10.0f * (1.0f + i);
	VERIFY(h, want, n, 0, "graph_memory temporary, 10 launches");
	/* the driver gives the graph its memory when it is first launched (not at capture), and it
	 * stays with the executable graph */
	EXPECT(gattr(cudaGraphMemAttrUsedMemCurrent) >= n * sizeof(float), "graph memory in use %llu",
	       gattr(cudaGraphMemAttrUsedMemCurrent));
	printf("graph_memory attribute: the graph holds its temporary\n");
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));

	/* 2. the same from a pool the program made */
	cudaMemPool_t pool;
	cudaMemPoolProps pp;
	memset(&pp, 0, sizeof(pp));
	pp.allocType = cudaMemAllocationTypePinned;
	pp.location.type = cudaMemLocationTypeDevice;
	pp.location.id = 0;
	CHECK(cudaMemPoolCreate(&pool, &pp));
	CHECK(cudaMemset(out, 0, n * sizeof(float)));
	float *pt = nullptr;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	CHECK(cudaMallocFromPoolAsync((void **)&pt, n * sizeof(float), pool, s));
	fill<<<n / 256, 256, 0, s>>>(pt, 2.0f, n);
	accum<<<n / 256, 256, 0, s>>>(pt, out, n);
	CHECK(cudaFreeAsync(pt, s));
	CHECK(cudaStreamEndCapture(s, &g));
	CHECK(cudaGraphInstantiate(&ge, g, 0));
	for (int i = 0; i < 5; i++)
		CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaMemcpyAsync(h, out, sizeof(h), cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < n; i++)
		want[i] = 5.0f * (2.0f + i);
	VERIFY(h, want, n, 0, "graph_memory pool temporary, 5 launches");
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaMemPoolDestroy(pool));

	/* 3. an allocation the graph leaves allocated: used after the launch, freed by the program */
	float *res = nullptr;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	CHECK(cudaMallocAsync(&res, n * sizeof(float), s));
	fill<<<n / 256, 256, 0, s>>>(res, 3.0f, n);
	CHECK(cudaStreamEndCapture(s, &g));
	CHECK(cudaGraphInstantiate(&ge, g, 0));
	for (int round = 0; round < 3; round++) {
		CHECK(cudaGraphLaunch(ge, s));
		scale<<<n / 256, 256, 0, s>>>(res, 2.0f, n);
		CHECK(cudaMemcpyAsync(h, res, sizeof(h), cudaMemcpyDeviceToHost, s));
		CHECK(cudaStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			want[i] = 2.0f * (3.0f + i);
		VERIFY(h, want, n, 0, "graph_memory allocation used after the launch");
		if (round == 0) {
			e = cudaGraphLaunch(ge, s);
			EXPECT(e == cudaErrorInvalidValue, "relaunch with the allocation unfreed: %s",
			       cudaGetErrorName(e));
			(void)cudaGetLastError();
			printf("graph_memory relaunch refused while the allocation is unfreed\n");
		}
		CHECK(cudaFreeAsync(res, s));
	}
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));

	/* 4. AUTO_FREE_ON_LAUNCH: each launch frees what the previous one left */
	float *af = nullptr;
	CHECK(cudaMemset(out, 0, n * sizeof(float)));
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	CHECK(cudaMallocAsync(&af, n * sizeof(float), s));
	fill<<<n / 256, 256, 0, s>>>(af, 4.0f, n);
	accum<<<n / 256, 256, 0, s>>>(af, out, n);
	CHECK(cudaStreamEndCapture(s, &g));
	CHECK(cudaGraphInstantiateWithFlags(&ge, g, cudaGraphInstantiateFlagAutoFreeOnLaunch));
	for (int i = 0; i < 6; i++)
		CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaMemcpyAsync(h, out, sizeof(h), cudaMemcpyDeviceToHost, s));
	CHECK(cudaMemcpyAsync(want, af, sizeof(want), cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	EXPECT(want[7] == 11.0f, "the last launch's allocation holds %g", (double)want[7]);
	for (int i = 0; i < n; i++)
		want[i] = 6.0f * (4.0f + i);
	VERIFY(h, want, n, 0, "graph_memory auto free on launch, 6 launches");
	CHECK(cudaFreeAsync(af, s));
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));

	/* 5. attributes and trim: everything given back (the driver keeps what graphs freed
	 * for them until a trim: an H200 still counted 32 MiB in use before it) */
	CHECK(cudaDeviceGraphMemTrim(0));
	EXPECT(gattr(cudaGraphMemAttrUsedMemCurrent) == 0, "in use %llu", gattr(cudaGraphMemAttrUsedMemCurrent));
	EXPECT(gattr(cudaGraphMemAttrReservedMemCurrent) == 0, "reserved %llu",
	       gattr(cudaGraphMemAttrReservedMemCurrent));
	EXPECT(gattr(cudaGraphMemAttrUsedMemHigh) >= n * sizeof(float), "high %llu", gattr(cudaGraphMemAttrUsedMemHigh));
	unsigned long long zero = 0;
	CHECK(cudaDeviceSetGraphMemAttribute(0, cudaGraphMemAttrUsedMemHigh, &zero));
	CHECK(cudaDeviceSetGraphMemAttribute(0, cudaGraphMemAttrReservedMemHigh, &zero));
	EXPECT(gattr(cudaGraphMemAttrUsedMemHigh) == 0 && gattr(cudaGraphMemAttrReservedMemHigh) == 0,
	       "high marks after the reset");
	CHECK(cudaDeviceGraphMemTrim(0));
	printf("graph_memory attributes: nothing held, high marks reset, trimmed\n");

	/* 6. alloc and free nodes by hand around a kernel node */
	cudaGraphNode_t an, kn, fn;
	cudaMemAllocNodeParams ap;
	memset(&ap, 0, sizeof(ap));
	ap.poolProps.allocType = cudaMemAllocationTypePinned;
	ap.poolProps.location.type = cudaMemLocationTypeDevice;
	ap.poolProps.location.id = 0;
	ap.bytesize = n * sizeof(float);
	CHECK(cudaMemset(out, 0, n * sizeof(float)));
	CHECK(cudaGraphCreate(&g, 0));
	CHECK(cudaGraphAddMemAllocNode(&an, g, NULL, 0, &ap));
	EXPECT(ap.dptr != NULL, "the alloc node's address");
	float *buf = (float *)ap.dptr;
	float five = 5.0f;
	int nn = n;
	void *fargs[] = {&buf, &five, &nn};
	cudaKernelNodeParams kp;
	memset(&kp, 0, sizeof(kp));
	kp.func = (void *)fill;
	kp.gridDim = dim3(n / 256);
	kp.blockDim = dim3(256);
	kp.kernelParams = fargs;
	CHECK(cudaGraphAddKernelNode(&kn, g, &an, 1, &kp));
	void *aargs[] = {&buf, &out, &nn};
	cudaGraphNode_t kn2;
	kp.func = (void *)accum;
	kp.kernelParams = aargs;
	CHECK(cudaGraphAddKernelNode(&kn2, g, &kn, 1, &kp));
	CHECK(cudaGraphAddMemFreeNode(&fn, g, &kn2, 1, buf));
	cudaMemAllocNodeParams back;
	CHECK(cudaGraphMemAllocNodeGetParams(an, &back));
	void *fp = nullptr;
	CHECK(cudaGraphMemFreeNodeGetParams(fn, &fp));
	EXPECT(back.dptr == buf && back.bytesize == n * sizeof(float) && fp == buf, "the nodes' parameters");
	printf("graph_memory hand-made nodes: parameters read back\n");
	CHECK(cudaGraphInstantiate(&ge, g, 0));
	for (int i = 0; i < 4; i++)
		CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaMemcpyAsync(h, out, sizeof(h), cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < n; i++)
		want[i] = 4.0f * (5.0f + i);
	VERIFY(h, want, n, 0, "graph_memory hand-made alloc and free nodes, 4 launches");
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaDeviceGraphMemTrim(0));   /* what the graph freed stays the driver's until a trim */
	EXPECT(gattr(cudaGraphMemAttrUsedMemCurrent) == 0, "in use %llu at the end",
	       gattr(cudaGraphMemAttrUsedMemCurrent));

	CHECK(cudaFree(out));
	CHECK(cudaStreamDestroy(s));
	return 0;
}
