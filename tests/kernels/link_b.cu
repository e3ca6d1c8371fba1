// SPDX-License-Identifier: MIT
// The other half of the JIT linker test's program (see link_a.cu): defines what link_a.cu
// declares extern, and a kernel of its own that makes it loadable alone.
__device__ int link_scale = 3;

__device__ int link_combine(int a, int b)
{
	return a * link_scale + b;
}

extern "C" __global__ void link_b_kernel(int *out)
{
	out[threadIdx.x] = link_combine((int)threadIdx.x, 0);
}
