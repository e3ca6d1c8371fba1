// SPDX-License-Identifier: MIT
// constant_symbol — polynomial coefficients in __constant__ memory set with cudaMemcpyToSymbol.
#include "rt.h"

__constant__ float coef[4];

__global__ void poly(const float *x, float *y, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = ((coef[3] * x[i] + coef[2]) * x[i] + coef[1]) * x[i] + coef[0];
}

int main()
{
	const int n = 1000;
	float c[4] = { 1.0f, -2.0f, 0.5f, 0.25f }, back[4] = { 0 };
	float *x = (float *)malloc(n * sizeof(float)), *y = (float *)malloc(n * sizeof(float)),
	      *want = (float *)malloc(n * sizeof(float));
	for (int i = 0; i < n; i++) {
		x[i] = (i - 500) / 100.0f;
		want[i] = ((c[3] * x[i] + c[2]) * x[i] + c[1]) * x[i] + c[0];
	}
	CHECK(cudaMemcpyToSymbol(coef, c, sizeof(c)));
	CHECK(cudaMemcpyFromSymbol(back, coef, sizeof(back)));
	VERIFY(back, c, 4, 0, "constant_symbol readback");
	float *dx, *dy;
	CHECK(cudaMalloc(&dx, n * sizeof(float)));
	CHECK(cudaMalloc(&dy, n * sizeof(float)));
	CHECK(cudaMemcpy(dx, x, n * sizeof(float), cudaMemcpyHostToDevice));
	poly<<<(n + 127) / 128, 128>>>(dx, dy, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(y, dy, n * sizeof(float), cudaMemcpyDeviceToHost));
	VERIFY(y, want, n, 1e-3, "constant_symbol");
	CHECK(cudaFree(dx));
	CHECK(cudaFree(dy));
	free(x); free(y); free(want);
	return 0;
}
