// SPDX-License-Identifier: MIT
// cusparse_spmv — cuSPARSE's generic API: sparse matrix times dense vector (SpMV, float and
// double: CSR plain and transposed, COO) and times dense matrix (SpMM: float and double, CSR
// and COO), checked against the host. Values are small integers and halves, so every sum is exact in float and the
// results must equal the host's bit for bit whatever order the kernels add in.
// Prints the same lines on every run (sizes, "verified"), so the output directly and through
// vgpu can be diffed. Exit 0 = all verified, 1 = a failure, 3 = the device cannot run
// cuSPARSE's kernels.
#include <cusparse.h>
#include <vector>
#include "gpucheck.h"

#define CHECK_SP(call) CHECK_LIB("cuSPARSE", cusparseStatus_t, CUSPARSE_STATUS_SUCCESS, cusparseGetErrorString, call)

/* A rows x cols matrix with a band and a scattered column, in CSR (and COO) on the host. */
struct sparse {
	int rows, cols;
	std::vector<int> ptr, col, row;
	std::vector<double> val;
};

static sparse make(int rows, int cols)
{
	sparse a{rows, cols, {}, {}, {}, {}};
	unsigned s = (unsigned)(rows * 131 + cols);
	for (int i = 0; i < rows; i++) {
		a.ptr.push_back((int)a.col.size());
		for (int j = 0; j < cols; j++) {
			s = s * 1664525u + 1013904223u;
			bool band = j >= i - 2 && j <= i + 2, scattered = (s >> 24) % 29 == 0;
			if (!band && !scattered)
				continue;
			a.col.push_back(j);
			a.row.push_back(i);
			a.val.push_back((double)((int)(s >> 16) % 9 - 4) / 2.0);
		}
	}
	a.ptr.push_back((int)a.col.size());
	return a;
}

template <typename T> static cudaDataType dtype();
template <> cudaDataType dtype<float>() { return CUDA_R_32F; }
template <> cudaDataType dtype<double>() { return CUDA_R_64F; }

