// SPDX-License-Identifier: MIT
// wmma_gemm — tensor-core matrix multiply through the warp matrix functions (mma.h), as
// programs built for nvcc's default target (sm_75) use them: half inputs with float and with
// half accumulators, 8-bit integer inputs with 32-bit accumulators (saturating or not), the
// three fragment shapes, row- and column-major operands
// and results, fragments loaded from global and from shared memory, an accumulator loaded
// from memory and scaled element by element (C = alpha * A * B + beta * C). Every result is
// checked on the host against a reference computed from the same rounded inputs.
#include "rt.h"

#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

// One warp per 16x16 (or MxN) output tile; K walked in steps of the fragment's k.
template <int M, int N, int K, typename T, typename LA, typename LB>
__global__ void gemm(const T *a, const T *b, const float *c, float *d, int m, int n, int k, float alpha,
		     float beta, bool d_col_major)
{
	int tm = blockIdx.y, tn = blockIdx.x;
	wmma::fragment<wmma::matrix_a, M, N, K, T, LA> fa;
	wmma::fragment<wmma::matrix_b, M, N, K, T, LB> fb;
	wmma::fragment<wmma::accumulator, M, N, K, float> acc, cf;
	wmma::fill_fragment(acc, 0.0f);
	const bool a_row = std::is_same<LA, wmma::row_major>::value, b_row = std::is_same<LB, wmma::row_major>::value;
	for (int kk = 0; kk < k; kk += K) {
		// A is m x k (row-major: leading dimension k; column-major: m); B is k x n likewise
		const T *pa = a_row ? a + (size_t)tm * M * k + kk : a + (size_t)kk * m + tm * M;
		const T *pb = b_row ? b + (size_t)kk * n + tn * N : b + (size_t)tn * N * k + kk;
		wmma::load_matrix_sync(fa, pa, a_row ? k : m);
		wmma::load_matrix_sync(fb, pb, b_row ? n : k);
		wmma::mma_sync(acc, fa, fb, acc);
	}
	wmma::load_matrix_sync(cf, c + (size_t)tm * M * n + tn * N, n, wmma::mem_row_major);
	for (int i = 0; i < acc.num_elements; i++)
		acc.x[i] = alpha * acc.x[i] + beta * cf.x[i];
	if (d_col_major)
		wmma::store_matrix_sync(d + (size_t)tn * N * m + tm * M, acc, m, wmma::mem_col_major);
	else
		wmma::store_matrix_sync(d + (size_t)tm * M * n + tn * N, acc, n, wmma::mem_row_major);
}

// Half accumulators, operands staged through shared memory.
__global__ void gemm_half_acc_shared(const half *a, const half *b, half *d, int n)
{
	__shared__ half sa[16 * 16], sb[16 * 16];
	int tm = blockIdx.y, tn = blockIdx.x, lane = threadIdx.x;
	wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
	wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::row_major> fb;
	wmma::fragment<wmma::accumulator, 16, 16, 16, half> acc;
	wmma::fill_fragment(acc, __float2half(0.0f));
	for (int kk = 0; kk < n; kk += 16) {
		for (int e = lane; e < 256; e += 32) {
			sa[e] = a[(size_t)(tm * 16 + e / 16) * n + kk + e % 16];
			sb[e] = b[(size_t)(kk + e / 16) * n + tn * 16 + e % 16];
		}
		__syncwarp();
		wmma::load_matrix_sync(fa, sa, 16);
		wmma::load_matrix_sync(fb, sb, 16);
		wmma::mma_sync(acc, fa, fb, acc);
		__syncwarp();
	}
	wmma::store_matrix_sync(d + (size_t)tm * 16 * n + tn * 16, acc, n, wmma::mem_row_major);
}

