// SPDX-License-Identifier: MIT
// wmma_f64 — double-precision tensor cores through nvcuda::wmma (sm_80's DMMA, built for
// sm_80), the way the CUDA samples' dmmaTensorCoreGemm uses them: 8x8x4 fragments of doubles
// loaded row- and column-major from global memory and from shared memory with a stride,
// accumulated over K in a tiled GEMM, an accumulator loaded from C and stored both ways. The
// inputs are small integers, so every product and sum is exact: D is compared with the host's
// exactly.
#include <mma.h>
#include <vector>
#include "rt.h"

using namespace nvcuda;

enum { M = 32, N = 24, K = 20 };   /* multiples of 8, 8 and 4 */

/* D = A (row-major M x K) * B (column-major K x N) + C (row-major M x N); one warp per 8x8 tile */
__global__ void dgemm(const double *A, const double *B, const double *C, double *D, double *Dcol)
{
	int tm = blockIdx.y, tn = blockIdx.x;
	wmma::fragment<wmma::matrix_a, 8, 8, 4, double, wmma::row_major> a;
	wmma::fragment<wmma::matrix_b, 8, 8, 4, double, wmma::col_major> b;
	wmma::fragment<wmma::accumulator, 8, 8, 4, double> acc;
	wmma::load_matrix_sync(acc, C + tm * 8 * N + tn * 8, N, wmma::mem_row_major);
	for (int k = 0; k < K; k += 4) {
		wmma::load_matrix_sync(a, A + tm * 8 * K + k, K);
		wmma::load_matrix_sync(b, B + tn * 8 * K + k, K);
		wmma::mma_sync(acc, a, b, acc);
	}
	wmma::store_matrix_sync(D + tm * 8 * N + tn * 8, acc, N, wmma::mem_row_major);
	wmma::store_matrix_sync(Dcol + tn * 8 * M + tm * 8, acc, M, wmma::mem_col_major);
}

/* the same product with A staged column-major through shared memory, B row-major, C zero */
__global__ void dgemm_shared(const double *A, const double *Brow, double *D)
{
	__shared__ double at[K][8 + 2];   /* column-major 8 x K tile of A, stride 10 */
	int tm = blockIdx.y, tn = blockIdx.x;
	for (int i = threadIdx.x; i < 8 * K; i += 32)
		at[i / 8][i % 8] = A[(tm * 8 + i % 8) * K + i / 8];
	__syncwarp();
	wmma::fragment<wmma::matrix_a, 8, 8, 4, double, wmma::col_major> a;
	wmma::fragment<wmma::matrix_b, 8, 8, 4, double, wmma::row_major> b;
	wmma::fragment<wmma::accumulator, 8, 8, 4, double> acc;
	wmma::fill_fragment(acc, 0.0);
	for (int k = 0; k < K; k += 4) {
		wmma::load_matrix_sync(a, &at[k][0], 8 + 2);
		wmma::load_matrix_sync(b, Brow + k * N + tn * 8, N);
		wmma::mma_sync(acc, a, b, acc);
	}
	for (int i = 0; i < acc.num_elements; i++)
		acc.x[i] *= 2;   /* every element alike, as fragments allow */
	wmma::store_matrix_sync(D + tm * 8 * N + tn * 8, acc, N, wmma::mem_row_major);
}

int main()
{
	std::vector<double> A(M * K), B(K * N), Bcol(K * N), C(M * N), want(M * N), D(M * N), Dc(M * N), D2(M * N);
	for (int i = 0; i < M * K; i++)
		A[i] = (double)((i * 7) % 11) - 5;
	for (int k = 0; k < K; k++)
		for (int j = 0; j < N; j++) {
			B[k * N + j] = (double)((k * 3 + j * 5) % 9) - 4;
			Bcol[j * K + k] = B[k * N + j];
		}
	for (int i = 0; i < M * N; i++)
		C[i] = (double)(i % 13);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += A[i * K + k] * B[k * N + j];
			want[i * N + j] = s;
		}
	double *dA, *dB, *dBrow, *dC, *dD, *dDc, *dD2;
	size_t sa = M * K * sizeof(double), sb = K * N * sizeof(double), sc = M * N * sizeof(double);
	CHECK(cudaMalloc(&dA, sa));
	CHECK(cudaMalloc(&dB, sb));
	CHECK(cudaMalloc(&dBrow, sb));
	CHECK(cudaMalloc(&dC, sc));
	CHECK(cudaMalloc(&dD, sc));
	CHECK(cudaMalloc(&dDc, sc));
	CHECK(cudaMalloc(&dD2, sc));
	CHECK(cudaMemcpy(dA, A.data(), sa, cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dB, Bcol.data(), sb, cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dBrow, B.data(), sb, cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dC, C.data(), sc, cudaMemcpyHostToDevice));
	dim3 grid(N / 8, M / 8);
	dgemm<<<grid, 32>>>(dA, dB, dC, dD, dDc);
	CHECK(cudaGetLastError());
	dgemm_shared<<<grid, 32>>>(dA, dBrow, dD2);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(D.data(), dD, sc, cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(Dc.data(), dDc, sc, cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(D2.data(), dD2, sc, cudaMemcpyDeviceToHost));
	std::vector<double> wantc(M * N), want2(M * N), dcrow(M * N);
	for (int i = 0; i < M * N; i++) {
		wantc[i] = want[i] + C[i];
		want2[i] = want[i] * 2;
	}
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
			dcrow[i * N + j] = Dc[j * M + i];
	VERIFY(D.data(), wantc.data(), M * N, 0, "A*B+C, row-major A, column-major B, stored row-major");
	VERIFY(dcrow.data(), wantc.data(), M * N, 0, "the same stored column-major");
	VERIFY(D2.data(), want2.data(), M * N, 0, "column-major A from shared memory, row-major B, scaled");
	CHECK(cudaFree(dA));
	CHECK(cudaFree(dB));
	CHECK(cudaFree(dBrow));
	CHECK(cudaFree(dC));
	CHECK(cudaFree(dD));
	CHECK(cudaFree(dDc));
	CHECK(cudaFree(dD2));
	printf("PASS\n");
	return 0;
}
