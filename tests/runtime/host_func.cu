// SPDX-License-Identifier: MIT
// host_func — cudaLaunchHostFunc and stream callbacks run in stream order after the device work.
#include "rt.h"

__global__ void set(int *p, int v) { *p = v; }

static int *g_host;
static int seen[3];

static void CUDART_CB after(void *arg) { seen[(long)arg] = *g_host; }

static void CUDART_CB cb(cudaStream_t, cudaError_t status, void *arg)
{
	seen[(long)arg] = status == cudaSuccess ? *g_host : -1;
}

int main()
{
	int *d;
	cudaStream_t s;
	CHECK(cudaMallocHost(&g_host, sizeof(int)));
	CHECK(cudaMalloc(&d, sizeof(int)));
	CHECK(cudaStreamCreate(&s));
	for (long k = 0; k < 3; k++) {
		set<<<1, 1, 0, s>>>(d, (int)(k + 1) * 11);
		CHECK(cudaMemcpyAsync(g_host, d, sizeof(int), cudaMemcpyDeviceToHost, s));
		if (k == 1)
			CHECK(cudaStreamAddCallback(s, cb, (void *)k, 0));
		else
			CHECK(cudaLaunchHostFunc(s, after, (void *)k));
	}
	CHECK(cudaStreamSynchronize(s));
	int want[3] = { 11, 22, 33 };
	VERIFY(seen, want, 3, 0, "host_func order");

	/* On a stream being captured: a stream callback is refused and the capture invalidated,
	 * as by the driver (its end fails); a host function becomes a host node, directly and
	 * through vgpu (tests/runtime/host_nodes runs such graphs). */
	cudaGraph_t g = NULL;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	set<<<1, 1, 0, s>>>(d, 44);
	cudaError_t ecb = cudaStreamAddCallback(s, cb, (void *)0, 0);
	cudaError_t eend = cudaStreamEndCapture(s, &g);
	(void)cudaGetLastError();
	EXPECT(ecb != cudaSuccess, "a stream callback was captured");
	EXPECT(eend != cudaSuccess && g == NULL, "a capture with a refused callback ended well: %s",
	       cudaGetErrorName(eend));
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	set<<<1, 1, 0, s>>>(d, 44);
	cudaError_t ehf = cudaLaunchHostFunc(s, after, (void *)0);
	eend = cudaStreamEndCapture(s, &g);
	EXPECT(ehf == cudaSuccess, "a captured host function: %s", cudaGetErrorName(ehf));
	EXPECT(eend == cudaSuccess && g != NULL, "a capture with a host function: %s", cudaGetErrorName(eend));
	size_t nn = 0;
	if (g) {
		CHECK(cudaGraphGetNodes(g, NULL, &nn));
		CHECK(cudaGraphDestroy(g));
	}
	EXPECT(nn == 2, "the captured graph has %zu nodes, not a kernel and a host node", nn);
	printf("on a capturing stream: the callback refused and the capture invalidated, the host function captured\n");
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaFree(d));
	CHECK(cudaFreeHost(g_host));
	return 0;
}
