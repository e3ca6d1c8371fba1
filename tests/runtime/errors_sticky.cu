// SPDX-License-Identifier: MIT
// errors_sticky — a kernel's illegal access is reported at the next synchronisation and stays.
#include "rt.h"

__global__ void wild(int *p) { p[threadIdx.x] = 1; }

int main()
{
	int *d;
	CHECK(cudaMalloc(&d, 64));
	wild<<<1, 1>>>((int *)0x10); /* far outside any allocation */
	cudaError_t e = cudaDeviceSynchronize();
	EXPECT(e == cudaErrorIllegalAddress, "synchronize returned %s", cudaGetErrorName(e));
	e = cudaMemcpy(d, d, 4, cudaMemcpyDeviceToDevice);
	EXPECT(e == cudaErrorIllegalAddress, "a later call returned %s", cudaGetErrorName(e));
	e = cudaGetLastError();
	EXPECT(e == cudaErrorIllegalAddress, "last error %s", cudaGetErrorName(e));
	printf("errors_sticky: %s is sticky\n", cudaGetErrorName(cudaErrorIllegalAddress));
	return 0;
}
