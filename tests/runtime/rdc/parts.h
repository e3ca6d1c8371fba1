// SPDX-License-Identifier: MIT
// What tests/runtime/rdc/parts.cu defines for tests/runtime/separate_compilation.
#ifndef VGPU_TESTS_RDC_PARTS_H
#define VGPU_TESTS_RDC_PARTS_H
extern __device__ int counter;
extern __constant__ float coeff[4];
extern __device__ float scale(float x);
__global__ void fill(float *out, int n, float v);
#endif
