// SPDX-License-Identifier: MIT
// histogram — per-block histograms in shared memory with atomics, merged into global memory.
#include "rt.h"

#define BINS 64

__global__ void hist(const unsigned char *in, unsigned *out, int n)
{
	__shared__ unsigned local[BINS];
	for (int b = threadIdx.x; b < BINS; b += blockDim.x)
		local[b] = 0;
	__syncthreads();
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
		atomicAdd(&local[in[i] % BINS], 1u);
	__syncthreads();
	for (int b = threadIdx.x; b < BINS; b += blockDim.x)
		atomicAdd(&out[b], local[b]);
}

int main()
{
	const int n = 30000;
	unsigned char *h = (unsigned char *)malloc(n);
	unsigned got[BINS], want[BINS] = { 0 };
	for (int i = 0; i < n; i++) {
		h[i] = (unsigned char)((i * 131) ^ (i >> 3));
		want[h[i] % BINS]++;
	}
	unsigned char *d;
	unsigned *dh;
	CHECK(cudaMalloc(&d, n));
	CHECK(cudaMalloc(&dh, sizeof(got)));
	CHECK(cudaMemcpy(d, h, n, cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dh, 0, sizeof(got)));
	hist<<<8, 128>>>(d, dh, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(got, dh, sizeof(got), cudaMemcpyDeviceToHost));
	VERIFY(got, want, BINS, 0, "histogram bins");
	CHECK(cudaFree(d));
	CHECK(cudaFree(dh));
	free(h);
	return 0;
}
