// SPDX-License-Identifier: MIT
// named_barriers — groups of warps synchronising on numbered barriers with a thread count
// (bar.sync and bar.arrive with two operands), as CUTLASS's NamedBarrier, FlashAttention's
// producer and consumer warps and NCCL's kernels use them: a two-stage pipeline in which two
// producer warps fill shared memory and arrive while two consumer warps wait, the halves of a
// block each synchronising on a barrier of their own, and a predicate counted over half a
// block (bar.red.popc with a count). Every result is checked on the host.
#include "rt.h"

__device__ __forceinline__ void bar_sync(int id, int count)
{
	asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ void bar_arrive(int id, int count)
{
	asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ int bar_popc(int id, int count, int pred)
{
	int r;
	asm volatile("{ .reg .pred p; setp.ne.s32 p, %3, 0; bar.red.popc.u32 %0, %1, %2, p; }"
		     : "=r"(r)
		     : "r"(id), "r"(count), "r"(pred)
		     : "memory");
	return r;
}

enum { TILES = 12, TILE = 64, STAGES = 2, BLOCKS = 3 };

/* 128 threads: warps 0-1 produce, warps 2-3 consume. Stage s is full at barrier 1+s and empty
 * at barrier 3+s; each completes when all 128 threads arrived (64 waiting, 64 arriving). */
__global__ void pipeline(const float *in, float *out)
{
	__shared__ float buf[STAGES][TILE];
	int tid = threadIdx.x;
	const float *src = in + blockIdx.x * TILES * TILE;
	if (tid < 64) {
		for (int t = 0; t < TILES; t++) {
			int s = t % STAGES;
			if (t >= STAGES)
				bar_sync(3 + s, 128);   // the consumers are done with this stage
			buf[s][tid] = src[t * TILE + tid] * 2.0f;
			bar_arrive(1 + s, 128);         // full; go on to the next
		}
	} else {
		int c = tid - 64;
		float acc = 0;
		for (int t = 0; t < TILES; t++) {
			int s = t % STAGES;
			bar_sync(1 + s, 128);
			acc += buf[s][c] + buf[s][(c + 1) % TILE];   // a neighbour another warp wrote
			if (t + STAGES < TILES)
				bar_arrive(3 + s, 128);
		}
		out[blockIdx.x * TILE + c] = acc;
	}
}

/* The two halves of a 128-thread block exchange values four rounds, each half on its own
 * barrier (5 and 6, 64 threads), then count their odd values on barriers 7 and 8. */
__global__ void halves(const int *in, int *out, int *odd)
{
	__shared__ int v[128];
	int tid = threadIdx.x, half = tid / 64, base = half * 64, l = tid - base;
	int x = in[blockIdx.x * 128 + tid];
	for (int r = 0; r < 4; r++) {
		v[tid] = x;
		bar_sync(5 + half, 64);
		x += v[base + (l + 1 + r) % 64];
		bar_sync(5 + half, 64);
	}
	out[blockIdx.x * 128 + tid] = x;
	int n = bar_popc(7 + half, 64, x & 1);
	if (l == 0)
		odd[blockIdx.x * 2 + half] = n;
}

int main()
{
	enum { NP = BLOCKS * TILES * TILE, NH = BLOCKS * 128 };
	static float hin[NP], hout[BLOCKS * TILE], want[BLOCKS * TILE];
	for (int i = 0; i < NP; i++)
		hin[i] = (float)((i * 37) % 101) * 0.25f;
	float *din, *dout;
	CHECK(cudaMalloc(&din, sizeof(hin)));
	CHECK(cudaMalloc(&dout, sizeof(hout)));
	CHECK(cudaMemcpy(din, hin, sizeof(hin), cudaMemcpyHostToDevice));
	pipeline<<<BLOCKS, 128>>>(din, dout);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(hout, dout, sizeof(hout), cudaMemcpyDeviceToHost));
	for (int b = 0; b < BLOCKS; b++)
		for (int c = 0; c < TILE; c++) {
			float acc = 0;
			for (int t = 0; t < TILES; t++) {
				const float *tile = hin + (b * TILES + t) * TILE;
				acc += tile[c] * 2.0f + tile[(c + 1) % TILE] * 2.0f;
			}
			want[b * TILE + c] = acc;
		}
	VERIFY(hout, want, BLOCKS * TILE, 1e-3, "two producer and two consumer warps, 12 tiles through 2 stages");

	static int hi[NH], ho[NH], wo[NH], hodd[BLOCKS * 2], wodd[BLOCKS * 2];
	for (int i = 0; i < NH; i++)
		hi[i] = (i * 13) % 29 - 7;
	int *di, *dio, *dodd;
	CHECK(cudaMalloc(&di, sizeof(hi)));
	CHECK(cudaMalloc(&dio, sizeof(ho)));
	CHECK(cudaMalloc(&dodd, sizeof(hodd)));
	CHECK(cudaMemcpy(di, hi, sizeof(hi), cudaMemcpyHostToDevice));
	halves<<<BLOCKS, 128>>>(di, dio, dodd);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(ho, dio, sizeof(ho), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(hodd, dodd, sizeof(hodd), cudaMemcpyDeviceToHost));
	for (int b = 0; b < BLOCKS; b++)
		for (int h = 0; h < 2; h++) {
			int x[64], v[64];
			for (int l = 0; l < 64; l++)
				x[l] = hi[b * 128 + h * 64 + l];
			for (int r = 0; r < 4; r++) {
				for (int l = 0; l < 64; l++)
					v[l] = x[l];
				for (int l = 0; l < 64; l++)
					x[l] += v[(l + 1 + r) % 64];
			}
			int n = 0;
			for (int l = 0; l < 64; l++) {
				wo[b * 128 + h * 64 + l] = x[l];
				n += x[l] & 1;
			}
			wodd[b * 2 + h] = n;
		}
	VERIFY(ho, wo, NH, 0, "each half of a block on its own barrier, 4 rounds");
	VERIFY(hodd, wodd, BLOCKS * 2, 0, "odd values counted over each half (bar.red.popc with a count)");

	CHECK(cudaFree(din));
	CHECK(cudaFree(dout));
	CHECK(cudaFree(di));
	CHECK(cudaFree(dio));
	CHECK(cudaFree(dodd));
	printf("PASS\n");
	return 0;
}
