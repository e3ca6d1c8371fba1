/* SPDX-License-Identifier: MIT */
/* cub_block.cu — CUB's block- and warp-level primitives in a program's own kernels: reductions, scans, radix sort, loads and stores. */
#include <algorithm>
#include <cub/cub.cuh>
#include <vector>

#include "rt.h"

/*
 * Kernels written with CUB's collective primitives, as many applications write them: a
 * block reduces and scans its tile, sorts it by key with its values, loads and stores it
 * through a transpose in shared memory, and each warp reduces its own values. Every result
 * is checked on the host.
 */

constexpr int THREADS = 128, ITEMS = 4, TILE = THREADS * ITEMS;

struct max_op {
	__device__ int operator()(int a, int b) const { return a > b ? a : b; }
};

__global__ void block_ops(const int *in, int *sum, int *scan, int *sorted_keys, int *sorted_vals, int *warp_max)
{
	using Load = cub::BlockLoad<int, THREADS, ITEMS, cub::BLOCK_LOAD_TRANSPOSE>;
	using Store = cub::BlockStore<int, THREADS, ITEMS, cub::BLOCK_STORE_TRANSPOSE>;
	using Reduce = cub::BlockReduce<int, THREADS>;
	using Scan = cub::BlockScan<int, THREADS>;
	using Sort = cub::BlockRadixSort<int, THREADS, ITEMS, int>;
	using WarpReduce = cub::WarpReduce<int>;
	__shared__ union {
		typename Load::TempStorage load;
		typename Store::TempStorage store;
		typename Reduce::TempStorage reduce;
		typename Scan::TempStorage scan;
		typename Sort::TempStorage sort;
		typename WarpReduce::TempStorage warp[THREADS / 32];
	} tmp;

	const int base = blockIdx.x * TILE;
	int v[ITEMS], s[ITEMS], keys[ITEMS], vals[ITEMS];
	Load(tmp.load).Load(in + base, v);
	__syncthreads();
	int total = Reduce(tmp.reduce).Sum(v);
	if (threadIdx.x == 0)
		sum[blockIdx.x] = total;
	__syncthreads();
	Scan(tmp.scan).ExclusiveSum(v, s);
	__syncthreads();
	Store(tmp.store).Store(scan + base, s);
	__syncthreads();
	for (int i = 0; i < ITEMS; i++) {
		keys[i] = v[i];
		vals[i] = base + threadIdx.x * ITEMS + i;   /* where the key came from, in blocked order */
	}
	Sort(tmp.sort).Sort(keys, vals);
	__syncthreads();
	Store(tmp.store).Store(sorted_keys + base, keys);
	__syncthreads();
	Store(tmp.store).Store(sorted_vals + base, vals);
	__syncthreads();
	int m = WarpReduce(tmp.warp[threadIdx.x / 32]).Reduce(v[0], max_op());
	if (threadIdx.x % 32 == 0)
		warp_max[blockIdx.x * (THREADS / 32) + threadIdx.x / 32] = m;
}

int main()
{
	const int blocks = 8, n = blocks * TILE;
	std::vector<int> h(n);
	unsigned x = 12345;
	for (int i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		h[i] = (int)((x >> 8) % 2001) - 1000;
	}
	int *in, *sum, *scan, *keys, *vals, *wmax;
	CHECK(cudaMalloc(&in, n * sizeof(int)));
	CHECK(cudaMalloc(&sum, blocks * sizeof(int)));
	CHECK(cudaMalloc(&scan, n * sizeof(int)));
	CHECK(cudaMalloc(&keys, n * sizeof(int)));
	CHECK(cudaMalloc(&vals, n * sizeof(int)));
	CHECK(cudaMalloc(&wmax, blocks * (THREADS / 32) * sizeof(int)));
	CHECK(cudaMemcpy(in, h.data(), n * sizeof(int), cudaMemcpyHostToDevice));
	block_ops<<<blocks, THREADS>>>(in, sum, scan, keys, vals, wmax);
	CHECK(cudaGetLastError());
	std::vector<int> gsum(blocks), gscan(n), gkeys(n), gvals(n), gw(blocks * (THREADS / 32));
	CHECK(cudaMemcpy(gsum.data(), sum, blocks * sizeof(int), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(gscan.data(), scan, n * sizeof(int), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(gkeys.data(), keys, n * sizeof(int), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(gvals.data(), vals, n * sizeof(int), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(gw.data(), wmax, gw.size() * sizeof(int), cudaMemcpyDeviceToHost));

	for (int b = 0; b < blocks; b++) {
		const int *t = &h[b * TILE];
		int acc = 0;
		for (int i = 0; i < TILE; i++) {
			EXPECT(gscan[b * TILE + i] == acc, "block %d: exclusive sum at %d is %d, expected %d", b, i,
			       gscan[b * TILE + i], acc);
			acc += t[i];
		}
		EXPECT(gsum[b] == acc, "block %d: sum %d, expected %d", b, gsum[b], acc);
		std::vector<int> want(t, t + TILE);
		std::sort(want.begin(), want.end());
		for (int i = 0; i < TILE; i++) {
			EXPECT(gkeys[b * TILE + i] == want[i], "block %d: sorted key %d is %d, expected %d", b, i,
			       gkeys[b * TILE + i], want[i]);
			int from = gvals[b * TILE + i];
			EXPECT(from >= b * TILE && from < (b + 1) * TILE && h[from] == gkeys[b * TILE + i],
			       "block %d: value %d does not travel with its key", b, i);
		}
		for (int w = 0; w < THREADS / 32; w++) {
			int m = -(1 << 30);
			for (int l = 0; l < 32; l++)
				m = std::max(m, t[(w * 32 + l) * ITEMS]);   /* v[0] of each lane, blocked order */
			EXPECT(gw[b * (THREADS / 32) + w] == m, "block %d warp %d: max %d, expected %d", b, w,
			       gw[b * (THREADS / 32) + w], m);
		}
	}
	printf("cub: block reduce, exclusive scan, radix sort by key, transposed loads and stores, warp max: "
	       "%d blocks of %d verified\n", blocks, TILE);
	CHECK(cudaFree(in));
	CHECK(cudaFree(sum));
	CHECK(cudaFree(scan));
	CHECK(cudaFree(keys));
	CHECK(cudaFree(vals));
	CHECK(cudaFree(wmax));
	return 0;
}
