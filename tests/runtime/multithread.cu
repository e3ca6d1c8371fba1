// SPDX-License-Identifier: MIT
// multithread — four host threads share the device, each with its own stream and buffer.
#include "rt.h"
#include <pthread.h>

__global__ void affine(int *p, int a, int b, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = a * i + b;
}

static int failures;

static void *worker(void *arg)
{
	int t = (int)(long)arg, n = 2000, *d, h[2000];
	cudaStream_t s;
	CHECK(cudaStreamCreate(&s));
	CHECK(cudaMalloc(&d, n * sizeof(int)));
	for (int round = 0; round < 5; round++) {
		affine<<<(n + 127) / 128, 128, 0, s>>>(d, t + 1, round, n);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpyAsync(h, d, sizeof(h), cudaMemcpyDeviceToHost, s));
		CHECK(cudaStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			if (h[i] != (t + 1) * i + round)
				__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	}
	CHECK(cudaFree(d));
	CHECK(cudaStreamDestroy(s));
	return NULL;
}

int main()
{
	pthread_t th[4];
	for (long t = 0; t < 4; t++)
		EXPECT(pthread_create(&th[t], NULL, worker, (void *)t) == 0, "pthread_create");
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
	EXPECT(failures == 0, "%d wrong values", failures);
	printf("multithread: 4 threads x 5 rounds verified\n");
	return 0;
}
