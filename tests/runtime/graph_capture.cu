// SPDX-License-Identifier: MIT
// graph_capture — device work captured from a stream into a graph (fork/join over two
// streams), instantiated once and relaunched; then copies between pinned host memory and the
// device captured with a kernel, the graph relaunched on new host data each time.
#include "rt.h"

__global__ void inc(int *p, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] += 1;
}

__global__ void dbl(int *p, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] *= 2;
}

int main()
{
	const int n = 1024;
	int h[n], out[n], want[n], *d, *e;
	cudaStream_t s, side;
	cudaEvent_t fork, join;
	cudaGraph_t g;
	cudaGraphExec_t ge;
	CHECK(cudaStreamCreate(&s));
	CHECK(cudaStreamCreate(&side));
	CHECK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
	CHECK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
	CHECK(cudaMalloc(&d, sizeof(h)));
	CHECK(cudaMalloc(&e, sizeof(h)));

	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	cudaStreamCaptureStatus st;
	CHECK(cudaStreamIsCapturing(s, &st));
	EXPECT(st == cudaStreamCaptureStatusActive, "capture status %d", (int)st);
	inc<<<n / 256, 256, 0, s>>>(d, n);
	unsigned long long id = 0;
	cudaGraph_t building = NULL;
	const cudaGraphNode_t *deps = NULL;
	size_t ndeps = 0;
	CHECK(cudaStreamGetCaptureInfo(s, &st, &id, &building, &deps, NULL, &ndeps));
	EXPECT(st == cudaStreamCaptureStatusActive && id != 0 && building != NULL && ndeps == 1 && deps != NULL,
	       "capture info: status %d, id %llu, %zu dependencies", (int)st, id, ndeps);
	cudaGraphNodeType type;
	CHECK(cudaGraphNodeGetType(deps[0], &type));
	EXPECT(type == cudaGraphNodeTypeKernel, "the capture's frontier is a node of type %d", (int)type);
	CHECK(cudaEventRecord(fork, s));
	CHECK(cudaStreamWaitEvent(side, fork, 0)); /* side joins the capture */
	CHECK(cudaMemsetAsync(e, 0, sizeof(h), side));
	CHECK(cudaEventRecord(join, side));
	CHECK(cudaStreamWaitEvent(s, join, 0));
	dbl<<<n / 256, 256, 0, s>>>(d, n);
	CHECK(cudaMemcpyAsync(e, d, sizeof(h), cudaMemcpyDeviceToDevice, s));
	CHECK(cudaStreamEndCapture(s, &g));
	CHECK(cudaStreamIsCapturing(s, &st));
	EXPECT(st == cudaStreamCaptureStatusNone, "still capturing after the end");
	size_t nodes = 0;
	CHECK(cudaGraphGetNodes(g, NULL, &nodes));
	EXPECT(nodes == 4, "%zu nodes captured", nodes);
	CHECK(cudaGraphInstantiate(&ge, g, 0));

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < n; i++) {
			h[i] = i * (round + 1);
			want[i] = (h[i] + 1) * 2;
		}
		CHECK(cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
		CHECK(cudaGraphLaunch(ge, s));
		CHECK(cudaStreamSynchronize(s));
		CHECK(cudaMemcpy(out, e, sizeof(out), cudaMemcpyDeviceToHost));
		VERIFY(out, want, n, 0, "graph_capture launch");
	}
	/* the same shape captured again with other work: the executable graph takes it over */
	cudaGraph_t g2, g3;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	dbl<<<n / 256, 256, 0, s>>>(d, n);
	CHECK(cudaEventRecord(fork, s));
	CHECK(cudaStreamWaitEvent(side, fork, 0));
	CHECK(cudaMemsetAsync(e, 0, sizeof(h), side));
	CHECK(cudaEventRecord(join, side));
	CHECK(cudaStreamWaitEvent(s, join, 0));
	inc<<<n / 256, 256, 0, s>>>(d, n);
	CHECK(cudaMemcpyAsync(e, d, sizeof(h), cudaMemcpyDeviceToDevice, s));
	CHECK(cudaStreamEndCapture(s, &g2));
	cudaGraphExecUpdateResultInfo info;
	CHECK(cudaGraphExecUpdate(ge, g2, &info));
	EXPECT(info.result == cudaGraphExecUpdateSuccess, "update result %d", (int)info.result);
	for (int i = 0; i < n; i++) {
		h[i] = i;
		want[i] = 2 * i + 1;
	}
	CHECK(cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
	CHECK(cudaGraphLaunch(ge, s));
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaMemcpy(out, e, sizeof(out), cudaMemcpyDeviceToHost));
	VERIFY(out, want, n, 0, "graph_capture updated");
	/* another shape: refused, the executable graph unchanged */
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	inc<<<n / 256, 256, 0, s>>>(d, n);
	CHECK(cudaStreamEndCapture(s, &g3));
	cudaError_t ue = cudaGraphExecUpdate(ge, g3, &info);
	EXPECT(ue == cudaErrorGraphExecUpdateFailure && info.result != cudaGraphExecUpdateSuccess,
	       "update to another shape: %s, result %d", cudaGetErrorName(ue), (int)info.result);
	cudaGetLastError();

	/* pinned host memory in and out of a captured graph: what the host puts there before each
	 * launch goes in, the result comes back there */
	int *hp = nullptr, *hq = nullptr;
	cudaGraph_t gp;
	cudaGraphExec_t gpe;
	CHECK(cudaMallocHost((void **)&hp, sizeof(h)));
	CHECK(cudaMallocHost((void **)&hq, sizeof(h)));
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	CHECK(cudaMemcpyAsync(d, hp, sizeof(h), cudaMemcpyHostToDevice, s));
	dbl<<<n / 256, 256, 0, s>>>(d, n);
	inc<<<n / 256, 256, 0, s>>>(d, n);
	CHECK(cudaMemcpyAsync(hq, d, sizeof(h), cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamEndCapture(s, &gp));
	CHECK(cudaGraphInstantiate(&gpe, gp, 0));
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < n; i++) {
			hp[i] = i * 5 + round;
			want[i] = 2 * hp[i] + 1;
		}
		memset(hq, 0, sizeof(h));
		CHECK(cudaGraphLaunch(gpe, s));
		CHECK(cudaStreamSynchronize(s));
		VERIFY(hq, want, n, 0, "graph_capture pinned in and out");
	}
	CHECK(cudaGraphExecDestroy(gpe));
	CHECK(cudaGraphDestroy(gp));
	CHECK(cudaFreeHost(hp));
	CHECK(cudaFreeHost(hq));

	CHECK(cudaGraphDestroy(g2));
	CHECK(cudaGraphDestroy(g3));
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaFree(d));
	CHECK(cudaFree(e));
	CHECK(cudaEventDestroy(fork));
	CHECK(cudaEventDestroy(join));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaStreamDestroy(side));
	return 0;
}
