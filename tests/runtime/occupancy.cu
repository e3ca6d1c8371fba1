// SPDX-License-Identifier: MIT
// occupancy — the occupancy calculator picks a block size; the kernel runs with it and is checked.
#include "rt.h"

__global__ void square(int *p, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = p[i] * p[i];
}

int main()
{
	int minGrid = 0, block = 0, active = 0;
	CHECK(cudaOccupancyMaxPotentialBlockSize(&minGrid, &block, square, 0, 0));
	EXPECT(block > 0 && block <= 1024 && block % 32 == 0 && minGrid > 0, "block %d grid %d", block, minGrid);
	CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&active, square, block, 0));
	EXPECT(active >= 1, "%d active blocks", active);
	/* clusters of blocks: a device without them answers clusters of one block */
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = dim3(16);
	cfg.blockDim = dim3(block);
	int cs = 0, clusters = 0;
	CHECK(cudaOccupancyMaxPotentialClusterSize(&cs, square, &cfg));
	/* how many clusters of that size fit, the size named as a cluster launch names it */
	cudaLaunchAttribute at[1];
	at[0].id = cudaLaunchAttributeClusterDimension;
	at[0].val.clusterDim.x = cs >= 1 && 16 % cs == 0 ? cs : 1;
	at[0].val.clusterDim.y = at[0].val.clusterDim.z = 1;
	cfg.attrs = at;
	cfg.numAttrs = 1;
	CHECK(cudaOccupancyMaxActiveClusters(&clusters, square, &cfg));
	EXPECT(cs >= 1 && clusters >= 1, "cluster size %d, %d active clusters (blocks of %d, grid %d)", cs, clusters,
	       block, minGrid);
	const int n = 3000;
	int h[n], want[n], *d;
	for (int i = 0; i < n; i++) {
		h[i] = i % 1000;
		want[i] = h[i] * h[i];
	}
	CHECK(cudaMalloc(&d, sizeof(h)));
	CHECK(cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
	square<<<(n + block - 1) / block, block>>>(d, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	VERIFY(h, want, n, 0, "occupancy");
	printf("occupancy: block size %d\n", block);
	CHECK(cudaFree(d));
	return 0;
}
