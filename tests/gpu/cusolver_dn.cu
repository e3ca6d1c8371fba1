// SPDX-License-Identifier: MIT
// cusolver_dn — cuSOLVER's dense solvers as linear-algebra front ends call them (PyTorch's
// torch.linalg, CuPy's cupy.linalg): LU factorisation and solve (getrf/getrs), Cholesky
// (potrf/potrs), the symmetric eigensolver (syevd) and the SVD (gesvd), in double precision,
// each checked on the host (residuals, the trace, the Frobenius norm). Prints the same lines
// on every run (sizes and error buckets), so the output directly and through vgpu can be
// diffed. --no-svd leaves the SVD out (it runs cuBLAS kernels, which are SASS only: the
// simulator cannot run them). Exit 0 = all verified, 1 = a failure, 3 = the device cannot run
// the kernels.
#include <cstring>
#include <cusolverDn.h>
#include <vector>
#include "gpucheck.h"

static const char *status_name(cusolverStatus_t s)
{
	switch (s) {
	case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
	case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
	case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
	case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
	case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
	case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
	case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
	case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED: return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
	default: return "CUSOLVER_STATUS_(other)";
	}
}
#define CHECK_SO(call) CHECK_LIB("cuSOLVER", cusolverStatus_t, CUSOLVER_STATUS_SUCCESS, status_name, call)

/* column-major n x m matrices on the host */
static std::vector<double> random_matrix(int rows, int cols, unsigned seed)
{
	std::vector<double> a((size_t)rows * cols);
	for (auto &v : a) {
		seed = seed * 1664525u + 1013904223u;
		v = (double)((int)(seed >> 16) % 2001 - 1000) / 1000.0;
	}
	return a;
}

static double *upload(const std::vector<double> &v)
{
	double *d;
	CHECK_RT(cudaMalloc(&d, v.size() * sizeof(double)));
	CHECK_RT(cudaMemcpy(d, v.data(), v.size() * sizeof(double), cudaMemcpyHostToDevice));
	return d;
}

static std::vector<double> download(const double *d, size_t n)
{
	std::vector<double> v(n);
	CHECK_RT(cudaMemcpy(v.data(), d, n * sizeof(double), cudaMemcpyDeviceToHost));
	return v;
}

static void expect_info(const int *d_info, const char *what)
{
	int info = -1;
	CHECK_RT(cudaMemcpy(&info, d_info, sizeof(info), cudaMemcpyDeviceToHost));
	if (info != 0) {
		printf("FAIL %s: info %d\n", what, info);
		exit(1);
	}
}

/* ||A x - b||_inf / (||A||_inf ||x||_inf + ||b||_inf), A n x n column-major */
static double residual(const std::vector<double> &a, const std::vector<double> &x, const std::vector<double> &b, int n)
{
	double r = 0, an = 0, xn = 0, bn = 0;
	for (int i = 0; i < n; i++) {
		double s = 0, row = 0;
		for (int j = 0; j < n; j++) {
			s += a[(size_t)j * n + i] * x[j];
			row += std::fabs(a[(size_t)j * n + i]);
		}
		r = std::fmax(r, std::fabs(s - b[i]));
		an = std::fmax(an, row);
		xn = std::fmax(xn, std::fabs(x[i]));
		bn = std::fmax(bn, std::fabs(b[i]));
	}
	return r / (an * xn + bn);
}

