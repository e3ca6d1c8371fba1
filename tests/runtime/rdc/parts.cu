// SPDX-License-Identifier: MIT
// The second translation unit of tests/runtime/separate_compilation: device code the first
// one uses across the unit boundary (nvcc -rdc=true).
#include "parts.h"

__device__ int counter;
__constant__ float coeff[4];

__device__ float scale(float x)
{
	return coeff[0] * x + coeff[1];
}

__global__ void fill(float *out, int n, float v)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = v + (float)i * coeff[2];
}
