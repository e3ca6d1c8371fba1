// SPDX-License-Identifier: MIT
// A kernel that uses a warp-level instruction (match.any) outside the simulator's set, so
// module loading must fail with CUDA_ERROR_INVALID_PTX naming the instruction.
extern "C" __global__ void uses_match(const int *in, unsigned *out)
{
    int t = threadIdx.x;
    out[t] = __match_any_sync(0xffffffffu, in[t]);
}
