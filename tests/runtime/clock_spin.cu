// SPDX-License-Identifier: MIT
// clock_spin — kernels that wait by reading the clock, as the CUDA samples' clock_block
// (concurrentKernels, simpleHyperQ) and timing code do: each spins until clock64() has
// advanced a given number of cycles, another until clock() (32 bits) has, on four streams
// at once, then reports what it read. The clock must advance while a kernel runs (before,
// on the simulator, it read one value per call and such a kernel never ended). Checked on
// the host: every wait lasted at least what was asked, and the clock never ran backwards.
#include <vector>
#include "rt.h"

enum { STREAMS = 4, THREADS = 32 };

__global__ void clock_block(long long *out, long long cycles)
{
	long long start = clock64(), now = start, prev = start, back = 0;
	while (now - start < cycles) {
		now = clock64();
		back |= now < prev;
		prev = now;
	}
	out[threadIdx.x * 2] = now - start;
	out[threadIdx.x * 2 + 1] = back;
}

__global__ void clock32_block(unsigned *out, unsigned cycles)
{
	unsigned start = (unsigned)clock(), now = start;
	while (now - start < cycles)   /* unsigned: right across the wrap of the 32-bit clock */
		now = (unsigned)clock();
	out[threadIdx.x] = now - start;
}

int main()
{
	int rate_khz = 0;
	CHECK(cudaDeviceGetAttribute(&rate_khz, cudaDevAttrClockRate, 0));
	/* 2 ms of the device's cycles per kernel (its clock rate is in kHz) */
	long long cycles = (long long)rate_khz * 2;
	EXPECT(cycles > 0, "clock rate %d kHz", rate_khz);
	cudaStream_t s[STREAMS];
	long long *d64[STREAMS];
	unsigned *d32[STREAMS];
	for (int i = 0; i < STREAMS; i++) {
		CHECK(cudaStreamCreate(&s[i]));
		CHECK(cudaMalloc(&d64[i], THREADS * 2 * sizeof(long long)));
		CHECK(cudaMalloc(&d32[i], THREADS * sizeof(unsigned)));
	}
	cudaEvent_t t0, t1;
	CHECK(cudaEventCreate(&t0));
	CHECK(cudaEventCreate(&t1));
	CHECK(cudaEventRecord(t0, 0));
	for (int i = 0; i < STREAMS; i++) {
		clock_block<<<1, THREADS, 0, s[i]>>>(d64[i], cycles);
		CHECK(cudaGetLastError());
		clock32_block<<<1, THREADS, 0, s[i]>>>(d32[i], (unsigned)cycles);
		CHECK(cudaGetLastError());
	}
	for (int i = 0; i < STREAMS; i++)
		CHECK(cudaStreamSynchronize(s[i]));
	CHECK(cudaEventRecord(t1, 0));
	CHECK(cudaEventSynchronize(t1));
	float ms = 0;
	CHECK(cudaEventElapsedTime(&ms, t0, t1));
	for (int i = 0; i < STREAMS; i++) {
		std::vector<long long> h64(THREADS * 2);
		std::vector<unsigned> h32(THREADS);
		CHECK(cudaMemcpy(h64.data(), d64[i], h64.size() * sizeof(long long), cudaMemcpyDeviceToHost));
		CHECK(cudaMemcpy(h32.data(), d32[i], h32.size() * sizeof(unsigned), cudaMemcpyDeviceToHost));
		for (int t = 0; t < THREADS; t++) {
			EXPECT(h64[t * 2] >= cycles, "stream %d thread %d waited %lld of %lld cycles", i, t, h64[t * 2], cycles);
			EXPECT(h64[t * 2 + 1] == 0, "stream %d thread %d: clock64 ran backwards", i, t);
			EXPECT(h32[t] >= (unsigned)cycles, "stream %d thread %d waited %u of %lld cycles (clock)", i, t,
			       h32[t], cycles);
		}
		CHECK(cudaFree(d64[i]));
		CHECK(cudaFree(d32[i]));
		CHECK(cudaStreamDestroy(s[i]));
	}
	printf("clock waits: %d streams x 2 kernels x %d threads, each at least %lld cycles (%d kHz)\n", STREAMS,
	       THREADS, cycles, rate_khz);
	EXPECT(ms > 0, "elapsed %g ms", ms);
	CHECK(cudaEventDestroy(t0));
	CHECK(cudaEventDestroy(t1));
	printf("PASS\n");
	return 0;
}
