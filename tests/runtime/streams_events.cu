// SPDX-License-Identifier: MIT
// streams_events — work split over four streams, timed with events, joined with cudaStreamWaitEvent.
#include "rt.h"

__global__ void scale(float *x, float f, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] *= f;
}

int main()
{
	const int ns = 4, n = 2048;
	float *h, *d, want[n];
	cudaStream_t s[ns];
	cudaEvent_t start, stop, done[ns];
	CHECK(cudaMallocHost(&h, ns * n * sizeof(float)));
	CHECK(cudaMalloc(&d, ns * n * sizeof(float)));
	CHECK(cudaEventCreate(&start));
	CHECK(cudaEventCreate(&stop));
	for (int k = 0; k < ns; k++) {
		CHECK(cudaStreamCreateWithFlags(&s[k], cudaStreamNonBlocking));
		CHECK(cudaEventCreateWithFlags(&done[k], cudaEventDisableTiming));
	}
	for (int i = 0; i < ns * n; i++)
		h[i] = (float)(i % 100);
	CHECK(cudaEventRecord(start, s[0]));
	for (int k = 0; k < ns; k++) {
		float *hk = h + k * n, *dk = d + k * n;
		CHECK(cudaMemcpyAsync(dk, hk, n * sizeof(float), cudaMemcpyHostToDevice, s[k]));
		scale<<<n / 256, 256, 0, s[k]>>>(dk, (float)(k + 1), n);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpyAsync(hk, dk, n * sizeof(float), cudaMemcpyDeviceToHost, s[k]));
		CHECK(cudaEventRecord(done[k], s[k]));
	}
	for (int k = 1; k < ns; k++)
		CHECK(cudaStreamWaitEvent(s[0], done[k], 0));
	CHECK(cudaEventRecord(stop, s[0]));
	CHECK(cudaEventSynchronize(stop));
	float ms = -1;
	CHECK(cudaEventElapsedTime(&ms, start, stop));
	EXPECT(ms >= 0, "elapsed %f ms", ms);
	EXPECT(cudaEventQuery(stop) == cudaSuccess, "stop event not complete after synchronize");
	for (int k = 0; k < ns; k++) {
		for (int i = 0; i < n; i++)
			want[i] = (float)((k * n + i) % 100) * (k + 1);
		VERIFY(h + k * n, want, n, 0, "streams_events stream");
	}
	printf("streams_events: elapsed time measured\n");
	for (int k = 0; k < ns; k++) {
		CHECK(cudaStreamDestroy(s[k]));
		CHECK(cudaEventDestroy(done[k]));
	}
	CHECK(cudaEventDestroy(start));
	CHECK(cudaEventDestroy(stop));
	CHECK(cudaFree(d));
	CHECK(cudaFreeHost(h));
	return 0;
}
