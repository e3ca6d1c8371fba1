// SPDX-License-Identifier: MIT
// matrix_store — Hopper's stmatrix, the way back of ldmatrix that GEMM epilogues use: four
// 8x8 tiles of 16-bit elements loaded with ldmatrix and stored with stmatrix come back as they
// were; stored with .trans, each tile comes back transposed; every element checked on the host.
#include "rt.h"

static __device__ unsigned smem(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }

/* a 16x16 tile of 16-bit elements (four 8x8 matrices) through registers and back */
template <bool TRANS>
__global__ void round_trip(const unsigned short *in, unsigned short *out)
{
	__shared__ __align__(16) unsigned short a[256], b[256];
	unsigned l = threadIdx.x;
	for (unsigned i = l; i < 256; i += 32)
		a[i] = in[i];
	__syncthreads();
	unsigned j = l / 8, r = l % 8, off = (r + (j & 1) * 8) * 16 + (j >> 1) * 8;
	unsigned x0, x1, x2, x3;
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
		     : "=r"(x0), "=r"(x1), "=r"(x2), "=r"(x3) : "r"(smem(&a[off])));
	if (TRANS)
		asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};"
			     :: "r"(smem(&b[off])), "r"(x0), "r"(x1), "r"(x2), "r"(x3) : "memory");
	else
		asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};"
			     :: "r"(smem(&b[off])), "r"(x0), "r"(x1), "r"(x2), "r"(x3) : "memory");
	__syncthreads();
	for (unsigned i = l; i < 256; i += 32)
		out[i] = b[i];
}

int main()
{
	unsigned short h[256], got[256], want[256];
	for (int i = 0; i < 256; i++)
		h[i] = (unsigned short)(0x1000 + i * 7);
	unsigned short *din, *dout;
	CHECK(cudaMalloc(&din, sizeof(h)));
	CHECK(cudaMalloc(&dout, sizeof(h)));
	CHECK(cudaMemcpy(din, h, sizeof(h), cudaMemcpyHostToDevice));
	for (int trans = 0; trans < 2; trans++) {
		if (trans)
			round_trip<true><<<1, 32>>>(din, dout);
		else
			round_trip<false><<<1, 32>>>(din, dout);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
		/* tile (ti, tj) of the 16x16 image, element (r, c): transposed within the tile */
		for (int r = 0; r < 16; r++)
			for (int c = 0; c < 16; c++) {
				int tr = r / 8 * 8, tc = c / 8 * 8;
				want[r * 16 + c] = trans ? h[(tr + c % 8) * 16 + tc + r % 8] : h[r * 16 + c];
			}
		VERIFY(got, want, 256, 0, trans ? "ldmatrix.x4 then stmatrix.x4.trans: each tile transposed"
						 : "ldmatrix.x4 then stmatrix.x4: the tiles as they were");
	}
	CHECK(cudaFree(din));
	CHECK(cudaFree(dout));
	printf("PASS matrix_store\n");
	return 0;
}
