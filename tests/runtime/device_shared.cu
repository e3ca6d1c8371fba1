// SPDX-License-Identifier: MIT
// device_shared — static __shared__ arrays declared in device functions (block reductions and
// staging buffers written as helpers, a common pattern): each kernel gets the shared memory of
// the helpers it calls and not of the others, as a GPU lays out each kernel alone. Three
// helpers of 20 KiB each would take 60 KiB together, past the 48 KiB a kernel has without
// opting in; kernels calling one each must launch. A helper calling another keeps both
// buffers live at once, and a reduction helper is called from several kernels. Every result
// is checked on the host, and each kernel's reported static shared memory is at least what it
// calls and less than the helpers it does not call.
#include <vector>
#include "rt.h"

enum { T = 256, BIG = 5120 };   /* floats: 20 KiB each */

__device__ __noinline__ float block_sum(float v)
{
	__shared__ float part[T / 32];
	for (int o = 16; o; o >>= 1)
		v += __shfl_down_sync(0xffffffffu, v, o);
	if (threadIdx.x % 32 == 0)
		part[threadIdx.x / 32] = v;
	__syncthreads();
	float s = 0;
	for (int i = 0; i < T / 32; i++)
		s += part[i];
	__syncthreads();
	return s;
}

/* each stages data through its own 20 KiB and returns a value read from another thread's */
__device__ __noinline__ float stage_a(float v)
{
	__shared__ float a[BIG];
	for (int i = threadIdx.x; i < BIG; i += T)
		a[i] = v + i;
	__syncthreads();
	float r = a[(threadIdx.x * 7 + 3) % BIG];
	__syncthreads();
	return r;
}

__device__ __noinline__ float stage_b(float v)
{
	__shared__ float b[BIG];
	for (int i = threadIdx.x; i < BIG; i += T)
		b[i] = v * 2 + i;
	__syncthreads();
	float r = b[(threadIdx.x * 11 + 5) % BIG];
	__syncthreads();
	return r;
}

/* holds its own buffer across a call of stage_b: both must be live at once */
__device__ __noinline__ float stage_c(float v)
{
	__shared__ float c[BIG];
	for (int i = threadIdx.x; i < BIG; i += T)
		c[i] = v - i;
	__syncthreads();
	float inner = stage_b(v);
	float r = c[(threadIdx.x * 13 + 1) % BIG] + inner;
	__syncthreads();
	return r;
}

__global__ void use_a(float *out) { out[blockIdx.x * T + threadIdx.x] = block_sum(stage_a((float)blockIdx.x)); }
__global__ void use_b(float *out) { out[blockIdx.x * T + threadIdx.x] = block_sum(stage_b((float)blockIdx.x)); }
__global__ void use_c(float *out) { out[blockIdx.x * T + threadIdx.x] = block_sum(stage_c((float)blockIdx.x)); }
__global__ void only_sum(float *out) { out[blockIdx.x * T + threadIdx.x] = block_sum((float)threadIdx.x); }

static float ref_a(float v, int t) { return v + (float)((t * 7 + 3) % BIG); }
static float ref_b(float v, int t) { return v * 2 + (float)((t * 11 + 5) % BIG); }
static float ref_c(float v, int t) { return v - (float)((t * 13 + 1) % BIG) + ref_b(v, t); }

int main()
{
	const int blocks = 3;
	float *d;
	std::vector<float> out(blocks * T);
	CHECK(cudaMalloc(&d, out.size() * sizeof(float)));
	void (*kernels[])(float *) = { use_a, use_b, use_c, only_sum };
	const char *names[] = { "use_a", "use_b", "use_c", "only_sum" };
	/* static shared memory each needs: the helpers it calls (20 KiB each, the sum's 32 bytes) */
	const size_t need[] = { BIG * 4 + 32, BIG * 4 + 32, 2 * BIG * 4 + 32, 32 };
	for (int k = 0; k < 4; k++) {
		cudaFuncAttributes at;
		CHECK(cudaFuncGetAttributes(&at, kernels[k]));
		/* at least what it calls; less than that plus a helper it does not call */
		EXPECT(at.sharedSizeBytes >= need[k] && at.sharedSizeBytes < need[k] + BIG * 4,
		       "%s: %zu bytes of static shared memory for %zu needed", names[k], at.sharedSizeBytes, need[k]);
		printf("%s: %zu bytes of static shared memory\n", names[k], at.sharedSizeBytes);
		kernels[k]<<<blocks, T>>>(d);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(out.data(), d, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
		for (int b = 0; b < blocks; b++) {
			double want = 0;
			for (int t = 0; t < T; t++)
				want += k == 0 ? ref_a((float)b, t) : k == 1 ? ref_b((float)b, t) : k == 2 ? ref_c((float)b, t) : t;
			for (int t = 0; t < T; t++)
				EXPECT(out[b * T + t] == (float)want, "%s block %d thread %d: %g, expected %g", names[k], b, t,
				       out[b * T + t], want);
		}
	}
	printf("helpers' shared memory: 4 kernels x %d blocks verified\n", blocks);
	CHECK(cudaFree(d));
	printf("PASS\n");
	return 0;
}
