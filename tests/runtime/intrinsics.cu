// SPDX-License-Identifier: MIT
// intrinsics — integer and float intrinsics and atomics of CUDA's device library that compile
// to instructions of their own: __dp4a (int8 dot products of quantised inference), __sad,
// __byte_perm, __funnelshift_l, __ffsll, __hadd, atomicAdd on __half, atomicCAS on 16 bits,
// atomicMax on 64 bits, and float functions (lgammaf, tgammaf, erfcinvf, normcdff, cbrtf,
// hypotf, __fdividef, __saturatef). Checked against the host.
#include <cuda_fp16.h>
#include <cmath>
#include "rt.h"

__global__ void ints(int *o, unsigned long long *u, __half *h, unsigned short *s)
{
	int t = threadIdx.x;
	if (t == 0) {
		o[0] = __dp4a((int)0x01020304, (int)0x05060708, 3);
		o[1] = __dp4a((int)0x80ff7f01, (int)0x02fe7f81, -10);   /* signed bytes */
		o[2] = __byte_perm(0x11223344u, 0x55667788u, 0x5140);
		o[3] = __funnelshift_l(0x12345678u, 0x9abcdef0u, 8);
		o[4] = __sad(5, 9, 1);
		o[5] = __sad(-7, 4, 100);
		o[6] = __ffsll(0x100ull);
		o[7] = __hadd(41, -7);
	}
	atomicAdd(h, __float2half(0.5f));
	atomicMax(u, 1000ull + 3 * t);
	atomicCAS(s, (unsigned short)t, (unsigned short)(t + 1));   /* counts up while lanes meet it */
}

__global__ void floats(float *f)
{
	f[0] = __fdividef(1.0f, 3.0f);
	f[1] = __saturatef(1.5f);
	f[2] = lgammaf(4.5f);
	f[3] = erfcinvf(0.3f);
	f[4] = tgammaf(3.5f);
	f[5] = cbrtf(27.0f);
	f[6] = hypotf(3.0f, 4.0f);
	f[7] = normcdff(0.5f);
}

static int dp4a_host(unsigned a, unsigned b, int c)
{
	for (int i = 0; i < 4; i++)
		c += (int)(signed char)(a >> (8 * i)) * (int)(signed char)(b >> (8 * i));
	return c;
}

int main()
{
	int *o, ho[8];
	unsigned long long *u, hu = 0;
	__half *h, hh;
	unsigned short *s, hs = 0;
	float *f, hf[8];
	CHECK(cudaMalloc(&o, sizeof(ho)));
	CHECK(cudaMalloc(&u, sizeof(hu)));
	CHECK(cudaMalloc(&h, sizeof(hh)));
	CHECK(cudaMalloc(&s, sizeof(hs)));
	CHECK(cudaMalloc(&f, sizeof(hf)));
	CHECK(cudaMemset(u, 0, sizeof(hu)));
	CHECK(cudaMemset(h, 0, sizeof(hh)));
	CHECK(cudaMemset(s, 0, sizeof(hs)));
	ints<<<1, 32>>>(o, u, h, s);
	floats<<<1, 1>>>(f);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(ho, o, sizeof(ho), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(&hu, u, sizeof(hu), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(&hh, h, sizeof(hh), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(&hs, s, sizeof(hs), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(hf, f, sizeof(hf), cudaMemcpyDeviceToHost));
	const int want[8] = { dp4a_host(0x01020304, 0x05060708, 3), dp4a_host(0x80ff7f01, 0x02fe7f81, -10),
			      0x77338844, (int)0xbcdef012u, 5, 111, 9, 17 };
	VERIFY(ho, want, (size_t)8, 0, "__dp4a, __byte_perm, __funnelshift_l, __sad, __ffsll, __hadd");
	EXPECT(hu == 1093, "atomicMax on 64 bits left %llu, expected 1093", hu);
	EXPECT(__half2float(hh) == 16.0f, "32 atomicAdds of 0.5 on a __half left %g", (double)__half2float(hh));
	EXPECT(hs >= 1 && hs <= 32, "atomicCAS on 16 bits left %u", hs);
	printf("atomics: 64-bit max, half add (%g), 16-bit compare-and-swap verified\n", (double)__half2float(hh));
	const float fwant[8] = { 1.0f / 3.0f, 1.0f, lgammaf(4.5f), 0.7328690779f, tgammaf(3.5f), 3.0f, 5.0f,
				 0.6914624613f };
	VERIFY(hf, fwant, (size_t)8, 1e-5, "__fdividef, __saturatef, lgammaf, erfcinvf, tgammaf, cbrtf, hypotf, normcdff");
	CHECK(cudaFree(o));
	CHECK(cudaFree(u));
	CHECK(cudaFree(h));
	CHECK(cudaFree(s));
	CHECK(cudaFree(f));
	return 0;
}
