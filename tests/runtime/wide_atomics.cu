// SPDX-License-Identifier: MIT
// wide_atomics — Hopper's atomics wider than a register (built for sm_90): atomicAdd of float2
// and float4 (one vector atomic instruction, each element atomic on its own), 128-bit
// atomicExch and atomicCAS, as lock-free code keeps a counter and a tag, or a pointer and a
// version, in one word. (cuda::atomic_ref of unsigned __int128 is left out: CUDA 13.0's
// libcu++ writes its 16-byte load and store in inline assembly with the operands reversed,
// which ptxas refuses for the load and which stores an unset register.) Many threads contend on each; every total is exact and checked on
// the host, and a 128-bit compare-and-swap loop that lost updates would miss its counts.
#include <vector>
#include "rt.h"

enum { THREADS = 256, BLOCKS = 8, N = THREADS * BLOCKS };

struct Out {
	float2 f2;
	float4 f4;
	unsigned __int128 exch;      /* the last value exchanged in */
	unsigned __int128 pair;      /* high half: updates made; low half: sum of the values added */
	unsigned __int128 seen[N];   /* what each thread's atomicExch returned */
};

__global__ void wide(Out *o)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	atomicAdd(&o->f2, make_float2(1.0f, (float)(i % 4)));
	atomicAdd(&o->f4, make_float4(1.0f, 2.0f, (float)(i & 1), 0.5f));
	/* every value exchanged in has both halves equal: a torn exchange would show */
	unsigned long long tag = 1000u + (unsigned)i;
	unsigned __int128 mine = (unsigned __int128)tag << 64 | tag;
	o->seen[i] = atomicExch(&o->exch, mine);
	/* a 128-bit counter and sum updated together by compare-and-swap */
	unsigned __int128 old = o->pair, assumed;
	do {
		assumed = old;
		unsigned __int128 next = ((assumed >> 64) + 1) << 64 | (unsigned long long)((unsigned long long)assumed + i);
		old = atomicCAS(&o->pair, assumed, next);
	} while (old != assumed);
}

int main()
{
	Out *d, *h = new Out;
	CHECK(cudaMalloc(&d, sizeof(Out)));
	CHECK(cudaMemset(d, 0, sizeof(Out)));
	wide<<<BLOCKS, THREADS>>>(d);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(h, d, sizeof(Out), cudaMemcpyDeviceToHost));
	float f2y = 0;
	for (int i = 0; i < N; i++)
		f2y += (float)(i % 4);
	EXPECT(h->f2.x == N && h->f2.y == f2y, "float2 sums %g %g, expected %d %g", h->f2.x, h->f2.y, N, f2y);
	EXPECT(h->f4.x == N && h->f4.y == 2.0f * N && h->f4.z == N / 2 && h->f4.w == 0.5f * N,
	       "float4 sums %g %g %g %g", h->f4.x, h->f4.y, h->f4.z, h->f4.w);
	printf("atomicAdd float2/float4: %d threads each, sums exact\n", N);
	/* the exchanges form one chain: every value but one was returned exactly once, the
	 * first returned the initial zero, and the last one stayed */
	std::vector<int> returned(N, 0);
	int zeros = 0;
	for (int i = 0; i < N; i++) {
		unsigned long long hi = (unsigned long long)(h->seen[i] >> 64), lo = (unsigned long long)h->seen[i];
		EXPECT(hi == lo, "thread %d's exchange returned a torn value %llx:%llx", i, hi, lo);
		if (!hi) {
			zeros++;
			continue;
		}
		EXPECT(hi >= 1000 && hi < 1000u + N && !returned[hi - 1000]++, "value %llu returned twice or unknown", hi);
	}
	unsigned long long last = (unsigned long long)(h->exch >> 64);
	EXPECT(zeros == 1 && last >= 1000 && last < 1000u + N && !returned[last - 1000] &&
	       (unsigned long long)h->exch == last, "exchange chain: %d zeros, last %llu", zeros, last);
	printf("atomicExch 128-bit: a chain of %d exchanges, none torn\n", N);
	unsigned long long count = (unsigned long long)(h->pair >> 64), sum = (unsigned long long)h->pair;
	EXPECT(count == N && sum == (unsigned long long)N * (N - 1) / 2, "atomicCAS 128-bit: %llu updates, sum %llu",
	       count, sum);
	printf("atomicCAS 128-bit: %llu updates, sum %llu\n", count, sum);
	CHECK(cudaFree(d));
	delete h;
	printf("PASS\n");
	return 0;
}
