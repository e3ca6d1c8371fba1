// SPDX-License-Identifier: MIT
// cond_nodes — CUDA graph conditional nodes (CUDA 12.4+): IF, IF/ELSE, WHILE and SWITCH nodes
// whose kernels decide with cudaGraphSetConditional; a handle's default value given back at
// each launch; a conditional inside a loop's body; a graph with them cloned; a body's nodes
// changed through the executable graph (as XLA updates its command buffers); and the pattern
// PyTorch's CUDA graphs use for data-dependent control flow (torch.cond, while loops): a
// conditional node added to the graph a stream is capturing, its body captured on a second
// stream with cudaStreamBeginCaptureToGraph, the first capture going on after the node.
#include "rt.h"

#include <cstring>

__global__ void set_cond(cudaGraphConditionalHandle h, const int *v)
{
	if (threadIdx.x == 0)
		cudaGraphSetConditional(h, (unsigned)*v);
}

__global__ void add(int *p, int v) { p[threadIdx.x] += v; }

/* one round of a loop: counts down, adds the round to acc, and says whether to go on */
__global__ void count_down(cudaGraphConditionalHandle h, int *counter, int *acc)
{
	if (threadIdx.x == 0) {
		int c = --*counter;
		acc[0] += 1;
		cudaGraphSetConditional(h, c > 0);
	}
}

/* the inner decision of a nested conditional: odd rounds */
__global__ void set_odd(cudaGraphConditionalHandle h, const int *counter)
{
	if (threadIdx.x == 0)
		cudaGraphSetConditional(h, *counter & 1);
}

static cudaGraphNode_t kernel_node(cudaGraph_t g, const cudaGraphNode_t *deps, size_t n, void *fn, void **args,
				   unsigned threads)
{
	cudaKernelNodeParams p = {};
	p.func = fn;
	p.gridDim = dim3(1);
	p.blockDim = dim3(threads);
	p.kernelParams = args;
	cudaGraphNode_t node;
	CHECK(cudaGraphAddKernelNode(&node, g, deps, n, &p));
	return node;
}

/* A conditional node after dep (or first); its bodies in body[]. */
static cudaGraphNode_t cond_node(cudaGraph_t g, cudaGraphNode_t dep, cudaGraphConditionalHandle h,
				 cudaGraphConditionalNodeType type, unsigned size, cudaGraph_t *body)
{
	cudaGraphNodeParams p = { cudaGraphNodeTypeConditional };
	p.conditional.handle = h;
	p.conditional.type = type;
	p.conditional.size = size;
	cudaGraphNode_t node;
	CHECK(cudaGraphAddNode(&node, g, dep ? &dep : NULL, NULL, dep ? 1 : 0, &p));
	EXPECT(p.conditional.phGraph_out != NULL, "no body graphs");
	for (unsigned i = 0; i < size; i++) {
		body[i] = p.conditional.phGraph_out[i];
		EXPECT(body[i] != NULL, "body %u is NULL", i);
	}
	return node;
}

/* add<<<1, 32>>>(p, v) captured into body (a body is filled like any graph) */
static void body_add(cudaStream_t s, cudaGraph_t body, int *p, int v)
{
	CHECK(cudaStreamBeginCaptureToGraph(s, body, NULL, NULL, 0, cudaStreamCaptureModeRelaxed));
	add<<<1, 32, 0, s>>>(p, v);
	cudaGraph_t same;
	CHECK(cudaStreamEndCapture(s, &same));
	EXPECT(same == body, "the capture ended into another graph");
}

static void launch(cudaGraphExec_t x, cudaStream_t s)
{
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaStreamSynchronize(s));
}

static void set(int *d, int v)
{
	CHECK(cudaMemcpy(d, &v, sizeof(v), cudaMemcpyHostToDevice));
}

static int get(const int *d)
{
	int v;
	CHECK(cudaMemcpy(&v, d, sizeof(v), cudaMemcpyDeviceToHost));
	return v;
}