// 8-bit integers with 32-bit accumulators: D = A * B + C, C loaded column-major.
template <int M, int N, int K, typename T>
__global__ void igemm(const T *a, const T *b, const int *c, int *d, int m, int n, int k, bool sat)
{
	int tm = blockIdx.y, tn = blockIdx.x;
	wmma::fragment<wmma::matrix_a, M, N, K, T, wmma::row_major> fa;
	wmma::fragment<wmma::matrix_b, M, N, K, T, wmma::col_major> fb;
	wmma::fragment<wmma::accumulator, M, N, K, int> acc;
	wmma::load_matrix_sync(acc, c + (size_t)tn * N * m + tm * M, m, wmma::mem_col_major);
	for (int kk = 0; kk < k; kk += K) {
		wmma::load_matrix_sync(fa, a + (size_t)tm * M * k + kk, k);
		wmma::load_matrix_sync(fb, b + (size_t)tn * N * k + kk, k);
		if (sat)
			wmma::mma_sync(acc, fa, fb, acc, true);
		else
			wmma::mma_sync(acc, fa, fb, acc);
	}
	wmma::store_matrix_sync(d + (size_t)tm * M * n + tn * N, acc, n, wmma::mem_row_major);
}

template <int M, int N, int K, typename T>
static void run_int(const char *what, int m, int n, int k, bool sat, int c_base)
{
	T *a, *b;
	int *c, *d;
	CHECK(cudaMallocManaged(&a, sizeof(T) * m * k));
	CHECK(cudaMallocManaged(&b, sizeof(T) * k * n));
	CHECK(cudaMallocManaged(&c, sizeof(int) * m * n));
	CHECK(cudaMallocManaged(&d, sizeof(int) * m * n));
	const bool sgn = (T)-1 < 0;
	for (int i = 0; i < m * k; i++)
		a[i] = (T)(sgn ? (i * 37 % 255) - 127 : i * 37 % 256);   // A row-major m x k
	for (int i = 0; i < k * n; i++)
		b[i] = (T)(sgn ? (i * 53 % 255) - 127 : i * 53 % 256);   // B column-major: b[j * k + t]
	for (int i = 0; i < m * n; i++)
		c[i] = c_base + i;                                       // C column-major: c[j * m + i]
	igemm<M, N, K, T><<<dim3(n / N, m / M), 32>>>(a, b, c, d, m, n, k, sat);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	long bad = -1;
	for (int i = 0; i < m && bad < 0; i++)
		for (int j = 0; j < n && bad < 0; j++) {
			long long s = c[j * m + i];
			for (int t = 0; t < k; t++)
				s += (long long)a[i * k + t] * b[j * k + t];
			int want = sat ? (int)(s > 2147483647LL ? 2147483647LL : s < -2147483648LL ? -2147483648LL : s)
				       : (int)(unsigned)(unsigned long long)s;
			if (d[i * n + j] != want)
				bad = i * n + j;
		}
	EXPECT(bad < 0, "%s: element %ld is %d", what, bad, bad < 0 ? 0 : d[bad]);
	printf("%s: %d values verified\n", what, m * n);
	CHECK(cudaFree(a));
	CHECK(cudaFree(b));
	CHECK(cudaFree(c));
	CHECK(cudaFree(d));
}

static float to_f(half h) { return __half2float(h); }
static void from_f(float v, half *h) { *h = __float2half(v); }

// Fill A (m x k) and B (k x n) with small values exact in the input type, in the layouts given.
template <typename T>
static void fill(T *a, T *b, float *fa, float *fb, int m, int n, int k, bool a_row, bool b_row, int seed)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < k; j++) {
			float v = (float)(((i * 7 + j * 3 + seed) % 17) - 8) / 8.0f;
			fa[i * k + j] = v;
			from_f(v, &a[a_row ? i * k + j : j * m + i]);
		}
	for (int i = 0; i < k; i++)
		for (int j = 0; j < n; j++) {
			float v = (float)(((i * 5 + j * 11 + seed) % 13) - 6) / 4.0f;
			fb[i * n + j] = v;
			from_f(v, &b[b_row ? i * n + j : j * k + i]);
		}
}

