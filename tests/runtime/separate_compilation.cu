// SPDX-License-Identifier: MIT
// separate_compilation — a program built as CMake's CUDA_SEPARABLE_COMPILATION builds one
// (nvcc -rdc=true, two translation units device-linked): a kernel here calls a device
// function and counts in a __device__ variable of the other unit, reads its __constant__
// array (set from here with cudaMemcpyToSymbol), and a kernel of the other unit is launched
// from here. The device link's image holds SASS only; the simulator runs the units' own PTX,
// linked (docs/SIM.md). Every result is checked on the host.
#include "rdc/parts.h"
#include "rt.h"

__global__ void apply(const float *in, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		out[i] = scale(in[i]);
		if (out[i] > 10.0f)
			atomicAdd(&counter, 1);
	}
}

int main()
{
	const int n = 1000;
	static float in[n], out[n];
	float *din, *dout;
	CHECK(cudaMalloc(&din, sizeof(in)));
	CHECK(cudaMalloc(&dout, sizeof(out)));
	const float c[4] = { 2.0f, 0.5f, 0.25f, 0.0f };
	CHECK(cudaMemcpyToSymbol(coeff, c, sizeof(c)));
	int zero = 0, count = -1;
	CHECK(cudaMemcpyToSymbol(counter, &zero, sizeof(zero)));

	fill<<<(n + 127) / 128, 128>>>(din, n, 1.0f);
	CHECK(cudaGetLastError());
	apply<<<(n + 127) / 128, 128>>>(din, dout, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(in, din, sizeof(in), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpyFromSymbol(&count, counter, sizeof(count)));
	int want = 0;
	for (int i = 0; i < n; i++) {
		float v = 1.0f + (float)i * 0.25f, s = 2.0f * v + 0.5f;
		EXPECT(in[i] == v, "fill[%d] = %g, expected %g", i, in[i], v);
		EXPECT(out[i] == s, "apply[%d] = %g, expected %g", i, out[i], s);
		want += s > 10.0f;
	}
	EXPECT(count == want, "counter %d, expected %d", count, want);
	printf("separate_compilation: a kernel of each unit, a device function, a __device__ counter (%d) and a __constant__ array across units\n", count);
	CHECK(cudaFree(din));
	CHECK(cudaFree(dout));
	printf("separate_compilation: ok\n");
	return 0;
}
