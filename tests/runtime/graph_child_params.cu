// SPDX-License-Identifier: MIT
// graph_child_params — a child graph node's graph read back, and an executable graph's child
// graph node given another graph of the same shape (as XLA updates the command buffers JAX
// runs: cudaGraphExecChildGraphNodeSetParams), its next launches running the new work; a
// graph of another shape refused, the executable graph unchanged.
#include "rt.h"

__global__ void add(int *p, int v) { p[threadIdx.x] += v; }
__global__ void scale(int *p, int v) { p[threadIdx.x] *= v; }

/* a graph of: memset p to 0, then add(p, v) */
static cudaGraph_t child_graph(cudaStream_t s, int *p, int v, int extra)
{
	cudaGraph_t g;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	CHECK(cudaMemsetAsync(p, 0, 32 * sizeof(int), s));
	add<<<1, 32, 0, s>>>(p, v);
	if (extra)
		add<<<1, 32, 0, s>>>(p, extra);
	CHECK(cudaStreamEndCapture(s, &g));
	return g;
}

static void expect_all(const int *d, int want, const char *what)
{
	int h[32], w[32];
	CHECK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	for (int i = 0; i < 32; i++)
		w[i] = want;
	VERIFY(h, w, 32, 0, what);
}

int main()
{
	int *d;
	cudaStream_t s;
	CHECK(cudaMalloc(&d, 32 * sizeof(int)));
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

	/* the graph: [child: memset, add 1] -> scale by 3 */
	cudaGraph_t g, c1 = child_graph(s, d, 1, 0);
	cudaGraphNode_t cn, sn;
	CHECK(cudaGraphCreate(&g, 0));
	CHECK(cudaGraphAddChildGraphNode(&cn, g, NULL, 0, c1));
	cudaKernelNodeParams kp = {};
	int *dp = d, three = 3;
	void *args[] = { &dp, &three };
	kp.func = (void *)scale;
	kp.gridDim = dim3(1);
	kp.blockDim = dim3(32);
	kp.kernelParams = args;
	CHECK(cudaGraphAddKernelNode(&sn, g, &cn, 1, &kp));

	/* the node's graph: a graph of its own, with the child's two nodes */
	cudaGraph_t inner;
	size_t n = 0;
	CHECK(cudaGraphChildGraphNodeGetGraph(cn, &inner));
	EXPECT(inner != c1, "the node's graph is the graph it was made from");
	CHECK(cudaGraphGetNodes(inner, NULL, &n));
	EXPECT(n == 2, "the node's graph has %zu nodes, expected 2", n);
	CHECK(cudaGraphChildGraphNodeGetGraph(cn, &inner));   /* asked again: the same graph */
	size_t n2 = 0;
	CHECK(cudaGraphGetNodes(inner, NULL, &n2));
	EXPECT(n2 == 2, "asked again, the node's graph has %zu nodes", n2);

	cudaGraphExec_t x;
	CHECK(cudaGraphInstantiate(&x, g, 0));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaStreamSynchronize(s));
	expect_all(d, 3, "(0 + 1) * 3");

	/* the same shape, other work: the executable graph runs it from its next launch */
	cudaGraph_t c2 = child_graph(s, d, 5, 0);
	CHECK(cudaGraphExecChildGraphNodeSetParams(x, cn, c2));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaStreamSynchronize(s));
	expect_all(d, 15, "(0 + 5) * 3 after the child's update");
	/* the graph the node was made of, and the node's own graph, are unchanged */
	CHECK(cudaGraphGetNodes(inner, NULL, &n));
	EXPECT(n == 2, "the node's graph has %zu nodes after the update", n);

	/* another shape (three nodes): refused, the executable graph as it was */
	cudaGraph_t c3 = child_graph(s, d, 7, 1);
	cudaError_t e = cudaGraphExecChildGraphNodeSetParams(x, cn, c3);
	EXPECT(e != cudaSuccess, "a child graph of another shape was taken");
	(void)cudaGetLastError();
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaStreamSynchronize(s));
	expect_all(d, 15, "(0 + 5) * 3 after a refused update");
	printf("a child graph node updated in its executable graph; another shape refused\n");

	CHECK(cudaGraphExecDestroy(x));
	CHECK(cudaGraphDestroy(c1));
	CHECK(cudaGraphDestroy(c2));
	CHECK(cudaGraphDestroy(c3));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaFree(d));
	printf("PASS graph_child_params\n");
	return 0;
}
