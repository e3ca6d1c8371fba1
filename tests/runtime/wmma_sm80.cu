// SPDX-License-Identifier: MIT
// wmma_sm80 — the tensor-core multiplies of Ampere and later through the warp matrix
// functions, built with -arch=sm_80 as mixed-precision programs are: bfloat16 in the three
// fragment shapes and tf32 (m16n16k8, inputs rounded with __float_to_tf32) with float
// accumulators, row- and column-major operands, the accumulator loaded from memory and
// scaled element by element. Every result is checked on the host against a reference
// computed from the same rounded inputs.
#include "rt.h"

#include <cstdint>
#include <cstring>
#include <cuda_bf16.h>
#include <mma.h>

using namespace nvcuda;

template <int M, int N, int K, typename LA, typename LB>
__global__ void gemm(const __nv_bfloat16 *a, const __nv_bfloat16 *b, const float *c, float *d, int m, int n, int k)
{
	int tm = blockIdx.y, tn = blockIdx.x;
	wmma::fragment<wmma::matrix_a, M, N, K, __nv_bfloat16, LA> fa;
	wmma::fragment<wmma::matrix_b, M, N, K, __nv_bfloat16, LB> fb;
	wmma::fragment<wmma::accumulator, M, N, K, float> acc;
	wmma::load_matrix_sync(acc, c + (size_t)tm * M * n + tn * N, n, wmma::mem_row_major);
	for (int i = 0; i < acc.num_elements; i++)
		acc.x[i] *= 0.25f;
	const bool a_row = std::is_same<LA, wmma::row_major>::value, b_row = std::is_same<LB, wmma::row_major>::value;
	for (int kk = 0; kk < k; kk += K) {
		wmma::load_matrix_sync(fa, a_row ? a + (size_t)tm * M * k + kk : a + (size_t)kk * m + tm * M, a_row ? k : m);
		wmma::load_matrix_sync(fb, b_row ? b + (size_t)kk * n + tn * N : b + (size_t)tn * N * k + kk, b_row ? n : k);
		wmma::mma_sync(acc, fa, fb, acc);
	}
	wmma::store_matrix_sync(d + (size_t)tm * M * n + tn * N, acc, n, wmma::mem_row_major);
}

template <int M, int N, int K, typename LA, typename LB>
static void run(const char *what, int m, int n, int k, int seed)
{
	const bool a_row = std::is_same<LA, wmma::row_major>::value, b_row = std::is_same<LB, wmma::row_major>::value;
	__nv_bfloat16 *a, *b;
	float *c, *d;
	CHECK(cudaMallocManaged(&a, sizeof(*a) * m * k));
	CHECK(cudaMallocManaged(&b, sizeof(*b) * k * n));
	CHECK(cudaMallocManaged(&c, sizeof(float) * m * n));
	CHECK(cudaMallocManaged(&d, sizeof(float) * m * n));
	float *fa = new float[m * k], *fb = new float[k * n], *want = new float[m * n];
	for (int i = 0; i < m; i++)
		for (int j = 0; j < k; j++) {
			float v = (float)(((i * 5 + j * 7 + seed) % 19) - 9) / 16.0f;   // exact in bfloat16
			fa[i * k + j] = v;
			a[a_row ? i * k + j : j * m + i] = __float2bfloat16(v);
		}
	for (int i = 0; i < k; i++)
		for (int j = 0; j < n; j++) {
			float v = (float)(((i * 3 + j * 11 + seed) % 23) - 11) / 8.0f;
			fb[i * n + j] = v;
			b[b_row ? i * n + j : j * k + i] = __float2bfloat16(v);
		}
	for (int i = 0; i < m * n; i++)
		c[i] = (float)(i % 13) - 6.0f;
	gemm<M, N, K, LA, LB><<<dim3(n / N, m / M), 32>>>(a, b, c, d, m, n, k);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = 0.25 * c[i * n + j];
			for (int t = 0; t < k; t++)
				s += (double)fa[i * k + t] * fb[t * n + j];
			want[i * n + j] = (float)s;
		}
	VERIFY(d, want, (size_t)m * n, 1e-3, what);
	delete[] fa;
	delete[] fb;
	delete[] want;
	CHECK(cudaFree(a));
	CHECK(cudaFree(b));
	CHECK(cudaFree(c));
	CHECK(cudaFree(d));
}

// tf32: float inputs, rounded to tf32 in the fragments (ties away from zero), m16n16k8.
__global__ void gemm_tf32(const float *a, const float *b, float *d, int m, int n, int k)
{
	int tm = blockIdx.y, tn = blockIdx.x;
	wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
	wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb;
	wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
	wmma::fill_fragment(acc, 0.0f);
	for (int kk = 0; kk < k; kk += 8) {
		wmma::load_matrix_sync(fa, a + (size_t)tm * 16 * k + kk, k);
		wmma::load_matrix_sync(fb, b + (size_t)tn * 16 * k + kk, k);
		for (int i = 0; i < fa.num_elements; i++)
			fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
		for (int i = 0; i < fb.num_elements; i++)
			fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
		wmma::mma_sync(acc, fa, fb, acc);
	}
	wmma::store_matrix_sync(d + (size_t)tm * 16 * n + tn * 16, acc, n, wmma::mem_row_major);
}

// tf32 rounding as the ISA defines it: 10 mantissa bits, to nearest, ties away from zero.
static float tf32_of(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	u = (u + 0x1000u) & ~0x1fffu;
	memcpy(&x, &u, 4);
	return x;
}

static void run_tf32(int m, int n, int k)
{
	float *a, *b, *d;
	CHECK(cudaMallocManaged(&a, sizeof(float) * m * k));
	CHECK(cudaMallocManaged(&b, sizeof(float) * k * n));
	CHECK(cudaMallocManaged(&d, sizeof(float) * m * n));
	for (int i = 0; i < m * k; i++)
		a[i] = 1.0f + (float)(i % 97) / 1024.0f + 1.0f / 3000.0f;   // bits below tf32's
	for (int i = 0; i < k * n; i++)
		b[i] = -0.5f + (float)(i % 89) / 512.0f;                     // B column-major: b[j * k + t]
	gemm_tf32<<<dim3(n / 16, m / 16), 32>>>(a, b, d, m, n, k);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	float *want = new float[m * n];
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = 0;
			for (int t = 0; t < k; t++)
				s += (double)tf32_of(a[i * k + t]) * tf32_of(b[j * k + t]);
			want[i * n + j] = (float)s;
		}
	VERIFY(d, want, (size_t)m * n, 1e-3, "tf32 16x16x8");
	delete[] want;
	CHECK(cudaFree(a));
	CHECK(cudaFree(b));
	CHECK(cudaFree(d));
}

int main()
{
	run<16, 16, 16, wmma::row_major, wmma::col_major>("bfloat16 16x16x16, A row, B col", 32, 48, 64, 1);
	run<32, 8, 16, wmma::row_major, wmma::row_major>("bfloat16 32x8x16, A row, B row", 64, 16, 32, 2);
	run<8, 32, 16, wmma::col_major, wmma::col_major>("bfloat16 8x32x16, A col, B col", 16, 64, 48, 3);
	run_tf32(32, 48, 64);
	printf("wmma_sm80: all verified\n");
	return 0;
}
