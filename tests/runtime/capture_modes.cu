// SPDX-License-Identifier: MIT
// capture_modes — what frameworks do around a stream capture besides launching: PyTorch's
// capture-mode guard (cudaThreadExchangeStreamCaptureMode: relaxed while it allocates during a
// global capture, which the global mode refuses), an external event wait and record captured
// as nodes (the record waited for by another stream), cudaGraphUpload before the first launch, node enabling
// read back, stream ids, and a driver function fetched through the runtime
// (cudaGetDriverEntryPointByVersion) and called.
#include "rt.h"

#include <cuda.h>

__global__ void add(int *p, int v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] += v;
}

int main()
{
	const int n = 256;
	int *d, h[n];
	cudaStream_t s, t;
	CHECK(cudaMalloc(&d, n * sizeof(int)));
	CHECK(cudaMemset(d, 0, n * sizeof(int)));
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CHECK(cudaStreamCreateWithFlags(&t, cudaStreamNonBlocking));

	unsigned long long ids, idt;
	CHECK(cudaStreamGetId(s, &ids));
	CHECK(cudaStreamGetId(t, &idt));
	EXPECT(ids != idt, "two streams share the id %llu", ids);

	/* an event recorded outside the capture, which the graph waits for as an external event */
	cudaEvent_t before;
	CHECK(cudaEventCreateWithFlags(&before, cudaEventDisableTiming));
	CHECK(cudaEventRecord(before, t));

	/* 1. a global capture refuses an allocation; the relaxed mode, set by the guard, allows it */
	cudaGraph_t g;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	add<<<1, n, 0, s>>>(d, 1, n);
	cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
	CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
	EXPECT(mode == cudaStreamCaptureModeGlobal, "the thread's mode was %d", (int)mode);
	int *scratch;
	CHECK(cudaMalloc(&scratch, 4096));   /* as PyTorch's allocator does while capturing */
	CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
	EXPECT(mode == cudaStreamCaptureModeRelaxed, "the guard's mode was %d", (int)mode);

	/* 2. an external event wait and record, captured as nodes */
	cudaEvent_t ev;
	CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
	CHECK(cudaStreamWaitEvent(s, before, cudaEventWaitExternal));
	CHECK(cudaEventRecordWithFlags(ev, s, cudaEventRecordExternal));
	add<<<1, n, 0, s>>>(d, 10, n);
	CHECK(cudaStreamEndCapture(s, &g));
	size_t nodes = 0;
	CHECK(cudaGraphGetNodes(g, NULL, &nodes));
	EXPECT(nodes == 4, "the graph has %zu nodes (kernel, event wait, event record, kernel)", nodes);
	cudaGraphNode_t nv[4];
	CHECK(cudaGraphGetNodes(g, nv, &nodes));
	cudaGraphNodeType types[4];
	for (int i = 0; i < 4; i++)
		CHECK(cudaGraphNodeGetType(nv[i], &types[i]));
	EXPECT(types[0] == cudaGraphNodeTypeKernel && types[1] == cudaGraphNodeTypeWaitEvent &&
	       types[2] == cudaGraphNodeTypeEventRecord && types[3] == cudaGraphNodeTypeKernel,
	       "node types %d %d %d %d", (int)types[0], (int)types[1], (int)types[2], (int)types[3]);

	/* 3. instantiate, upload, launch twice; each launch adds 11 */
	cudaGraphExec_t x;
	CHECK(cudaGraphInstantiate(&x, g, 0));
	CHECK(cudaGraphUpload(x, s));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaStreamWaitEvent(t, ev, cudaEventWaitDefault));
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaStreamSynchronize(t));
	CHECK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == 22, "element %d is %d after two launches", i, h[i]);

	/* 4. a node of the executable graph reads back as enabled */
	unsigned enabled = 9;
	CHECK(cudaGraphNodeGetEnabled(x, nv[0], &enabled));
	EXPECT(enabled == 1, "a node reads as enabled=%u", enabled);

	CHECK(cudaGraphExecDestroy(x));
	CHECK(cudaGraphDestroy(g));

	/* 5. a driver function through the runtime, called */
	void *fn = NULL;
	cudaDriverEntryPointQueryResult q;
	CHECK(cudaGetDriverEntryPointByVersion("cuMemGetInfo", &fn, 12000, cudaEnableDefault, &q));
	EXPECT(q == cudaDriverEntryPointSuccess && fn, "cuMemGetInfo not found (%d)", (int)q);
	size_t free_b = 0, total_b = 0;
	CUresult r = ((CUresult (*)(size_t *, size_t *))fn)(&free_b, &total_b);
	EXPECT(r == CUDA_SUCCESS && free_b > 0 && free_b <= total_b, "cuMemGetInfo: %d, %zu of %zu", (int)r, free_b,
	       total_b);

	CHECK(cudaFree(scratch));
	CHECK(cudaFree(d));
	CHECK(cudaEventDestroy(ev));
	CHECK(cudaEventDestroy(before));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaStreamDestroy(t));
	printf("capture_modes: relaxed allocation inside a global capture, external event nodes, upload, enabled "
	       "node, stream ids, driver entry point: all as expected\n");
	return 0;
}
