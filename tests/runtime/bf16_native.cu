// SPDX-License-Identifier: MIT
// bf16_native — bfloat16 and half arithmetic as programs built for Hopper get it (-arch=sm_90:
// the PTX has bfloat16 instructions of its own: cvt.f32.bf16, cvt.rn.bf16.f32,
// cvt.rn.bf16x2.f32, add/mul/fma.rn/neg/abs/min/max.bf16 and .bf16x2, setp on .bf16, fma
// with .relu, min/max with .NaN, atomic adds of bfloat16 and bfloat162), which is also what
// the CUDA libraries ship as PTX. The host computes the same with the same headers' host
// functions; every result must match bit for bit (NaNs where the ISA leaves the payload open
// are not compared by payload). Inputs have short mantissas so that products and fused sums
// are exact in float and the host's rounding is a single one.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cmath>
#include <cstring>
#include "rt.h"

static const int N = 1024;

/* x[i], y[i], z[i]: multiples of 1/16 in [-8, 8), some of them NaN, infinite or huge */
static void inputs(float *x, float *y, float *z)
{
	unsigned s = 12345;
	for (int i = 0; i < N; i++) {
		float v[3];
		for (int k = 0; k < 3; k++) {
			s = s * 1664525u + 1013904223u;
			v[k] = (float)((int)(s >> 20) % 256 - 128) / 16.0f;
		}
		x[i] = v[0], y[i] = v[1], z[i] = v[2];
	}
	x[3] = NAN;
	y[5] = INFINITY;
	x[7] = 3.0e38f;     /* past bfloat16's largest finite once added to */
	y[7] = 3.0e38f;
	x[9] = 1.0e-39f;    /* subnormal */
	y[11] = -0.0f;
}

#define OUTS 15

/* Fused multiply-adds are device functions in the headers: the host does them in float, exact
 * for these inputs, then rounds once as the device does; .relu makes negatives and -0 +0 (an
 * H200 gives +0 for a -0 result). */
__host__ __device__ static __nv_bfloat16 fma_bf(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c, bool relu)
{
#ifdef __CUDA_ARCH__
	return relu ? __hfma_relu(a, b, c) : __hfma(a, b, c);
#else
	float r = fmaf(__bfloat162float(a), __bfloat162float(b), __bfloat162float(c));
	return __float2bfloat16_rn(relu && r <= 0 ? 0.0f : r);
#endif
}

__host__ __device__ static __nv_bfloat162 fma_bf2(__nv_bfloat162 a, __nv_bfloat162 b, __nv_bfloat162 c)
{
#ifdef __CUDA_ARCH__
	return __hfma2(a, b, c);
#else
	return __halves2bfloat162(fma_bf(__low2bfloat16(a), __low2bfloat16(b), __low2bfloat16(c), false),
				  fma_bf(__high2bfloat16(a), __high2bfloat16(b), __high2bfloat16(c), false));
#endif
}

__host__ __device__ static __half fma_h(__half a, __half b, __half c, bool relu)
{
#ifdef __CUDA_ARCH__
	return relu ? __hfma_relu(a, b, c) : __hfma(a, b, c);
#else
	float r = fmaf(__half2float(a), __half2float(b), __half2float(c));
	return __float2half_rn(relu && r <= 0 ? 0.0f : r);
#endif
}

__host__ __device__ static __half2 fma_h2_relu(__half2 a, __half2 b, __half2 c)
{
#ifdef __CUDA_ARCH__
	return __hfma2_relu(a, b, c);
#else
	return __halves2half2(fma_h(__low2half(a), __low2half(b), __low2half(c), true),
			      fma_h(__high2half(a), __high2half(b), __high2half(c), true));
#endif
}

/* Every result of element i, as 32-bit words (bfloat16 and half results zero-extended). */
__host__ __device__ static void compute(float xf, float yf, float zf, unsigned *o)
{
	__nv_bfloat16 x = __float2bfloat16_rn(xf), y = __float2bfloat16_rn(yf), z = __float2bfloat16_rn(zf);
	__nv_bfloat162 p = __floats2bfloat162_rn(xf, yf), q = __floats2bfloat162_rn(zf, xf);
	__half hx = __float2half_rn(xf), hy = __float2half_rn(yf), hz = __float2half_rn(zf);
	__half2 hp = __floats2half2_rn(xf, yf), hq = __floats2half2_rn(zf, xf);
	__nv_bfloat16 r[9] = { __hadd(x, y), __hmul(x, y), fma_bf(x, y, z, false), __hneg(y), __habs(y),
			       __hmax_nan(x, y), __hmin(x, z), fma_bf(x, y, z, true), __hsub(x, z) };
	for (int k = 0; k < 9; k++) {
		unsigned short b;
		memcpy(&b, &r[k], 2);
		o[k] = b;
	}
	__nv_bfloat162 r2 = fma_bf2(p, q, p);
	memcpy(&o[9], &r2, 4);
	r2 = __hadd2(p, q);
	memcpy(&o[10], &r2, 4);
	o[11] = (unsigned)__heq(x, y) | (unsigned)__hlt(x, z) << 1 | (unsigned)__hgt(y, z) << 2 |
		(unsigned)__hisnan(x) << 3;
	__half2 h2 = fma_h2_relu(hp, hq, hp);
	memcpy(&o[12], &h2, 4);
	h2 = __hmax2_nan(hp, hq);
	memcpy(&o[13], &h2, 4);
	/* a NaN's payload after float arithmetic is not specified: one NaN stands for all */
	float back = __bfloat162float(fma_bf(x, y, z, false)) + __half2float(fma_h(hx, hy, hz, false));
	o[14] = back != back ? 0x7fc00000u : 0;
	if (back == back)
		memcpy(&o[14], &back, 4);
}