int main()
{
	int *d, *flag, *counter, *acc;
	cudaStream_t s, s2;
	CHECK(cudaMalloc(&d, 32 * sizeof(int)));
	CHECK(cudaMalloc(&flag, sizeof(int)));
	CHECK(cudaMalloc(&counter, sizeof(int)));
	CHECK(cudaMalloc(&acc, sizeof(int)));
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));

	/* 1. IF, then IF/ELSE: a kernel sets the value from device memory; the body runs or not */
	for (unsigned size = 1; size <= 2; size++) {
		cudaGraph_t g, body[2];
		cudaGraphExec_t x;
		cudaGraphConditionalHandle h;
		CHECK(cudaGraphCreate(&g, 0));
		CHECK(cudaGraphConditionalHandleCreate(&h, g, 0, 0));
		void *args[] = { &h, &flag };
		cudaGraphNode_t k = kernel_node(g, NULL, 0, (void *)set_cond, args, 1);
		cudaGraphNode_t c = cond_node(g, k, h, cudaGraphCondTypeIf, size, body);
		cudaGraphNodeType t;
		CHECK(cudaGraphNodeGetType(c, &t));
		EXPECT(t == cudaGraphNodeTypeConditional, "node type %d", (int)t);
		body_add(s, body[0], d, 1);
		if (size == 2)
			body_add(s, body[1], d, 100);
		CHECK(cudaGraphInstantiate(&x, g, 0));
		CHECK(cudaMemset(d, 0, 32 * sizeof(int)));
		set(flag, 1);
		launch(x, s);
		EXPECT(get(d) == 1, "IF size %u, true: %d", size, get(d));
		set(flag, 0);
		launch(x, s);
		EXPECT(get(d) == (size == 2 ? 101 : 1), "IF size %u, false: %d", size, get(d));
		set(flag, 7);
		launch(x, s);
		EXPECT(get(d) == (size == 2 ? 102 : 2), "IF size %u, 7: %d", size, get(d));
		/* a clone has bodies of its own, and runs the same */
		cudaGraph_t cl;
		cudaGraphExec_t xc;
		CHECK(cudaGraphClone(&cl, g));
		CHECK(cudaGraphInstantiate(&xc, cl, 0));
		launch(xc, s);
		EXPECT(get(d) == (size == 2 ? 103 : 3), "the clone of IF size %u: %d", size, get(d));
		CHECK(cudaGraphExecDestroy(xc));
		CHECK(cudaGraphDestroy(cl));
		CHECK(cudaGraphExecDestroy(x));
		CHECK(cudaGraphDestroy(g));
		printf("IF with %u bod%s: ran as the flag said\n", size, size == 1 ? "y" : "ies");
	}

	/* 2. WHILE: the body counts down; the default value 1 is given back at each launch, so the
	 * loop runs again the next time (it ended at 0) */
	{
		cudaGraph_t g, body;
		cudaGraphExec_t x;
		cudaGraphConditionalHandle h;
		CHECK(cudaGraphCreate(&g, 0));
		CHECK(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
		cond_node(g, NULL, h, cudaGraphCondTypeWhile, 1, &body);
		void *args[] = { &h, &counter, &acc };
		kernel_node(body, NULL, 0, (void *)count_down, args, 1);
		CHECK(cudaGraphInstantiate(&x, g, 0));
		set(acc, 0);
		set(counter, 5);
		launch(x, s);
		EXPECT(get(acc) == 5 && get(counter) == 0, "WHILE from 5: %d rounds, counter %d", get(acc), get(counter));
		set(counter, 3);
		launch(x, s);
		EXPECT(get(acc) == 8 && get(counter) == 0, "WHILE from 3 after 5: %d rounds, counter %d", get(acc),
		       get(counter));
		CHECK(cudaGraphExecDestroy(x));
		CHECK(cudaGraphDestroy(g));
		printf("WHILE: 5 rounds, then 3 (the default value given back at the launch)\n");
	}

	/* 3. SWITCH of three bodies: the value picks one; a value past them runs none */
	{
		cudaGraph_t g, body[3];
		cudaGraphExec_t x;
		cudaGraphConditionalHandle h;
		CHECK(cudaGraphCreate(&g, 0));
		CHECK(cudaGraphConditionalHandleCreate(&h, g, 0, 0));
		void *args[] = { &h, &flag };
		cudaGraphNode_t k = kernel_node(g, NULL, 0, (void *)set_cond, args, 1);
		cond_node(g, k, h, cudaGraphCondTypeSwitch, 3, body);
		for (int i = 0; i < 3; i++)
			body_add(s, body[i], d, i == 0 ? 1 : i == 1 ? 10 : 100);
		CHECK(cudaGraphInstantiate(&x, g, 0));
		CHECK(cudaMemset(d, 0, 32 * sizeof(int)));
		int want = 0;
		const int picks[] = { 2, 0, 7, 1, 2 };
		for (int v : picks) {
			set(flag, v);
			launch(x, s);
			want += v == 0 ? 1 : v == 1 ? 10 : v == 2 ? 100 : 0;
			EXPECT(get(d) == want, "SWITCH %d: %d, expected %d", v, get(d), want);
		}
		CHECK(cudaGraphExecDestroy(x));
		CHECK(cudaGraphDestroy(g));
		printf("SWITCH: each value ran its body (7: none)\n");
	}

	/* 4. an IF inside a WHILE's body: the odd rounds of 6 add 1 */
	{
		cudaGraph_t g, wbody, ibody;
		cudaGraphExec_t x;
		cudaGraphConditionalHandle hw, hi;
		CHECK(cudaGraphCreate(&g, 0));
		CHECK(cudaGraphConditionalHandleCreate(&hw, g, 1, cudaGraphCondAssignDefault));
		cond_node(g, NULL, hw, cudaGraphCondTypeWhile, 1, &wbody);
		CHECK(cudaGraphConditionalHandleCreate(&hi, wbody, 0, 0));
		void *a1[] = { &hw, &counter, &acc };
		cudaGraphNode_t k1 = kernel_node(wbody, NULL, 0, (void *)count_down, a1, 1);
		void *a2[] = { &hi, &counter };
		cudaGraphNode_t k2 = kernel_node(wbody, &k1, 1, (void *)set_odd, a2, 1);
		cond_node(wbody, k2, hi, cudaGraphCondTypeIf, 1, &ibody);
		body_add(s, ibody, d, 1);
		CHECK(cudaGraphInstantiate(&x, g, 0));
		CHECK(cudaMemset(d, 0, 32 * sizeof(int)));
		set(acc, 0);
		set(counter, 6);
		launch(x, s);
		/* after each round the counter is 5, 4, ..., 0: odd three times */
		EXPECT(get(acc) == 6 && get(d) == 3, "nested: %d rounds, %d odd", get(acc), get(d));
		CHECK(cudaGraphExecDestroy(x));
		CHECK(cudaGraphDestroy(g));
		printf("an IF in a WHILE's body: 6 rounds, 3 odd\n");
	}

	/* 5. PyTorch's pattern: the node joins a capture in progress, its body is captured on a
	 * second stream, and the first capture goes on after it */
	{
		cudaGraph_t g, cg;
		cudaGraphExec_t x;
		cudaGraphConditionalHandle h;
		cudaStreamCaptureStatus st;
		const cudaGraphNode_t *deps;
		size_t n;
		CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
		add<<<1, 32, 0, s>>>(d, 1000);
		CHECK(cudaStreamGetCaptureInfo(s, &st, NULL, &cg, &deps, NULL, &n));
		EXPECT(st == cudaStreamCaptureStatusActive && n == 1, "capture status %d, %zu dependencies", (int)st, n);
		CHECK(cudaGraphConditionalHandleCreate(&h, cg, 0, 0));
		set_cond<<<1, 1, 0, s>>>(h, flag);
		CHECK(cudaStreamGetCaptureInfo(s, &st, NULL, &cg, &deps, NULL, &n));
		cudaGraph_t body;
		cudaGraphNode_t c = cond_node(cg, n ? deps[0] : NULL, h, cudaGraphCondTypeIf, 1, &body);
		CHECK(cudaStreamUpdateCaptureDependencies(s, &c, NULL, 1, cudaStreamSetCaptureDependencies));
		body_add(s2, body, d, 1);
		add<<<1, 32, 0, s>>>(d, 10000);
		CHECK(cudaStreamEndCapture(s, &g));
		size_t nodes = 0;
		CHECK(cudaGraphGetNodes(g, NULL, &nodes));
		EXPECT(nodes == 4, "the captured graph has %zu nodes, expected 4", nodes);
		CHECK(cudaGraphInstantiate(&x, g, 0));
		CHECK(cudaMemset(d, 0, 32 * sizeof(int)));
		set(flag, 1);
		launch(x, s);
		set(flag, 0);
		launch(x, s);
		int h32[32], want[32];
		CHECK(cudaMemcpy(h32, d, sizeof(h32), cudaMemcpyDeviceToHost));
		for (int i = 0; i < 32; i++)
			want[i] = 2 * 11000 + 1;
		VERIFY(h32, want, 32, 0, "a conditional captured the way PyTorch does");
		CHECK(cudaGraphExecDestroy(x));
		CHECK(cudaGraphDestroy(g));
	}

	/* 6. a conditional node destroyed with its bodies, and the graph still runs */
	{
		cudaGraph_t g, body;
		cudaGraphExec_t x;
		cudaGraphConditionalHandle h;
		CHECK(cudaGraphCreate(&g, 0));
		CHECK(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
		void *args[] = { &d, (void *)0 };
		int v = 5;
		args[1] = &v;
		cudaGraphNode_t k = kernel_node(g, NULL, 0, (void *)add, args, 32);
		cudaGraphNode_t c = cond_node(g, k, h, cudaGraphCondTypeIf, 1, &body);
		body_add(s, body, d, 1);
		CHECK(cudaGraphDestroyNode(c));
		CHECK(cudaGraphInstantiate(&x, g, 0));
		CHECK(cudaMemset(d, 0, 32 * sizeof(int)));
		launch(x, s);
		EXPECT(get(d) == 5, "after the node's destruction: %d", get(d));
		CHECK(cudaGraphExecDestroy(x));
		CHECK(cudaGraphDestroy(g));
		printf("a conditional node destroyed with its body; the graph ran without it\n");
	}

	/* 7. a body's nodes changed through the executable graph that holds them, as XLA updates
	 * its command buffers: a kernel node's argument and a memset node's value */
	{
		cudaGraph_t g, body;
		cudaGraphExec_t x;
		cudaGraphConditionalHandle h;
		CHECK(cudaGraphCreate(&g, 0));
		CHECK(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
		cond_node(g, NULL, h, cudaGraphCondTypeIf, 1, &body);
		cudaMemsetParams mp = {};
		mp.dst = d;
		mp.elementSize = 4;
		mp.width = 32;
		mp.height = 1;
		mp.value = 7;
		cudaGraphNode_t ms, kn;
		CHECK(cudaGraphAddMemsetNode(&ms, body, NULL, 0, &mp));
		int v = 1;
		void *args[] = { &d, &v };
		kn = kernel_node(body, &ms, 1, (void *)add, args, 32);
		CHECK(cudaGraphInstantiate(&x, g, 0));
		launch(x, s);
		EXPECT(get(d) == 8, "the body before its change: %d", get(d));
		v = 100;
		cudaKernelNodeParams kp = {};
		kp.func = (void *)add;
		kp.gridDim = dim3(1);
		kp.blockDim = dim3(32);
		kp.kernelParams = args;
		CHECK(cudaGraphExecKernelNodeSetParams(x, kn, &kp));
		mp.value = 20;
		CHECK(cudaGraphExecMemsetNodeSetParams(x, ms, &mp));
		launch(x, s);
		EXPECT(get(d) == 120, "the body after its change: %d", get(d));
		CHECK(cudaGraphExecDestroy(x));
		CHECK(cudaGraphDestroy(g));
		printf("a body's kernel and memset nodes changed through the executable graph\n");
	}

	CHECK(cudaStreamDestroy(s));
	CHECK(cudaStreamDestroy(s2));
	CHECK(cudaFree(d));
	CHECK(cudaFree(flag));
	CHECK(cudaFree(counter));
	CHECK(cudaFree(acc));
	printf("PASS cond_nodes\n");
	return 0;
}
