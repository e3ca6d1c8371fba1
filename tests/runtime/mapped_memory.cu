// SPDX-License-Identifier: MIT
// mapped_memory — kernels that work on pinned host memory directly (zero-copy): memory from
// cudaHostAlloc(cudaHostAllocMapped) through the pointer cudaHostGetDevicePointer gives, and
// memory from cudaMallocHost through the program's own pointer (unified addressing); its
// flags and pointer attributes; a kernel that reads its input from host memory and writes
// device memory; a kernel whose progress the host watches in mapped memory while it runs.
// Every result is checked on the host.
#include <chrono>
#include "rt.h"

__global__ void scale_add(int *p, int n, int k)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = p[i] * k + i;
}

/* out (device) = sum of in (host, mapped) over each block's slice */
__global__ void block_sums(const int *in, long long *out, int per)
{
	__shared__ long long part[256];
	long long s = 0;
	for (int i = threadIdx.x; i < per; i += blockDim.x)
		s += in[blockIdx.x * per + i];
	part[threadIdx.x] = s;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w /= 2) {
		if (threadIdx.x < w)
			part[threadIdx.x] += part[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		out[blockIdx.x] = part[0];
}

/* Tells the host it started (flag 1), waits for the host's answer (flag 2), says done (3). */
__global__ void handshake(volatile int *flag, int *seen)
{
	*flag = 1;
	__threadfence_system();
	long long spins = 0;
	while (*flag != 2 && spins < (1ll << 40))
		spins++;
	*seen = *flag;
	__threadfence_system();
	*flag = 3;
}

int main()
{
	const int n = 1 << 16;

	/* cudaHostAllocMapped: the device's pointer from cudaHostGetDevicePointer */
	int *m = nullptr, *dm = nullptr;
	CHECK(cudaHostAlloc((void **)&m, n * sizeof(int), cudaHostAllocMapped));
	CHECK(cudaHostGetDevicePointer((void **)&dm, m, 0));
	unsigned flags = 0;
	CHECK(cudaHostGetFlags(&flags, m));
	EXPECT(flags & cudaHostAllocMapped, "flags %u of mapped memory", flags);
	for (int i = 0; i < n; i++)
		m[i] = i % 1000;
	scale_add<<<n / 256, 256>>>(dm, n, 3);
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++)
		EXPECT(m[i] == (i % 1000) * 3 + i, "mapped element %d is %d", i, m[i]);
	printf("mapped memory: %d values written by a kernel through the device pointer\n", n);

	/* cudaMallocHost: with unified addressing the program's pointer is the kernels' */
	int *h = nullptr;
	CHECK(cudaMallocHost((void **)&h, n * sizeof(int)));
	cudaPointerAttributes attr;
	CHECK(cudaPointerGetAttributes(&attr, h + 5));
	EXPECT(attr.type == cudaMemoryTypeHost && attr.hostPointer == h + 5 && attr.devicePointer == h + 5,
	       "pinned pointer typed %d, host %p, device %p (pointer %p)", (int)attr.type, attr.hostPointer,
	       attr.devicePointer, (void *)(h + 5));
	for (int i = 0; i < n; i++)
		h[i] = 7 - i;
	scale_add<<<n / 256, 256>>>(h, n, -2);
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == (7 - i) * -2 + i, "pinned element %d is %d", i, h[i]);
	printf("pinned memory: %d values written by a kernel through the program's pointer\n", n);

	/* input read from host memory by the kernel, output in device memory */
	const int blocks = 64, per = n / blocks;
	long long *dsum = nullptr, sums[64], want[64] = { 0 };
	CHECK(cudaMalloc(&dsum, sizeof(sums)));
	for (int i = 0; i < n; i++) {
		h[i] = (i * 37) % 1001 - 500;
		want[i / per] += h[i];
	}
	block_sums<<<blocks, 256>>>(h, dsum, per);
	CHECK(cudaMemcpy(sums, dsum, sizeof(sums), cudaMemcpyDeviceToHost));
	for (int b = 0; b < blocks; b++)
		EXPECT(sums[b] == want[b], "block %d summed %lld, expected %lld", b, sums[b], want[b]);
	printf("zero-copy input: %d block sums verified\n", blocks);

	/* the host watches a running kernel through mapped memory, and answers it */
	int *flag = nullptr, *seen = nullptr;
	CHECK(cudaHostAlloc((void **)&flag, sizeof(int), cudaHostAllocMapped));
	CHECK(cudaMalloc(&seen, sizeof(int)));
	*(volatile int *)flag = 0;
	handshake<<<1, 1>>>(flag, seen);
	CHECK(cudaGetLastError());
	auto t0 = std::chrono::steady_clock::now();
	auto late = [&t0] { return std::chrono::steady_clock::now() - t0 > std::chrono::seconds(60); };
	while (*(volatile int *)flag != 1 && !late())
		;
	EXPECT(*(volatile int *)flag == 1, "the kernel never said it started (flag %d)", *(volatile int *)flag);
	*(volatile int *)flag = 2;
	while (*(volatile int *)flag != 3 && !late())
		;
	CHECK(cudaDeviceSynchronize());
	int s = 0;
	CHECK(cudaMemcpy(&s, seen, sizeof(s), cudaMemcpyDeviceToHost));
	EXPECT(*(volatile int *)flag == 3 && s == 2, "handshake ended with flag %d, the kernel saw %d",
	       *(volatile int *)flag, s);
	printf("handshake: the host and a running kernel talked through mapped memory\n");

	CHECK(cudaFreeHost(m));
	CHECK(cudaFreeHost(h));
	CHECK(cudaFreeHost(flag));
	CHECK(cudaFree(dsum));
	CHECK(cudaFree(seen));
	return 0;
}