__global__ void kernel(const float *x, const float *y, const float *z, unsigned *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		compute(x[i], y[i], z[i], &out[i * OUTS]);
}

/* atomic adds of bfloat16 and bfloat162 from every thread into a few counters */
__global__ void atomics(const float *x, __nv_bfloat16 *acc, __nv_bfloat162 *acc2, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		float v = fabsf(x[i]) < 8.0f ? x[i] : 0.0f;   /* the finite inputs */
		atomicAdd(&acc[i % 4], __float2bfloat16_rn(v < 0 ? -0.0625f : 0.125f));
		atomicAdd(&acc2[i % 2], __floats2bfloat162_rn(1.0f, v < 0 ? -0.5f : 0.5f));
	}
}

int main()
{
	static float x[N], y[N], z[N];
	static unsigned want[N * OUTS], got[N * OUTS];
	inputs(x, y, z);
	for (int i = 0; i < N; i++)
		compute(x[i], y[i], z[i], &want[i * OUTS]);
	float *dx, *dy, *dz;
	unsigned *dout;
	CHECK(cudaMalloc(&dx, sizeof(x)));
	CHECK(cudaMalloc(&dy, sizeof(y)));
	CHECK(cudaMalloc(&dz, sizeof(z)));
	CHECK(cudaMalloc(&dout, sizeof(got)));
	CHECK(cudaMemcpy(dx, x, sizeof(x), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dy, y, sizeof(y), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dz, z, sizeof(z), cudaMemcpyHostToDevice));
	kernel<<<N / 128, 128>>>(dx, dy, dz, dout, N);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
	int bad = 0;
	for (int i = 0; i < N * OUTS; i++)
		if (got[i] != want[i] && bad++ < 8)
			printf("element %d result %d: device 0x%08x, host 0x%08x (x %g y %g z %g)\n", i / OUTS,
			       i % OUTS, got[i], want[i], x[i / OUTS], y[i / OUTS], z[i / OUTS]);
	EXPECT(bad == 0, "%d of %d results differ from the host's", bad, N * OUTS);
	printf("bfloat16 and half arithmetic: %d results match the host bit for bit\n", N * OUTS);

	/* every partial sum is a multiple of 1/16 below 4 in magnitude, exact in bfloat16: the
	 * order of the atomic adds cannot change them */
	__nv_bfloat16 *dacc;
	__nv_bfloat162 *dacc2;
	CHECK(cudaMalloc(&dacc, 4 * sizeof(__nv_bfloat16)));
	CHECK(cudaMalloc(&dacc2, 2 * sizeof(__nv_bfloat162)));
	CHECK(cudaMemset(dacc, 0, 4 * sizeof(__nv_bfloat16)));
	CHECK(cudaMemset(dacc2, 0, 2 * sizeof(__nv_bfloat162)));
	atomics<<<1, 64>>>(dx, dacc, dacc2, 64);
	CHECK(cudaGetLastError());
	__nv_bfloat16 acc[4];
	__nv_bfloat162 acc2[2];
	CHECK(cudaMemcpy(acc, dacc, sizeof(acc), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(acc2, dacc2, sizeof(acc2), cudaMemcpyDeviceToHost));
	for (int c = 0; c < 4; c++) {
		float s = 0;
		for (int i = c; i < 64; i += 4)
			s += (fabsf(x[i]) < 8.0f ? x[i] : 0.0f) < 0 ? -0.0625f : 0.125f;
		EXPECT(__bfloat162float(acc[c]) == s, "bfloat16 atomic sum %d: %g, expected %g", c,
		      __bfloat162float(acc[c]), s);
	}
	for (int c = 0; c < 2; c++) {
		float lo = 0, hi = 0;
		for (int i = c; i < 64; i += 2) {
			float v = fabsf(x[i]) < 8.0f ? x[i] : 0.0f;
			lo += 1.0f;
			hi += v < 0 ? -0.5f : 0.5f;
		}
		EXPECT(__low2float(acc2[c]) == lo && __high2float(acc2[c]) == hi,
		      "bfloat162 atomic sum %d: (%g, %g), expected (%g, %g)", c, __low2float(acc2[c]),
		      __high2float(acc2[c]), lo, hi);
	}
	printf("bfloat16 and bfloat162 atomic adds: exact sums\n");
	CHECK(cudaFree(dx));
	CHECK(cudaFree(dy));
	CHECK(cudaFree(dz));
	CHECK(cudaFree(dout));
	CHECK(cudaFree(dacc));
	CHECK(cudaFree(dacc2));
	printf("bf16_native: ok\n");
	return 0;
}
