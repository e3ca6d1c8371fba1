// SPDX-License-Identifier: MIT
// device_assert — assert() in a kernel: a kernel whose assertions hold runs to the end; one
// that fails an assertion ends its launch with cudaErrorAssert, which the context keeps
// (every later call reports it), as CUDA documents for device-side assertions.
#include <cassert>
#include "rt.h"

__global__ void checked(const int *v, int n, int limit, int *sum)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	assert(v[i] >= 0 && v[i] < limit);
	atomicAdd(sum, v[i]);
}

int main()
{
	const int n = 256;
	int h[n], *dv, *dsum, sum = 0;
	for (int i = 0; i < n; i++)
		h[i] = i % 10;
	CHECK(cudaMalloc(&dv, sizeof(h)));
	CHECK(cudaMalloc(&dsum, sizeof(int)));
	CHECK(cudaMemcpy(dv, h, sizeof(h), cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dsum, 0, sizeof(int)));
	checked<<<2, 128>>>(dv, n, 10, dsum);
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaMemcpy(&sum, dsum, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(sum == 1140, "the sum is %d, expected 1140", sum);
	printf("assertions that hold: the kernel ran to the end, sum %d\n", sum);

	checked<<<2, 128>>>(dv, n, 5, dsum);   /* values 5..9 fail it */
	cudaError_t e = cudaDeviceSynchronize();
	EXPECT(e == cudaErrorAssert, "a failed device assertion gave %s", cudaGetErrorName(e));
	cudaError_t later = cudaMemcpy(&sum, dsum, sizeof(int), cudaMemcpyDeviceToHost);
	EXPECT(later == cudaErrorAssert, "the next call gave %s, expected the context to keep cudaErrorAssert",
	       cudaGetErrorName(later));
	printf("a failed assertion: %s, and the context keeps it: %s\n", cudaGetErrorName(e), cudaGetErrorName(later));
	return 0;
}
