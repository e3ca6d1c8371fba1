// SPDX-License-Identifier: MIT
// pdl — programmatic dependent launch (Hopper), as PyTorch's and TensorRT-LLM's kernels use it
// to overlap a kernel's start with the end of the one before: the second kernel is launched
// with programmatic stream serialization and waits in cudaGridDependencySynchronize for what
// the first wrote before cudaTriggerProgrammaticLaunchCompletion; directly on a stream, many
// times in a row, and captured into a graph.
#include "rt.h"

enum { N = 256 };

__global__ void produce(int *buf, int round)
{
	buf[blockIdx.x * blockDim.x + threadIdx.x] = round * 1000 + (int)(blockIdx.x * blockDim.x + threadIdx.x);
	cudaTriggerProgrammaticLaunchCompletion();
}

__global__ void consume(const int *buf, int *out)
{
	cudaGridDependencySynchronize();   /* the producer's writes are visible after this */
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	out[i] += buf[i];
}

static void launch_pair(cudaStream_t s, int *buf, int *out, int round)
{
	produce<<<N / 64, 64, 0, s>>>(buf, round);
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = dim3(N / 64);
	cfg.blockDim = dim3(64);
	cfg.stream = s;
	cudaLaunchAttribute attr[1];
	attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
	attr[0].val.programmaticStreamSerializationAllowed = 1;
	cfg.attrs = attr;
	cfg.numAttrs = 1;
	CHECK(cudaLaunchKernelEx(&cfg, consume, (const int *)buf, out));
}

int main()
{
	int *buf, *out, h[N], want[N];
	cudaStream_t s;
	CHECK(cudaMalloc(&buf, N * sizeof(int)));
	CHECK(cudaMalloc(&out, N * sizeof(int)));
	CHECK(cudaMemset(out, 0, N * sizeof(int)));
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

	for (int i = 0; i < N; i++)
		want[i] = 0;
	for (int round = 1; round <= 20; round++) {
		launch_pair(s, buf, out, round);
		for (int i = 0; i < N; i++)
			want[i] += round * 1000 + i;
	}
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaMemcpy(h, out, sizeof(h), cudaMemcpyDeviceToHost));
	VERIFY(h, want, N, 0, "20 producer/consumer pairs with programmatic dependent launch");

	/* the same captured: the graph keeps the programmatic dependency */
	cudaGraph_t g;
	cudaGraphExec_t x;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	launch_pair(s, buf, out, 7);
	CHECK(cudaStreamEndCapture(s, &g));
	size_t nodes = 0;
	CHECK(cudaGraphGetNodes(g, NULL, &nodes));
	EXPECT(nodes == 2, "the captured pair is %zu nodes", nodes);
	CHECK(cudaGraphInstantiate(&x, g, 0));
	for (int r = 0; r < 5; r++) {
		CHECK(cudaGraphLaunch(x, s));
		for (int i = 0; i < N; i++)
			want[i] += 7000 + i;
	}
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaMemcpy(h, out, sizeof(h), cudaMemcpyDeviceToHost));
	VERIFY(h, want, N, 0, "the pair captured into a graph, launched 5 times");

	CHECK(cudaGraphExecDestroy(x));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaFree(buf));
	CHECK(cudaFree(out));
	printf("PASS pdl\n");
	return 0;
}
