// SPDX-License-Identifier: MIT
// dpx_minmax — Hopper's DPX functions (built for sm_90), the three-way and add-then-compare
// minimum and maximum that dynamic programming (Smith-Waterman, Needleman-Wunsch, Floyd-
// Warshall) runs in its inner loop: __vimax3/__vimin3, __viaddmax/__viaddmin, their .relu
// forms and __vibmax/__vibmin, on 32-bit and on pairs of 16-bit values, signed and unsigned.
// On sm_90 they are instructions of their own (min/max of 16-bit pairs, add of pairs, .relu);
// the reference is the same functions' host implementations in CUDA's headers, and every
// result is compared bit for bit. A Smith-Waterman score row closes the program.
#include <algorithm>
#include <cstring>
#include <vector>
#include "rt.h"

enum { N = 4096, FUNCS = 30 };

__host__ __device__ static void all(unsigned a, unsigned b, unsigned c, unsigned *o)
{
	int i = 0;
	bool p, q;
	o[i++] = (unsigned)__vimax_s32_relu((int)a, (int)b);
	o[i++] = __vimax_s16x2_relu(a, b);
	o[i++] = (unsigned)__vimin_s32_relu((int)a, (int)b);
	o[i++] = __vimin_s16x2_relu(a, b);
	o[i++] = (unsigned)__vimax3_s32((int)a, (int)b, (int)c);
	o[i++] = __vimax3_s16x2(a, b, c);
	o[i++] = __vimax3_u32(a, b, c);
	o[i++] = __vimax3_u16x2(a, b, c);
	o[i++] = (unsigned)__vimin3_s32((int)a, (int)b, (int)c);
	o[i++] = __vimin3_s16x2(a, b, c);
	o[i++] = __vimin3_u32(a, b, c);
	o[i++] = __vimin3_u16x2(a, b, c);
	o[i++] = (unsigned)__vimax3_s32_relu((int)a, (int)b, (int)c);
	o[i++] = __vimax3_s16x2_relu(a, b, c);
	o[i++] = (unsigned)__vimin3_s32_relu((int)a, (int)b, (int)c);
	o[i++] = __vimin3_s16x2_relu(a, b, c);
	/* (the 32-bit signed adds get halved operands: CUDA's host implementation adds them as
	 * int, whose overflow C leaves undefined, where the device wraps) */
	o[i++] = (unsigned)__viaddmax_s32((int)a >> 1, (int)b >> 1, (int)c);
	o[i++] = __viaddmax_s16x2(a, b, c);
	o[i++] = __viaddmax_u32(a, b, c);
	o[i++] = __viaddmax_u16x2(a, b, c);
	o[i++] = (unsigned)__viaddmin_s32((int)a >> 1, (int)b >> 1, (int)c);
	o[i++] = __viaddmin_s16x2(a, b, c);
	o[i++] = __viaddmin_u16x2(a, b, c);
	o[i++] = (unsigned)__viaddmax_s32_relu((int)a >> 1, (int)b >> 1, (int)c);
	o[i++] = __viaddmax_s16x2_relu(a, b, c);
	o[i++] = __viaddmin_s16x2_relu(a, b, c);
	/* the predicates (which operand won) folded into spare bits of the result */
	unsigned v = (unsigned)__vibmax_s32((int)a, (int)b, &p);
	o[i++] = v ^ (p ? 0x80000000u : 0);
	v = __vibmin_u32(a, b, &p);
	o[i++] = v ^ (p ? 0x1u : 0);
	v = __vibmax_s16x2(a, b, &p, &q);
	o[i++] = v ^ (p ? 0x10000u : 0) ^ (q ? 0x1u : 0);
	v = __vibmin_u16x2(a, b, &p, &q);
	o[i++] = v ^ (p ? 0x10000u : 0) ^ (q ? 0x1u : 0);
}

__global__ void dpx(const unsigned *in, unsigned *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	all(in[3 * i], in[3 * i + 1], in[3 * i + 2], out + i * FUNCS);
}

/* one row of a Smith-Waterman local alignment score matrix per thread's query character,
 * H = max(0, diag + s, up - gap, left - gap), written with __vimax3_s32_relu and __viaddmax */
