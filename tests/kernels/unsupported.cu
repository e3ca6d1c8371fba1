// SPDX-License-Identifier: MIT
// A kernel that stops at a debugger breakpoint (brkpt), outside the simulator's set, so module
// loading must fail with CUDA_ERROR_INVALID_PTX naming the instruction and its line.
extern "C" __global__ void uses_brkpt(float *out)
{
    int t = threadIdx.x;
    if (out[t] < 0)
        asm volatile("brkpt;");
    out[t] = 1.0f;
}
