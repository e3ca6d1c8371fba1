// SPDX-License-Identifier: MIT
// Texture and surface reads and writes as nvcc compiles them (tex, tld4, suld, sust): the
// simulator's PTX interpreter must accept this exact syntax (tests/sim/test_ptx_tex.c).
#include <cuda_runtime.h>
extern "C" __global__ void k_tex2d(cudaTextureObject_t t, float *out, int w, int h)
{
	int x = threadIdx.x, y = blockIdx.x;
	out[y * w + x] = tex2D<float>(t, x + 0.5f, y + 0.5f);
}
extern "C" __global__ void k_fetch(cudaTextureObject_t t, int *out)
{
	out[threadIdx.x] = tex1Dfetch<int>(t, threadIdx.x);
}
extern "C" __global__ void k_fetchf(cudaTextureObject_t t, float *out)
{
	out[threadIdx.x] = tex1Dfetch<float>(t, threadIdx.x);
}
extern "C" __global__ void k_tex3d(cudaTextureObject_t t, float4 *out, float z)
{
	out[blockIdx.x * blockDim.x + threadIdx.x] = tex3D<float4>(t, threadIdx.x, blockIdx.x, z);
}
extern "C" __global__ void k_layered(cudaTextureObject_t t, float *out, int layer)
{
	out[blockIdx.x * blockDim.x + threadIdx.x] = tex2DLayered<float>(t, threadIdx.x, blockIdx.x, layer);
}
extern "C" __global__ void k_layered1(cudaTextureObject_t t, uint2 *out, int layer)
{
	out[threadIdx.x] = tex1DLayered<uint2>(t, threadIdx.x, layer);
}
extern "C" __global__ void k_gather(cudaTextureObject_t t, float4 *out)
{
	out[blockIdx.x * blockDim.x + threadIdx.x] = tex2Dgather<float4>(t, threadIdx.x, blockIdx.x, 1);
}
extern "C" __global__ void k_surf(cudaSurfaceObject_t s, int w)
{
	int x = threadIdx.x, y = blockIdx.x;
	float v = surf2Dread<float>(s, x * 4, y);
	surf2Dwrite(v * 2.0f + 1.0f, s, x * 4, y);
	uchar4 c = surf2Dread<uchar4>(s, x * 4, y, cudaBoundaryModeClamp);
	surf2Dwrite(c, s, x * 4, y, cudaBoundaryModeZero);
}
extern "C" __global__ void k_lod(cudaTextureObject_t t, float *out)
{
	out[threadIdx.x] = tex2DLod<float>(t, threadIdx.x, 0.5f, 0.0f) + tex2DGrad<float>(t, threadIdx.x, 0.5f, make_float2(1,0), make_float2(0,1));
}
extern "C" __global__ void k_tex1d_int(cudaTextureObject_t t, int *out)
{
	out[0] = tex1D<int>(t, 0.5f);
}
