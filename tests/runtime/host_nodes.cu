// SPDX-License-Identifier: MIT
// host_nodes — host functions inside CUDA graphs, and host functions that do not hold up the
// caller: a host function captured between kernels runs at every launch of the graph, in
// order, seeing what the kernel before it wrote and writing what the kernel after it reads;
// host nodes added by hand with dependencies; host nodes' parameters read back and changed,
// in a graph and in an executable graph; a cloned graph; a
// thousand host functions with distinct data outside any capture; a host function that
// waits for the caller, which works only if cudaLaunchHostFunc returns before it runs, and
// a stream callback that does the same.
// Every result is checked on the host.
#include "rt.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

__global__ void produce(int *dev, int *pinned, int round)
{
	*dev = *dev * 3 + round;
	*pinned = *dev;
}

__global__ void consume(int *dev, const int *pinned)
{
	*dev += *pinned;   // what the host function left there
}

struct step {
	int *pinned;            // written by produce, read and rewritten by the host function
	std::vector<int> seen;  // what each run saw
};

static void CUDART_CB host_step(void *arg)
{
	step *s = (step *)arg;
	s->seen.push_back(*s->pinned);
	*s->pinned = 1000 + (int)s->seen.size();
}

static std::vector<int> order;
static void CUDART_CB mark(void *arg)
{
	order.push_back((int)(long)arg);
}

static std::atomic<int> released{0}, waited_ok{0};
static void CUDART_CB wait_for_caller(void *)
{
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	while (!released.load() && std::chrono::steady_clock::now() < until)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	waited_ok = released.load();
}

static void CUDART_CB callback_waits(cudaStream_t, cudaError_t status, void *)
{
	wait_for_caller(nullptr);
	if (status != cudaSuccess)
		waited_ok = 0;
}

static int counts[1000];
static void CUDART_CB count(void *arg)
{
	(*(int *)arg)++;
}

