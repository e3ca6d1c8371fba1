// SPDX-License-Identifier: MIT
// mipmap_texture — mipmapped arrays as the CUDA samples' bindlessTexture uses them: a float
// cudaMallocMipmappedArray whose levels are filled with cudaMemcpy3D, cudaMemcpy2DToArray and
// (one level) a kernel writing through a surface object over cudaGetMipmappedArrayLevel's
// array; a texture object with linear filtering between levels and maxMipmapLevelClamp, read
// with tex2DLod at several levels of detail and with tex2DGrad. Level i holds 10 * i, so the
// expected blends are exact. A uchar4 mipmapped array read as normalised floats checks that
// each level's texels are addressed in that level. Every value is computed and compared here.
#include <vector>
#include "rt.h"

enum { W = 64, H = 32, LEVELS = 7 };     /* 64x32 down to 1x1 */

__global__ void fill_surface(cudaSurfaceObject_t s, int w, int h, float v)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
	if (x < w && y < h)
		surf2Dwrite(v, s, x * (int)sizeof(float), y);
}

__global__ void read_lod(cudaTextureObject_t t, const float *lod, float *out, int n)
{
	int i = threadIdx.x;
	if (i < n)
		out[i] = tex2DLod<float>(t, 0.3f + 0.05f * i, 0.6f, lod[i]);
}

/* g: dPdx.x, dPdx.y, dPdy.x, dPdy.y per thread, in normalised coordinates */
__global__ void read_grad(cudaTextureObject_t t, const float4 *g, float *out, int n)
{
	int i = threadIdx.x;
	if (i < n)
		out[i] = tex2DGrad<float>(t, 0.5f, 0.5f, make_float2(g[i].x, g[i].y), make_float2(g[i].z, g[i].w));
}

/* level l of a w x h level: every texel at its centre, as four floats */
__global__ void read_level(cudaTextureObject_t t, int w, int h, float l, float4 *out)
{
	int x = threadIdx.x, y = threadIdx.y;
	if (x < w && y < h)
		out[y * w + x] = tex2DLod<float4>(t, (x + 0.5f) / w, (y + 0.5f) / h, l);
}

static int ext(int e, int l) { return e >> l ? e >> l : 1; }

/* what the texture gives at level of detail lod: 10 * lod clamped to [0, LEVELS - 1] */
static float expect_lod(float lod)
{
	lod = lod < 0 ? 0 : lod > LEVELS - 1 ? LEVELS - 1 : lod;
	return 10.0f * lod;
}

