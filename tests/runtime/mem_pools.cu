// SPDX-License-Identifier: MIT
// mem_pools — the default pool's attributes, a pool of our own made current, allocations
// from both, and the pool's usage counters following allocations and frees.
#include "rt.h"

__global__ void fill(int *p, int v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = v;
}

static unsigned long long used(cudaMemPool_t pool)
{
	unsigned long long u = 0;
	CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &u));
	return u;
}

int main()
{
	const int n = 1 << 16;
	cudaStream_t s;
	cudaMemPool_t def, mine, cur;
	CHECK(cudaStreamCreate(&s));
	CHECK(cudaDeviceGetDefaultMemPool(&def, 0));
	unsigned long long thr = 1 << 20, back = 0;
	CHECK(cudaMemPoolSetAttribute(def, cudaMemPoolAttrReleaseThreshold, &thr));
	CHECK(cudaMemPoolGetAttribute(def, cudaMemPoolAttrReleaseThreshold, &back));
	EXPECT(back == thr, "release threshold %llu", (unsigned long long)back);
	int reuse = -1;
	CHECK(cudaMemPoolGetAttribute(def, cudaMemPoolReuseAllowOpportunistic, &reuse));
	EXPECT(reuse == 0 || reuse == 1, "reuse flag %d", reuse);

	cudaMemPoolProps props = {};
	props.allocType = cudaMemAllocationTypePinned;
	props.location.type = cudaMemLocationTypeDevice;
	props.location.id = 0;
	CHECK(cudaMemPoolCreate(&mine, &props));
	CHECK(cudaDeviceSetMemPool(0, mine));
	CHECK(cudaDeviceGetMemPool(&cur, 0));
	EXPECT(cur == mine, "the current pool is not the one set");

	int *a, *b, h[n];
	CHECK(cudaMallocFromPoolAsync(&a, n * sizeof(int), def, s));
	CHECK(cudaMallocAsync(&b, n * sizeof(int), s)); /* from the current pool: mine */
	CHECK(cudaStreamSynchronize(s));
	unsigned long long with = used(mine);
	EXPECT(with >= n * sizeof(int), "pool holds %llu bytes after an allocation", with);
	fill<<<n / 256, 256, 0, s>>>(a, 7, n);
	fill<<<n / 256, 256, 0, s>>>(b, 9, n);
	CHECK(cudaMemcpyAsync(h, b, sizeof(h), cudaMemcpyDeviceToHost, s));
	CHECK(cudaFreeAsync(b, s));
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == 9, "element %d is %d", i, h[i]);
	EXPECT(used(mine) < with, "pool usage did not drop after the free");
	CHECK(cudaMemcpy(h, a, sizeof(h), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == 7, "element %d is %d", i, h[i]);
	CHECK(cudaFreeAsync(a, s));
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaMemPoolTrimTo(def, 0));
	CHECK(cudaDeviceSetMemPool(0, def));
	CHECK(cudaMemPoolDestroy(mine));
	CHECK(cudaStreamDestroy(s));
	printf("mem_pools: default and created pools verified\n");
	return 0;
}
