// SPDX-License-Identifier: MIT
// memcpy_2d — a pitched allocation filled with cudaMemcpy2D, transformed in place, copied back.
#include "rt.h"

__global__ void add_row(float *p, size_t pitch, int w, int h)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
	if (x < w && y < h) {
		float *row = (float *)((char *)p + y * pitch);
		row[x] += (float)y;
	}
}

int main()
{
	const int w = 100, h = 30;
	float src[h][w], dst[h][w], want[h][w];
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			src[y][x] = (float)(x * 3 - y);
			want[y][x] = src[y][x] + y;
		}
	float *d;
	size_t pitch = 0;
	CHECK(cudaMallocPitch(&d, &pitch, w * sizeof(float), h));
	EXPECT(pitch >= w * sizeof(float), "pitch %zu", pitch);
	CHECK(cudaMemcpy2D(d, pitch, src, w * sizeof(float), w * sizeof(float), h, cudaMemcpyHostToDevice));
	add_row<<<dim3((w + 63) / 64, h), 64>>>(d, pitch, w, h);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy2D(dst, w * sizeof(float), d, pitch, w * sizeof(float), h, cudaMemcpyDeviceToHost));
	VERIFY(&dst[0][0], &want[0][0], w * h, 0, "memcpy_2d");
	CHECK(cudaFree(d));
	return 0;
}
