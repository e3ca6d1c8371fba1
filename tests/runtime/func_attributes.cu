// SPDX-License-Identifier: MIT
// func_attributes — cudaFuncGetAttributes on kernels of different shapes, and cudaFuncSetAttribute.
#include "rt.h"

__global__ void small(int *p) { p[threadIdx.x] = threadIdx.x; }

__global__ void with_shared(float *p)
{
	__shared__ float buf[512];
	buf[threadIdx.x] = p[threadIdx.x];
	__syncthreads();
	p[threadIdx.x] = buf[511 - threadIdx.x];
}

int main()
{
	cudaFuncAttributes a, b;
	CHECK(cudaFuncGetAttributes(&a, small));
	CHECK(cudaFuncGetAttributes(&b, with_shared));
	EXPECT(a.maxThreadsPerBlock >= 256 && b.maxThreadsPerBlock >= 256, "max threads %d %d",
	       a.maxThreadsPerBlock, b.maxThreadsPerBlock);
	/* the simulator counts a module's static shared memory for each of its kernels */
	EXPECT(a.sharedSizeBytes <= b.sharedSizeBytes, "small uses %zu bytes, with_shared %zu",
	       a.sharedSizeBytes, b.sharedSizeBytes);
	EXPECT(b.sharedSizeBytes >= 512 * sizeof(float), "with_shared uses %zu bytes", b.sharedSizeBytes);
	CHECK(cudaFuncSetAttribute(with_shared, cudaFuncAttributeMaxDynamicSharedMemorySize, 1024));
	CHECK(cudaFuncSetCacheConfig(small, cudaFuncCachePreferShared));
	float *d, h[512], want[512];
	for (int i = 0; i < 512; i++) {
		h[i] = (float)i;
		want[i] = (float)(511 - i);
	}
	CHECK(cudaMalloc(&d, sizeof(h)));
	CHECK(cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
	with_shared<<<1, 512>>>(d);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	VERIFY(h, want, 512, 0, "func_attributes reversed");
	CHECK(cudaFree(d));
	return 0;
}
