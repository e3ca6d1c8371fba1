// SPDX-License-Identifier: MIT
// cubemap_texture — cubemap textures as the CUDA samples' simpleCubemapTexture uses them: a
// cudaArrayCubemap of six square faces filled with cudaMemcpy3D, read with texCubemap() by the
// direction through each texel's centre (the face picked by the largest component, the face
// coordinates by the programming guide's table), and a layered cubemap (two cubemaps, twelve
// faces) read with texCubemapLayered(), one of its faces rewritten through surfCubemapLayeredwrite
// first. Every texel read is compared with the one written.
#include <vector>
#include "rt.h"

enum { W = 16 };

/* the direction through the centre of texel (i, j) of face f */
__device__ float3 dir(int f, int i, int j)
{
	float sc = (i + 0.5f) / W * 2.0f - 1.0f, tc = (j + 0.5f) / W * 2.0f - 1.0f;
	switch (f) {
	case 0: return make_float3(1.0f, -tc, -sc);
	case 1: return make_float3(-1.0f, -tc, sc);
	case 2: return make_float3(sc, 1.0f, tc);
	case 3: return make_float3(sc, -1.0f, -tc);
	case 4: return make_float3(sc, -tc, 1.0f);
	default: return make_float3(-sc, -tc, -1.0f);
	}
}

/* one block per face, a thread per texel: out[f][j][i] = the cubemap at its direction */
__global__ void read_cube(cudaTextureObject_t t, float *out)
{
	int f = blockIdx.x, i = threadIdx.x, j = threadIdx.y;
	float3 d = dir(f, i, j);
	out[(f * W + j) * W + i] = texCubemap<float>(t, d.x, d.y, d.z);
}

__global__ void read_cube_layered(cudaTextureObject_t t, int layer, float *out)
{
	int f = blockIdx.x, i = threadIdx.x, j = threadIdx.y;
	float3 d = dir(f, i, j) ;
	/* the direction scaled: only its orientation picks the texel */
	out[(f * W + j) * W + i] = texCubemapLayered<float>(t, d.x * 3.0f, d.y * 3.0f, d.z * 3.0f, layer);
}

/* face `face` of cubemap 1 (layer face + 6) rewritten through a surface */
__global__ void write_face(cudaSurfaceObject_t s, int face)
{
	int i = threadIdx.x, j = threadIdx.y;
	surfCubemapLayeredwrite(-1.0f * (j * W + i), s, i * (int)sizeof(float), j, 6 + face);
}

static cudaArray_t make(int maps, std::vector<float> &host)
{
	cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
	cudaArray_t a;
	unsigned flags = cudaArrayCubemap | (maps > 1 ? cudaArrayLayered | cudaArraySurfaceLoadStore : 0);
	CHECK(cudaMalloc3DArray(&a, &fd, make_cudaExtent(W, W, 6 * maps), flags));
	host.resize((size_t)6 * maps * W * W);
	for (size_t k = 0; k < host.size(); k++)
		host[k] = (float)(k / (W * W) * 1000 + k % (W * W));   /* face * 1000 + texel */
	cudaMemcpy3DParms p = {};
	p.srcPtr = make_cudaPitchedPtr(host.data(), W * sizeof(float), W, W);
	p.dstArray = a;
	p.extent = make_cudaExtent(W, W, 6 * maps);
	p.kind = cudaMemcpyHostToDevice;
	CHECK(cudaMemcpy3D(&p));
	return a;
}

static cudaTextureObject_t texture(cudaArray_t a)
{
	cudaResourceDesc rd = {};
	rd.resType = cudaResourceTypeArray;
	rd.res.array.array = a;
	cudaTextureDesc td = {};
	td.normalizedCoords = 1;
	td.filterMode = cudaFilterModePoint;
	td.addressMode[0] = td.addressMode[1] = td.addressMode[2] = cudaAddressModeWrap;
	td.readMode = cudaReadModeElementType;
	cudaTextureObject_t t;
	CHECK(cudaCreateTextureObject(&t, &rd, &td, NULL));
	return t;
}

int main()
{
	std::vector<float> host, hostl, got(6 * W * W);
	float *d;
	CHECK(cudaMalloc(&d, got.size() * sizeof(float)));
	cudaArray_t a = make(1, host);
	cudaTextureObject_t t = texture(a);
	read_cube<<<6, dim3(W, W)>>>(t, d);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(got.data(), d, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
	VERIFY(got.data(), host.data(), got.size(), 0, "texCubemap at every texel's direction");

	cudaArray_t al = make(2, hostl);
	cudaResourceDesc rd = {};
	rd.resType = cudaResourceTypeArray;
	rd.res.array.array = al;
	cudaSurfaceObject_t s;
	CHECK(cudaCreateSurfaceObject(&s, &rd));
	write_face<<<1, dim3(W, W)>>>(s, 3);
	CHECK(cudaGetLastError());
	for (int k = 0; k < W * W; k++)
		hostl[(6 + 3) * W * W + k] = -1.0f * k;
	cudaTextureObject_t tl = texture(al);
	for (int layer = 0; layer < 2; layer++) {
		read_cube_layered<<<6, dim3(W, W)>>>(tl, layer, d);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got.data(), d, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
		VERIFY(got.data(), &hostl[(size_t)layer * 6 * W * W], got.size(), 0,
		       layer ? "texCubemapLayered, cubemap 1 (a face rewritten through a surface)"
		             : "texCubemapLayered, cubemap 0");
	}
	CHECK(cudaDestroyTextureObject(t));
	CHECK(cudaDestroyTextureObject(tl));
	CHECK(cudaDestroySurfaceObject(s));
	CHECK(cudaFreeArray(a));
	CHECK(cudaFreeArray(al));
	CHECK(cudaFree(d));
	printf("PASS\n");
	return 0;
}
