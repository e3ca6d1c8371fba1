// SPDX-License-Identifier: MIT
// saxpy — y = a*x + y in single and double precision with a grid-stride loop.
#include "rt.h"

template <typename T> __global__ void axpy(T a, const T *x, T *y, int n)
{
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
		y[i] = a * x[i] + y[i];
}

template <typename T> static void run(const char *what, T a)
{
	const int n = 20000;
	T *x = (T *)malloc(n * sizeof(T)), *y = (T *)malloc(n * sizeof(T)), *want = (T *)malloc(n * sizeof(T));
	for (int i = 0; i < n; i++) {
		x[i] = (T)i / 7;
		y[i] = (T)(n - i) / 3;
		want[i] = a * x[i] + y[i];
	}
	T *dx, *dy;
	CHECK(cudaMalloc(&dx, n * sizeof(T)));
	CHECK(cudaMalloc(&dy, n * sizeof(T)));
	CHECK(cudaMemcpy(dx, x, n * sizeof(T), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(dy, y, n * sizeof(T), cudaMemcpyHostToDevice));
	axpy<T><<<16, 128>>>(a, dx, dy, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(y, dy, n * sizeof(T), cudaMemcpyDeviceToHost));
	VERIFY(y, want, n, 1e-3, what);
	CHECK(cudaFree(dx));
	CHECK(cudaFree(dy));
	free(x); free(y); free(want);
}

int main()
{
	run<float>("saxpy", 2.5f);
	run<double>("daxpy", -1.25);
	return 0;
}
