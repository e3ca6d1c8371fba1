// SPDX-License-Identifier: MIT
// memcpy_default — cudaMemcpyDefault infers every direction from unified addresses; D2D copies too.
#include "rt.h"

int main()
{
	const int n = 3000;
	int h[n], back[n], *a, *b;
	for (int i = 0; i < n; i++)
		h[i] = i ^ 0x5a5a;
	CHECK(cudaMalloc(&a, sizeof(h)));
	CHECK(cudaMalloc(&b, sizeof(h)));
	CHECK(cudaMemcpy(a, h, sizeof(h), cudaMemcpyDefault));
	CHECK(cudaMemcpy(b, a, sizeof(h), cudaMemcpyDefault));
	CHECK(cudaMemcpy(back, b, sizeof(h), cudaMemcpyDefault));
	VERIFY(back, h, n, 0, "memcpy_default");
	cudaPointerAttributes attr;
	CHECK(cudaPointerGetAttributes(&attr, a));
	EXPECT(attr.type == cudaMemoryTypeDevice && attr.device == 0, "device pointer typed %d on %d",
	       (int)attr.type, attr.device);
	CHECK(cudaPointerGetAttributes(&attr, h));
	EXPECT(attr.type == cudaMemoryTypeUnregistered, "stack pointer typed %d", (int)attr.type);
	CHECK(cudaMemcpyAsync(b + 10, a, 100 * sizeof(int), cudaMemcpyDeviceToDevice, 0));
	CHECK(cudaMemcpy(back, b, sizeof(h), cudaMemcpyDeviceToHost));
	for (int i = 0; i < 100; i++)
		h[10 + i] = i ^ 0x5a5a;
	VERIFY(back, h, n, 0, "memcpy_default device to device");
	CHECK(cudaFree(a));
	CHECK(cudaFree(b));
	return 0;
}
