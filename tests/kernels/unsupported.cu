// SPDX-License-Identifier: MIT
// A kernel that reads through a texture object (tex.1d), outside the simulator's set, so
// module loading must fail with CUDA_ERROR_INVALID_PTX naming the instruction and its line.
extern "C" __global__ void uses_texture(cudaTextureObject_t tex, float *out)
{
    int t = threadIdx.x;
    out[t] = tex1Dfetch<float>(tex, t);
}
