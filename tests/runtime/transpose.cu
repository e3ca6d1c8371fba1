// SPDX-License-Identifier: MIT
// transpose — a matrix transposed through padded shared-memory tiles on a 2D grid.
#include "rt.h"

#define T 16

__global__ void transpose(const int *in, int *out, int w, int h)
{
	__shared__ int tile[T][T + 1];
	int x = blockIdx.x * T + threadIdx.x, y = blockIdx.y * T + threadIdx.y;
	if (x < w && y < h)
		tile[threadIdx.y][threadIdx.x] = in[y * w + x];
	__syncthreads();
	x = blockIdx.y * T + threadIdx.x;
	y = blockIdx.x * T + threadIdx.y;
	if (x < h && y < w)
		out[y * h + x] = tile[threadIdx.x][threadIdx.y];
}

int main()
{
	const int w = 45, h = 33;
	int in[h * w], out[w * h], want[w * h], *di, *dout;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			in[y * w + x] = y * 1000 + x;
			want[x * h + y] = in[y * w + x];
		}
	CHECK(cudaMalloc(&di, sizeof(in)));
	CHECK(cudaMalloc(&dout, sizeof(out)));
	CHECK(cudaMemcpy(di, in, sizeof(in), cudaMemcpyHostToDevice));
	transpose<<<dim3((w + T - 1) / T, (h + T - 1) / T), dim3(T, T)>>>(di, dout, w, h);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
	VERIFY(out, want, w * h, 0, "transpose");
	CHECK(cudaFree(di));
	CHECK(cudaFree(dout));
	return 0;
}
