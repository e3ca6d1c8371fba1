// SPDX-License-Identifier: MIT
// cluster_dsmem — thread-block clusters (sm_90) as programs use them through cooperative
// groups: a kernel whose cluster shape is fixed at compile time (__cluster_dims__) launched
// with <<<>>>, and one launched with a cluster shape (cudaLaunchKernelEx); the cluster's
// barrier (cluster.sync()), its registers (block rank, index, dimensions, thread rank), and
// distributed shared memory: a histogram whose bins are spread over the shared memory of the
// cluster's blocks, each thread adding into whichever block holds its bin (the programming
// guide's example), and values passed around a ring of blocks through each other's shared
// memory. Everything is checked on the host.
#include <cooperative_groups.h>
#include <vector>
#include "rt.h"

namespace cg = cooperative_groups;

/* bins [0, nbins) spread over a cluster of two blocks, bins_per_block each */
__global__ void __cluster_dims__(2, 1, 1) histogram(int *bins, int nbins, int bins_per_block, const int *in, int n)
{
	extern __shared__ int smem[];
	cg::cluster_group cluster = cg::this_cluster();
	for (int i = threadIdx.x; i < bins_per_block; i += blockDim.x)
		smem[i] = 0;
	cluster.sync();   /* every block's bins are zero before any block adds into them */
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
		int bin = min(max(in[i], 0), nbins - 1);
		int *dst = cluster.map_shared_rank(smem, bin / bins_per_block);
		atomicAdd(dst + bin % bins_per_block, 1);
	}
	cluster.sync();   /* no block leaves while others may still add into its bins */
	int *out = bins + (blockIdx.x / 2) * nbins + cluster.block_rank() * bins_per_block;
	for (int i = threadIdx.x; i < bins_per_block; i += blockDim.x)
		out[i] = smem[i];
}

/* per thread: block rank, block index x and y, cluster dims x and y, blocks, threads, thread
 * rank in the cluster; then the ring: rounds times, each block takes its left neighbour's
 * value out of that block's shared memory and adds its own rank */
__global__ void ring(unsigned *regs, unsigned *ring_out, int rounds)
{
	cg::cluster_group cluster = cg::this_cluster();
	__shared__ unsigned val[2];
	const unsigned r = cluster.block_rank(), nb = cluster.num_blocks();
	const dim3 bi = cluster.block_index(), d = cluster.dim_blocks();
	const unsigned gb = blockIdx.y * gridDim.x + blockIdx.x;
	const unsigned t = gb * blockDim.x + threadIdx.x;
	unsigned *o = regs + (size_t)t * 8;
	o[0] = r, o[1] = bi.x, o[2] = bi.y, o[3] = d.x, o[4] = d.y, o[5] = nb;
	o[6] = (unsigned)cluster.num_threads(), o[7] = (unsigned)cluster.thread_rank();
	if (threadIdx.x == 0)
		val[0] = r;
	cluster.sync();
	for (int k = 0; k < rounds; k++) {
		const unsigned *left = cluster.map_shared_rank(val, (r + nb - 1) % nb);
		unsigned v = left[k & 1];
		cluster.sync();   /* everyone has read before anyone writes the other slot */
		if (threadIdx.x == 0)
			val[(k + 1) & 1] = v + r;
		cluster.sync();
	}
	if (threadIdx.x == 0)
		ring_out[gb] = val[rounds & 1];
}

