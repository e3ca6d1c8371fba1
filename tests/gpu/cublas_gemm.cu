// SPDX-License-Identifier: MIT
// cublas_gemm — cuBLAS SGEMM, DGEMM, strided-batched SGEMM, half and bfloat16 GEMMs with float
// accumulation (cublasGemmEx) and a cuBLASLt bfloat16 matmul with a fused bias and ReLU (as
// PyTorch's Linear layers call it), each checked against a host reference.
//
// Prints the same lines on every run of the same build (sizes, "verified", the error rounded
// up to a power of ten), so its output directly on the driver and through vgpu can be diffed.
// Exit 0 = all verified, 1 = a failure, 3 = the device cannot run cuBLAS's kernels (no binary
// for it: the simulator, which runs PTX only, and cuBLAS ships SASS).
#include <cublas_v2.h>
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstring>
#include <vector>
#include "gpucheck.h"

static int perf_reps = 20;   /* timed calls of each unbatched case (--reps) */

static const char *cublas_name(cublasStatus_t s)
{
	switch (s) {
	case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
	case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
	case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
	case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
	case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
	case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
	case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
	case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
	case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
	case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
	}
	return "CUBLAS_STATUS_(unknown)";
}

/* A failed cuBLAS call ends the program. ARCH_MISMATCH, or a failure whose runtime error says
 * the kernel image is unusable, is the "no binary for this device" exit (3). */
