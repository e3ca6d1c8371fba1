// SPDX-License-Identifier: MIT
// cg_partitions — cooperative groups' data-dependent groups inside a warp, as the CUDA samples
// use them (warpAggregatedAtomicsCG, binaryPartitionCG): coalesced_threads() in a branch
// (warp-aggregated atomics: one atomic per group of lanes that took the branch),
// labeled_partition() by a value's class with a reduction and an exclusive scan in each
// class, binary_partition() by a predicate, and cooperative groups' memcpy_async into shared
// memory. The lanes of one warp diverge into groups that each run their own collectives
// while the others are elsewhere. Everything is checked on the host.
#include <cooperative_groups.h>
#include <cooperative_groups/memcpy_async.h>
#include <cooperative_groups/reduce.h>
#include <cooperative_groups/scan.h>
#include <vector>
#include "rt.h"

namespace cg = cooperative_groups;

enum { THREADS = 256, BLOCKS = 3, CLASSES = 5 };

/* out: [0] odd values counted by warp-aggregated atomics; [1..CLASSES] each class's sum;
 * [CLASSES+1..+2] sizes of the two binary partitions summed over warps; then per thread
 * the exclusive scan of its value within its class in its warp, its class group's size,
 * and the value of the next thread of the block read from shared memory after memcpy_async */
__global__ void partitions(const int *in, int *out)
{
	cg::thread_block block = cg::this_thread_block();
	cg::thread_block_tile<32> warp = cg::tiled_partition<32>(block);
	const int i = blockIdx.x * blockDim.x + threadIdx.x;
	const int v = in[i];
	if (v & 1) {
		cg::coalesced_group odd = cg::coalesced_threads();
		if (odd.thread_rank() == 0)
			atomicAdd(&out[0], (int)odd.size());
	}
	cg::coalesced_group cls = cg::labeled_partition(warp, v % CLASSES);
	int sum = cg::reduce(cls, v, cg::plus<int>());
	if (cls.thread_rank() == 0)
		atomicAdd(&out[1 + v % CLASSES], sum);
	int *mine = out + 3 + CLASSES + i * 3;
	mine[0] = cg::exclusive_scan(cls, v);
	mine[1] = (int)cls.size();
	cg::coalesced_group big = cg::binary_partition(warp, v > 50);
	if (big.thread_rank() == 0)
		atomicAdd(&out[1 + CLASSES + (v > 50)], (int)big.size());
	__shared__ int sh[THREADS];
	cg::memcpy_async(block, sh, in + blockIdx.x * blockDim.x, sizeof(int) * blockDim.x);
	cg::wait(block);
	mine[2] = sh[(threadIdx.x + 1) % blockDim.x];
}

int main()
{
	const int n = THREADS * BLOCKS, head = 3 + CLASSES;
	std::vector<int> in(n), out(head + n * 3), want(head + n * 3, 0);
	for (int i = 0; i < n; i++)
		in[i] = (int)((i * 2654435761u) >> 25) % 101;
	int *din, *dout;
	CHECK(cudaMalloc(&din, n * sizeof(int)));
	CHECK(cudaMalloc(&dout, out.size() * sizeof(int)));
	CHECK(cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
	CHECK(cudaMemset(dout, 0, out.size() * sizeof(int)));
	partitions<<<BLOCKS, THREADS>>>(din, dout);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaMemcpy(out.data(), dout, out.size() * sizeof(int), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++) {
		const int v = in[i], w0 = i - i % 32;
		want[0] += v & 1;
		want[1 + v % CLASSES] += v;
		want[1 + CLASSES + (v > 50)]++;
		int scan = 0, size = 0;
		for (int j = w0; j < w0 + 32; j++)
			if (in[j] % CLASSES == v % CLASSES) {
				size++;
				if (j < i)
					scan += in[j];
			}
		int *m = &want[head + i * 3];
		m[0] = scan;
		m[1] = size;
		m[2] = in[i - i % THREADS + (i % THREADS + 1) % THREADS];
	}
	VERIFY(out.data(), want.data(), (size_t)head, 0, "warp-aggregated counts, class sums, partition sizes");
	VERIFY(out.data() + head, want.data() + head, (size_t)n * 3, 0,
	       "per-thread class scans, class sizes, memcpy_async copies");
	CHECK(cudaFree(din));
	CHECK(cudaFree(dout));
	printf("cg_partitions: all verified\n");
	return 0;
}