int main()
{
	int *dev, *pinned;
	cudaStream_t s;
	CHECK(cudaMalloc(&dev, sizeof(int)));
	CHECK(cudaMallocHost(&pinned, sizeof(int)));
	CHECK(cudaMemset(dev, 0, sizeof(int)));
	CHECK(cudaStreamCreate(&s));

	// 1. Captured: produce -> host function -> consume, launched five times.
	step st;
	st.pinned = pinned;
	cudaGraph_t g;
	cudaGraphExec_t ge;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	produce<<<1, 1, 0, s>>>(dev, pinned, 7);
	CHECK(cudaLaunchHostFunc(s, host_step, &st));
	consume<<<1, 1, 0, s>>>(dev, pinned);
	CHECK(cudaStreamEndCapture(s, &g));
	size_t nnodes = 0;
	CHECK(cudaGraphGetNodes(g, nullptr, &nnodes));
	EXPECT(nnodes == 3, "the captured graph has %zu nodes, expected 3", nnodes);
	CHECK(cudaGraphInstantiate(&ge, g, 0));
	int want_dev = 0;
	std::vector<int> want_seen;
	for (int launch = 0; launch < 5; launch++) {
		CHECK(cudaGraphLaunch(ge, s));
		want_dev = want_dev * 3 + 7;
		want_seen.push_back(want_dev);
		want_dev += 1000 + launch + 1;
	}
	CHECK(cudaStreamSynchronize(s));
	int got_dev = 0;
	CHECK(cudaMemcpy(&got_dev, dev, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(st.seen.size() == 5, "the captured host function ran %zu times for 5 launches", st.seen.size());
	VERIFY(st.seen.data(), want_seen.data(), 5, 0, "what the host node saw at each launch");
	EXPECT(got_dev == want_dev, "the device value is %d after 5 launches, expected %d", got_dev, want_dev);

	// The captured host node's parameters read back: the program's own function and data.
	cudaGraphNode_t nodes[3];
	size_t nn = 3;
	CHECK(cudaGraphGetNodes(g, nodes, &nn));
	cudaGraphNode_t hn = nullptr;
	for (size_t i = 0; i < nn; i++) {
		cudaGraphNodeType ty;
		CHECK(cudaGraphNodeGetType(nodes[i], &ty));
		if (ty == cudaGraphNodeTypeHost)
			hn = nodes[i];
	}
	EXPECT(hn != nullptr, "no host node in the captured graph");
	cudaHostNodeParams hp = {};
	CHECK(cudaGraphHostNodeGetParams(hn, &hp));
	EXPECT(hp.fn == host_step && hp.userData == &st, "the captured host node reads back as %p %p",
	       (void *)hp.fn, hp.userData);

	// A clone of the graph runs the same host function.
	cudaGraph_t gc;
	cudaGraphExec_t gce;
	CHECK(cudaGraphClone(&gc, g));
	CHECK(cudaGraphInstantiate(&gce, gc, 0));
	CHECK(cudaGraphLaunch(gce, s));
	CHECK(cudaStreamSynchronize(s));
	EXPECT(st.seen.size() == 6, "the clone's launch ran the host function %zu times in all, expected 6",
	       st.seen.size());

	// 2. Host nodes by hand: a diamond a -> (b, c) -> d, parameters read back.
	cudaGraph_t h;
	CHECK(cudaGraphCreate(&h, 0));
	cudaGraphNode_t na, nb, nc, nd;
	cudaHostNodeParams p = {};
	p.fn = mark;
	p.userData = (void *)1L;
	CHECK(cudaGraphAddHostNode(&na, h, nullptr, 0, &p));
	p.userData = (void *)2L;
	CHECK(cudaGraphAddHostNode(&nb, h, &na, 1, &p));
	p.userData = (void *)3L;
	CHECK(cudaGraphAddHostNode(&nc, h, &na, 1, &p));
	cudaGraphNode_t mid[2] = { nb, nc };
	p.userData = (void *)4L;
	CHECK(cudaGraphAddHostNode(&nd, h, mid, 2, &p));
	cudaHostNodeParams back = {};
	CHECK(cudaGraphHostNodeGetParams(nc, &back));
	EXPECT(back.fn == mark && back.userData == (void *)3L, "node c's parameters read back as %p %p",
	       (void *)back.fn, back.userData);
	cudaGraphNodeType type;
	CHECK(cudaGraphNodeGetType(nd, &type));
	EXPECT(type == cudaGraphNodeTypeHost, "node d has type %d", (int)type);
	size_t ndeps = 0;
	CHECK(cudaGraphNodeGetDependencies(nd, nullptr, nullptr, &ndeps));
	EXPECT(ndeps == 2, "node d has %zu dependencies, expected 2", ndeps);
	cudaGraphExec_t he;
	CHECK(cudaGraphInstantiate(&he, h, 0));
	for (int i = 0; i < 3; i++)
		CHECK(cudaGraphLaunch(he, s));
	CHECK(cudaStreamSynchronize(s));
	EXPECT(order.size() == 12, "the hand-made graph ran %zu host nodes in 3 launches, expected 12", order.size());
	for (int i = 0; i < 3; i++) {
		const int *o = &order[4 * i];
		EXPECT(o[0] == 1 && o[3] == 4 && ((o[1] == 2 && o[2] == 3) || (o[1] == 3 && o[2] == 2)),
		       "launch %d ran the nodes in the order %d %d %d %d", i, o[0], o[1], o[2], o[3]);
	}

	// Parameters changed: node b in the graph (through the generic call), node c only in the
	// executable graph; the graph keeps c's old ones, and a new instance of it shows them.
	cudaGraphNodeParams gp = {};
	gp.type = cudaGraphNodeTypeHost;
	gp.host.fn = mark;
	gp.host.userData = (void *)20L;
	CHECK(cudaGraphNodeSetParams(nb, &gp));
	cudaHostNodeParams pc = {};
	pc.fn = mark;
	pc.userData = (void *)30L;
	CHECK(cudaGraphExecHostNodeSetParams(he, nc, &pc));
	CHECK(cudaGraphHostNodeGetParams(nc, &back));
	EXPECT(back.userData == (void *)3L, "node c in the graph changed with its executable graph: %p", back.userData);
	CHECK(cudaGraphHostNodeGetParams(nb, &back));
	EXPECT(back.userData == (void *)20L, "node b reads back %p after being set to 20", back.userData);
	order.clear();
	CHECK(cudaGraphLaunch(he, s));   // the executable graph: b as it was instantiated, c new
	CHECK(cudaStreamSynchronize(s));
	cudaGraphExec_t he2;
	CHECK(cudaGraphInstantiate(&he2, h, 0));
	CHECK(cudaGraphLaunch(he2, s));   // a new instance: b new, c as in the graph
	CHECK(cudaStreamSynchronize(s));
	EXPECT(order.size() == 8, "%zu host nodes ran in the two launches, expected 8", order.size());
	int seen_b1 = 0, seen_c1 = 0, seen_b2 = 0, seen_c2 = 0;
	for (int i = 0; i < 4; i++) {
		seen_b1 |= order[i] == 2;
		seen_c1 |= order[i] == 30;
		seen_b2 |= order[4 + i] == 20;
		seen_c2 |= order[4 + i] == 3;
	}
	EXPECT(seen_b1 && seen_c1 && seen_b2 && seen_c2, "the changed host nodes ran %d %d %d %d, %d %d %d %d",
	       order[0], order[1], order[2], order[3], order[4], order[5], order[6], order[7]);
	CHECK(cudaGraphExecDestroy(he2));

	// 3. A thousand host functions outside any capture, each with its own data, in order.
	for (int i = 0; i < 1000; i++)
		CHECK(cudaLaunchHostFunc(s, count, &counts[i]));
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < 1000; i++)
		EXPECT(counts[i] == 1, "host function %d ran %d times", i, counts[i]);

	// 4. The call returns before the function runs: it waits for what the caller does next.
	CHECK(cudaLaunchHostFunc(s, wait_for_caller, nullptr));
	released = 1;
	CHECK(cudaStreamSynchronize(s));
	EXPECT(waited_ok == 1, "the host function ran before cudaLaunchHostFunc returned");
	// ... and a stream callback the same way.
	released = 0;
	waited_ok = 0;
	CHECK(cudaStreamAddCallback(s, callback_waits, nullptr, 0));
	released = 1;
	CHECK(cudaStreamSynchronize(s));
	EXPECT(waited_ok == 1, "the stream callback ran before cudaStreamAddCallback returned");

	CHECK(cudaGraphExecDestroy(he));
	CHECK(cudaGraphDestroy(h));
	CHECK(cudaGraphExecDestroy(gce));
	CHECK(cudaGraphDestroy(gc));
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaFreeHost(pinned));
	CHECK(cudaFree(dev));
	printf("host_nodes: 6 graph launches with a captured host node, 3 of a hand-made diamond, 1000 host "
	       "functions: all verified\n");
	return 0;
}
