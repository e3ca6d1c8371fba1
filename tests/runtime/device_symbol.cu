// SPDX-License-Identifier: MIT
// device_symbol — a __device__ counter and table: cudaGetSymbolAddress/Size, to/from symbol copies.
#include "rt.h"

__device__ int counter;
__device__ int table[64];

__global__ void bump(int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		atomicAdd(&counter, 1);
		table[i % 64] += i;
	}
}

int main()
{
	int zero = 0, got = 0, host[64] = { 0 }, want[64] = { 0 };
	const int n = 64;
	void *addr = NULL;
	size_t size = 0;
	CHECK(cudaGetSymbolAddress(&addr, table));
	CHECK(cudaGetSymbolSize(&size, table));
	EXPECT(addr != NULL && size == sizeof(host), "table at %p, %zu bytes", addr, size);
	CHECK(cudaMemcpyToSymbol(counter, &zero, sizeof(zero)));
	CHECK(cudaMemset(addr, 0, size));
	for (int round = 0; round < 3; round++) {
		bump<<<2, 32>>>(n);
		CHECK(cudaGetLastError());
		for (int i = 0; i < n; i++)
			want[i % 64] += i;
	}
	CHECK(cudaMemcpyFromSymbol(&got, counter, sizeof(got)));
	EXPECT(got == 3 * n, "counter %d, expected %d", got, 3 * n);
	CHECK(cudaMemcpy(host, addr, size, cudaMemcpyDeviceToHost));
	VERIFY(host, want, 64, 0, "device_symbol table");
	printf("device_symbol: counter is %d\n", got);
	return 0;
}
