// SPDX-License-Identifier: MIT
// device_alloca — alloca() in device code (CUDA 12.1's dynamic stack allocation): scratch
// arrays whose size each thread learns at run time, in a kernel and in device functions it
// calls, nested, and many times over in a loop, where each call's allocation ends with the
// call (a stack that kept them would run out). Every result is checked on the host.
#include <vector>
#include "rt.h"

enum { THREADS = 128, BLOCKS = 4, N = THREADS * BLOCKS };

/* sum of the first n squares of (seed + k), through a scratch array of n elements */
__device__ __noinline__ long long squares(int n, int seed)
{
	long long *a = (long long *)alloca(n * sizeof(long long));
	for (int k = 0; k < n; k++)
		a[k] = (long long)(seed + k) * (seed + k);
	long long s = 0;
	for (int k = n - 1; k >= 0; k--)
		s += a[k];
	return s;
}

/* a function that allocates and calls one that allocates: both arrays live at once */
__device__ __noinline__ long long nested(int n, int seed)
{
	int *b = (int *)alloca((n + 1) * sizeof(int));
	for (int k = 0; k <= n; k++)
		b[k] = seed ^ k;
	long long inner = squares(n, seed);
	long long x = 0;
	for (int k = 0; k <= n; k++)
		x += b[k];
	return inner * 3 + x;
}

__global__ void stack_users(const int *sizes, long long *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x, n = sizes[i];
	/* the kernel's own scratch, 16-byte aligned for float4 */
	float4 *f = (float4 *)alloca(n * sizeof(float4));
	for (int k = 0; k < n; k++)
		f[k] = make_float4((float)k, (float)i, 1.0f, 2.0f);
	float fs = 0;
	for (int k = 0; k < n; k++)
		fs += f[k].x + f[k].z;
	out[i * 4] = (long long)fs;
	out[i * 4 + 1] = squares(n, i);
	out[i * 4 + 2] = nested(n, i);
	/* 200 calls of 2 KiB each: 400 KiB if the stack kept them, past any thread's stack */
	long long t = 0;
	for (int r = 0; r < 200; r++)
		t += squares(256, r);
	out[i * 4 + 3] = t;
}

static long long squares_ref(int n, int seed)
{
	long long s = 0;
	for (int k = 0; k < n; k++)
		s += (long long)(seed + k) * (seed + k);
	return s;
}

int main()
{
	/* cudaLimitStackSize is per thread: the deepest path here is nested(64) under the kernel's
	 * own array, well within 8 KiB */
	CHECK(cudaDeviceSetLimit(cudaLimitStackSize, 8192));
	std::vector<int> sizes(N);
	for (int i = 0; i < N; i++)
		sizes[i] = 1 + (i * 37) % 64;
	std::vector<long long> out(N * 4);
	int *d_sizes;
	long long *d_out;
	CHECK(cudaMalloc(&d_sizes, N * sizeof(int)));
	CHECK(cudaMalloc(&d_out, N * 4 * sizeof(long long)));
	CHECK(cudaMemcpy(d_sizes, sizes.data(), N * sizeof(int), cudaMemcpyHostToDevice));
	stack_users<<<BLOCKS, THREADS>>>(d_sizes, d_out);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out.data(), d_out, N * 4 * sizeof(long long), cudaMemcpyDeviceToHost));
	long long loop = 0;
	for (int r = 0; r < 200; r++)
		loop += squares_ref(256, r);
	for (int i = 0; i < N; i++) {
		int n = sizes[i];
		long long fs = (long long)n * (n - 1) / 2 + n, x = 0;
		for (int k = 0; k <= n; k++)
			x += i ^ k;
		EXPECT(out[i * 4] == fs, "thread %d: kernel's array sum %lld, expected %lld", i, out[i * 4], fs);
		EXPECT(out[i * 4 + 1] == squares_ref(n, i), "thread %d: squares(%d) %lld", i, n, out[i * 4 + 1]);
		EXPECT(out[i * 4 + 2] == squares_ref(n, i) * 3 + x, "thread %d: nested(%d) %lld", i, n, out[i * 4 + 2]);
		EXPECT(out[i * 4 + 3] == loop, "thread %d: 200 calls gave %lld, expected %lld", i, out[i * 4 + 3], loop);
	}
	printf("alloca: %d threads, sizes 1-64, nested and 200 calls each, verified\n", N);
	CHECK(cudaFree(d_sizes));
	CHECK(cudaFree(d_out));
	printf("PASS\n");
	return 0;
}
