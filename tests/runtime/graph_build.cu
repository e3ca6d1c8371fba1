// SPDX-License-Identifier: MIT
// graph_build — a graph built node by node around a captured child graph: empty, child graph
// and event nodes, dependencies added and removed, edges listed, more work captured into the
// graph with updated dependencies, a clone, relaunches.
#include "rt.h"

__global__ void axpb(int *p, int a, int b, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = a * p[i] + b;
}

int main()
{
	const int n = 512;
	int h[n], want[n], *d;
	cudaStream_t s;
	cudaGraph_t child, g, copy;
	cudaGraphExec_t ge;
	cudaEvent_t done;
	CHECK(cudaStreamCreate(&s));
	CHECK(cudaEventCreate(&done));
	CHECK(cudaMalloc(&d, sizeof(h)));

	/* the child: two kernels captured from a stream */
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	axpb<<<n / 128, 128, 0, s>>>(d, 3, 1, n);
	axpb<<<n / 128, 128, 0, s>>>(d, 1, -2, n);
	CHECK(cudaStreamEndCapture(s, &child));

	/* the parent: start -> child -> record(done), plus a stray dependency added and removed */
	cudaGraphNode_t start, body, rec, extra;
	CHECK(cudaGraphCreate(&g, 0));
	CHECK(cudaGraphAddEmptyNode(&start, g, NULL, 0));
	CHECK(cudaGraphAddChildGraphNode(&body, g, &start, 1, child));
	CHECK(cudaGraphAddEventRecordNode(&rec, g, &body, 1, done));
	CHECK(cudaGraphAddEmptyNode(&extra, g, NULL, 0));
	CHECK(cudaGraphAddDependencies(g, &extra, &rec, NULL, 1));
	size_t edges = 0, roots = 0, nodes = 0;
	CHECK(cudaGraphGetEdges(g, NULL, NULL, NULL, &edges));
	EXPECT(edges == 3, "%zu edges", edges);
	CHECK(cudaGraphRemoveDependencies(g, &extra, &rec, NULL, 1));
	CHECK(cudaGraphDestroyNode(extra));
	CHECK(cudaGraphGetEdges(g, NULL, NULL, NULL, &edges));
	CHECK(cudaGraphGetRootNodes(g, NULL, &roots));
	CHECK(cudaGraphGetNodes(g, NULL, &nodes));
	EXPECT(edges == 2 && roots == 1 && nodes == 3, "%zu edges, %zu roots, %zu nodes", edges, roots, nodes);
	cudaGraphNode_t deps[4];
	size_t nd = 4;
	CHECK(cudaGraphNodeGetDependencies(rec, deps, NULL, &nd));
	EXPECT(nd == 1 && deps[0] == body, "record node depends on %zu nodes", nd);
	cudaEvent_t ev = NULL;
	CHECK(cudaGraphEventRecordNodeGetEvent(rec, &ev));
	EXPECT(ev == done, "the record node names another event");
	cudaGraphNodeType t;
	CHECK(cudaGraphNodeGetType(body, &t));
	EXPECT(t == cudaGraphNodeTypeGraph, "child node of type %d", (int)t);

	/* more work captured into the same graph, after the record node; the second kernel also
	 * waits for the start node (dependencies updated during the capture) */
	cudaGraph_t same = NULL;
	CHECK(cudaStreamBeginCaptureToGraph(s, g, &rec, NULL, 1, cudaStreamCaptureModeThreadLocal));
	axpb<<<n / 128, 128, 0, s>>>(d, 1, 5, n);
	CHECK(cudaStreamUpdateCaptureDependencies(s, &start, NULL, 1, cudaStreamAddCaptureDependencies));
	axpb<<<n / 128, 128, 0, s>>>(d, 2, 0, n);
	CHECK(cudaStreamEndCapture(s, &same));
	EXPECT(same == g, "capturing into a graph gave another graph");
	CHECK(cudaGraphGetNodes(g, NULL, &nodes));
	CHECK(cudaGraphGetEdges(g, NULL, NULL, NULL, &edges));
	EXPECT(nodes == 5 && edges == 5, "%zu nodes, %zu edges after the capture", nodes, edges);

	/* a clone knows its nodes' originals, and is what gets instantiated */
	cudaGraphNode_t body2;
	CHECK(cudaGraphClone(&copy, g));
	CHECK(cudaGraphNodeFindInClone(&body2, body, copy));
	CHECK(cudaGraphNodeGetType(body2, &t));
	EXPECT(t == cudaGraphNodeTypeGraph, "cloned child node of type %d", (int)t);
	CHECK(cudaGraphInstantiate(&ge, copy, 0));
	unsigned long long flags = 1;
	CHECK(cudaGraphExecGetFlags(ge, &flags));
	EXPECT(flags == 0, "exec flags %llu", flags);

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < n; i++) {
			h[i] = i - round;
			want[i] = 2 * (3 * h[i] + 1 - 2 + 5);
		}
		CHECK(cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
		CHECK(cudaGraphLaunch(ge, s));
		CHECK(cudaEventSynchronize(done));
		CHECK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
		VERIFY(h, want, n, 0, "graph_build launch");
	}
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(copy));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaGraphDestroy(child));
	CHECK(cudaEventDestroy(done));
	CHECK(cudaFree(d));
	CHECK(cudaStreamDestroy(s));
	return 0;
}