int main(int argc, char **argv)
{
	const int n = 64, m = 96;
	const bool svd = !(argc > 1 && !strcmp(argv[1], "--no-svd"));
	cusolverDnHandle_t h;
	int *d_info, lwork = 0;
	double *work;
	CHECK_SO(cusolverDnCreate(&h));
	CHECK_RT(cudaMalloc(&d_info, sizeof(int)));

	/* LU with partial pivoting, then a solve */
	std::vector<double> a = random_matrix(n, n, 7), b = random_matrix(n, 1, 11);
	for (int i = 0; i < n; i++)
		a[(size_t)i * n + i] += 4;
	double *d_a = upload(a), *d_b = upload(b);
	int *d_piv;
	CHECK_RT(cudaMalloc(&d_piv, n * sizeof(int)));
	CHECK_SO(cusolverDnDgetrf_bufferSize(h, n, n, d_a, n, &lwork));
	CHECK_RT(cudaMalloc(&work, (size_t)lwork * sizeof(double)));
	CHECK_SO(cusolverDnDgetrf(h, n, n, d_a, n, work, d_piv, d_info));
	expect_info(d_info, "getrf");
	CHECK_SO(cusolverDnDgetrs(h, CUBLAS_OP_N, n, 1, d_a, n, d_piv, d_b, n, d_info));
	expect_info(d_info, "getrs");
	printf("LU %dx%d (getrf, getrs): ", n, n);
	print_error_bucket("solve", residual(a, download(d_b, n), b, n), 1e-12);
	CHECK_RT(cudaFree(work));

	/* Cholesky of the symmetric positive definite A^T A + n I */
	std::vector<double> s((size_t)n * n);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			double v = i == j ? n : 0;
			for (int k = 0; k < n; k++)
				v += a[(size_t)i * n + k] * a[(size_t)j * n + k];
			s[(size_t)j * n + i] = v;
		}
	double *d_s = upload(s);
	CHECK_RT(cudaMemcpy(d_b, b.data(), n * sizeof(double), cudaMemcpyHostToDevice));
	CHECK_SO(cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_LOWER, n, d_s, n, &lwork));
	CHECK_RT(cudaMalloc(&work, (size_t)lwork * sizeof(double)));
	CHECK_SO(cusolverDnDpotrf(h, CUBLAS_FILL_MODE_LOWER, n, d_s, n, work, lwork, d_info));
	expect_info(d_info, "potrf");
	CHECK_SO(cusolverDnDpotrs(h, CUBLAS_FILL_MODE_LOWER, n, 1, d_s, n, d_b, n, d_info));
	expect_info(d_info, "potrs");
	printf("Cholesky %dx%d (potrf, potrs): ", n, n);
	print_error_bucket("solve", residual(s, download(d_b, n), b, n), 1e-12);
	CHECK_RT(cudaFree(work));

	/* eigenvalues and vectors of the same symmetric matrix: S v = w v for each, their sum the trace */
	CHECK_RT(cudaMemcpy(d_s, s.data(), s.size() * sizeof(double), cudaMemcpyHostToDevice));
	double *d_w;
	CHECK_RT(cudaMalloc(&d_w, n * sizeof(double)));
	CHECK_SO(cusolverDnDsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, d_s, n, d_w, &lwork));
	CHECK_RT(cudaMalloc(&work, (size_t)lwork * sizeof(double)));
	CHECK_SO(cusolverDnDsyevd(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, d_s, n, d_w, work, lwork, d_info));
	expect_info(d_info, "syevd");
	std::vector<double> v = download(d_s, s.size()), w = download(d_w, n);
	double trace = 0, sum = 0, err = 0, scale = 0;
	for (int i = 0; i < n; i++) {
		trace += s[(size_t)i * n + i];
		sum += w[i];
		scale = std::fmax(scale, std::fabs(w[i]));
	}
	for (int k = 0; k < n; k++)
		for (int i = 0; i < n; i++) {
			double sv = 0;
			for (int j = 0; j < n; j++)
				sv += s[(size_t)j * n + i] * v[(size_t)k * n + j];
			err = std::fmax(err, std::fabs(sv - w[k] * v[(size_t)k * n + i]) / scale);
		}
	printf("eigen %dx%d (syevd): ", n, n);
	print_error_bucket("S v = w v", err, 1e-11);
	printf("eigen %dx%d (syevd): ", n, n);
	print_error_bucket("sum of eigenvalues = trace", std::fabs(sum - trace) / std::fabs(trace), 1e-12);
	CHECK_RT(cudaFree(work));

	/* singular values of an m x n matrix: their squares sum to its Frobenius norm squared */
	if (svd) {
		std::vector<double> g = random_matrix(m, n, 23);
		double *d_g = upload(g), *d_sv;
		CHECK_RT(cudaMalloc(&d_sv, n * sizeof(double)));
		CHECK_SO(cusolverDnDgesvd_bufferSize(h, m, n, &lwork));
		CHECK_RT(cudaMalloc(&work, (size_t)lwork * sizeof(double)));
		CHECK_SO(cusolverDnDgesvd(h, 'N', 'N', m, n, d_g, m, d_sv, NULL, m, NULL, n, work, lwork, NULL, d_info));
		expect_info(d_info, "gesvd");
		std::vector<double> sv = download(d_sv, n);
		double fro = 0, sq = 0;
		int ordered = 1;
		for (double x : g)
			fro += x * x;
		for (int i = 0; i < n; i++) {
			sq += sv[i] * sv[i];
			ordered &= i == 0 || sv[i] <= sv[i - 1];
		}
		if (!ordered) {
			printf("FAIL gesvd: singular values not in descending order\n");
			return 1;
		}
		printf("SVD %dx%d (gesvd): ", m, n);
		print_error_bucket("sum of squares = Frobenius norm squared", std::fabs(sq - fro) / fro, 1e-12);
		CHECK_RT(cudaFree(work));
		CHECK_RT(cudaFree(d_sv));
		CHECK_RT(cudaFree(d_g));
	} else {
		printf("SVD %dx%d (gesvd): left out (--no-svd)\n", m, n);
	}

	CHECK_RT(cudaFree(d_w));
	CHECK_RT(cudaFree(d_s));
	CHECK_RT(cudaFree(d_piv));
	CHECK_RT(cudaFree(d_b));
	CHECK_RT(cudaFree(d_a));
	CHECK_RT(cudaFree(d_info));
	CHECK_SO(cusolverDnDestroy(h));
	printf("cusolver_dn: verified\n");
	return 0;
}
