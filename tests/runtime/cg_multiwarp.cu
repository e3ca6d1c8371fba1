// SPDX-License-Identifier: MIT
// cg_multiwarp — cooperative groups' tiles of more than one warp (thread_block_tile<64>, <128>,
// <256>) in a program built for sm_80: from that architecture on, their synchronisation and
// their collectives keep their scratch in the block's reserved shared memory, which the
// compiler reaches through %reserved_smem_offset_1 (before, no user buffer is needed). Each
// tile syncs, reduces, scans, broadcasts and votes; every result is checked on the host.
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cooperative_groups/scan.h>
#include <vector>
#include "rt.h"

namespace cg = cooperative_groups;

/* out per thread: [0] the tile's sum, [1] the inclusive scan at the thread, [2] the value of
 * the tile's last thread broadcast, [3] the number of odd values in the tile (ballot-like
 * count through a reduction), [4] the tile's rank in the block, [5] a value a neighbour in
 * another warp of the tile wrote to shared memory before the tile's sync */
template <unsigned N> __global__ void tiles(const int *in, int *out)
{
	cg::thread_block block = cg::this_thread_block();
	cg::thread_block_tile<N> t = cg::tiled_partition<N>(block);
	__shared__ int mirror[1024];
	const unsigned gi = blockIdx.x * blockDim.x + threadIdx.x;
	const int v = in[gi];
	int *o = out + (size_t)gi * 6;
	o[0] = cg::reduce(t, v, cg::plus<int>());
	o[1] = cg::inclusive_scan(t, v);
	o[2] = t.shfl(v, N - 1);
	o[3] = cg::reduce(t, v & 1, cg::plus<int>());
	o[4] = (int)t.meta_group_rank();
	mirror[threadIdx.x] = v * 3;
	t.sync();   /* the tile spans warps: only its own barrier orders these */
	const unsigned base = threadIdx.x - t.thread_rank();
	o[5] = mirror[base + (t.thread_rank() + 32) % N];
}

template <unsigned N> static void check(int blocks, int threads)
{
	const int n = blocks * threads;
	std::vector<int> in(n), out((size_t)n * 6);
	for (int i = 0; i < n; i++)
		in[i] = (int)((i * 2654435761u) >> 24) - 100;
	int *din, *dout;
	CHECK(cudaMalloc(&din, n * sizeof(int)));
	CHECK(cudaMalloc(&dout, out.size() * sizeof(int)));
	CHECK(cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dout, 0xff, out.size() * sizeof(int)));
	tiles<N><<<blocks, threads>>>(din, dout);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaMemcpy(out.data(), dout, out.size() * sizeof(int), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++) {
		const int first = i - (i % threads) % (int)N;   /* the tile's first thread */
		int sum = 0, scan = 0, odd = 0;
		for (unsigned k = 0; k < N; k++) {
			sum += in[first + k];
			odd += in[first + k] & 1;
			if ((int)k <= i - first)
				scan += in[first + k];
		}
		const int r = i - first;
		const int want[6] = {sum, scan, in[first + N - 1], odd, (i % threads) / (int)N,
		                     3 * in[first + (r + 32) % N]};
		for (int f = 0; f < 6; f++)
			EXPECT(out[(size_t)i * 6 + f] == want[f], "tile %u thread %d field %d: %d, expected %d", N, i,
			       f, out[(size_t)i * 6 + f], want[f]);
	}
	printf("tiles of %u threads, %d blocks of %d: sum, scan, broadcast, count, rank, sync: %d threads verified\n",
	       N, blocks, threads, n);
	CHECK(cudaFree(din));
	CHECK(cudaFree(dout));
}

int main()
{
	check<64>(3, 256);
	check<128>(2, 512);
	check<256>(2, 1024);
	printf("cg_multiwarp: all verified\n");
	return 0;
}
