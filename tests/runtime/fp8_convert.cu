// SPDX-License-Identifier: MIT
// fp8_convert — the fp8 conversions of Hopper-era kernels (cuda_fp8.h, what FP8 training and
// inference cast with): float pairs and half pairs to e4m3 and e5m2 pairs with saturation,
// and pairs back to halves, on the device (cvt's fp8 forms on sm_89 and later) against the
// host's own implementation of the same functions, bit for bit: every fp8 value, the
// boundaries (largest finite, half-way points, subnormals, infinities, NaN) and a sweep.
#include "rt.h"

#include <cuda_fp8.h>

#include <cmath>
#include <vector>

__global__ void to_fp8(const float2 *in, unsigned short *e4, unsigned short *e5, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		e4[i] = __nv_cvt_float2_to_fp8x2(in[i], __NV_SATFINITE, __NV_E4M3);
		e5[i] = __nv_cvt_float2_to_fp8x2(in[i], __NV_SATFINITE, __NV_E5M2);
	}
}

/* a pair back to halves, and those halves to a pair of the other kind */
__global__ void from_fp8(const unsigned short *p, unsigned *h4, unsigned *h5, unsigned short *h4to5, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		__half2_raw a = __nv_cvt_fp8x2_to_halfraw2(p[i], __NV_E4M3);
		__half2_raw b = __nv_cvt_fp8x2_to_halfraw2(p[i], __NV_E5M2);
		h4[i] = a.x | (unsigned)a.y << 16;
		h5[i] = b.x | (unsigned)b.y << 16;
		h4to5[i] = __nv_cvt_halfraw2_to_fp8x2(a, __NV_SATFINITE, __NV_E5M2);
	}
}

template <typename T> static T *dev(const std::vector<T> &h)
{
	T *d;
	CHECK(cudaMalloc(&d, h.size() * sizeof(T)));
	CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
	return d;
}

template <typename T> static std::vector<T> back(const T *d, size_t n)
{
	std::vector<T> h(n);
	CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
	return h;
}

int main()
{
	/* the values: every fp8 code of both kinds decoded, the boundaries, a sweep */
	std::vector<float> v;
	for (int c = 0; c < 256; c++)
		for (int e5 = 0; e5 < 2; e5++) {
			__half_raw h = __nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)c, e5 ? __NV_E5M2 : __NV_E4M3);
			v.push_back(__half2float(__half(h)));
		}
	const float edges[] = { 0.0f, -0.0f, 448.0f, 449.0f, 464.0f, 465.0f, 480.0f, 1e6f, -1e6f, 57344.0f, 61440.0f,
				65536.0f, INFINITY, -INFINITY, NAN, 0.001953125f, 0.0009765625f, 0.00146484375f,
				1.5e-5f, 6.1e-5f, 3.0e-8f, 1.0625f, 1.1875f, 1.125f, 0.5f, -2.75f };
	for (float e : edges)
		v.push_back(e);
	for (int i = 0; i < 2000; i++)
		v.push_back((float)std::ldexp(std::sin(i * 0.37) * 1.9, (i % 40) - 20));
	if (v.size() % 2)
		v.push_back(1.0f);
	int n = (int)v.size() / 2;
	std::vector<float2> in(n);
	for (int i = 0; i < n; i++)
		in[i] = make_float2(v[2 * i], v[2 * i + 1]);

	float2 *din = dev(in);
	unsigned short *d4, *d5;
	CHECK(cudaMalloc(&d4, n * sizeof(unsigned short)));
	CHECK(cudaMalloc(&d5, n * sizeof(unsigned short)));
	to_fp8<<<(n + 127) / 128, 128>>>(din, d4, d5, n);
	CHECK(cudaGetLastError());
	std::vector<unsigned short> g4 = back(d4, n), g5 = back(d5, n);
	for (int i = 0; i < n; i++) {
		unsigned short w4 = __nv_cvt_float2_to_fp8x2(in[i], __NV_SATFINITE, __NV_E4M3);
		unsigned short w5 = __nv_cvt_float2_to_fp8x2(in[i], __NV_SATFINITE, __NV_E5M2);
		EXPECT(g4[i] == w4, "e4m3 pair of (%a, %a): 0x%04x, the host says 0x%04x", in[i].x, in[i].y, g4[i], w4);
		EXPECT(g5[i] == w5, "e5m2 pair of (%a, %a): 0x%04x, the host says 0x%04x", in[i].x, in[i].y, g5[i], w5);
	}
	printf("%d float pairs to e4m3 and e5m2 pairs: the host's bits\n", n);

	/* every pair of codes whose halves are (c, c ^ 0x80): back to halves, and on to e5m2 */
	std::vector<unsigned short> pairs(256);
	for (int c = 0; c < 256; c++)
		pairs[c] = (unsigned short)(c | (c ^ 0x80) << 8);
	unsigned short *dp = dev(pairs), *d45;
	unsigned *dh4, *dh5;
	CHECK(cudaMalloc(&dh4, 256 * sizeof(unsigned)));
	CHECK(cudaMalloc(&dh5, 256 * sizeof(unsigned)));
	CHECK(cudaMalloc(&d45, 256 * sizeof(unsigned short)));
	from_fp8<<<2, 128>>>(dp, dh4, dh5, d45, 256);
	CHECK(cudaGetLastError());
	std::vector<unsigned> h4 = back(dh4, 256), h5 = back(dh5, 256);
	std::vector<unsigned short> h45 = back(d45, 256);
	for (int c = 0; c < 256; c++) {
		__half2_raw a = __nv_cvt_fp8x2_to_halfraw2(pairs[c], __NV_E4M3);
		__half2_raw b = __nv_cvt_fp8x2_to_halfraw2(pairs[c], __NV_E5M2);
		unsigned w4 = a.x | (unsigned)a.y << 16, w5 = b.x | (unsigned)b.y << 16;
		unsigned short w45 = __nv_cvt_halfraw2_to_fp8x2(a, __NV_SATFINITE, __NV_E5M2);
		EXPECT(h4[c] == w4, "e4m3 pair 0x%04x to halves: 0x%08x, the host says 0x%08x", pairs[c], h4[c], w4);
		EXPECT(h5[c] == w5, "e5m2 pair 0x%04x to halves: 0x%08x, the host says 0x%08x", pairs[c], h5[c], w5);
		EXPECT(h45[c] == w45, "e4m3 pair 0x%04x as halves to e5m2: 0x%04x, the host says 0x%04x", pairs[c],
		       h45[c], w45);
	}
	printf("256 fp8 pairs of each kind to halves, and halves to e5m2: the host's bits\n");
	CHECK(cudaFree(din));
	CHECK(cudaFree(d4));
	CHECK(cudaFree(d5));
	CHECK(cudaFree(dp));
	CHECK(cudaFree(dh4));
	CHECK(cudaFree(dh5));
	CHECK(cudaFree(d45));
	printf("PASS fp8_convert\n");
	return 0;
}
