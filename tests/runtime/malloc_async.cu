// SPDX-License-Identifier: MIT
// malloc_async — stream-ordered allocation: cudaMallocAsync/cudaFreeAsync on the default pool.
#include "rt.h"

__global__ void fill(int *p, int v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = v + i;
}

int main()
{
	const int n = 4096;
	cudaStream_t s;
	int h[n], want[n];
	CHECK(cudaStreamCreate(&s));
	for (int round = 0; round < 4; round++) {
		int *d;
		CHECK(cudaMallocAsync(&d, n * sizeof(int), s));
		fill<<<n / 256, 256, 0, s>>>(d, round * 100, n);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpyAsync(h, d, sizeof(h), cudaMemcpyDeviceToHost, s));
		CHECK(cudaFreeAsync(d, s));
		CHECK(cudaStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			want[i] = round * 100 + i;
		VERIFY(h, want, n, 0, "malloc_async round");
	}
	CHECK(cudaStreamDestroy(s));
	return 0;
}
