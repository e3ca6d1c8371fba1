// SPDX-License-Identifier: MIT
// dynamic_parallelism — kernels launching kernels (CUDA dynamic parallelism, CDP2: built with
// -rdc=true and linked with the device runtime, as such programs are): each block of a parent
// launches a child grid over its part of the output; a kernel that launches two copies of
// itself down to a depth (a recursion of 31 grids); a launch through the device runtime's
// explicit API (cudaGetParameterBuffer, cudaLaunchDevice) into a stream the kernel created;
// and launches into the named streams cudaStreamTailLaunch and cudaStreamFireAndForget. A
// child grid may start once launched and completes before its parent does; nothing here
// reads what another grid writes before that. Everything is checked on the host.
#include <vector>
#include "rt.h"

__global__ void fill(int *out, int base, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[base + i] = 3 * (base + i) + 1;
}

/* block b fills [b * per, (b + 1) * per) through a child grid of its own */
__global__ void parent(int *out, int per)
{
	if (threadIdx.x == 0) {
		fill<<<(per + 63) / 64, 64>>>(out, blockIdx.x * per, per);
		cudaError_t e = cudaGetLastError();
		if (e != cudaSuccess)
			out[blockIdx.x * per] = -(int)e;
	}
}

/* a grid at depth d < max counts itself and launches two grids of depth d + 1; each records
 * its depth in the slot its path through the tree names */
__global__ void tree(int *count, int *slots, int d, int max, int path)
{
	if (threadIdx.x != 0)
		return;
	atomicAdd(count, 1);
	slots[path] = d;
	if (d < max) {
		tree<<<1, 32>>>(count, slots, d + 1, max, 2 * path + 1);
		tree<<<1, 32>>>(count, slots, d + 1, max, 2 * path + 2);
	}
}

/* the explicit API: a parameter buffer, the arguments written into it, the launch, into a
 * stream this kernel made and then destroys; and the two named streams */
__global__ void explicit_api(int *out, int n, int *err)
{
	if (threadIdx.x != 0 || blockIdx.x != 0)
		return;
	cudaStream_t s;
	cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
	void *buf = cudaGetParameterBuffer(8, sizeof(int *) + 2 * sizeof(int));
	if (e != cudaSuccess || !buf) {
		err[0] = e != cudaSuccess ? (int)e : -1;
		return;
	}
	int *const dst = out;
	memcpy(buf, &dst, sizeof(dst));
	const int base = 0;
	memcpy((char *)buf + 8, &base, sizeof(int));
	memcpy((char *)buf + 12, &n, sizeof(int));
	err[1] = (int)cudaLaunchDevice((void *)fill, buf, dim3((n + 63) / 64), dim3(64), 0, s);
	err[2] = (int)cudaStreamDestroy(s);
	fill<<<1, 64, 0, cudaStreamTailLaunch>>>(out, n, 64);
	fill<<<1, 64, 0, cudaStreamFireAndForget>>>(out, n + 64, 64);
	err[3] = (int)cudaGetLastError();
}

int main()
{
	/* 1. a child grid per block */
	const int blocks = 6, per = 100, n = blocks * per;
	int *dout;
	CHECK(cudaMalloc(&dout, (n + 128) * sizeof(int)));
	CHECK(cudaMemset(dout, 0, (n + 128) * sizeof(int)));
	parent<<<blocks, 32>>>(dout, per);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	std::vector<int> out(n + 128), want(n + 128);
	for (int i = 0; i < n + 128; i++)
		want[i] = 3 * i + 1;
	CHECK(cudaMemcpy(out.data(), dout, n * sizeof(int), cudaMemcpyDeviceToHost));
	VERIFY(out.data(), want.data(), (size_t)n, 0, "child grids launched by each block of a parent");

	/* 2. recursion down to depth 4: 31 grids */
	const int max = 4, nodes = (1 << (max + 1)) - 1;
	int *dcount, *dslots;
	CHECK(cudaMalloc(&dcount, sizeof(int)));
	CHECK(cudaMalloc(&dslots, nodes * sizeof(int)));
	CHECK(cudaMemset(dcount, 0, sizeof(int)));
	CHECK(cudaMemset(dslots, 0xff, nodes * sizeof(int)));
	tree<<<1, 32>>>(dcount, dslots, 0, max, 0);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	int count = 0;
	std::vector<int> slots(nodes), wslots(nodes);
	CHECK(cudaMemcpy(&count, dcount, sizeof(int), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(slots.data(), dslots, nodes * sizeof(int), cudaMemcpyDeviceToHost));
	for (int p = 0; p < nodes; p++) {
		int d = 0;
		for (int q = p; q > 0; q = (q - 1) / 2)
			d++;
		wslots[p] = d;
	}
	EXPECT(count == nodes, "%d grids ran, expected %d", count, nodes);
	VERIFY(slots.data(), wslots.data(), (size_t)nodes, 0, "grids of a recursion, by their depth");

	/* 3. the explicit API and the named streams */
	int *derr;
	CHECK(cudaMalloc(&derr, 4 * sizeof(int)));
	CHECK(cudaMemset(derr, 0xff, 4 * sizeof(int)));
	CHECK(cudaMemset(dout, 0, (n + 128) * sizeof(int)));
	explicit_api<<<1, 32>>>(dout, n, derr);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	int err[4];
	CHECK(cudaMemcpy(err, derr, sizeof(err), cudaMemcpyDeviceToHost));
	EXPECT(err[0] == -1 && err[1] == 0 && err[2] == 0 && err[3] == 0,
	       "device runtime results %d %d %d %d", err[0], err[1], err[2], err[3]);
	CHECK(cudaMemcpy(out.data(), dout, (n + 128) * sizeof(int), cudaMemcpyDeviceToHost));
	VERIFY(out.data(), want.data(), (size_t)n + 128, 0,
	       "grids launched through cudaLaunchDevice into a device-made stream and into the named streams");
	CHECK(cudaFree(dout));
	CHECK(cudaFree(dcount));
	CHECK(cudaFree(dslots));
	CHECK(cudaFree(derr));
	printf("dynamic_parallelism: all verified\n");
	return 0;
}
