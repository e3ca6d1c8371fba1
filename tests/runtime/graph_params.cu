/* SPDX-License-Identifier: MIT */
/* graph_params.cu — kernel node parameters read and changed after capture, in the graph and in its executable form. */
#include <cstring>
#include <vector>

#include "rt.h"

/*
 * The pattern of inference engines that replay one captured graph per step: capture once,
 * then read each kernel node's parameters (cudaGraphKernelNodeGetParams), change the ones
 * that moved (a pointer, a scalar) either in the graph followed by cudaGraphExecUpdate, or
 * straight in the executable graph (cudaGraphExecKernelNodeSetParams), and launch again.
 */

__global__ void scale(float *x, float a, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] *= a;
}

__global__ void add_to(float *y, const float *x, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] += x[i];
}

struct pair {
	int k;
	double w;
};

__global__ void fill(float *y, pair p, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = (float)(p.k * p.w) + i;
}

static const int N = 300, T = 64, G = (N + T - 1) / T;

static void expect_values(const float *d, float (*want)(int), const char *what)
{
	std::vector<float> h(N), w(N);
	CHECK(cudaMemcpy(h.data(), d, N * sizeof(float), cudaMemcpyDeviceToHost));
	for (int i = 0; i < N; i++)
		w[i] = want(i);
	VERIFY(h.data(), w.data(), (size_t)N, 1e-4, what);
}

static void put(float *d, float (*val)(int))
{
	std::vector<float> h(N);
	for (int i = 0; i < N; i++)
		h[i] = val(i);
	CHECK(cudaMemcpy(d, h.data(), N * sizeof(float), cudaMemcpyHostToDevice));
}

static float ramp(int i) { return (float)i; }
static float ones(int i) { (void)i; return 1.0f; }

/* The node of g whose kernel is fn (the only one). */
static cudaGraphNode_t kernel_node(cudaGraph_t g, const void *fn)
{
	size_t n = 0;
	CHECK(cudaGraphGetNodes(g, NULL, &n));
	std::vector<cudaGraphNode_t> nodes(n);
	CHECK(cudaGraphGetNodes(g, nodes.data(), &n));
	cudaGraphNode_t found = NULL;
	for (size_t i = 0; i < n; i++) {
		cudaGraphNodeType t;
		CHECK(cudaGraphNodeGetType(nodes[i], &t));
		if (t != cudaGraphNodeTypeKernel)
			continue;
		cudaKernelNodeParams p = {};
		CHECK(cudaGraphKernelNodeGetParams(nodes[i], &p));
		if (p.func == fn) {
			EXPECT(!found, "two kernel nodes run the same kernel");
			found = nodes[i];
		}
	}
	EXPECT(found, "no kernel node runs the kernel");
	return found;
}

