// SPDX-License-Identifier: MIT
// coop_grid — a cooperative launch as programs size and use it: the grid from the occupancy
// calculator times the multiprocessors, cooperative groups' grid.sync() between the phases
// of an iterative computation (block sums, a total by block 0, every element scaled by it),
// tile reductions inside each block. Checked against the same computation on the host; a
// grid larger than the device holds at once is refused; a block that faults while the others
// wait at the grid barrier ends the launch with its fault.
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <vector>
#include "rt.h"

namespace cg = cooperative_groups;

__global__ void normalize_rounds(float *x, float *partial, float *totals, int n, int rounds)
{
	cg::grid_group grid = cg::this_grid();
	cg::thread_block block = cg::this_thread_block();
	cg::thread_block_tile<32> tile = cg::tiled_partition<32>(block);
	__shared__ float warp_sums[32];
	for (int r = 0; r < rounds; r++) {
		float v = 0;
		for (int i = grid.thread_rank(); i < n; i += grid.size())
			v += x[i];
		v = cg::reduce(tile, v, cg::plus<float>());
		if (tile.thread_rank() == 0)
			warp_sums[tile.meta_group_rank()] = v;
		block.sync();
		if (block.thread_rank() == 0) {
			float s = 0;
			for (unsigned w = 0; w < tile.meta_group_size(); w++)
				s += warp_sums[w];
			partial[blockIdx.x] = s;
		}
		grid.sync();   /* every block's sum is written */
		if (grid.thread_rank() == 0) {
			float t = 0;
			for (unsigned b = 0; b < gridDim.x; b++)
				t += partial[b];
			totals[r] = t;
		}
		grid.sync();   /* the total is there for everyone */
		float t = totals[r];
		for (int i = grid.thread_rank(); i < n; i += grid.size())
			x[i] = x[i] / t * 1000.0f + 1.0f;
		grid.sync();   /* the next round reads what all of them wrote */
	}
}

/* Block 0 faults while every other block waits for it at the grid barrier. */
__global__ void fault_before_sync(int *bad)
{
	cg::grid_group grid = cg::this_grid();
	if (blockIdx.x == 0 && threadIdx.x == 0)
		*bad = 1;
	grid.sync();
}

int main()
{
	const int n = 5000, rounds = 4, threads = 128;
	int dev = 0, sms = 0, per_sm = 0, coop = 0;
	CHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev));
	EXPECT(coop == 1, "the device does not support cooperative launches");
	CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
	CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, normalize_rounds, threads, 0));
	EXPECT(per_sm > 0, "no block of %d threads fits a multiprocessor", threads);
	int blocks = per_sm * sms;
	std::vector<float> h(n), want(n), totals_want(rounds);
	for (int i = 0; i < n; i++)
		h[i] = want[i] = (float)(i % 17) * 0.5f + 1.0f;
	for (int r = 0; r < rounds; r++) {
		double t = 0;
		for (int i = 0; i < n; i++)
			t += want[i];
		totals_want[r] = (float)t;
		for (int i = 0; i < n; i++)
			want[i] = want[i] / (float)t * 1000.0f + 1.0f;
	}
	float *x, *partial, *totals;
	CHECK(cudaMalloc(&x, n * sizeof(float)));
	CHECK(cudaMalloc(&partial, blocks * sizeof(float)));
	CHECK(cudaMalloc(&totals, rounds * sizeof(float)));
	CHECK(cudaMemcpy(x, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
	int nn = n, rr = rounds;
	void *args[] = { &x, &partial, &totals, &nn, &rr };
	CHECK(cudaLaunchCooperativeKernel((void *)normalize_rounds, blocks, threads, args, 0, 0));
	CHECK(cudaDeviceSynchronize());
	std::vector<float> got(n), gt(rounds);
	CHECK(cudaMemcpy(got.data(), x, n * sizeof(float), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(gt.data(), totals, rounds * sizeof(float), cudaMemcpyDeviceToHost));
	VERIFY(gt.data(), totals_want.data(), (size_t)rounds, 0.5, "grid totals of each round");
	VERIFY(got.data(), want.data(), (size_t)n, 1e-3, "elements after the rounds");
	printf("%d rounds with 3 grid syncs each over the full grid (blocks per multiprocessor times multiprocessors)\n",
	       rounds);

	/* one block more than the device holds at once */
	cudaError_t e = cudaLaunchCooperativeKernel((void *)normalize_rounds, blocks + 1, threads, args, 0, 0);
	EXPECT(e == cudaErrorCooperativeLaunchTooLarge, "a grid too large for a cooperative launch gave %s",
	       cudaGetErrorName(e));
	(void)cudaGetLastError();
	printf("a grid of one block more than fits is refused: %s\n", cudaGetErrorName(e));
	CHECK(cudaFree(x));
	CHECK(cudaFree(partial));
	CHECK(cudaFree(totals));

	/* A block that faults ends the launch with the fault; the others, waiting at the grid
	 * barrier for it, end too (last: the context keeps the error). */
	int *wild = (int *)0x10;
	void *fargs[] = { &wild };
	CHECK(cudaLaunchCooperativeKernel((void *)fault_before_sync, blocks, threads, fargs, 0, 0));
	e = cudaDeviceSynchronize();
	EXPECT(e == cudaErrorIllegalAddress, "a faulting block in a cooperative launch gave %s", cudaGetErrorName(e));
	printf("a block faulting before the grid barrier ends the launch: %s\n", cudaGetErrorName(e));
	return 0;
}
