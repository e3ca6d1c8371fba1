// SPDX-License-Identifier: MIT
// A kernel that reads a cube map (tex.cube), outside the simulator's set, so module loading
// must fail with CUDA_ERROR_INVALID_PTX naming the instruction and its line.
extern "C" __global__ void uses_cubemap(cudaTextureObject_t tex, float *out)
{
    int t = threadIdx.x;
    out[t] = texCubemap<float>(tex, t, 1.0f, 0.5f);
}
