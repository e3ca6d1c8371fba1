// SPDX-License-Identifier: MIT
// dynamic_shared — extern __shared__ sized at launch: a block-wide rotation by a launch parameter.
#include "rt.h"

__global__ void rotate(const int *in, int *out, int shift)
{
	extern __shared__ int buf[];
	int t = threadIdx.x, n = blockDim.x, base = blockIdx.x * n;
	buf[t] = in[base + t];
	__syncthreads();
	out[base + t] = buf[(t + shift) % n];
}

int main()
{
	const int blocks = 6, threads = 192, n = blocks * threads;
	int in[n], out[n], want[n], *di, *dout;
	for (int i = 0; i < n; i++)
		in[i] = i * 3;
	for (int b = 0; b < blocks; b++)
		for (int t = 0; t < threads; t++)
			want[b * threads + t] = in[b * threads + (t + 5) % threads];
	CHECK(cudaMalloc(&di, sizeof(in)));
	CHECK(cudaMalloc(&dout, sizeof(out)));
	CHECK(cudaMemcpy(di, in, sizeof(in), cudaMemcpyHostToDevice));
	rotate<<<blocks, threads, threads * sizeof(int)>>>(di, dout, 5);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
	VERIFY(out, want, n, 0, "dynamic_shared");
	CHECK(cudaFree(di));
	CHECK(cudaFree(dout));
	return 0;
}
