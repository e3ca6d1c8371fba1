// SPDX-License-Identifier: MIT
// errors_config — invalid launch configurations and arguments are reported, not sticky, and clear.
#include "rt.h"

__global__ void noop(int *p) { if (p) *p = 1; }

int main()
{
	noop<<<1, 4096>>>(NULL); /* more threads per block than any device has */
	cudaError_t e = cudaGetLastError();
	/* the runtime reports it as a bad configuration, or passes the driver's bad value on */
	EXPECT(e == cudaErrorInvalidConfiguration || e == cudaErrorInvalidValue, "too many threads: %s",
	       cudaGetErrorName(e));
	EXPECT(cudaGetLastError() == cudaSuccess, "the error was not cleared");
	noop<<<0, 1>>>(NULL);
	e = cudaGetLastError();
	EXPECT(e == cudaErrorInvalidConfiguration || e == cudaErrorInvalidValue, "empty grid: %s",
	       cudaGetErrorName(e));
	noop<<<dim3(1, 70000), 1>>>(NULL);
	e = cudaGetLastError();
	EXPECT(e == cudaErrorInvalidConfiguration || e == cudaErrorInvalidValue, "grid y of 70000: %s",
	       cudaGetErrorName(e));
	int *p = NULL;
	e = cudaMalloc(&p, (size_t)1 << 50);
	EXPECT(e == cudaErrorMemoryAllocation, "1 PiB: %s", cudaGetErrorName(e));
	EXPECT(cudaGetLastError() == cudaErrorMemoryAllocation, "last error not kept");
	e = cudaFree((void *)0x1234);
	EXPECT(e != cudaSuccess, "freeing a wild pointer succeeded");
	cudaGetLastError();
	/* the context is healthy: a real launch works */
	CHECK(cudaMalloc(&p, sizeof(int)));
	noop<<<1, 1>>>(p);
	CHECK(cudaGetLastError());
	int v = 0;
	CHECK(cudaMemcpy(&v, p, sizeof(v), cudaMemcpyDeviceToHost));
	EXPECT(v == 1, "kernel wrote %d", v);
	printf("errors_config: %s, %s\n", cudaGetErrorName(cudaErrorInvalidConfiguration),
	       cudaGetErrorString(cudaErrorMemoryAllocation));
	CHECK(cudaFree(p));
	return 0;
}
