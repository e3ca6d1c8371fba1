// SPDX-License-Identifier: MIT
// matmul_tiled — C = A x B with 16x16 tiles staged in shared memory and __syncthreads.
#include "rt.h"

#define TILE 16

__global__ void matmul(const float *A, const float *B, float *C, int n)
{
	__shared__ float As[TILE][TILE], Bs[TILE][TILE];
	int row = blockIdx.y * TILE + threadIdx.y, col = blockIdx.x * TILE + threadIdx.x;
	float acc = 0;
	for (int t = 0; t < (n + TILE - 1) / TILE; t++) {
		int ac = t * TILE + threadIdx.x, br = t * TILE + threadIdx.y;
		As[threadIdx.y][threadIdx.x] = row < n && ac < n ? A[row * n + ac] : 0;
		Bs[threadIdx.y][threadIdx.x] = br < n && col < n ? B[br * n + col] : 0;
		__syncthreads();
		for (int k = 0; k < TILE; k++)
			acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
		__syncthreads();
	}
	if (row < n && col < n)
		C[row * n + col] = acc;
}

int main()
{
	const int n = 40;
	size_t bytes = n * n * sizeof(float);
	float *A = (float *)malloc(bytes), *B = (float *)malloc(bytes), *C = (float *)malloc(bytes),
	      *want = (float *)malloc(bytes);
	for (int i = 0; i < n * n; i++) {
		A[i] = (float)(i % 7) - 3;
		B[i] = (float)(i % 5) * 0.5f;
	}
	for (int r = 0; r < n; r++)
		for (int c = 0; c < n; c++) {
			float s = 0;
			for (int k = 0; k < n; k++)
				s += A[r * n + k] * B[k * n + c];
			want[r * n + c] = s;
		}
	float *dA, *dB, *dC;
	CHECK(cudaMalloc(&dA, bytes));
	CHECK(cudaMalloc(&dB, bytes));
	CHECK(cudaMalloc(&dC, bytes));
	CHECK(cudaMemcpy(dA, A, bytes, cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dB, B, bytes, cudaMemcpyHostToDevice));
	dim3 block(TILE, TILE), grid((n + TILE - 1) / TILE, (n + TILE - 1) / TILE);
	matmul<<<grid, block>>>(dA, dB, dC, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(C, dC, bytes, cudaMemcpyDeviceToHost));
	VERIFY(C, want, n * n, 1e-3, "matmul_tiled");
	CHECK(cudaFree(dA));
	CHECK(cudaFree(dB));
	CHECK(cudaFree(dC));
	free(A); free(B); free(C); free(want);
	return 0;
}