int main()
{
	float *x, *y, *z;
	CHECK(cudaMalloc(&x, N * sizeof(float)));
	CHECK(cudaMalloc(&y, N * sizeof(float)));
	CHECK(cudaMalloc(&z, N * sizeof(float)));
	cudaStream_t s;
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

	/* capture: x *= 2; y += x */
	cudaGraph_t g;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	scale<<<G, T, 0, s>>>(x, 2.0f, N);
	add_to<<<G, T, 0, s>>>(y, x, N);
	CHECK(cudaStreamEndCapture(s, &g));
	cudaGraphExec_t ge;
	CHECK(cudaGraphInstantiate(&ge, g, 0));

	put(x, ramp);
	put(y, ones);
	CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaStreamSynchronize(s));
	expect_values(y, [](int i) { return 1.0f + 2.0f * i; }, "captured graph");

	/* read back: function, shape and every argument as launched */
	cudaGraphNode_t ns = kernel_node(g, (const void *)scale), na = kernel_node(g, (const void *)add_to);
	cudaKernelNodeParams p = {};
	CHECK(cudaGraphKernelNodeGetParams(ns, &p));
	EXPECT(p.gridDim.x == (unsigned)G && p.gridDim.y == 1 && p.gridDim.z == 1, "grid %u %u %u", p.gridDim.x,
	       p.gridDim.y, p.gridDim.z);
	EXPECT(p.blockDim.x == (unsigned)T && p.blockDim.y == 1 && p.blockDim.z == 1, "block %u", p.blockDim.x);
	EXPECT(p.sharedMemBytes == 0, "shared %u", p.sharedMemBytes);
	EXPECT(p.kernelParams && !p.extra, "parameters come as kernelParams");
	EXPECT(*(float **)p.kernelParams[0] == x, "first argument %p, launched with %p", *(float **)p.kernelParams[0],
	       (void *)x);
	EXPECT(*(float *)p.kernelParams[1] == 2.0f, "second argument %g", *(float *)p.kernelParams[1]);
	EXPECT(*(int *)p.kernelParams[2] == N, "third argument %d", *(int *)p.kernelParams[2]);
	printf("kernel node parameters read back: scale<<<%u, %u>>>(x, %g, %d)\n", p.gridDim.x, p.blockDim.x,
	       *(float *)p.kernelParams[1], *(int *)p.kernelParams[2]);

	/* change the graph's node (scale by 3, on z) and update the executable graph from it */
	float a3 = 3.0f;
	int n = N;
	void *args3[] = { &z, &a3, &n };
	cudaKernelNodeParams q = p;
	q.kernelParams = args3;
	CHECK(cudaGraphKernelNodeSetParams(ns, &q));
	cudaKernelNodeParams r = {};
	CHECK(cudaGraphKernelNodeGetParams(ns, &r));
	EXPECT(*(float **)r.kernelParams[0] == z && *(float *)r.kernelParams[1] == 3.0f,
	       "the node reads back what was set");
	cudaGraphExecUpdateResultInfo info;
	CHECK(cudaGraphExecUpdate(ge, g, &info));
	EXPECT(info.result == cudaGraphExecUpdateSuccess, "update result %d", (int)info.result);
	put(x, ramp);
	put(y, ones);
	put(z, ramp);
	CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaStreamSynchronize(s));
	expect_values(z, [](int i) { return 3.0f * i; }, "graph node changed, executable updated (z)");
	expect_values(y, [](int i) { return 1.0f + i; }, "graph node changed, executable updated (y)");

	/* change the executable graph's node only: y += z instead of y += x */
	void *argsa[] = { &y, &z, &n };
	cudaKernelNodeParams pa = {};
	CHECK(cudaGraphKernelNodeGetParams(na, &pa));
	pa.kernelParams = argsa;
	CHECK(cudaGraphExecKernelNodeSetParams(ge, na, &pa));
	put(y, ones);
	put(z, ones);
	CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaStreamSynchronize(s));
	expect_values(y, [](int i) { (void)i; return 4.0f; }, "executable graph node changed");
	cudaKernelNodeParams pg = {};
	CHECK(cudaGraphKernelNodeGetParams(na, &pg));
	EXPECT(*(const float **)pg.kernelParams[1] == x, "the graph's own node keeps its arguments");

	/* the executable graph's node reshaped: two blocks cover the first 2*T elements only */
	CHECK(cudaGraphKernelNodeGetParams(ns, &q));
	void *argsh[] = { &z, &a3, &n };
	q.kernelParams = argsh;
	q.gridDim = dim3(2);
	CHECK(cudaGraphExecKernelNodeSetParams(ge, ns, &q));
	put(z, ones);
	CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaStreamSynchronize(s));
	expect_values(z, [](int i) { return i < 2 * T ? 3.0f : 1.0f; }, "executable graph node reshaped");

	/* the generic forms: cudaGraphExecNodeSetParams and cudaGraphNodeSetParams, type checked */
	cudaGraphNodeParams gp = {};
	gp.type = cudaGraphNodeTypeKernel;
	float a5 = 5.0f;
	void *args5[] = { &z, &a5, &n };
	gp.kernel.func = (void *)scale;
	gp.kernel.gridDim = dim3(G);
	gp.kernel.blockDim = dim3(T);
	gp.kernel.kernelParams = args5;
	CHECK(cudaGraphExecNodeSetParams(ge, ns, &gp));
	put(z, ones);
	CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaStreamSynchronize(s));
	expect_values(z, [](int i) { (void)i; return 5.0f; }, "generic executable node parameters");
	a5 = 6.0f;
	CHECK(cudaGraphNodeSetParams(ns, &gp));
	CHECK(cudaGraphKernelNodeGetParams(ns, &r));
	EXPECT(*(float *)r.kernelParams[1] == 6.0f, "generic node parameters read back %g", *(float *)r.kernelParams[1]);
	gp.type = cudaGraphNodeTypeMemset;
	cudaError_t ge2 = cudaGraphNodeSetParams(ns, &gp);
	EXPECT(ge2 == cudaErrorInvalidValue, "memset parameters on a kernel node: %s", cudaGetErrorName(ge2));
	(void)cudaGetLastError();

	/* a kernel node added by hand, with a struct argument, changed and read back */
	cudaGraph_t h;
	CHECK(cudaGraphCreate(&h, 0));
	pair pr = { 3, 0.5 };
	void *fa[] = { &y, &pr, &n };
	cudaKernelNodeParams kf = {};
	kf.func = (void *)fill;
	kf.gridDim = dim3(G);
	kf.blockDim = dim3(T);
	kf.kernelParams = fa;
	cudaGraphNode_t nf;
	CHECK(cudaGraphAddKernelNode(&nf, h, NULL, 0, &kf));
	pair pr2 = { 7, 2.0 };
	void *fb[] = { &y, &pr2, &n };
	kf.kernelParams = fb;
	CHECK(cudaGraphKernelNodeSetParams(nf, &kf));
	cudaKernelNodeParams kr = {};
	CHECK(cudaGraphKernelNodeGetParams(nf, &kr));
	EXPECT(kr.func == (void *)fill, "the node runs fill");
	const pair *got = (const pair *)kr.kernelParams[1];
	EXPECT(got->k == 7 && got->w == 2.0, "struct argument read back as {%d, %g}", got->k, got->w);
	cudaGraphExec_t he;
	CHECK(cudaGraphInstantiate(&he, h, 0));
	CHECK(cudaGraphLaunch(he, s));
	CHECK(cudaStreamSynchronize(s));
	expect_values(y, [](int i) { return 14.0f + i; }, "node added by hand, then changed");

	/* copy nodes: read back, pointed elsewhere in the graph and in the executable graph, to
	 * device memory and to pinned memory */
	{
		float *c0, *c1, *pinned;
		CHECK(cudaMalloc(&c0, N * sizeof(float)));
		CHECK(cudaMalloc(&c1, N * sizeof(float)));
		CHECK(cudaMallocHost(&pinned, N * sizeof(float)));
		cudaGraph_t cg;
		CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
		CHECK(cudaMemcpyAsync(c0, x, N * sizeof(float), cudaMemcpyDeviceToDevice, s));
		scale<<<G, T, 0, s>>>(c0, 2.0f, N);
		CHECK(cudaStreamEndCapture(s, &cg));
		size_t nn = 0;
		CHECK(cudaGraphGetNodes(cg, NULL, &nn));
		std::vector<cudaGraphNode_t> all(nn);
		CHECK(cudaGraphGetNodes(cg, all.data(), &nn));
		cudaGraphNode_t cn = NULL;
		for (size_t i = 0; i < nn; i++) {
			cudaGraphNodeType t;
			CHECK(cudaGraphNodeGetType(all[i], &t));
			if (t == cudaGraphNodeTypeMemcpy)
				cn = all[i];
		}
		EXPECT(cn, "no copy node in the captured graph");
		cudaMemcpy3DParms mp = {};
		CHECK(cudaGraphMemcpyNodeGetParams(cn, &mp));
		EXPECT(mp.srcPtr.ptr == (void *)x && mp.dstPtr.ptr == (void *)c0, "copy node reads back %p -> %p",
		       mp.srcPtr.ptr, mp.dstPtr.ptr);
		EXPECT(mp.extent.width == N * sizeof(float) && mp.extent.height == 1 && mp.extent.depth == 1,
		       "copy node extent %zu x %zu x %zu", mp.extent.width, mp.extent.height, mp.extent.depth);
		cudaGraphExec_t cge;
		CHECK(cudaGraphInstantiate(&cge, cg, 0));
		put(x, ramp);
		CHECK(cudaGraphLaunch(cge, s));
		CHECK(cudaStreamSynchronize(s));
		expect_values(c0, [](int i) { return 2.0f * i; }, "captured copy node");
		/* the graph's node copies from z instead; the executable graph follows by update */
		CHECK(cudaGraphMemcpyNodeSetParams1D(cn, c0, z, N * sizeof(float), cudaMemcpyDeviceToDevice));
		CHECK(cudaGraphMemcpyNodeGetParams(cn, &mp));
		EXPECT(mp.srcPtr.ptr == (void *)z, "the copy node reads back its new source");
		cudaGraphExecUpdateResultInfo ui;
		CHECK(cudaGraphExecUpdate(cge, cg, &ui));
		put(z, ones);
		CHECK(cudaGraphLaunch(cge, s));
		CHECK(cudaStreamSynchronize(s));
		expect_values(c0, [](int i) { (void)i; return 2.0f; }, "copy node changed, executable updated");
		/* the executable graph's node alone, from another device buffer (a node keeps its kind:
		 * the driver refuses to turn a device-to-device copy into one from host memory) */
		put(c1, [](int i) { return 3.0f * i; });
		CHECK(cudaGraphExecMemcpyNodeSetParams1D(cge, cn, c0, c1, N * sizeof(float), cudaMemcpyDeviceToDevice));
		CHECK(cudaGraphLaunch(cge, s));
		CHECK(cudaStreamSynchronize(s));
		expect_values(c0, [](int i) { return 6.0f * i; }, "executable copy node from another buffer");
		/* a copy node from pinned memory: the executable graph's node follows it to other pinned
		 * memory, and reads that memory at each launch */
		{
			float *pinned2;
			cudaGraph_t hg;
			cudaGraphExec_t hge;
			cudaGraphNode_t hn[2];
			size_t nh = 2;
			CHECK(cudaMallocHost(&pinned2, N * sizeof(float)));
			for (int i = 0; i < N; i++)
				pinned[i] = 5.0f, pinned2[i] = (float)(3 * i);
			CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
			CHECK(cudaMemcpyAsync(c0, pinned, N * sizeof(float), cudaMemcpyHostToDevice, s));
			CHECK(cudaStreamEndCapture(s, &hg));
			CHECK(cudaGraphGetNodes(hg, hn, &nh));
			EXPECT(nh == 1, "%zu nodes captured from one copy", nh);
			CHECK(cudaGraphInstantiate(&hge, hg, 0));
			CHECK(cudaGraphLaunch(hge, s));
			CHECK(cudaStreamSynchronize(s));
			expect_values(c0, [](int i) { (void)i; return 5.0f; }, "captured copy node from pinned memory");
			CHECK(cudaGraphExecMemcpyNodeSetParams1D(hge, hn[0], c0, pinned2, N * sizeof(float),
								cudaMemcpyHostToDevice));
			CHECK(cudaGraphLaunch(hge, s));
			CHECK(cudaStreamSynchronize(s));
			expect_values(c0, [](int i) { return 3.0f * i; }, "executable copy node from other pinned memory");
			for (int i = 0; i < N; i++)
				pinned2[i] = 1.0f;
			CHECK(cudaGraphLaunch(hge, s));
			CHECK(cudaStreamSynchronize(s));
			expect_values(c0, [](int i) { (void)i; return 1.0f; }, "the node reads the pinned memory at each launch");
			CHECK(cudaGraphExecDestroy(hge));
			CHECK(cudaGraphDestroy(hg));
			CHECK(cudaFreeHost(pinned2));
		}
		/* a device range past an allocation is refused and changes nothing */
		cudaError_t ce = cudaGraphExecMemcpyNodeSetParams1D(cge, cn, c1, x, 2 * N * sizeof(float),
								    cudaMemcpyDeviceToDevice);
		EXPECT(ce != cudaSuccess, "a copy node past its allocation was accepted");
		(void)cudaGetLastError();
		/* the generic form on the graph's node: from x again */
		cudaGraphNodeParams np = {};
		np.type = cudaGraphNodeTypeMemcpy;
		CHECK(cudaGraphMemcpyNodeGetParams(cn, &np.memcpy.copyParams));
		np.memcpy.copyParams.srcPtr = make_cudaPitchedPtr(x, N * sizeof(float), N, 1);
		CHECK(cudaGraphNodeSetParams(cn, &np));
		CHECK(cudaGraphMemcpyNodeGetParams(cn, &mp));
		EXPECT(mp.srcPtr.ptr == (void *)x, "generic copy node parameters read back");
		CHECK(cudaGraphExecDestroy(cge));
		CHECK(cudaGraphDestroy(cg));
		CHECK(cudaFreeHost(pinned));
		CHECK(cudaFree(c0));
		CHECK(cudaFree(c1));
		printf("copy nodes read back and changed, in the graph and in its executable graph\n");
	}

	/* a new graph per step, as engines that capture each step do: each read back, then destroyed */
	for (int step = 0; step < 600; step++) {
		cudaGraph_t sg;
		float as = (float)step;
		CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
		scale<<<1, 1, 0, s>>>(z, as, 0);
		CHECK(cudaStreamEndCapture(s, &sg));
		cudaGraphNode_t sn = kernel_node(sg, (const void *)scale);
		cudaKernelNodeParams sp = {};
		CHECK(cudaGraphKernelNodeGetParams(sn, &sp));
		EXPECT(*(float *)sp.kernelParams[1] == as, "step %d reads back %g", step, *(float *)sp.kernelParams[1]);
		CHECK(cudaGraphDestroy(sg));
	}
	printf("600 graphs captured, read back and destroyed\n");

	/* what is refused: a node that is not a kernel node, a missing argument, a null parameter set */
	cudaGraph_t m;
	CHECK(cudaGraphCreate(&m, 0));
	cudaMemsetParams ms = {};
	ms.dst = y;
	ms.value = 0;
	ms.elementSize = 4;
	ms.width = N;
	ms.height = 1;
	cudaGraphNode_t nm;
	CHECK(cudaGraphAddMemsetNode(&nm, m, NULL, 0, &ms));
	cudaKernelNodeParams bad = {};
	cudaError_t e = cudaGraphKernelNodeGetParams(nm, &bad);
	EXPECT(e == cudaErrorInvalidValue, "parameters of a memset node: %s", cudaGetErrorName(e));
	e = cudaGraphKernelNodeSetParams(nm, &kf);
	EXPECT(e == cudaErrorInvalidValue, "kernel parameters set on a memset node: %s", cudaGetErrorName(e));
	e = cudaGraphKernelNodeGetParams(ns, NULL);
	EXPECT(e == cudaErrorInvalidValue, "reading into NULL: %s", cudaGetErrorName(e));
	(void)cudaGetLastError();
	printf("refused: a memset node's kernel parameters (read and set), a NULL destination\n");

	CHECK(cudaGraphExecDestroy(he));
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(m));
	CHECK(cudaGraphDestroy(h));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaFree(x));
	CHECK(cudaFree(y));
	CHECK(cudaFree(z));
	printf("graph_params: OK\n");
	return 0;
}