int main()
{
	cudaDeviceProp prop;
	CHECK(cudaGetDeviceProperties(&prop, 0));
	EXPECT(prop.major >= 9, "clusters need a device of compute capability 9.0 or later, not %d.%d", prop.major,
	       prop.minor);

	/* 1. the histogram: two clusters of two blocks, each cluster its own copy of the bins */
	const int nbins = 96, per_block = nbins / 2, n = 20000;
	std::vector<int> in(n), want(2 * nbins, 0), got(2 * nbins);
	for (int i = 0; i < n; i++)
		in[i] = (int)((i * 2654435761u) >> 25) - 5;
	int *din, *dbins;
	CHECK(cudaMalloc(&din, n * sizeof(int)));
	CHECK(cudaMalloc(&dbins, got.size() * sizeof(int)));
	CHECK(cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dbins, 0xff, got.size() * sizeof(int)));
	histogram<<<4, 128, per_block * sizeof(int)>>>(dbins, nbins, per_block, din, n);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaMemcpy(got.data(), dbins, got.size() * sizeof(int), cudaMemcpyDeviceToHost));
	/* element i is counted by the cluster of the block whose threads visit it */
	for (int i = 0; i < n; i++) {
		int blk = (i % (4 * 128)) / 128;
		want[(blk / 2) * nbins + std::min(std::max(in[i], 0), nbins - 1)]++;
	}
	VERIFY(got.data(), want.data(), got.size(), 0, "histogram over two clusters' distributed shared memory");
	cudaFuncAttributes fa;
	CHECK(cudaFuncGetAttributes(&fa, histogram));
	EXPECT(fa.requiredClusterWidth == 2 && fa.requiredClusterHeight == 1 && fa.clusterDimMustBeSet,
	       "required cluster %dx%d, must be set %d", fa.requiredClusterWidth, fa.requiredClusterHeight,
	       fa.clusterDimMustBeSet);
	printf("histogram kernel: required cluster 2x1x1\n");

	/* 2. clusters of 4x2 blocks over a grid of 8x4, given at the launch */
	const dim3 grid(8, 4), block(64);
	const unsigned nblocks = grid.x * grid.y, nthreads = nblocks * block.x;
	const int rounds = 5;
	unsigned *dregs, *dring;
	CHECK(cudaMalloc(&dregs, (size_t)nthreads * 8 * sizeof(unsigned)));
	CHECK(cudaMalloc(&dring, nblocks * sizeof(unsigned)));
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = grid;
	cfg.blockDim = block;
	cudaLaunchAttribute at;
	at.id = cudaLaunchAttributeClusterDimension;
	at.val.clusterDim.x = 4;
	at.val.clusterDim.y = 2;
	at.val.clusterDim.z = 1;
	cfg.attrs = &at;
	cfg.numAttrs = 1;
	int clusters = 0;
	CHECK(cudaOccupancyMaxActiveClusters(&clusters, ring, &cfg));
	EXPECT(clusters >= 1, "no cluster of 8 blocks fits (%d)", clusters);
	CHECK(cudaLaunchKernelEx(&cfg, ring, dregs, dring, rounds));
	CHECK(cudaDeviceSynchronize());
	std::vector<unsigned> regs((size_t)nthreads * 8), ringv(nblocks);
	CHECK(cudaMemcpy(regs.data(), dregs, regs.size() * sizeof(unsigned), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(ringv.data(), dring, nblocks * sizeof(unsigned), cudaMemcpyDeviceToHost));
	for (unsigned by = 0; by < grid.y; by++)
		for (unsigned bx = 0; bx < grid.x; bx++) {
			const unsigned gb = by * grid.x + bx, ix = bx % 4, iy = by % 2, rank = ix + 4 * iy;
			for (unsigned tx = 0; tx < block.x; tx++) {
				const unsigned *o = &regs[((size_t)gb * block.x + tx) * 8];
				const unsigned w[8] = {rank, ix, iy, 4, 2, 8, 8 * block.x, rank * block.x + tx};
				for (int f = 0; f < 8; f++)
					EXPECT(o[f] == w[f], "block (%u,%u) thread %u register %d: %u, expected %u", bx, by, tx,
					       f, o[f], w[f]);
			}
			/* after k rounds a block holds the ranks of itself and the k blocks to its left
			 * (its own rank added each round, the start value of its k-th left neighbour) */
			unsigned v = (rank + 8 - rounds % 8) % 8;
			for (int k = rounds - 1; k >= 0; k--)
				v += (rank + 8 - (unsigned)k % 8) % 8;
			EXPECT(ringv[gb] == v, "block (%u,%u): ring value %u, expected %u", bx, by, ringv[gb], v);
		}
	printf("clusters of 4x2 blocks: registers of %u threads and a ring of %d rounds through distributed shared "
	       "memory verified\n", nthreads, rounds);
	CHECK(cudaFree(din));
	CHECK(cudaFree(dbins));
	CHECK(cudaFree(dregs));
	CHECK(cudaFree(dring));
	printf("cluster_dsmem: all verified\n");
	return 0;
}
