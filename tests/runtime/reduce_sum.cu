// SPDX-License-Identifier: MIT
// reduce_sum — a tree reduction in shared memory per block, then atomicAdd of the block sums.
#include "rt.h"

__global__ void reduce(const int *in, unsigned long long *out, int n)
{
	__shared__ int s[256];
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	s[threadIdx.x] = i < n ? in[i] : 0;
	__syncthreads();
	for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
		if (threadIdx.x < stride)
			s[threadIdx.x] += s[threadIdx.x + stride];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		atomicAdd(out, (unsigned long long)s[0]);
}

int main()
{
	const int n = 10000;
	int *h = (int *)malloc(n * sizeof(int));
	unsigned long long want = 0, got = 0;
	for (int i = 0; i < n; i++) {
		h[i] = (i * 37) % 101;
		want += h[i];
	}
	int *d;
	unsigned long long *dsum;
	CHECK(cudaMalloc(&d, n * sizeof(int)));
	CHECK(cudaMalloc(&dsum, sizeof(*dsum)));
	CHECK(cudaMemcpy(d, h, n * sizeof(int), cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dsum, 0, sizeof(*dsum)));
	reduce<<<(n + 255) / 256, 256>>>(d, dsum, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(&got, dsum, sizeof(got), cudaMemcpyDeviceToHost));
	EXPECT(got == want, "sum %llu, expected %llu", got, want);
	printf("reduce_sum: sum of %d values is %llu\n", n, got);
	CHECK(cudaFree(d));
	CHECK(cudaFree(dsum));
	free(h);
	return 0;
}