template <int M, int N, int K, typename T, typename LA, typename LB>
static void run(const char *what, int m, int n, int k, bool d_col, int seed)
{
	const bool a_row = std::is_same<LA, wmma::row_major>::value, b_row = std::is_same<LB, wmma::row_major>::value;
	T *a, *b;
	float *c, *d;
	CHECK(cudaMallocManaged(&a, sizeof(T) * m * k));
	CHECK(cudaMallocManaged(&b, sizeof(T) * k * n));
	CHECK(cudaMallocManaged(&c, sizeof(float) * m * n));
	CHECK(cudaMallocManaged(&d, sizeof(float) * m * n));
	float *fa = new float[m * k], *fb = new float[k * n], *want = new float[m * n], *got = new float[m * n];
	fill(a, b, fa, fb, m, n, k, a_row, b_row, seed);
	for (int i = 0; i < m * n; i++)
		c[i] = (float)(i % 9) - 4.0f;
	const float alpha = 0.5f, beta = -2.0f;
	gemm<M, N, K, T, LA, LB><<<dim3(n / N, m / M), 32>>>(a, b, c, d, m, n, k, alpha, beta, d_col);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = 0;
			for (int t = 0; t < k; t++)
				s += (double)fa[i * k + t] * fb[t * n + j];
			want[i * n + j] = (float)(alpha * s + beta * c[i * n + j]);
			got[i * n + j] = d_col ? d[j * m + i] : d[i * n + j];
		}
	VERIFY(got, want, (size_t)m * n, 1e-3, what);
	delete[] fa;
	delete[] fb;
	delete[] want;
	delete[] got;
	CHECK(cudaFree(a));
	CHECK(cudaFree(b));
	CHECK(cudaFree(c));
	CHECK(cudaFree(d));
}

int main()
{
	run<16, 16, 16, half, wmma::row_major, wmma::col_major>("half 16x16x16, A row, B col", 64, 48, 64, false, 1);
	run<16, 16, 16, half, wmma::col_major, wmma::row_major>("half 16x16x16, A col, B row, D col", 32, 32, 48,
								   true, 2);
	run<32, 8, 16, half, wmma::row_major, wmma::row_major>("half 32x8x16", 64, 32, 32, false, 3);
	run<8, 32, 16, half, wmma::col_major, wmma::col_major>("half 8x32x16", 32, 64, 32, true, 4);
	run_int<16, 16, 16, signed char>("s8 16x16x16", 32, 48, 64, false, -1000);
	run_int<32, 8, 16, unsigned char>("u8 32x8x16", 64, 16, 32, false, 7);
	run_int<8, 32, 16, signed char>("s8 8x32x16, saturating near the s32 limit", 16, 32, 32, true,
					 2147483647 - 200000);

	// half accumulators, operands through shared memory
	const int n = 32;
	half *a, *b, *d;
	CHECK(cudaMallocManaged(&a, sizeof(half) * n * n));
	CHECK(cudaMallocManaged(&b, sizeof(half) * n * n));
	CHECK(cudaMallocManaged(&d, sizeof(half) * n * n));
	float fa[n * n], fb[n * n], want[n * n], got[n * n];
	fill(a, b, fa, fb, n, n, n, true, true, 7);
	gemm_half_acc_shared<<<dim3(n / 16, n / 16), 32>>>(a, b, d, n);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			float s = 0;
			for (int t = 0; t < n; t++)
				s += fa[i * n + t] * fb[t * n + j];
			want[i * n + j] = s;
			got[i * n + j] = to_f(d[i * n + j]);
		}
	// products and sums of these inputs are multiples of 1/32 below 64: exact in half
	VERIFY(got, want, (size_t)n * n, 0, "half accumulators through shared memory");
	CHECK(cudaFree(a));
	CHECK(cudaFree(b));
	CHECK(cudaFree(d));
	printf("wmma_gemm: all verified\n");
	return 0;
}
