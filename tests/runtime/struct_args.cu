// SPDX-License-Identifier: MIT
// struct_args — kernels taking structs, doubles, chars and pointers by value in mixed layouts.
#include "rt.h"

struct Params {
	double scale;
	int offset;
	char tag;
	float bias[3];
};

__global__ void apply(Params p, const float *in, double *out, char c, short s, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = in[i] * p.scale + p.offset + p.bias[i % 3] + p.tag + c + s;
}

int main()
{
	const int n = 500;
	Params p = { 1.5, -7, 3, { 0.25f, 0.5f, 0.75f } };
	float in[n];
	double out[n], want[n];
	for (int i = 0; i < n; i++) {
		in[i] = (float)i;
		want[i] = in[i] * p.scale + p.offset + p.bias[i % 3] + p.tag + 2 + 300;
	}
	float *di;
	double *dout;
	CHECK(cudaMalloc(&di, sizeof(in)));
	CHECK(cudaMalloc(&dout, sizeof(out)));
	CHECK(cudaMemcpy(di, in, sizeof(in), cudaMemcpyHostToDevice));
	apply<<<(n + 63) / 64, 64>>>(p, di, dout, (char)2, (short)300, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
	VERIFY(out, want, n, 1e-9, "struct_args");
	CHECK(cudaFree(di));
	CHECK(cudaFree(dout));
	return 0;
}