#define CHECK_BLAS(call)                                                                     \
	do {                                                                                 \
		cublasStatus_t s_ = (call);                                                  \
		if (s_ != CUBLAS_STATUS_SUCCESS) {                                           \
			cudaError_t e_ = cudaGetLastError();                                 \
			if (s_ == CUBLAS_STATUS_ARCH_MISMATCH)                               \
				exit_no_kernel_image("cuBLAS", #call, cublas_name(s_));      \
			if (no_kernel_image(e_))                                             \
				exit_no_kernel_image("cuBLAS", #call, cudaGetErrorName(e_)); \
			printf("FAIL %s:%d: %s: %s (last runtime error %s)\n", __FILE__,    \
			       __LINE__, #call, cublas_name(s_), cudaGetErrorName(e_));     \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

static cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
			   int k, const float *alpha, const float *a, int lda, const float *b, int ldb,
			   const float *beta, float *c, int ldc)
{
	return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
			   int k, const double *alpha, const double *a, int lda, const double *b, int ldb,
			   const double *beta, double *c, int ldc)
{
	return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Small exact-ish values in [-1, 1) from a fixed pattern: no RNG, identical on every run. */
template <typename T> static void fill(std::vector<T> &v, unsigned seed)
{
	unsigned x = seed * 2654435761u + 1;
	for (auto &e : v) {
		x = x * 1664525u + 1013904223u;
		e = (T)((int)(x >> 22) - 512) / (T)512;
	}
}

/* Column-major element (i, j) of op(M) where M has leading dimension ld. */
template <typename T> static T at(const std::vector<T> &m, bool trans, int ld, int i, int j)
{
	return trans ? m[(size_t)i * ld + j] : m[(size_t)j * ld + i];
}

/* C = alpha op(A) op(B) + beta C, batch times, on the device and on the host (in double); the
 * largest error relative to sum |alpha a b| + |beta c| of each element is checked. */
template <typename T>
static void run(cublasHandle_t h, const char *what, int m, int n, int k, bool ta, bool tb, int batch,
		double tol)
{
	const int lda = ta ? k : m, ldb = tb ? n : k, ldc = m;
	const size_t sa = (size_t)lda * (ta ? m : k), sb = (size_t)ldb * (tb ? k : n), sc = (size_t)ldc * n;
	std::vector<T> a(sa * batch), b(sb * batch), c(sc * batch), out(sc * batch);
	fill(a, 1), fill(b, 2), fill(c, 3);
	const T alpha = (T)1.5, beta = (T)-0.5;
	T *da, *db, *dc;
	CHECK_RT(cudaMalloc(&da, a.size() * sizeof(T)));
	CHECK_RT(cudaMalloc(&db, b.size() * sizeof(T)));
	CHECK_RT(cudaMalloc(&dc, c.size() * sizeof(T)));
	CHECK_RT(cudaMemcpy(da, a.data(), a.size() * sizeof(T), cudaMemcpyHostToDevice));
	CHECK_RT(cudaMemcpy(db, b.data(), b.size() * sizeof(T), cudaMemcpyHostToDevice));
	CHECK_RT(cudaMemcpy(dc, c.data(), c.size() * sizeof(T), cudaMemcpyHostToDevice));
	cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	if (batch == 1) {
		CHECK_BLAS(gemm(h, oa, ob, m, n, k, &alpha, da, lda, db, ldb, &beta, dc, ldc));
	} else {
		/* only used for float */
		CHECK_BLAS(cublasSgemmStridedBatched(h, oa, ob, m, n, k, (const float *)&alpha,
						     (const float *)da, lda, (long long)sa,
						     (const float *)db, ldb, (long long)sb,
						     (const float *)&beta, (float *)dc, ldc, (long long)sc, batch));
	}
	CHECK_RT(cudaDeviceSynchronize());
	CHECK_RT(cudaMemcpy(out.data(), dc, out.size() * sizeof(T), cudaMemcpyDeviceToHost));
	double worst = 0;
	for (int p = 0; p < batch; p++) {
		std::vector<T> pa(a.begin() + p * sa, a.begin() + (p + 1) * sa);
		std::vector<T> pb(b.begin() + p * sb, b.begin() + (p + 1) * sb);
		for (int j = 0; j < n; j++)
			for (int i = 0; i < m; i++) {
				double sum = 0, mag = 0;
				for (int l = 0; l < k; l++) {
					double x = (double)at(pa, ta, lda, i, l) * (double)at(pb, tb, ldb, l, j);
					sum += x;
					mag += std::fabs(x);
				}
				size_t ix = p * sc + (size_t)j * ldc + i;
				double want = (double)alpha * sum + (double)beta * c[ix];
				double scale = std::fabs((double)alpha) * mag + std::fabs((double)beta * c[ix]);
				double err = std::fabs((double)out[ix] - want) / (scale > 0 ? scale : 1);
				if (err > worst)
					worst = err;
			}
	}
	printf("%s: m=%d n=%d k=%d op(A)=%c op(B)=%c batch=%d\n", what, m, n, k, ta ? 'T' : 'N',
	       tb ? 'T' : 'N', batch);
	print_error_bucket(what, worst, tol);
	if (batch == 1 && perf_reps > 0) {
		/* the time of one call, on the handle's stream, to stderr (it differs between runs) */
		const int reps = perf_reps;
		cudaStream_t s;
		cudaEvent_t e0, e1;
		CHECK_BLAS(cublasGetStream(h, &s));
		CHECK_RT(cudaEventCreate(&e0));
		CHECK_RT(cudaEventCreate(&e1));
		CHECK_RT(cudaEventRecord(e0, s));
		for (int r = 0; r < reps; r++)
			CHECK_BLAS(gemm(h, oa, ob, m, n, k, &alpha, da, lda, db, ldb, &beta, dc, ldc));
		CHECK_RT(cudaEventRecord(e1, s));
		CHECK_RT(cudaEventSynchronize(e1));
		float ms = 0;
		CHECK_RT(cudaEventElapsedTime(&ms, e0, e1));
		double us = ms * 1e3 / reps;
		fprintf(stderr, "perf %s m=%d n=%d k=%d: %.1f us per call, %.1f GFLOP/s\n", what, m, n, k, us,
			2.0 * m * n * k / (us * 1e3));
		CHECK_RT(cudaEventDestroy(e0));
		CHECK_RT(cudaEventDestroy(e1));
	}
	CHECK_RT(cudaFree(da));
	CHECK_RT(cudaFree(db));
	CHECK_RT(cudaFree(dc));
}

/* 16-bit inputs: values on a grid of 1/8 in [-1, 1), so every product and every partial
 * sum of these sizes is exact in float whatever the order (the error must be 0) */
template <typename T> static void fill16(std::vector<T> &v, std::vector<float> &f, unsigned seed)
{
	unsigned x = seed * 2654435761u + 1;
	f.resize(v.size());
	for (size_t i = 0; i < v.size(); i++) {
		x = x * 1664525u + 1013904223u;
		f[i] = (float)((int)(x >> 28) - 8) / 8.0f;
		v[i] = (T)f[i];
	}
}

static void host_gemm(const std::vector<float> &a, const std::vector<float> &b, int m, int n, int k,
		      const float *bias, bool relu, std::vector<double> &out)
{
	out.assign((size_t)m * n, 0);
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++) {
			double s = bias ? bias[i] : 0;
			for (int l = 0; l < k; l++)
				s += (double)a[(size_t)l * m + i] * b[(size_t)j * k + l];
			out[(size_t)j * m + i] = relu && s < 0 ? 0 : s;
		}
}

static double worst_error(const std::vector<float> &got, const std::vector<double> &want)
{
	double w = 0;
	for (size_t i = 0; i < got.size(); i++)
		w = std::fmax(w, std::fabs(got[i] - want[i]) / std::fmax(1.0, std::fabs(want[i])));
	return w;
}

/* C (float) = A B with 16-bit A and B (half or bfloat16, type t), float accumulation */
template <typename T>
static void run_ex(cublasHandle_t h, const char *what, cudaDataType t, int m, int n, int k)
{
	std::vector<T> a((size_t)m * k), b((size_t)k * n);
	std::vector<float> fa, fb, out((size_t)m * n);
	fill16(a, fa, 4), fill16(b, fb, 5);
	T *da, *db;
	float *dc;
	CHECK_RT(cudaMalloc(&da, a.size() * sizeof(T)));
	CHECK_RT(cudaMalloc(&db, b.size() * sizeof(T)));
	CHECK_RT(cudaMalloc(&dc, out.size() * sizeof(float)));
	CHECK_RT(cudaMemcpy(da, a.data(), a.size() * sizeof(T), cudaMemcpyHostToDevice));
	CHECK_RT(cudaMemcpy(db, b.data(), b.size() * sizeof(T), cudaMemcpyHostToDevice));
	const float alpha = 1, beta = 0;
	CHECK_BLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da, t, m, db, t, k, &beta, dc,
				CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
	CHECK_RT(cudaDeviceSynchronize());
	CHECK_RT(cudaMemcpy(out.data(), dc, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
	std::vector<double> want;
	host_gemm(fa, fb, m, n, k, NULL, false, want);
	printf("%s: m=%d n=%d k=%d float accumulation\n", what, m, n, k);
	print_error_bucket(what, worst_error(out, want), 0);
	CHECK_RT(cudaFree(da));
	CHECK_RT(cudaFree(db));
	CHECK_RT(cudaFree(dc));
}

static const char *lt_name(cublasStatus_t s) { return cublas_name(s); }
#define CHECK_LT(call) CHECK_LIB("cuBLASLt", cublasStatus_t, CUBLAS_STATUS_SUCCESS, lt_name, call)

/* cuBLASLt: D (float) = ReLU(A B + bias) with bfloat16 A and B and a float bias per row, the
 * first algorithm its heuristic offers, on stream st */
static void run_lt(cudaStream_t st, int m, int n, int k)
{
	const char *what = "cublasLt bf16 matmul + bias + ReLU";
	cublasLtHandle_t lt;
	CHECK_LT(cublasLtCreate(&lt));
	std::vector<__nv_bfloat16> a((size_t)m * k), b((size_t)k * n);
	std::vector<float> fa, fb, bias(m), out((size_t)m * n);
	fill16(a, fa, 6), fill16(b, fb, 7);
	for (int i = 0; i < m; i++)
		bias[i] = (float)(i % 9 - 4) / 4.0f;
	void *da, *db, *dbias, *dd, *ws;
	const size_t wsz = 4 << 20;
	CHECK_RT(cudaMalloc(&da, a.size() * 2));
	CHECK_RT(cudaMalloc(&db, b.size() * 2));
	CHECK_RT(cudaMalloc(&dbias, bias.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&dd, out.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&ws, wsz));
	CHECK_RT(cudaMemcpy(da, a.data(), a.size() * 2, cudaMemcpyHostToDevice));
	CHECK_RT(cudaMemcpy(db, b.data(), b.size() * 2, cudaMemcpyHostToDevice));
	CHECK_RT(cudaMemcpy(dbias, bias.data(), bias.size() * sizeof(float), cudaMemcpyHostToDevice));
	cublasLtMatmulDesc_t op;
	CHECK_LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_RELU_BIAS;
	cudaDataType bt = CUDA_R_32F;
	CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof(ep)));
	CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &dbias, sizeof(dbias)));
	CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)));
	cublasLtMatrixLayout_t la, lb, ld;
	CHECK_LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, m, k, m));
	CHECK_LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, k, n, k));
	CHECK_LT(cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, m, n, m));
	cublasLtMatmulPreference_t pref;
	CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
	CHECK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz,
						      sizeof(wsz)));
	cublasLtMatmulHeuristicResult_t hr;
	int nr = 0;
	CHECK_LT(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &hr, &nr));
	if (nr < 1) {
		printf("FAIL %s: cublasLtMatmulAlgoGetHeuristic offered no algorithm\n", what);
		exit(1);
	}
	const float alpha = 1, beta = 0;
	CHECK_LT(cublasLtMatmul(lt, op, &alpha, da, la, db, lb, &beta, dd, ld, dd, ld, &hr.algo, ws, wsz, st));
	CHECK_RT(cudaStreamSynchronize(st));
	CHECK_RT(cudaMemcpy(out.data(), dd, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
	std::vector<double> want;
	host_gemm(fa, fb, m, n, k, bias.data(), true, want);
	printf("%s: m=%d n=%d k=%d\n", what, m, n, k);
	print_error_bucket(what, worst_error(out, want), 0);
	CHECK_LT(cublasLtMatmulPreferenceDestroy(pref));
	CHECK_LT(cublasLtMatrixLayoutDestroy(la));
	CHECK_LT(cublasLtMatrixLayoutDestroy(lb));
	CHECK_LT(cublasLtMatrixLayoutDestroy(ld));
	CHECK_LT(cublasLtMatmulDescDestroy(op));
	CHECK_LT(cublasLtDestroy(lt));
	for (void *p : {da, db, dbias, dd, ws})
		CHECK_RT(cudaFree(p));
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			perf_reps = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: cublas_gemm [--reps N]\n"
			        "Runs SGEMM, DGEMM and strided-batched SGEMM through cuBLAS, each checked "
			        "against the host;\nthen times N more calls of each unbatched case (default "
			        "20; 0: none) and prints the\ntime per call to stderr.\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	CHECK_RT(cudaSetDevice(0));
	cublasHandle_t h;
	CHECK_BLAS(cublasCreate(&h));
	cudaStream_t s;
	CHECK_RT(cudaStreamCreate(&s));
	CHECK_BLAS(cublasSetStream(h, s));
	/* no TF32: SGEMM in full single precision, whatever the GPU */
	CHECK_BLAS(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));
	run<float>(h, "sgemm", 256, 256, 256, false, false, 1, 1e-5);
	run<float>(h, "sgemm", 300, 200, 100, true, false, 1, 1e-5);
	run<double>(h, "dgemm", 512, 384, 128, false, false, 1, 1e-13);
	run<double>(h, "dgemm", 128, 96, 200, false, true, 1, 1e-13);
	run<float>(h, "sgemm_strided_batched", 64, 48, 32, false, false, 8, 1e-5);
	run_ex<__half>(h, "hgemm (cublasGemmEx, half)", CUDA_R_16F, 128, 64, 96);
	run_ex<__nv_bfloat16>(h, "bf16 gemm (cublasGemmEx, bfloat16)", CUDA_R_16BF, 96, 80, 64);
	run_lt(s, 96, 64, 80);
	CHECK_BLAS(cublasDestroy(h));
	CHECK_RT(cudaStreamDestroy(s));
	printf("cublas_gemm: all verified\n");
	return 0;
}
