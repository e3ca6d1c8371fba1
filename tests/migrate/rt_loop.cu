// SPDX-License-Identifier: MIT
// rt_loop — an ordinary CUDA runtime program (nvcc defaults: the runtime linked statically)
// that keeps launching, copying and allocating stream-ordered memory for a while, holding
// 64 MiB, verifying every round; the migration test moves its zone between proxies while
// it runs. A __constant__ set with cudaMemcpyToSymbol every round and a __device__ counter
// the kernel keeps must keep their addresses and contents across the moves. A CUDA graph
// captured once (a kernel and a device copy), instantiated, its graph destroyed, is launched
// every round as the runtime's users do (cudaGraphLaunch).
#include <cstring>
#include <ctime>
#include <unistd.h>
#include "rt.h"

__constant__ float c_scale;
__device__ unsigned d_rounds;

__global__ void axpb(const float *x, float *y, float b, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = c_scale * x[i] + b;
	if (i == 0)
		d_rounds++;
}

__global__ void twice(const float *y, float *t, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		t[i] = 2.0f * y[i];
}

__global__ void fill(unsigned *p, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = (unsigned)(i * 2654435761u) ^ 0xa5a5a5a5u;
}

static double now_s()
{
	timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: rt_loop [SECONDS [--until FILE]]\nLaunches, copies and launches a CUDA graph for SECONDS (default 5) with "
		       "64 MiB held, verifying every round and the held memory at the end; --until FILE goes on past SECONDS "
		       "until FILE exists (at most 600 s more), so that a slow machine cannot end the run before a test is "
		       "done with it.\n");
		return 0;
	}
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	const char *until = argc > 3 && !strcmp(argv[2], "--until") ? argv[3] : NULL;
	const int n = 1 << 16;
	const size_t hold_n = (64u << 20) / sizeof(unsigned);
	float *x = (float *)malloc(n * sizeof(float)), *y = (float *)malloc(n * sizeof(float));
	unsigned *h = (unsigned *)malloc(hold_n * sizeof(unsigned));
	float *dx, *dy;
	unsigned *dhold;
	cudaStream_t s;
	cudaEvent_t ev;
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
	CHECK(cudaMalloc(&dhold, hold_n * sizeof(unsigned)));
	fill<<<(unsigned)((hold_n + 255) / 256), 256, 0, s>>>(dhold, hold_n);
	CHECK(cudaGetLastError());
	CHECK(cudaMalloc(&dx, n * sizeof(float)));
	CHECK(cudaMalloc(&dy, n * sizeof(float)));
	/* z = 2 y through t, captured into a graph once; only its executable graph is kept */
	float *dt2, *dz, *z = (float *)malloc(n * sizeof(float));
	cudaGraph_t graph;
	cudaGraphExec_t gexec;
	CHECK(cudaMalloc(&dt2, n * sizeof(float)));
	CHECK(cudaMalloc(&dz, n * sizeof(float)));
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	twice<<<n / 256, 256, 0, s>>>(dy, dt2, n);
	CHECK(cudaMemcpyAsync(dz, dt2, n * sizeof(float), cudaMemcpyDeviceToDevice, s));
	CHECK(cudaStreamEndCapture(s, &graph));
	CHECK(cudaGraphInstantiate(&gexec, graph, 0));
	CHECK(cudaGraphDestroy(graph));
	double t0 = now_s(), worst = 0;
	int rounds = 0;
	for (;;) {
		double el = now_s() - t0;
		if (el >= seconds && (!until || access(until, F_OK) == 0))
			break;
		if (until && el > seconds + 600) {
			fprintf(stderr, "rt_loop: FAIL: %s did not appear within %g s\n", until, seconds + 600);
			return 1;
		}
		double r0 = now_s();
		for (int i = 0; i < n; i++)
			x[i] = (float)(i % 1000) + rounds;
		float *dt;   /* stream-ordered memory from the device's default pool, each round */
		CHECK(cudaMallocAsync(&dt, n * sizeof(float), s));
		CHECK(cudaMemcpyAsync(dt, x, n * sizeof(float), cudaMemcpyHostToDevice, s));
		CHECK(cudaMemcpyAsync(dx, dt, n * sizeof(float), cudaMemcpyDeviceToDevice, s));
		CHECK(cudaFreeAsync(dt, s));
		float scale = (float)(2 + rounds % 3);
		CHECK(cudaMemcpyToSymbolAsync(c_scale, &scale, sizeof(scale), 0, cudaMemcpyHostToDevice, s));
		axpb<<<n / 256, 256, 0, s>>>(dx, dy, (float)rounds, n);
		CHECK(cudaGetLastError());
		CHECK(cudaEventRecord(ev, s));
		CHECK(cudaEventSynchronize(ev));
		CHECK(cudaMemcpy(y, dy, n * sizeof(float), cudaMemcpyDeviceToHost));
		for (int i = 0; i < n; i++)
			EXPECT(y[i] == scale * x[i] + rounds, "round %d: y[%d] = %g", rounds, i, y[i]);
		CHECK(cudaGraphLaunch(gexec, s));
		CHECK(cudaMemcpyAsync(z, dz, n * sizeof(float), cudaMemcpyDeviceToHost, s));
		CHECK(cudaStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			EXPECT(z[i] == 2.0f * y[i], "round %d: the graph left z[%d] = %g, expected %g", rounds, i, z[i], 2.0f * y[i]);
		rounds++;
		if (now_s() - r0 > worst)
			worst = now_s() - r0;
		usleep(20000);
	}
	/* the event was made without timing, and stays so wherever the zone went */
	float ms;
	EXPECT(cudaEventElapsedTime(&ms, ev, ev) == cudaErrorInvalidResourceHandle, "a timing-less event timed");
	cudaGetLastError();
	unsigned kept = 0;
	CHECK(cudaMemcpyFromSymbol(&kept, d_rounds, sizeof(kept)));
	EXPECT(kept == (unsigned)rounds, "the kernel counted %u rounds in a __device__ global, the program %d", kept, rounds);
	CHECK(cudaMemcpy(h, dhold, hold_n * sizeof(unsigned), cudaMemcpyDeviceToHost));
	for (size_t i = 0; i < hold_n; i++)
		EXPECT(h[i] == ((unsigned)(i * 2654435761u) ^ 0xa5a5a5a5u), "held word %zu changed", i);
	CHECK(cudaGraphExecDestroy(gexec));
	CHECK(cudaFree(dt2));
	CHECK(cudaFree(dz));
	free(z);
	CHECK(cudaFree(dx));
	CHECK(cudaFree(dy));
	CHECK(cudaFree(dhold));
	CHECK(cudaEventDestroy(ev));
	CHECK(cudaStreamDestroy(s));
	free(x);
	free(y);
	free(h);
	printf("rt_loop: %d rounds verified, globals kept, graph launched every round, held memory intact; longest round %.1f ms\n",
	       rounds, worst * 1e3);
	return 0;
}
