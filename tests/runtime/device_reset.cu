// SPDX-License-Identifier: MIT
// device_reset — cudaDeviceReset in the middle of a program, then more work, five times over:
// each round sets a device limit, allocates, copies to a __constant__ table, launches kernels
// that count in a __device__ variable, uses a stream and an event, and checks every result on
// the host. After a reset the device starts again empty: the counter has its initial value
// again, memory left allocated is freed by the reset (each round leaves 40% of the device's
// free memory allocated), and a pointer from before is refused. A
// second thread then works on the device the resets left behind.
#include <thread>
#include "rt.h"

__constant__ int table[64];
__device__ int counter = 100;

__global__ void fill(int *out, int n, int round)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = table[i % 64] * round + i;
	if (i == 0)
		atomicAdd(&counter, 1);
}

__global__ void read_counter(int *out)
{
	*out = counter;
}

static const int N = 1 << 20;   /* 4 MiB of ints per round */

static void round_of_work(int round, size_t free0)
{
	/* What earlier rounds allocated went with their reset: each round takes 40% of the memory
	 * free at the start and leaves it to the reset, so the third could not have it otherwise.
	 * (Not a comparison of free memory: on a GPU other processes allocate too.) */
	void *big = nullptr;
	size_t bigsz = free0 / 5 * 2 & ~(size_t)((2u << 20) - 1);
	cudaError_t eb = cudaMalloc(&big, bigsz);
	EXPECT(eb == cudaSuccess, "round %d: %zu bytes (40%% of what was free at the start) not allocated: %s", round,
	       bigsz, cudaGetErrorName(eb));
	CHECK(cudaDeviceSetLimit(cudaLimitMallocHeapSize, 16u << 20));
	size_t heap = 0;
	CHECK(cudaDeviceGetLimit(&heap, cudaLimitMallocHeapSize));
	EXPECT(heap >= (16u << 20), "round %d: heap limit %zu", round, heap);

	int host_table[64];
	for (int i = 0; i < 64; i++)
		host_table[i] = i * 7 + round;
	CHECK(cudaMemcpyToSymbol(table, host_table, sizeof(host_table)));

	int *d = nullptr, *dc = nullptr;
	CHECK(cudaMalloc(&d, N * sizeof(int)));
	CHECK(cudaMalloc(&dc, sizeof(int)));
	cudaStream_t s;
	cudaEvent_t ev;
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CHECK(cudaEventCreate(&ev));
	fill<<<(N + 255) / 256, 256, 0, s>>>(d, N, round);
	CHECK(cudaGetLastError());
	fill<<<(N + 255) / 256, 256, 0, s>>>(d, N, round);
	CHECK(cudaEventRecord(ev, s));
	CHECK(cudaEventSynchronize(ev));
	read_counter<<<1, 1, 0, s>>>(dc);
	CHECK(cudaStreamSynchronize(s));

	int *h = (int *)malloc(N * sizeof(int)), c = 0;
	EXPECT(h, "out of host memory");
	CHECK(cudaMemcpy(h, d, N * sizeof(int), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(&c, dc, sizeof(int), cudaMemcpyDeviceToHost));
	for (int i = 0; i < N; i++)
		EXPECT(h[i] == host_table[i % 64] * round + i, "round %d: element %d is %d", round, i, h[i]);
	/* two launches counted from the initial value: a reset reloads the module */
	EXPECT(c == 102, "round %d: counter %d, expected 102", round, c);
	printf("round %d: %d values and the counter verified\n", round, N);
	free(h);

	CHECK(cudaEventDestroy(ev));
	CHECK(cudaStreamDestroy(s));
	/* d and dc stay allocated: the reset frees them */
	CHECK(cudaDeviceReset());

	int x = 0;
	cudaError_t e = cudaMemcpy(&x, dc, sizeof(int), cudaMemcpyDeviceToHost);
	EXPECT(e != cudaSuccess, "round %d: a pointer from before the reset was read", round);
	cudaGetLastError();
	printf("round %d: reset; a pointer from before it is refused\n", round);
}

int main()
{
	size_t free0 = 0, total = 0;
	CHECK(cudaFree(0));
	CHECK(cudaMemGetInfo(&free0, &total));
	for (int round = 1; round <= 5; round++)
		round_of_work(round, free0);

	/* another thread, on the device the resets left behind */
	int ok = 0;
	std::thread t([&ok] {
		int *d = nullptr, h[256];
		if (cudaMalloc(&d, sizeof(h)) != cudaSuccess)
			return;
		int host_table[64];
		for (int i = 0; i < 64; i++)
			host_table[i] = i;
		if (cudaMemcpyToSymbol(table, host_table, sizeof(host_table)) != cudaSuccess)
			return;
		fill<<<1, 256>>>(d, 256, 2);
		if (cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost) != cudaSuccess)
			return;
		for (int i = 0; i < 256; i++)
			if (h[i] != (i % 64) * 2 + i)
				return;
		ok = cudaFree(d) == cudaSuccess;
	});
	t.join();
	EXPECT(ok, "a second thread could not work on the device after the resets");
	printf("second thread: 256 values verified after the resets\n");
	CHECK(cudaDeviceReset());
	printf("device_reset: all checks passed\n");
	return 0;
}
