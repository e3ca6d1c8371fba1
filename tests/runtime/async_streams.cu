/* SPDX-License-Identifier: MIT */
/* async_streams.cu — the asyncAPI and simpleStreams patterns: blocking-sync device flags, polling an event, registered memory on several streams. */
#include <cstring>
#include <sys/mman.h>

#include "rt.h"

/*
 * Programs of this kind set the device's scheduling flags before anything creates its
 * context (cudaSetDeviceFlags: blocking synchronisation, mapped host memory), overlap work
 * with the host by polling an event (cudaEventQuery until it is no longer
 * cudaErrorNotReady), and split one job over several streams, each initialising and copying
 * back its own part of a registered buffer.
 */

__global__ void increment(int *g, int by, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		g[i] += by;
}

__global__ void init_array(int *g, const int *factor, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		g[i] = *factor + i % 7;
}

int main()
{
	CHECK(cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync | cudaDeviceMapHost));
	unsigned flags = 0;
	CHECK(cudaGetDeviceFlags(&flags));
	/* (mapped host memory is implicit with unified addressing: whether the flag reads back
	 * is the driver's choice) */
	EXPECT((flags & cudaDeviceScheduleMask) == cudaDeviceScheduleBlockingSync, "device flags %#x", flags);

	/* asyncAPI: queue the work, count host iterations until the event says it is done */
	const int n = 1 << 20;
	int *a, *d;
	CHECK(cudaMallocHost(&a, n * sizeof(int)));
	memset(a, 0, n * sizeof(int));
	CHECK(cudaMalloc(&d, n * sizeof(int)));
	cudaEvent_t start, stop;
	CHECK(cudaEventCreateWithFlags(&start, cudaEventBlockingSync));
	CHECK(cudaEventCreateWithFlags(&stop, cudaEventBlockingSync));
	CHECK(cudaEventRecord(start, 0));
	CHECK(cudaMemcpyAsync(d, a, n * sizeof(int), cudaMemcpyHostToDevice, 0));
	increment<<<n / 512, 512>>>(d, 26, n);
	CHECK(cudaMemcpyAsync(a, d, n * sizeof(int), cudaMemcpyDeviceToHost, 0));
	CHECK(cudaEventRecord(stop, 0));
	unsigned long polls = 0;
	cudaError_t q;
	while ((q = cudaEventQuery(stop)) == cudaErrorNotReady)
		polls++;
	CHECK(q);
	float ms = -1;
	CHECK(cudaEventElapsedTime(&ms, start, stop));
	EXPECT(ms >= 0.0f, "elapsed %g ms", ms);
	for (int i = 0; i < n; i++)
		EXPECT(a[i] == 26, "a[%d] = %d", i, a[i]);
	printf("asyncAPI: %d values incremented while the host polled an event\n", n);

	/* simpleStreams: a registered, page-aligned buffer, four streams each doing its part */
	const int nstreams = 4, per = n / nstreams;
	int *h = (int *)mmap(NULL, n * sizeof(int), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(h != MAP_FAILED, "mmap");
	CHECK(cudaHostRegister(h, n * sizeof(int), cudaHostRegisterMapped | cudaHostRegisterPortable));
	int *factor;
	CHECK(cudaMalloc(&factor, sizeof(int)));
	int five = 5;
	CHECK(cudaMemcpy(factor, &five, sizeof(int), cudaMemcpyHostToDevice));
	cudaStream_t st[nstreams];
	for (int k = 0; k < nstreams; k++)
		CHECK(cudaStreamCreate(&st[k]));
	for (int round = 0; round < 3; round++) {
		memset(h, 0xff, n * sizeof(int));
		for (int k = 0; k < nstreams; k++)
			init_array<<<per / 512, 512, 0, st[k]>>>(d + k * per, factor, per);
		for (int k = 0; k < nstreams; k++)
			CHECK(cudaMemcpyAsync(h + k * per, d + k * per, per * sizeof(int), cudaMemcpyDeviceToHost, st[k]));
		CHECK(cudaDeviceSynchronize());
		for (int i = 0; i < n; i++)
			EXPECT(h[i] == 5 + (i % per) % 7, "round %d: h[%d] = %d", round, i, h[i]);
	}
	printf("simpleStreams: %d streams, 3 rounds of %d values into registered memory\n", nstreams, n);

	for (int k = 0; k < nstreams; k++)
		CHECK(cudaStreamDestroy(st[k]));
	CHECK(cudaHostUnregister(h));
	munmap(h, n * sizeof(int));
	CHECK(cudaFree(factor));
	CHECK(cudaEventDestroy(start));
	CHECK(cudaEventDestroy(stop));
	CHECK(cudaFree(d));
	CHECK(cudaFreeHost(a));
	printf("async_streams: OK\n");
	return 0;
}