int main()
{
	/* the float mipmapped array, its levels and their extents */
	cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
	cudaMipmappedArray_t mip;
	CHECK(cudaMallocMipmappedArray(&mip, &fd, make_cudaExtent(W, H, 0), LEVELS, cudaArraySurfaceLoadStore));
	std::vector<cudaArray_t> lv(LEVELS);
	for (int l = 0; l < LEVELS; l++) {
		CHECK(cudaGetMipmappedArrayLevel(&lv[l], mip, l));
		cudaChannelFormatDesc d;
		cudaExtent e;
		unsigned flags;
		CHECK(cudaArrayGetInfo(&d, &e, &flags, lv[l]));
		EXPECT(e.width == (size_t)ext(W, l) && e.height == (size_t)ext(H, l) && e.depth == 0 && d.x == 32 &&
		       d.f == cudaChannelFormatKindFloat, "level %d is %zux%zux%zu", l, e.width, e.height, e.depth);
	}
	printf("levels: %d, extents %dx%d down to 1x1\n", LEVELS, W, H);

	/* fill: level 2 through a surface, 1 with cudaMemcpy2DToArray, the rest with cudaMemcpy3D */
	for (int l = 0; l < LEVELS; l++) {
		int w = ext(W, l), h = ext(H, l);
		std::vector<float> v((size_t)w * h, 10.0f * l);
		if (l == 2) {
			cudaResourceDesc rd = {};
			rd.resType = cudaResourceTypeArray;
			rd.res.array.array = lv[l];
			cudaSurfaceObject_t s;
			CHECK(cudaCreateSurfaceObject(&s, &rd));
			fill_surface<<<dim3((w + 15) / 16, (h + 15) / 16), dim3(16, 16)>>>(s, w, h, 10.0f * l);
			CHECK(cudaGetLastError());
			CHECK(cudaDeviceSynchronize());
			CHECK(cudaDestroySurfaceObject(s));
		} else if (l == 1) {
			CHECK(cudaMemcpy2DToArray(lv[l], 0, 0, v.data(), w * sizeof(float), w * sizeof(float), h,
			                          cudaMemcpyHostToDevice));
		} else {
			cudaMemcpy3DParms p = {};
			p.srcPtr = make_cudaPitchedPtr(v.data(), w * sizeof(float), w, h);
			p.dstArray = lv[l];
			p.extent = make_cudaExtent(w, h, 1);
			p.kind = cudaMemcpyHostToDevice;
			CHECK(cudaMemcpy3D(&p));
		}
	}
	/* every level read back in place (the surface's writes too) */
	for (int l = 0; l < LEVELS; l++) {
		int w = ext(W, l), h = ext(H, l);
		std::vector<float> got((size_t)w * h, -1.0f), want((size_t)w * h, 10.0f * l);
		CHECK(cudaMemcpy2DFromArray(got.data(), w * sizeof(float), lv[l], 0, 0, w * sizeof(float), h,
		                            cudaMemcpyDeviceToHost));
		char what[64];
		snprintf(what, sizeof(what), "level %d read back (%dx%d)", l, w, h);
		VERIFY(got.data(), want.data(), got.size(), 0, what);
	}

	/* the texture: linear within and between levels, all levels reachable */
	cudaResourceDesc rd = {};
	rd.resType = cudaResourceTypeMipmappedArray;
	rd.res.mipmap.mipmap = mip;
	cudaTextureDesc td = {};
	td.normalizedCoords = 1;
	td.filterMode = cudaFilterModeLinear;
	td.mipmapFilterMode = cudaFilterModeLinear;
	td.addressMode[0] = td.addressMode[1] = cudaAddressModeClamp;
	td.readMode = cudaReadModeElementType;
	td.maxMipmapLevelClamp = (float)(LEVELS - 1);
	cudaTextureObject_t t;
	CHECK(cudaCreateTextureObject(&t, &rd, &td, NULL));
	cudaResourceDesc back;
	CHECK(cudaGetTextureObjectResourceDesc(&back, t));
	EXPECT(back.resType == cudaResourceTypeMipmappedArray && back.res.mipmap.mipmap == mip,
	       "the texture's resource is not the mipmapped array");

	const float lods[] = {0.0f, 0.5f, 1.25f, 2.0f, 3.75f, 5.5f, 6.0f, 8.0f, -1.0f};
	const int nl = sizeof(lods) / sizeof(lods[0]);
	float *dlod, *dout;
	float4 *dg;
	CHECK(cudaMalloc(&dlod, sizeof(lods)));
	CHECK(cudaMalloc(&dout, 64 * sizeof(float)));
	CHECK(cudaMemcpy(dlod, lods, sizeof(lods), cudaMemcpyHostToDevice));
	read_lod<<<1, 32>>>(t, dlod, dout, nl);
	CHECK(cudaGetLastError());
	std::vector<float> got(nl), want(nl);
	CHECK(cudaMemcpy(got.data(), dout, nl * sizeof(float), cudaMemcpyDeviceToHost));
	for (int i = 0; i < nl; i++)
		want[i] = expect_lod(lods[i]);
	VERIFY(got.data(), want.data(), (size_t)nl, 0, "tex2DLod at 9 levels of detail");

	/* gradients: the level of detail is log2 of the longer one, in level-0 texels */
	const float4 g[] = {
		{4.0f / W, 0, 0, 0},             /* 4 texels: lod 2 */
		{0, 0, 0, 16.0f / H},            /* 16 texels: lod 4 */
		{2.0f / W, 2.0f / H, 0, 0},      /* sqrt(8) texels: lod 1.5 */
		{1.0f / W, 0, 0, 1.0f / H},      /* 1 texel: lod 0 */
		{2.0f / W, 0, 0, 8.0f / H},      /* the longer, 8: lod 3 */
		{0.25f / W, 0, 0, 0},            /* magnified: lod -2, the base */
	};
	const int ng = sizeof(g) / sizeof(g[0]);
	CHECK(cudaMalloc(&dg, sizeof(g)));
	CHECK(cudaMemcpy(dg, g, sizeof(g), cudaMemcpyHostToDevice));
	read_grad<<<1, 32>>>(t, dg, dout, ng);
	CHECK(cudaGetLastError());
	got.resize(ng);
	want.resize(ng);
	CHECK(cudaMemcpy(got.data(), dout, ng * sizeof(float), cudaMemcpyDeviceToHost));
	for (int i = 0; i < ng; i++) {
		double lx = std::hypot((double)g[i].x * W, (double)g[i].y * H);
		double ly = std::hypot((double)g[i].z * W, (double)g[i].w * H);
		double m = lx > ly ? lx : ly;
		want[i] = expect_lod(m > 0 ? (float)std::log2(m) : -1.0f);
	}
	VERIFY(got.data(), want.data(), (size_t)ng, 0, "tex2DGrad with 6 gradient pairs");
	CHECK(cudaDestroyTextureObject(t));

	/* uchar4 read as normalised floats: each level's texels, addressed in that level */
	enum { W2 = 16, H2 = 8, L2 = 4 };
	cudaChannelFormatDesc fd4 = cudaCreateChannelDesc<uchar4>();
	cudaMipmappedArray_t mip4;
	CHECK(cudaMallocMipmappedArray(&mip4, &fd4, make_cudaExtent(W2, H2, 0), L2, 0));
	for (int l = 0; l < L2; l++) {
		int w = ext(W2, l), h = ext(H2, l);
		std::vector<uchar4> v((size_t)w * h);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				v[(size_t)y * w + x] = make_uchar4(x * 10 + l, y * 20 + l, l * 50, 255 - l);
		cudaArray_t a;
		CHECK(cudaGetMipmappedArrayLevel(&a, mip4, l));
		cudaMemcpy3DParms p = {};
		p.srcPtr = make_cudaPitchedPtr(v.data(), w * sizeof(uchar4), w, h);
		p.dstArray = a;
		p.extent = make_cudaExtent(w, h, 1);
		p.kind = cudaMemcpyHostToDevice;
		CHECK(cudaMemcpy3D(&p));
	}
	rd.res.mipmap.mipmap = mip4;
	td.filterMode = cudaFilterModePoint;
	td.mipmapFilterMode = cudaFilterModePoint;
	td.readMode = cudaReadModeNormalizedFloat;
	td.maxMipmapLevelClamp = (float)(L2 - 1);
	CHECK(cudaCreateTextureObject(&t, &rd, &td, NULL));
	float4 *d4;
	CHECK(cudaMalloc(&d4, W2 * H2 * sizeof(float4)));
	for (int l = 0; l < L2; l++) {
		int w = ext(W2, l), h = ext(H2, l);
		read_level<<<1, dim3(W2, H2)>>>(t, w, h, (float)l, d4);
		CHECK(cudaGetLastError());
		std::vector<float4> g4((size_t)w * h);
		CHECK(cudaMemcpy(g4.data(), d4, g4.size() * sizeof(float4), cudaMemcpyDeviceToHost));
		std::vector<float> gf, wf;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				const float4 &q = g4[(size_t)y * w + x];
				gf.insert(gf.end(), {q.x, q.y, q.z, q.w});
				wf.insert(wf.end(), {(x * 10 + l) / 255.0f, (y * 20 + l) / 255.0f, (l * 50) / 255.0f,
				                     (255 - l) / 255.0f});
			}
		char what[64];
		snprintf(what, sizeof(what), "uchar4 level %d (%dx%d) as normalised floats", l, w, h);
		VERIFY(gf.data(), wf.data(), gf.size(), 1e-6, what);
	}
	CHECK(cudaDestroyTextureObject(t));
	CHECK(cudaFreeMipmappedArray(mip4));
	CHECK(cudaFreeMipmappedArray(mip));
	CHECK(cudaFree(d4));
	CHECK(cudaFree(dg));
	CHECK(cudaFree(dlod));
	CHECK(cudaFree(dout));
	printf("PASS\n");
	return 0;
}
