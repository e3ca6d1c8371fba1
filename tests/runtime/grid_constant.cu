// SPDX-License-Identifier: MIT
// grid_constant — a __grid_constant__ kernel parameter whose address the kernel takes (CUDA
// 11.7+), as CUTLASS 3's kernels pass their Params by reference: the structure read through a
// pointer in a device function, indexed at run time, and its address compared with itself;
// every value checked on the host.
#include "rt.h"

struct Params {
	int table[16];
	float scale;
	const int *in;
	int *out;
	int n;
};

__device__ __noinline__ int lookup(const Params *p, int i) { return p->table[i & 15]; }

__device__ __noinline__ const Params *same(const Params &p) { return &p; }

__global__ void kernel(const __grid_constant__ Params params)
{
	const Params &p = params;
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= p.n)
		return;
	int v = p.in[i] * lookup(&params, i + (int)threadIdx.x) + (int)(p.scale * 2.0f);
	if (same(params) != &params)   /* the address is one and the same */
		v = -1;
	p.out[i] = v;
}

int main()
{
	enum { N = 1000 };
	Params p;
	for (int i = 0; i < 16; i++)
		p.table[i] = 3 * i - 7;
	p.scale = 2.5f;
	p.n = N;
	int h_in[N], h_out[N], want[N];
	for (int i = 0; i < N; i++)
		h_in[i] = i % 97 - 40;
	int *d_in, *d_out;
	CHECK(cudaMalloc(&d_in, sizeof(h_in)));
	CHECK(cudaMalloc(&d_out, sizeof(h_out)));
	CHECK(cudaMemcpy(d_in, h_in, sizeof(h_in), cudaMemcpyHostToDevice));
	p.in = d_in;
	p.out = d_out;
	kernel<<<(N + 127) / 128, 128>>>(p);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(h_out, d_out, sizeof(h_out), cudaMemcpyDeviceToHost));
	for (int i = 0; i < N; i++)
		want[i] = h_in[i] * p.table[(i + i % 128) & 15] + 5;
	VERIFY(h_out, want, N, 0, "a __grid_constant__ structure read through its address");
	CHECK(cudaFree(d_in));
	CHECK(cudaFree(d_out));
	printf("PASS grid_constant\n");
	return 0;
}
