// SPDX-License-Identifier: MIT
// pinned_memory — cudaMallocHost, cudaHostAlloc and cudaHostRegister buffers in sync and async copies.
#include "rt.h"
#include <cstring>

int main()
{
	const size_t n = 1 << 18;
	unsigned char *a, *b, *reg = (unsigned char *)malloc(n), *dev;
	unsigned int flags = 0;
	cudaStream_t s;
	CHECK(cudaMallocHost(&a, n));
	CHECK(cudaHostAlloc(&b, n, cudaHostAllocDefault));
	CHECK(cudaHostRegister(reg, n, cudaHostRegisterDefault));
	CHECK(cudaHostGetFlags(&flags, a));
	CHECK(cudaMalloc(&dev, n));
	CHECK(cudaStreamCreate(&s));
	for (size_t i = 0; i < n; i++)
		a[i] = (unsigned char)(i * 7 + 3);
	CHECK(cudaMemcpyAsync(dev, a, n, cudaMemcpyHostToDevice, s));
	CHECK(cudaMemcpyAsync(b, dev, n, cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	EXPECT(!memcmp(a, b, n), "cudaHostAlloc buffer differs after the round trip");
	CHECK(cudaMemcpy(reg, dev, n, cudaMemcpyDeviceToHost));
	EXPECT(!memcmp(a, reg, n), "registered buffer differs after the copy");
	printf("pinned_memory: %zu bytes through three kinds of pinned memory\n", n);
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaHostUnregister(reg));
	CHECK(cudaFreeHost(a));
	CHECK(cudaFreeHost(b));
	CHECK(cudaFree(dev));
	free(reg);
	return 0;
}
