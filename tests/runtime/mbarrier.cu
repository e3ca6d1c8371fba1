// SPDX-License-Identifier: MIT
// mbarrier — block-scoped cuda::barrier from libcu++ (on sm_80 and later an mbarrier object in
// shared memory): cuda::memcpy_async completing on a barrier (cp.async's arrival), phases in a
// loop with arrive_and_wait, an arrival token waited for after other work, and threads leaving
// with arrive_and_drop while the rest go on; and a two-stage cuda::pipeline streaming tiles
// through shared memory (as the CUDA samples' globalToShmemAsyncCopy does); every result
// checked on the host.
#include "rt.h"

#include <cooperative_groups.h>
#include <cuda/barrier>
#include <cuda/pipeline>

namespace cg = cooperative_groups;
using block_barrier = cuda::barrier<cuda::thread_scope_block>;

enum { T = 128, PHASES = 10 };

__global__ void phases(const int *in, int *out, int *dropped_out)
{
	__shared__ block_barrier bar;
	__shared__ int sm[T];
	auto block = cg::this_thread_block();
	unsigned t = block.thread_rank();
	if (t == 0)
		init(&bar, block.size());
	block.sync();

	/* 1. the input arrives by cp.async, complete when the barrier's phase does */
	cuda::memcpy_async(block, sm, in, sizeof(int) * T, bar);
	bar.arrive_and_wait();
	int acc = sm[(t + 1) % T];
	bar.arrive_and_wait();   /* everyone read before anyone writes */

	/* 2. phases: write, wait, read a neighbour, wait */
	for (int p = 1; p <= PHASES; p++) {
		sm[t] = p * (int)t;
		bar.arrive_and_wait();
		acc += sm[(t + p) % T];
		auto token = bar.arrive();   /* other work before waiting */
		acc += 1;
		bar.wait(std::move(token));
	}
	out[t] = acc;

	/* 3. the upper half leaves; the lower half goes on through 3 more phases alone */
	bar.arrive_and_wait();
	if (t >= T / 2) {
		(void)bar.arrive_and_drop();
		return;
	}
	int d = 0;
	for (int p = 0; p < 3; p++) {
		sm[t] = (int)t + p;
		bar.arrive_and_wait();
		d += sm[(t + 1) % (T / 2)];
		bar.arrive_and_wait();
	}
	dropped_out[t] = d;
}

/* a block sums column t of n/T rows, each row staged through a 2-stage pipeline */
__global__ void pipelined(const int *in, int *out, int n)
{
	constexpr int stages = 2;
	__shared__ int sm[stages][T];
	__shared__ cuda::pipeline_shared_state<cuda::thread_scope_block, stages> state;
	auto block = cg::this_thread_block();
	auto pipe = cuda::make_pipeline(block, &state);
	int acc = 0;
	for (int base = 0, fetch = 0; base < n; base += T) {
		for (; fetch < n && fetch < base + stages * T; fetch += T) {
			pipe.producer_acquire();
			cuda::memcpy_async(block, sm[(fetch / T) % stages], in + fetch, sizeof(int) * T, pipe);
			pipe.producer_commit();
		}
		pipe.consumer_wait();
		acc += sm[(base / T) % stages][threadIdx.x];
		pipe.consumer_release();
	}
	out[threadIdx.x] = acc;
}

int main()
{
	int h_in[T], h_out[T], h_dr[T / 2], want[T], want_dr[T / 2];
	for (int i = 0; i < T; i++)
		h_in[i] = 1000 + 7 * i;
	for (int t = 0; t < T; t++) {
		int acc = h_in[(t + 1) % T];
		for (int p = 1; p <= PHASES; p++)
			acc += p * ((t + p) % T) + 1;
		want[t] = acc;
	}
	for (int t = 0; t < T / 2; t++) {
		int d = 0;
		for (int p = 0; p < 3; p++)
			d += (t + 1) % (T / 2) + p;
		want_dr[t] = d;
	}
	int *d_in, *d_out, *d_dr;
	CHECK(cudaMalloc(&d_in, sizeof(h_in)));
	CHECK(cudaMalloc(&d_out, sizeof(h_out)));
	CHECK(cudaMalloc(&d_dr, sizeof(h_dr)));
	CHECK(cudaMemcpy(d_in, h_in, sizeof(h_in), cudaMemcpyHostToDevice));
	phases<<<4, T>>>(d_in, d_out, d_dr);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaMemcpy(h_out, d_out, sizeof(h_out), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(h_dr, d_dr, sizeof(h_dr), cudaMemcpyDeviceToHost));
	VERIFY(h_out, want, T, 0, "memcpy_async on a barrier, then 10 phases with split arrive and wait");
	VERIFY(h_dr, want_dr, T / 2, 0, "3 phases after half the block dropped out");
	CHECK(cudaFree(d_in));
	CHECK(cudaFree(d_out));
	CHECK(cudaFree(d_dr));

	enum { ROWS = 24 };
	int *rows = (int *)malloc(ROWS * T * sizeof(int)), h_sum[T], want_sum[T];
	for (int i = 0; i < ROWS * T; i++)
		rows[i] = (i * 37) % 101 - 50;
	for (int t = 0; t < T; t++) {
		want_sum[t] = 0;
		for (int r = 0; r < ROWS; r++)
			want_sum[t] += rows[r * T + t];
	}
	int *d_rows, *d_sum;
	CHECK(cudaMalloc(&d_rows, ROWS * T * sizeof(int)));
	CHECK(cudaMalloc(&d_sum, sizeof(h_sum)));
	CHECK(cudaMemcpy(d_rows, rows, ROWS * T * sizeof(int), cudaMemcpyHostToDevice));
	pipelined<<<1, T>>>(d_rows, d_sum, ROWS * T);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(h_sum, d_sum, sizeof(h_sum), cudaMemcpyDeviceToHost));
	VERIFY(h_sum, want_sum, T, 0, "24 rows through a 2-stage cuda::pipeline");
	CHECK(cudaFree(d_rows));
	CHECK(cudaFree(d_sum));
	free(rows);
	printf("PASS mbarrier\n");
	return 0;
}