template <typename T> static T *upload(const std::vector<T> &v)
{
	T *d;
	CHECK_RT(cudaMalloc(&d, v.size() * sizeof(T) + 1));
	CHECK_RT(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
	return d;
}

/* y = A x (or A^T x), x dense with k columns (k = 1: SpMV), in CSR or COO; checked exactly. */
template <typename T> static void run(cusparseHandle_t h, const sparse &a, int k, bool trans, bool coo)
{
	const int xr = trans ? a.rows : a.cols, yr = trans ? a.cols : a.rows;
	std::vector<T> x((size_t)xr * k), y((size_t)yr * k, (T)0), want((size_t)yr * k, (T)0);
	for (size_t i = 0; i < x.size(); i++)
		x[i] = (T)((int)(i * 7 % 11) - 5);
	for (int c = 0; c < k; c++)
		for (int i = 0; i < a.rows; i++)
			for (int p = a.ptr[i]; p < a.ptr[i + 1]; p++) {
				int j = a.col[p];
				if (trans)
					want[(size_t)c * yr + j] += (T)a.val[p] * x[(size_t)c * xr + i];
				else
					want[(size_t)c * yr + i] += (T)a.val[p] * x[(size_t)c * xr + j];
			}
	std::vector<T> val(a.val.begin(), a.val.end());
	int *dptr = upload(coo ? a.row : a.ptr), *dcol = upload(a.col);
	T *dval = upload(val), *dx = upload(x), *dy = upload(y);
	cusparseSpMatDescr_t A;
	const int nnz = (int)a.col.size();
	if (coo)
		CHECK_SP(cusparseCreateCoo(&A, a.rows, a.cols, nnz, dptr, dcol, dval, CUSPARSE_INDEX_32I,
					   CUSPARSE_INDEX_BASE_ZERO, dtype<T>()));
	else
		CHECK_SP(cusparseCreateCsr(&A, a.rows, a.cols, nnz, dptr, dcol, dval, CUSPARSE_INDEX_32I,
					   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, dtype<T>()));
	const T one = 1, zero = 0;
	const cusparseOperation_t op = trans ? CUSPARSE_OPERATION_TRANSPOSE : CUSPARSE_OPERATION_NON_TRANSPOSE;
	size_t bytes = 0;
	void *buf = NULL;
	if (k == 1) {
		cusparseDnVecDescr_t X, Y;
		CHECK_SP(cusparseCreateDnVec(&X, xr, dx, dtype<T>()));
		CHECK_SP(cusparseCreateDnVec(&Y, yr, dy, dtype<T>()));
		CHECK_SP(cusparseSpMV_bufferSize(h, op, &one, A, X, &zero, Y, dtype<T>(), CUSPARSE_SPMV_ALG_DEFAULT, &bytes));
		CHECK_RT(cudaMalloc(&buf, bytes + 1));
		CHECK_SP(cusparseSpMV(h, op, &one, A, X, &zero, Y, dtype<T>(), CUSPARSE_SPMV_ALG_DEFAULT, buf));
		CHECK_SP(cusparseDestroyDnVec(X));
		CHECK_SP(cusparseDestroyDnVec(Y));
	} else {
		cusparseDnMatDescr_t X, Y;
		CHECK_SP(cusparseCreateDnMat(&X, xr, k, xr, dx, dtype<T>(), CUSPARSE_ORDER_COL));
		CHECK_SP(cusparseCreateDnMat(&Y, yr, k, yr, dy, dtype<T>(), CUSPARSE_ORDER_COL));
		CHECK_SP(cusparseSpMM_bufferSize(h, op, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A, X, &zero, Y,
						 dtype<T>(), CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
		CHECK_RT(cudaMalloc(&buf, bytes + 1));
		CHECK_SP(cusparseSpMM(h, op, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, A, X, &zero, Y, dtype<T>(),
				      CUSPARSE_SPMM_ALG_DEFAULT, buf));
		CHECK_SP(cusparseDestroyDnMat(X));
		CHECK_SP(cusparseDestroyDnMat(Y));
	}
	CHECK_RT(cudaMemcpy(y.data(), dy, y.size() * sizeof(T), cudaMemcpyDeviceToHost));
	size_t bad = 0;
	for (size_t i = 0; i < y.size(); i++)
		bad += y[i] != want[i];
	printf("%s %s %s %dx%d, %d nonzeros, %d column%s: ", k == 1 ? "SpMV" : "SpMM", coo ? "COO" : "CSR",
	       sizeof(T) == 4 ? "float" : "double", a.rows, a.cols, nnz, k, k == 1 ? "" : "s");
	if (bad) {
		printf("FAIL: %zu of %zu results differ from the host's\n", bad, y.size());
		exit(1);
	}
	printf("verified%s\n", trans ? " (transposed)" : "");
	CHECK_SP(cusparseDestroySpMat(A));
	CHECK_RT(cudaFree(buf));
	CHECK_RT(cudaFree(dptr));
	CHECK_RT(cudaFree(dcol));
	CHECK_RT(cudaFree(dval));
	CHECK_RT(cudaFree(dx));
	CHECK_RT(cudaFree(dy));
}

int main()
{
	CHECK_RT(cudaSetDevice(0));
	cusparseHandle_t h;
	CHECK_SP(cusparseCreate(&h));
	cudaStream_t s;
	CHECK_RT(cudaStreamCreate(&s));
	CHECK_SP(cusparseSetStream(h, s));
	sparse a = make(300, 200), b = make(512, 512);
	run<float>(h, a, 1, false, false);
	run<float>(h, a, 1, true, false);
	run<float>(h, b, 1, false, false);
	run<float>(h, b, 1, false, true);
	run<float>(h, a, 4, false, false);
	run<double>(h, a, 1, false, false);
	run<double>(h, a, 1, true, false);
	run<double>(h, b, 1, false, true);
	run<double>(h, a, 4, false, false);
	run<double>(h, b, 3, false, true);
	CHECK_SP(cusparseDestroy(h));
	CHECK_RT(cudaStreamDestroy(s));
	printf("cusparse_spmv: all verified\n");
	return 0;
}
