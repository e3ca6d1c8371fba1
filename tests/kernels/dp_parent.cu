// SPDX-License-Identifier: MIT
// Dynamic parallelism for the JIT linker test: built as relocatable PTX and linked at run
// time with CUDA's device runtime (libcudadevrt.a, a static library), as PyCUDA's
// DynamicSourceModule and CuPy link kernels that launch kernels.
__global__ void dp_child(int *out, int base)
{
	out[base + threadIdx.x] = 2 * (base + (int)threadIdx.x) + 1;
}

extern "C" __global__ void dp_parent(int *out)
{
	dp_child<<<1, 32>>>(out, 32 * (int)threadIdx.x);
}
