// SPDX-License-Identifier: MIT
// devices — every device the program can see is selected in turn and used; a missing one is refused.
#include "rt.h"

__global__ void put(int *p, int v) { *p = v; }

int main()
{
	int count = 0;
	CHECK(cudaGetDeviceCount(&count));
	EXPECT(count >= 1, "%d devices", count);
	for (int dev = 0; dev < count; dev++) {
		int cur = -1, *d, v = 0;
		CHECK(cudaSetDevice(dev));
		CHECK(cudaGetDevice(&cur));
		EXPECT(cur == dev, "current device %d, expected %d", cur, dev);
		CHECK(cudaMalloc(&d, sizeof(int)));
		put<<<1, 1>>>(d, 42 + dev);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(&v, d, sizeof(v), cudaMemcpyDeviceToHost));
		EXPECT(v == 42 + dev, "device %d wrote %d", dev, v);
		CHECK(cudaFree(d));
		CHECK(cudaDeviceSynchronize());
	}
	EXPECT(cudaSetDevice(count) == cudaErrorInvalidDevice, "device %d accepted", count);
	CHECK(cudaGetLastError() == cudaErrorInvalidDevice ? cudaSuccess : cudaErrorUnknown);
	CHECK(cudaSetDevice(0));
	printf("devices: %d device(s) used\n", count);
	return 0;
}
