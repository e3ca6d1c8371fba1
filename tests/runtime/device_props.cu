// SPDX-License-Identifier: MIT
// device_props — cudaGetDeviceProperties and cudaDeviceGetAttribute agree, and the values are sane.
#include "rt.h"

int main()
{
	int count = 0, dev = -1, major = 0, warp = 0, smem = 0;
	CHECK(cudaGetDeviceCount(&count));
	EXPECT(count >= 1, "%d devices", count);
	CHECK(cudaGetDevice(&dev));
	EXPECT(dev == 0, "current device %d", dev);
	cudaDeviceProp p;
	CHECK(cudaGetDeviceProperties(&p, 0));
	CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
	CHECK(cudaDeviceGetAttribute(&warp, cudaDevAttrWarpSize, 0));
	CHECK(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlock, 0));
	EXPECT(p.major == major && p.warpSize == warp && (int)p.sharedMemPerBlock == smem,
	       "properties and attributes disagree");
	EXPECT(p.totalGlobalMem > 0 && p.multiProcessorCount > 0 && p.maxThreadsPerBlock >= 256,
	       "implausible properties");
	size_t free_b = 0, total_b = 0;
	CHECK(cudaMemGetInfo(&free_b, &total_b));
	EXPECT(free_b <= total_b && total_b > 0, "memory info %zu of %zu", free_b, total_b);
	int rt = 0, drv = 0;
	CHECK(cudaRuntimeGetVersion(&rt));
	CHECK(cudaDriverGetVersion(&drv));
	EXPECT(drv >= rt, "driver %d older than runtime %d", drv, rt);
	printf("device_props: %d device(s), compute capability %d.x, warp %d, %d SMs\n", count, p.major,
	       p.warpSize, p.multiProcessorCount);
	return 0;
}
