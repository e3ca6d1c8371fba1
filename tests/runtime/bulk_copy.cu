// SPDX-License-Identifier: MIT
// bulk_copy — Hopper's bulk asynchronous copies as programs reach them: cuda::memcpy_async of a
// 16-byte-aligned size on a block-scoped cuda::barrier (a cp.async.bulk into shared memory
// whose bytes complete the barrier's phase, with its transaction count), in a loop of phases;
// and, in inline PTX, an mbarrier armed with arrive.expect_tx before its copy, and a bulk copy
// back to global memory in a bulk group; every result checked on the host.
#include "rt.h"

#include <cooperative_groups.h>
#include <cuda/barrier>

namespace cg = cooperative_groups;
using block_barrier = cuda::barrier<cuda::thread_scope_block>;

enum { T = 128, ROUNDS = 6 };

/* each round: T ints of round r into shared memory by one bulk copy, then out[t] += sm[t + 1] */
__global__ void rounds(const int *in, int *out)
{
	__shared__ block_barrier bar;
	__shared__ alignas(16) int sm[T];
	auto block = cg::this_thread_block();
	unsigned t = block.thread_rank();
	if (t == 0)
		init(&bar, block.size());
	block.sync();
	int acc = 0;
	for (int r = 0; r < ROUNDS; r++) {
		cuda::memcpy_async(block, sm, in + r * T, cuda::aligned_size_t<16>(sizeof(int) * T), bar);
		bar.arrive_and_wait();
		acc += sm[(t + 1) % T];
		bar.arrive_and_wait();   /* everyone read before the next copy */
	}
	out[t] = acc;
}

/* (the arrival's state is not needed: the wait below goes by the phase's parity) */
#pragma nv_diag_suppress 550

static __device__ unsigned smem(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }

/* by hand: arm the mbarrier for the bytes (arrive.expect_tx), copy in, wait, double, copy out */
__global__ void by_hand(const int *in, int *out)
{
	__shared__ alignas(8) unsigned long long mbar;
	__shared__ alignas(16) int sm[T];
	unsigned t = threadIdx.x, bytes = sizeof(int) * T;
	if (t == 0)
		asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&mbar)));
	__syncthreads();
	if (t == 0) {
		unsigned long long state;
		asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 %0, [%1], %2;"
			     : "=l"(state) : "r"(smem(&mbar)), "r"(bytes) : "memory");
		asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
			     :: "r"(smem(sm)), "l"(in), "r"(bytes), "r"(smem(&mbar)) : "memory");
	}
	unsigned done = 0;
	while (!done)
		asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\n"
			     "selp.u32 %0, 1, 0, p;\n}" : "=r"(done) : "r"(smem(&mbar)) : "memory");
	sm[t] *= 2;
	asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
	__syncthreads();
	if (t == 0) {
		asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;"
			     :: "l"(out), "r"(smem(sm)), "r"(bytes) : "memory");
		asm volatile("cp.async.bulk.commit_group;" ::: "memory");
		asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
	}
	__syncthreads();
}

int main()
{
	int h_in[ROUNDS * T], h_out[T], want[T];
	for (int i = 0; i < ROUNDS * T; i++)
		h_in[i] = 3 * i - 100;
	for (int t = 0; t < T; t++) {
		want[t] = 0;
		for (int r = 0; r < ROUNDS; r++)
			want[t] += h_in[r * T + (t + 1) % T];
	}
	int *d_in, *d_out;
	CHECK(cudaMalloc(&d_in, sizeof(h_in)));
	CHECK(cudaMalloc(&d_out, sizeof(h_out)));
	CHECK(cudaMemcpy(d_in, h_in, sizeof(h_in), cudaMemcpyHostToDevice));
	rounds<<<2, T>>>(d_in, d_out);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(h_out, d_out, sizeof(h_out), cudaMemcpyDeviceToHost));
	VERIFY(h_out, want, T, 0, "6 rounds of memcpy_async by bulk copy on a barrier");

	by_hand<<<1, T>>>(d_in, d_out);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(h_out, d_out, sizeof(h_out), cudaMemcpyDeviceToHost));
	for (int t = 0; t < T; t++)
		want[t] = 2 * h_in[t];
	VERIFY(h_out, want, T, 0, "a bulk copy in on an armed mbarrier, doubled, and a bulk copy out");
	CHECK(cudaFree(d_in));
	CHECK(cudaFree(d_out));
	printf("PASS bulk_copy\n");
	return 0;
}
