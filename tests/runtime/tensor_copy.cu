// SPDX-License-Identifier: MIT
// tensor_copy — Hopper's tensor memory accelerator as kernels reach it: a tensor map encoded on
// the host (cuTensorMapEncodeTiled, fetched as the runtime's programs fetch driver calls) and
// passed as a __grid_constant__ parameter; tiles copied into shared memory on an mbarrier
// (inside the tensor, past its edges, at negative coordinates: what lies outside reads as 0),
// a 128-byte-swizzled tile read back through the swizzle, and a tile stored to another tensor
// in a bulk group (only its part inside the tensor written); every element checked on the host.
#include "rt.h"

#include <cuda.h>
#include <cudaTypedefs.h>

enum { W = 72, H = 40, BW = 32, BH = 16 };

static __device__ unsigned smem(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }

/* one mbarrier, armed by thread 0 for `bytes`, a copy of the box at (x, y) into sm, waited for */
static __device__ void load_box(const CUtensorMap *tm, int x, int y, void *sm, unsigned long long *mbar, unsigned bytes)
{
	if (threadIdx.x == 0) {
		asm volatile("prefetch.tensormap [%0];" :: "l"(tm) : "memory");   /* as CUTLASS does first */
		asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(mbar)) : "memory");
		asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.expect_tx.shared::cta.b64 st, [%0], %1;\n}"
			     :: "r"(smem(mbar)), "r"(bytes) : "memory");
		asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
			     "[%0], [%1, {%2, %3}], [%4];"
			     :: "r"(smem(sm)), "l"(tm), "r"(x), "r"(y), "r"(smem(mbar)) : "memory");
	}
	__syncthreads();   /* (the barrier is initialised before anyone waits on it) */
	unsigned done = 0;
	while (!done)
		asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\n"
			     "selp.u32 %0, 1, 0, p;\n}" : "=r"(done) : "r"(smem(mbar)) : "memory");
}

__global__ void tile_in(const __grid_constant__ CUtensorMap tm, int x, int y, float *out)
{
	__shared__ alignas(128) float sm[BH * BW];
	__shared__ alignas(8) unsigned long long mbar;
	load_box(&tm, x, y, sm, &mbar, sizeof(sm));
	for (int i = threadIdx.x; i < BH * BW; i += blockDim.x)
		out[i] = sm[i];
}

/* the box 32 floats (128 bytes) wide and 8 rows, 128-byte swizzled: row r's 16-byte unit u is
 * at unit u ^ (r % 8) of the row */
__global__ void tile_swizzled(const __grid_constant__ CUtensorMap tm, int x, int y, float *out)
{
	__shared__ alignas(1024) float sm[8 * 32];
	__shared__ alignas(8) unsigned long long mbar;
	load_box(&tm, x, y, sm, &mbar, sizeof(sm));
	for (int i = threadIdx.x; i < 8 * 32; i += blockDim.x) {
		int r = i / 32, c = i % 32, unit = (c / 4) ^ (r % 8);
		out[i] = sm[r * 32 + unit * 4 + c % 4];
	}
}

/* the box at (x, y) of `in`, doubled, stored at (x, y) of `outm` */
__global__ void tile_out(const __grid_constant__ CUtensorMap in, const __grid_constant__ CUtensorMap outm, int x, int y)
{
	__shared__ alignas(128) float sm[BH * BW];
	__shared__ alignas(8) unsigned long long mbar;
	load_box(&in, x, y, sm, &mbar, sizeof(sm));
	for (int i = threadIdx.x; i < BH * BW; i += blockDim.x)
		sm[i] *= 2.0f;
	asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
	__syncthreads();
	if (threadIdx.x == 0) {
		asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%0, {%1, %2}], [%3];"
			     :: "l"(&outm), "r"(x), "r"(y), "r"(smem(sm)) : "memory");
		asm volatile("cp.async.bulk.commit_group;" ::: "memory");
		asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
	}
}

static PFN_cuTensorMapEncodeTiled_v12000 encode;

