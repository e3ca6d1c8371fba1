// SPDX-License-Identifier: MIT
// memset — cudaMemset, cudaMemsetAsync and cudaMemset2D, read back and checked byte by byte.
#include "rt.h"

int main()
{
	const int n = 10000, w = 50, h = 20;
	unsigned char *d, host[n], want[n];
	CHECK(cudaMalloc(&d, n));
	CHECK(cudaMemset(d, 0xab, n));
	CHECK(cudaMemsetAsync(d + 100, 0x11, 1000, 0));
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaMemcpy(host, d, n, cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		want[i] = i >= 100 && i < 1100 ? 0x11 : 0xab;
	VERIFY(host, want, n, 0, "memset 1D");
	unsigned char *p, img[h][w], wimg[h][w];
	size_t pitch;
	CHECK(cudaMallocPitch(&p, &pitch, w, h));
	CHECK(cudaMemset2D(p, pitch, 0, w, h));
	CHECK(cudaMemset2D(p + 2 * pitch + 5, pitch, 0x7f, 10, 3));
	CHECK(cudaMemcpy2D(img, w, p, pitch, w, h, cudaMemcpyDeviceToHost));
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			wimg[y][x] = y >= 2 && y < 5 && x >= 5 && x < 15 ? 0x7f : 0;
	VERIFY(&img[0][0], &wimg[0][0], w * h, 0, "memset 2D");
	CHECK(cudaFree(d));
	CHECK(cudaFree(p));
	return 0;
}