__global__ void smith_waterman(const char *q, const char *t, int n, int *best)
{
	__shared__ int row[2][65];
	int j = threadIdx.x + 1;   /* column */
	row[0][j] = row[1][j] = 0;
	if (j == 1)
		row[0][0] = row[1][0] = 0;
	__syncthreads();
	int top = 0;
	for (int i = 1; i <= n; i++) {
		int *prev = row[(i - 1) & 1], *cur = row[i & 1];
		int s = q[i - 1] == t[j - 1] ? 3 : -3;
		/* the left neighbour is this row's: the threads take turns along the anti-diagonal */
		for (int d = 1; d <= 64; d++) {
			if (j == d) {
				int h = __vimax3_s32_relu(prev[j - 1] + s, prev[j] - 2, cur[j - 1] - 2);
				cur[j] = h;
				top = __viaddmax_s32(h, 0, top);
			}
			__syncthreads();
		}
	}
	atomicMax(best, top);
}

int main()
{
	std::vector<unsigned> in(3 * N), out(N * FUNCS), want(N * FUNCS);
	unsigned x = 2463534242u;
	for (int i = 0; i < 3 * N; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		/* edges too: zero, the extremes of each half, equal halves */
		in[i] = i % 23 == 0 ? 0u : i % 29 == 0 ? 0x80008000u : i % 31 == 0 ? 0x7fff7fffu : i % 37 == 0 ? 0xffffffffu : x;
	}
	for (int i = 0; i < N; i++)
		all(in[3 * i], in[3 * i + 1], in[3 * i + 2], &want[i * FUNCS]);
	unsigned *d_in, *d_out;
	CHECK(cudaMalloc(&d_in, in.size() * sizeof(unsigned)));
	CHECK(cudaMalloc(&d_out, out.size() * sizeof(unsigned)));
	CHECK(cudaMemcpy(d_in, in.data(), in.size() * sizeof(unsigned), cudaMemcpyHostToDevice));
	dpx<<<N / 128, 128>>>(d_in, d_out);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(unsigned), cudaMemcpyDeviceToHost));
	for (int i = 0; i < N * FUNCS; i++)
		EXPECT(out[i] == want[i], "inputs %08x %08x %08x, function %d: %08x, the host's %08x", in[3 * (i / FUNCS)],
		       in[3 * (i / FUNCS) + 1], in[3 * (i / FUNCS) + 2], i % FUNCS, out[i], want[i]);
	printf("DPX functions: %d functions x %d inputs, bit for bit as the host's\n", FUNCS, N);

	const char *q = "GGTTGACTAGCTTAGGCATCGATCGATCGGGATACCATGCA", *t =
		"TGTTACGGAGCTTACGCATGGCTAGCATGCATGATCGATCGATTTACGCGCATAGCATGCATCA";
	int n = (int)strlen(q), m = (int)strlen(t), best = 0;
	EXPECT(m == 64, "target length %d", m);
	std::vector<int> H((n + 1) * (m + 1), 0);
	for (int i = 1; i <= n; i++)
		for (int j = 1; j <= m; j++) {
			int h = H[(i - 1) * (m + 1) + j - 1] + (q[i - 1] == t[j - 1] ? 3 : -3);
			h = std::max(h, H[(i - 1) * (m + 1) + j] - 2);
			h = std::max(h, H[i * (m + 1) + j - 1] - 2);
			H[i * (m + 1) + j] = std::max(h, 0);
			best = std::max(best, H[i * (m + 1) + j]);
		}
	char *dq, *dt;
	int *dbest, got = 0;
	CHECK(cudaMalloc(&dq, n));
	CHECK(cudaMalloc(&dt, m));
	CHECK(cudaMalloc(&dbest, sizeof(int)));
	CHECK(cudaMemcpy(dq, q, n, cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dt, t, m, cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dbest, 0, sizeof(int)));
	smith_waterman<<<1, 64>>>(dq, dt, n, dbest);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(&got, dbest, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(got == best && best > 0, "Smith-Waterman best score %d, expected %d", got, best);
	printf("Smith-Waterman: best local alignment score %d\n", got);
	CHECK(cudaFree(d_in));
	CHECK(cudaFree(d_out));
	CHECK(cudaFree(dq));
	CHECK(cudaFree(dt));
	CHECK(cudaFree(dbest));
	printf("PASS\n");
	return 0;
}