static CUtensorMap map_of(float *base, unsigned bw, unsigned bh, CUtensorMapSwizzle sw)
{
	CUtensorMap m;
	cuuint64_t dims[2] = { W, H }, strides[1] = { W * sizeof(float) };
	cuuint32_t box[2] = { bw, bh }, es[2] = { 1, 1 };
	CUresult r = encode(&m, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, base, dims, strides, box, es,
			    CU_TENSOR_MAP_INTERLEAVE_NONE, sw, CU_TENSOR_MAP_L2_PROMOTION_NONE,
			    CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
	EXPECT(r == CUDA_SUCCESS, "cuTensorMapEncodeTiled: %d", (int)r);
	return m;
}

int main()
{
	cudaDriverEntryPointQueryResult q;
	CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", (void **)&encode, 12000, cudaEnableDefault, &q));
	EXPECT(q == cudaDriverEntryPointSuccess && encode, "cuTensorMapEncodeTiled not found");

	static float A[H * W], B[H * W];
	for (int i = 0; i < H * W; i++)
		A[i] = (float)(i % 1000) - 300.0f;
	float *dA, *dB, *dout;
	CHECK(cudaMalloc(&dA, sizeof(A)));
	CHECK(cudaMalloc(&dB, sizeof(B)));
	CHECK(cudaMalloc(&dout, BH * BW * sizeof(float)));
	CHECK(cudaMemcpy(dA, A, sizeof(A), cudaMemcpyHostToDevice));
	CUtensorMap ma = map_of(dA, BW, BH, CU_TENSOR_MAP_SWIZZLE_NONE);

	/* 1. tiles inside, past the edges, at negative coordinates */
	const int at[3][2] = { { 8, 4 }, { 56, 30 }, { -4, -2 } };
	for (int k = 0; k < 3; k++) {
		int x = at[k][0], y = at[k][1];
		float got[BH * BW], want[BH * BW];
		tile_in<<<1, 128>>>(ma, x, y, dout);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
		for (int r = 0; r < BH; r++)
			for (int c = 0; c < BW; c++) {
				int gx = x + c, gy = y + r;
				want[r * BW + c] = gx >= 0 && gx < W && gy >= 0 && gy < H ? A[gy * W + gx] : 0.0f;
			}
		char what[80];
		snprintf(what, sizeof(what), "the %dx%d tile at (%d, %d)", BW, BH, x, y);
		VERIFY(got, want, BH * BW, 0, what);
	}

	/* 2. a 128-byte-swizzled tile, read back through the swizzle */
	{
		CUtensorMap ms = map_of(dA, 32, 8, CU_TENSOR_MAP_SWIZZLE_128B);
		float got[8 * 32], want[8 * 32];
		tile_swizzled<<<1, 64>>>(ms, 24, 9, dout);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
		for (int r = 0; r < 8; r++)
			for (int c = 0; c < 32; c++)
				want[r * 32 + c] = A[(9 + r) * W + 24 + c];
		VERIFY(got, want, 8 * 32, 0, "a 128-byte-swizzled tile read through the swizzle");
	}

	/* 3. a tile stored to B in a bulk group, part of it past B's edge */
	{
		CHECK(cudaMemset(dB, 0, sizeof(B)));
		CUtensorMap mb = map_of(dB, BW, BH, CU_TENSOR_MAP_SWIZZLE_NONE);
		tile_out<<<1, 128>>>(ma, mb, 50, 28);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(B, dB, sizeof(B), cudaMemcpyDeviceToHost));
		static float want[H * W];
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				want[y * W + x] = x >= 50 && x < 50 + BW && y >= 28 && y < 28 + BH ? 2.0f * A[y * W + x] : 0.0f;
		VERIFY(B, want, H * W, 0, "a tile stored in a bulk group, its part inside the tensor");
	}
	CHECK(cudaFree(dA));
	CHECK(cudaFree(dB));
	CHECK(cudaFree(dout));
	printf("PASS tensor_copy\n");
	return 0;
}
