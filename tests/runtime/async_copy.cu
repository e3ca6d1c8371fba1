// SPDX-License-Identifier: MIT
// async_copy — sm_80's asynchronous copies from global into shared memory, built with
// -arch=sm_80 as programs for Ampere and later are: the pipeline primitives with 4-, 8- and
// 16-byte copies and a zero-filled tail, cooperative groups' block-wide memcpy_async, and a
// double-buffered loop that waits for all but the newest group. Every result is checked on
// the host.
#include "rt.h"

#include <cooperative_groups.h>
#include <cooperative_groups/memcpy_async.h>
#include <cuda_pipeline.h>

namespace cg = cooperative_groups;

// 4-, 8- and 16-byte copies; the shared tile read back reversed.
__global__ void sizes(const float *in, float *out)
{
	__shared__ __align__(16) float s4[256], s8[512], s16[1024];
	int t = threadIdx.x, base = blockIdx.x * 1024;
	__pipeline_memcpy_async(&s4[t], &in[base + t], 4);
	__pipeline_memcpy_async(&s8[2 * t], &in[base + 2 * t], 8);
	__pipeline_memcpy_async(&s16[4 * t], &in[base + 4 * t], 16);
	__pipeline_commit();
	__pipeline_wait_prior(0);
	__syncthreads();
	out[base + t] = s4[255 - t] + s8[511 - t] + s16[1023 - t];
}

// 16-byte copies of which only the first 8 bytes come from memory, the rest zeros.
__global__ void zero_fill(const float *in, float *out)
{
	__shared__ __align__(16) float s[1024];
	int t = threadIdx.x;
	__pipeline_memcpy_async(&s[4 * t], &in[4 * t], 16, 8);
	__pipeline_commit();
	__pipeline_wait_prior(0);
	__syncthreads();
	for (int k = 0; k < 4; k++)
		out[4 * t + k] = s[4 * t + k];
}

// A whole tile by the block at once.
__global__ void block_copy(const float *in, float *out)
{
	__shared__ float s[256];
	auto block = cg::this_thread_block();
	cg::memcpy_async(block, s, in + blockIdx.x * 256, sizeof(float) * 256);
	cg::wait(block);
	out[blockIdx.x * 256 + threadIdx.x] = s[(threadIdx.x + 1) % 256] * 3.0f;
}

// Double buffering: tile k + 1 in flight while tile k is summed.
__global__ void double_buffer(const float *in, float *out, int tiles)
{
	__shared__ __align__(16) float s[2][256];
	int t = threadIdx.x;
	float acc = 0;
	__pipeline_memcpy_async(&s[0][t], &in[t], 4);
	__pipeline_commit();
	for (int k = 0; k < tiles; k++) {
		if (k + 1 < tiles)
			__pipeline_memcpy_async(&s[(k + 1) & 1][t], &in[(k + 1) * 256 + t], 4);
		__pipeline_commit();
		__pipeline_wait_prior(1);
		__syncthreads();
		acc += s[k & 1][(t + k) % 256];
		__syncthreads();
	}
	out[t] = acc;
}

int main()
{
	const int n = 4096;
	float *in, *out;
	CHECK(cudaMallocManaged(&in, n * sizeof(float)));
	CHECK(cudaMallocManaged(&out, n * sizeof(float)));
	for (int i = 0; i < n; i++)
		in[i] = (float)(i % 251) - 100.0f;
	float want[n];

	sizes<<<n / 1024, 256>>>(in, out);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int b = 0; b < n / 1024; b++)
		for (int t = 0; t < 256; t++)
			want[b * 256 + t] = in[b * 1024 + 255 - t] + in[b * 1024 + 511 - t] + in[b * 1024 + 1023 - t];
	float got[n];
	for (int b = 0; b < n / 1024; b++)
		for (int t = 0; t < 256; t++)
			got[b * 256 + t] = out[b * 1024 + t];
	VERIFY(got, want, n / 4, 0, "4-, 8- and 16-byte copies");

	zero_fill<<<1, 256>>>(in, out);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < 1024; i++)
		want[i] = i % 4 < 2 ? in[i] : 0.0f;
	VERIFY(out, want, 1024, 0, "16-byte copies with the last 8 bytes zero-filled");

	block_copy<<<n / 256, 256>>>(in, out);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++)
		want[i] = in[(i / 256) * 256 + (i % 256 + 1) % 256] * 3.0f;
	VERIFY(out, want, n, 0, "a block-wide memcpy_async");

	const int tiles = n / 256;
	double_buffer<<<1, 256>>>(in, out, tiles);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	for (int t = 0; t < 256; t++) {
		float acc = 0;
		for (int k = 0; k < tiles; k++)
			acc += in[k * 256 + (t + k) % 256];
		want[t] = acc;
	}
	VERIFY(out, want, 256, 0, "a double-buffered loop");

	CHECK(cudaFree(in));
	CHECK(cudaFree(out));
	printf("async_copy: all verified\n");
	return 0;
}
