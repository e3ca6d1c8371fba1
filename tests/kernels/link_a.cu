// SPDX-License-Identifier: MIT
// Half of a relocatable (-rdc=true) program for the JIT linker test: the kernel calls a
// function and reads a variable that only link_b.cu defines, so its PTX loads only once the
// linker has joined the two.
extern __device__ int link_combine(int a, int b);
extern __device__ int link_scale;

extern "C" __global__ void link_kernel(int *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = link_combine(i, 7) + link_scale;
}
