/* SPDX-License-Identifier: MIT */
/* curand_kernel.cu — cuRAND's device API in a program's own kernels: XORWOW and Philox states, uniform and normal draws, a Monte Carlo estimate. */
#include <cmath>
#include <curand_kernel.h>
#include <vector>

#include "rt.h"

/*
 * Monte Carlo code draws its random numbers in its kernels with curand_kernel.h: each thread
 * initialises its own state (curand_init: the XORWOW generator, skipping ahead by its
 * subsequence with the header's precomputed matrices) and draws from it. Results are
 * checked statistically (means, bounds, pi within its error) and printed in full precision
 * for a few draws, so the run through vgpu must match the direct one bit for bit.
 */

constexpr int THREADS = 128, BLOCKS = 16, N = THREADS * BLOCKS, DRAWS = 64;

__global__ void draw_xorwow(unsigned long long seed, float *uni, float *nrm, unsigned *hits)
{
	int id = blockIdx.x * blockDim.x + threadIdx.x;
	curandState st;
	curand_init(seed, id, 0, &st);
	unsigned in = 0;
	for (int i = 0; i < DRAWS; i++) {
		float x = curand_uniform(&st), y = curand_uniform(&st);
		if (i == 0)
			uni[id] = x;
		in += x * x + y * y <= 1.0f;
	}
	nrm[id] = curand_normal(&st);
	hits[id] = in;
}

__global__ void draw_philox(unsigned long long seed, float4 *out)
{
	int id = blockIdx.x * blockDim.x + threadIdx.x;
	curandStatePhilox4_32_10_t st;
	curand_init(seed, id, 0, &st);
	out[id] = curand_uniform4(&st);
}

int main()
{
	float *uni, *nrm;
	unsigned *hits;
	float4 *ph;
	CHECK(cudaMalloc(&uni, N * sizeof(float)));
	CHECK(cudaMalloc(&nrm, N * sizeof(float)));
	CHECK(cudaMalloc(&hits, N * sizeof(unsigned)));
	CHECK(cudaMalloc(&ph, N * sizeof(float4)));
	draw_xorwow<<<BLOCKS, THREADS>>>(1234ull, uni, nrm, hits);
	draw_philox<<<BLOCKS, THREADS>>>(99ull, ph);
	CHECK(cudaDeviceSynchronize());
	std::vector<float> u(N), g(N);
	std::vector<unsigned> h(N);
	std::vector<float4> p(N);
	CHECK(cudaMemcpy(u.data(), uni, N * sizeof(float), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(g.data(), nrm, N * sizeof(float), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(h.data(), hits, N * sizeof(unsigned), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(p.data(), ph, N * sizeof(float4), cudaMemcpyDeviceToHost));

	double su = 0, sg = 0, sg2 = 0, sp = 0;
	unsigned long long in = 0;
	for (int i = 0; i < N; i++) {
		EXPECT(u[i] > 0.0f && u[i] <= 1.0f, "uniform draw %d is %g", i, u[i]);
		su += u[i];
		sg += g[i];
		sg2 += (double)g[i] * g[i];
		in += h[i];
		const float q[4] = { p[i].x, p[i].y, p[i].z, p[i].w };
		for (float v : q) {
			EXPECT(v > 0.0f && v <= 1.0f, "Philox draw %d is %g", i, v);
			sp += v;
		}
	}
	double mu = su / N, mg = sg / N, vg = sg2 / N - mg * mg, mp = sp / (4.0 * N);
	double pi = 4.0 * (double)in / ((double)N * DRAWS), se = 4.0 * std::sqrt(0.25 * M_PI * (1 - 0.25 * M_PI) / ((double)N * DRAWS));
	EXPECT(std::fabs(mu - 0.5) < 0.03, "mean of the first uniform draws %g", mu);
	EXPECT(std::fabs(mp - 0.5) < 0.02, "mean of the Philox draws %g", mp);
	EXPECT(std::fabs(mg) < 0.1 && std::fabs(vg - 1.0) < 0.15, "normal draws: mean %g, variance %g", mg, vg);
	EXPECT(std::fabs(pi - M_PI) < 5 * se, "pi estimated as %g (standard error %g)", pi, se);
	printf("curand: %d XORWOW and %d Philox states; pi ~ %.4f from %d draws\n", N, N, pi, N * DRAWS);
	printf("first draws: %.9g %.9g %.9g, normal %.9g, Philox %.9g %.9g\n", u[0], u[1], u[N - 1], g[0], p[0].x, p[N - 1].w);
	CHECK(cudaFree(uni));
	CHECK(cudaFree(nrm));
	CHECK(cudaFree(hits));
	CHECK(cudaFree(ph));
	return 0;
}
