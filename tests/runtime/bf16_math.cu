// SPDX-License-Identifier: MIT
// bf16_math — bfloat16 as machine-learning kernels use it, built for nvcc's default target
// (compute capability 7.5, where cuda_bf16.h does bfloat16 in integer and float
// instructions, packing 16-bit halves with constants): conversions with rounding, add,
// multiply, a dot product accumulated in float, and half precision beside it. The host computes the same with the same header's host functions; results must match
// bit for bit.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstring>
#include "rt.h"

__host__ __device__ static float combine(float x, float y)
{
	__nv_bfloat16 a = __float2bfloat16(x), b = __float2bfloat16(y);
	__nv_bfloat16 s = __hadd(a, b), p = __hmul(a, b), f = __hadd(p, __float2bfloat16(0.5f));
	__half h = __hadd(__hmul(__float2half(x), __float2half(0.5f)), __float2half(0.25f));
	return __bfloat162float(s) * 3.0f + __bfloat162float(p) - __bfloat162float(f) + __half2float(h);
}

__global__ void elementwise(const float *x, const float *y, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = combine(x[i], y[i]);
}

/* dot products of bfloat16 rows, accumulated in float, one row per thread */
__global__ void dots(const __nv_bfloat16 *a, const __nv_bfloat16 *b, float *out, int rows, int len)
{
	int r = blockIdx.x * blockDim.x + threadIdx.x;
	if (r >= rows)
		return;
	float acc = 0;
	for (int k = 0; k < len; k++)
		acc = fmaf(__bfloat162float(a[r * len + k]), __bfloat162float(b[k]), acc);
	out[r] = acc;
}

int main()
{
	const int n = 1000, rows = 64, len = 48;
	float hx[n], hy[n], got[n], want[n];
	for (int i = 0; i < n; i++) {
		hx[i] = (float)(i - 500) * 0.0371f;
		hy[i] = (float)((i * 7919) % 1000 - 500) * 0.0123f;
		want[i] = combine(hx[i], hy[i]);
	}
	float *dx, *dy, *dout;
	CHECK(cudaMalloc(&dx, sizeof(hx)));
	CHECK(cudaMalloc(&dy, sizeof(hy)));
	CHECK(cudaMalloc(&dout, sizeof(got)));
	CHECK(cudaMemcpy(dx, hx, sizeof(hx), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dy, hy, sizeof(hy), cudaMemcpyHostToDevice));
	elementwise<<<(n + 127) / 128, 128>>>(dx, dy, dout, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
	EXPECT(!memcmp(got, want, sizeof(got)), "bfloat16/half element-wise results differ from the host's");
	VERIFY(got, want, (size_t)n, 0, "bfloat16 and half add and multiply, bit for bit");

	static __nv_bfloat16 ha[rows * len], hb[len];
	float dgot[rows], dwant[rows];
	for (int i = 0; i < rows * len; i++)
		ha[i] = __float2bfloat16((float)((i * 31) % 97 - 48) / 16.0f);
	for (int k = 0; k < len; k++)
		hb[k] = __float2bfloat16((float)(k % 13 - 6) / 8.0f);
	for (int r = 0; r < rows; r++) {
		float acc = 0;
		for (int k = 0; k < len; k++)
			acc = fmaf(__bfloat162float(ha[r * len + k]), __bfloat162float(hb[k]), acc);
		dwant[r] = acc;
	}
	__nv_bfloat16 *da, *db;
	float *dd;
	CHECK(cudaMalloc(&da, sizeof(ha)));
	CHECK(cudaMalloc(&db, sizeof(hb)));
	CHECK(cudaMalloc(&dd, sizeof(dgot)));
	CHECK(cudaMemcpy(da, ha, sizeof(ha), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(db, hb, sizeof(hb), cudaMemcpyHostToDevice));
	dots<<<1, rows>>>(da, db, dd, rows, len);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(dgot, dd, sizeof(dgot), cudaMemcpyDeviceToHost));
	VERIFY(dgot, dwant, (size_t)rows, 0, "bfloat16 dot products accumulated in float");
	CHECK(cudaFree(dx));
	CHECK(cudaFree(dy));
	CHECK(cudaFree(dout));
	CHECK(cudaFree(da));
	CHECK(cudaFree(db));
	CHECK(cudaFree(dd));
	return 0;
}
