// SPDX-License-Identifier: MIT
// scan — an inclusive prefix sum per block (Hillis-Steele in shared memory) and block offsets.
#include "rt.h"

__global__ void block_scan(const int *in, int *out, int *sums, int n)
{
	__shared__ int s[256];
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	s[threadIdx.x] = i < n ? in[i] : 0;
	__syncthreads();
	for (int off = 1; off < blockDim.x; off <<= 1) {
		int v = threadIdx.x >= off ? s[threadIdx.x - off] : 0;
		__syncthreads();
		s[threadIdx.x] += v;
		__syncthreads();
	}
	if (i < n)
		out[i] = s[threadIdx.x];
	if (threadIdx.x == blockDim.x - 1)
		sums[blockIdx.x] = s[threadIdx.x];
}

__global__ void add_offsets(int *out, const int *offsets, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n && blockIdx.x > 0)
		out[i] += offsets[blockIdx.x - 1];
}

int main()
{
	const int n = 2000, nb = (n + 255) / 256;
	int in[n], out[n], want[n], sums[nb], *di, *dout, *dsums;
	for (int i = 0; i < n; i++) {
		in[i] = (i % 13) - 6;
		want[i] = in[i] + (i ? want[i - 1] : 0);
	}
	CHECK(cudaMalloc(&di, sizeof(in)));
	CHECK(cudaMalloc(&dout, sizeof(out)));
	CHECK(cudaMalloc(&dsums, sizeof(sums)));
	CHECK(cudaMemcpy(di, in, sizeof(in), cudaMemcpyHostToDevice));
	block_scan<<<nb, 256>>>(di, dout, dsums, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(sums, dsums, sizeof(sums), cudaMemcpyDeviceToHost));
	for (int b = 1; b < nb; b++)
		sums[b] += sums[b - 1];
	CHECK(cudaMemcpy(dsums, sums, sizeof(sums), cudaMemcpyHostToDevice));
	add_offsets<<<nb, 256>>>(dout, dsums, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
	VERIFY(out, want, n, 0, "scan");
	CHECK(cudaFree(di));
	CHECK(cudaFree(dout));
	CHECK(cudaFree(dsums));
	return 0;
}
