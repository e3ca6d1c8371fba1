// SPDX-License-Identifier: MIT
// texture — CUDA arrays, texture and surface objects as image-processing programs use them:
// cudaMallocArray/cudaMalloc3DArray, copies into and out of arrays, tex1Dfetch on linear
// memory, tex2D over an array and over pitched memory (point and linear filtering,
// normalized coordinates, every address mode), 8-bit texels read as normalized floats,
// tex3D, tex2DLayered, tex2Dgather, surf2Dwrite/surf2Dread, descriptors read back.
// Every result is checked on the host against the sampling rules of the CUDA programming
// guide; coordinates sit where the 8-bit filtering weights are exact.
#include "rt.h"

#include <cstring>

static const int W = 16, H = 8;

__global__ void sample2d(cudaTextureObject_t t, const float2 *uv, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = tex2D<float>(t, uv[i].x, uv[i].y);
}

__global__ void sample2d_uchar4(cudaTextureObject_t t, float4 *out)
{
	int x = threadIdx.x, y = blockIdx.x;
	out[y * W + x] = tex2D<float4>(t, x + 0.5f, y + 0.5f);
}

__global__ void fetch1d(cudaTextureObject_t t, int *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = tex1Dfetch<int>(t, n - 1 - i);
}

__global__ void sample3d(cudaTextureObject_t t, float *out, int w, int h, int d)
{
	int x = threadIdx.x, y = threadIdx.y, z = blockIdx.x;
	if (x < w && y < h && z < d)
		out[(z * h + y) * w + x] = tex3D<float>(t, x + 0.5f, y + 0.5f, z + 0.5f);
}

__global__ void sample_layers(cudaTextureObject_t t, float *out, int layers)
{
	int x = threadIdx.x, y = threadIdx.y, l = blockIdx.x;
	if (l < layers)
		out[(l * H + y) * W + x] = tex2DLayered<float>(t, x + 0.5f, y + 0.5f, l);
}

__global__ void gather(cudaTextureObject_t t, float4 *out)
{
	int x = threadIdx.x, y = blockIdx.x;
	// the 2x2 footprint around the corner shared by texels (x, y) and (x+1, y+1)
	out[y * (W - 1) + x] = tex2Dgather<float4>(t, x + 1.0f, y + 1.0f, 0);
}

__global__ void surf_fill(cudaSurfaceObject_t s, int w, int h)
{
	int x = threadIdx.x, y = blockIdx.x;
	if (x < w && y < h)
		surf2Dwrite(y * 1000 + x * 3, s, x * (int)sizeof(int), y);
}

__global__ void surf_twice(cudaSurfaceObject_t in, cudaSurfaceObject_t out, int w, int h)
{
	int x = threadIdx.x, y = blockIdx.x;
	if (x < w && y < h) {
		int v = surf2Dread<int>(in, x * (int)sizeof(int), y);
		surf2Dwrite(2 * v, out, x * (int)sizeof(int), y);
	}
}

/* ---- host reference of the sampling rules ---- */

static int wrap_index(int i, int n, cudaTextureAddressMode m, bool *border)
{
	switch (m) {
	case cudaAddressModeWrap: return ((i % n) + n) % n;
	case cudaAddressModeMirror: {
		int p = ((i % (2 * n)) + 2 * n) % (2 * n);
		return p < n ? p : 2 * n - 1 - p;
	}
	case cudaAddressModeBorder:
		if (i < 0 || i >= n)
			*border = true;
		return i < 0 ? 0 : i >= n ? n - 1 : i;
	default: return i < 0 ? 0 : i >= n ? n - 1 : i;
	}
}

static float texel(const float *img, int x, int y, cudaTextureAddressMode m)
{
	bool border = false;
	int xi = wrap_index(x, W, m, &border), yi = wrap_index(y, H, m, &border);
	return border ? 0.0f : img[yi * W + xi];
}

/* x, y in texels (already multiplied out of normalized coordinates) */
static float ref2d(const float *img, float x, float y, bool linear, cudaTextureAddressMode m)
{
	if (!linear)
		return texel(img, (int)std::floor(x), (int)std::floor(y), m);
	float xb = x - 0.5f, yb = y - 0.5f;
	int i = (int)std::floor(xb), j = (int)std::floor(yb);
	float a = std::round((xb - i) * 256.0f) / 256.0f, b = std::round((yb - j) * 256.0f) / 256.0f;
	return (1 - a) * (1 - b) * texel(img, i, j, m) + a * (1 - b) * texel(img, i + 1, j, m) +
	       (1 - a) * b * texel(img, i, j + 1, m) + a * b * texel(img, i + 1, j + 1, m);
}

static cudaTextureObject_t make_tex(cudaArray_t a, cudaTextureFilterMode f, cudaTextureAddressMode m, bool norm)
{
	cudaResourceDesc r = {};
	r.resType = cudaResourceTypeArray;
	r.res.array.array = a;
	cudaTextureDesc d = {};
	d.addressMode[0] = d.addressMode[1] = d.addressMode[2] = m;
	d.filterMode = f;
	d.readMode = cudaReadModeElementType;
	d.normalizedCoords = norm;
	cudaTextureObject_t t = 0;
	CHECK(cudaCreateTextureObject(&t, &r, &d, NULL));
	return t;
}

static void run2d(cudaTextureObject_t t, const float2 *uv, int n, float *got)
{
	float2 *duv;
	float *dout;
	CHECK(cudaMalloc(&duv, n * sizeof(float2)));
	CHECK(cudaMalloc(&dout, n * sizeof(float)));
	CHECK(cudaMemcpy(duv, uv, n * sizeof(float2), cudaMemcpyHostToDevice));
	sample2d<<<(n + 63) / 64, 64>>>(t, duv, dout, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(got, dout, n * sizeof(float), cudaMemcpyDeviceToHost));
	CHECK(cudaFree(duv));
	CHECK(cudaFree(dout));
}

int main()
{
	float img[H * W];
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			img[y * W + x] = (float)(y * 37 + x * x) * 0.25f;

	/* A float array, filled with a 2D copy from host rows with a wider pitch. */
	cudaChannelFormatDesc fdesc = cudaCreateChannelDesc<float>();
	cudaArray_t arr;
	CHECK(cudaMallocArray(&arr, &fdesc, W, H));
	static float padded[H][W + 5];
	for (int y = 0; y < H; y++)
		memcpy(padded[y], img + y * W, W * sizeof(float));
	CHECK(cudaMemcpy2DToArray(arr, 0, 0, padded, sizeof(padded[0]), W * sizeof(float), H, cudaMemcpyHostToDevice));
	{
		float back[H * W];
		CHECK(cudaMemcpy2DFromArray(back, W * sizeof(float), arr, 0, 0, W * sizeof(float), H, cudaMemcpyDeviceToHost));
		VERIFY(back, img, H * W, 0, "array round trip");
		cudaChannelFormatDesc got;
		cudaExtent ext;
		unsigned flags = 99;
		CHECK(cudaArrayGetInfo(&got, &ext, &flags, arr));
		EXPECT(got.x == 32 && got.y == 0 && got.f == cudaChannelFormatKindFloat && ext.width == (size_t)W &&
		       ext.height == (size_t)H && ext.depth == 0 && flags == 0,
		       "cudaArrayGetInfo: x %d f %d extent %zux%zux%zu flags %u", got.x, (int)got.f, ext.width, ext.height,
		       ext.depth, flags);
		printf("array info: float32, %zux%zu\n", ext.width, ext.height);
	}

	/* Sample points: texel centres, quarter and eighth positions, and outside the image. */
	const int N = 96;
	float2 uv[N];
	for (int i = 0; i < N; i++) {
		float x = -3.0f + (float)(i % 24) * 0.875f + (float)(i / 24) * 0.125f;
		float y = -2.0f + (float)((i * 5) % 13) * 0.9375f;
		uv[i] = make_float2(x, y);
	}
	const cudaTextureAddressMode modes[] = { cudaAddressModeClamp, cudaAddressModeBorder };
	const char *mode_names[] = { "clamp", "border", "wrap", "mirror" };
	for (int lin = 0; lin < 2; lin++)
		for (int mi = 0; mi < 2; mi++) {
			cudaTextureObject_t t = make_tex(arr, lin ? cudaFilterModeLinear : cudaFilterModePoint, modes[mi], false);
			float got[N], want[N];
			run2d(t, uv, N, got);
			for (int i = 0; i < N; i++)
				want[i] = ref2d(img, uv[i].x, uv[i].y, lin, modes[mi]);
			char what[64];
			snprintf(what, sizeof(what), "tex2D %s %s", lin ? "linear" : "point", mode_names[mi]);
			VERIFY(got, want, N, 1e-4, what);
			CHECK(cudaDestroyTextureObject(t));
		}
	/* Normalized coordinates: wrap and mirror repeat the image. */
	const cudaTextureAddressMode nmodes[] = { cudaAddressModeWrap, cudaAddressModeMirror, cudaAddressModeClamp };
	for (int lin = 0; lin < 2; lin++)
		for (int mi = 0; mi < 3; mi++) {
			cudaTextureObject_t t = make_tex(arr, lin ? cudaFilterModeLinear : cudaFilterModePoint, nmodes[mi], true);
			float2 nuv[N];
			float got[N], want[N];
			for (int i = 0; i < N; i++)
				nuv[i] = make_float2(uv[i].x * 2.0f / W, uv[i].y * 2.0f / H);
			run2d(t, nuv, N, got);
			for (int i = 0; i < N; i++)
				want[i] = ref2d(img, nuv[i].x * W, nuv[i].y * H, lin, nmodes[mi]);
			char what[64];
			snprintf(what, sizeof(what), "tex2D normalized %s %s", lin ? "linear" : "point",
				 mode_names[nmodes[mi] == cudaAddressModeWrap ? 2 : nmodes[mi] == cudaAddressModeMirror ? 3 : 0]);
			VERIFY(got, want, N, 1e-4, what);
			if (lin && mi == 0) {
				cudaTextureDesc td;
				cudaResourceDesc rd;
				CHECK(cudaGetTextureObjectTextureDesc(&td, t));
				CHECK(cudaGetTextureObjectResourceDesc(&rd, t));
				EXPECT(td.filterMode == cudaFilterModeLinear && td.normalizedCoords == 1 &&
				       td.addressMode[0] == cudaAddressModeWrap && rd.resType == cudaResourceTypeArray &&
				       rd.res.array.array == arr,
				       "descriptors read back: filter %d normalized %d mode %d type %d same array %d",
				       (int)td.filterMode, td.normalizedCoords, (int)td.addressMode[0], (int)rd.resType,
				       rd.res.array.array == arr);
				printf("texture descriptors read back\n");
			}
			CHECK(cudaDestroyTextureObject(t));
		}

	/* 8-bit RGBA texels read as normalized floats. */
	{
		cudaChannelFormatDesc c4 = cudaCreateChannelDesc<uchar4>();
		cudaArray_t a4;
		CHECK(cudaMallocArray(&a4, &c4, W, H));
		uchar4 px[H * W];
		for (int i = 0; i < H * W; i++)
			px[i] = make_uchar4((unsigned char)(i * 7), (unsigned char)(255 - i), (unsigned char)(i * 3 + 1), 128);
		CHECK(cudaMemcpy2DToArray(a4, 0, 0, px, W * sizeof(uchar4), W * sizeof(uchar4), H, cudaMemcpyHostToDevice));
		cudaResourceDesc r = {};
		r.resType = cudaResourceTypeArray;
		r.res.array.array = a4;
		cudaTextureDesc d = {};
		d.readMode = cudaReadModeNormalizedFloat;
		cudaTextureObject_t t;
		CHECK(cudaCreateTextureObject(&t, &r, &d, NULL));
		float4 *dout;
		CHECK(cudaMalloc(&dout, H * W * sizeof(float4)));
		sample2d_uchar4<<<H, W>>>(t, dout);
		float4 got[H * W];
		CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
		float gf[4 * H * W], wf[4 * H * W];
		for (int i = 0; i < H * W; i++) {
			memcpy(&gf[4 * i], &got[i], sizeof(float4));
			wf[4 * i] = px[i].x / 255.0f;
			wf[4 * i + 1] = px[i].y / 255.0f;
			wf[4 * i + 2] = px[i].z / 255.0f;
			wf[4 * i + 3] = px[i].w / 255.0f;
		}
		VERIFY(gf, wf, 4 * H * W, 1e-6, "tex2D uchar4 normalized float");
		CHECK(cudaDestroyTextureObject(t));
		CHECK(cudaFree(dout));
		CHECK(cudaFreeArray(a4));
	}

	/* tex1Dfetch over linear device memory, and tex2D over pitched memory. */
	{
		const int n = 1000;
		int host[n], got[n], want[n];
		for (int i = 0; i < n; i++)
			host[i] = i * i - 5 * i;
		int *lin, *dout;
		CHECK(cudaMalloc(&lin, n * sizeof(int)));
		CHECK(cudaMalloc(&dout, n * sizeof(int)));
		CHECK(cudaMemcpy(lin, host, sizeof(host), cudaMemcpyHostToDevice));
		cudaResourceDesc r = {};
		r.resType = cudaResourceTypeLinear;
		r.res.linear.devPtr = lin;
		r.res.linear.desc = cudaCreateChannelDesc<int>();
		r.res.linear.sizeInBytes = n * sizeof(int);
		cudaTextureDesc d = {};
		d.readMode = cudaReadModeElementType;
		cudaTextureObject_t t;
		CHECK(cudaCreateTextureObject(&t, &r, &d, NULL));
		fetch1d<<<(n + 127) / 128, 128>>>(t, dout, n);
		CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
		for (int i = 0; i < n; i++)
			want[i] = host[n - 1 - i];
		VERIFY(got, want, n, 0, "tex1Dfetch linear");
		CHECK(cudaDestroyTextureObject(t));
		CHECK(cudaFree(lin));
		CHECK(cudaFree(dout));

		float *pitched;
		size_t pitch;
		CHECK(cudaMallocPitch(&pitched, &pitch, W * sizeof(float), H));
		CHECK(cudaMemcpy2D(pitched, pitch, img, W * sizeof(float), W * sizeof(float), H, cudaMemcpyHostToDevice));
		cudaResourceDesc pr = {};
		pr.resType = cudaResourceTypePitch2D;
		pr.res.pitch2D.devPtr = pitched;
		pr.res.pitch2D.desc = cudaCreateChannelDesc<float>();
		pr.res.pitch2D.width = W;
		pr.res.pitch2D.height = H;
		pr.res.pitch2D.pitchInBytes = pitch;
		cudaTextureDesc pd = {};
		pd.filterMode = cudaFilterModeLinear;
		pd.addressMode[0] = pd.addressMode[1] = cudaAddressModeClamp;
		CHECK(cudaCreateTextureObject(&t, &pr, &pd, NULL));
		float g2[N], w2[N];
		run2d(t, uv, N, g2);
		for (int i = 0; i < N; i++)
			w2[i] = ref2d(img, uv[i].x, uv[i].y, true, cudaAddressModeClamp);
		VERIFY(g2, w2, N, 1e-4, "tex2D linear over pitched memory");
		CHECK(cudaDestroyTextureObject(t));
		CHECK(cudaFree(pitched));
	}

	/* A 3D array filled by cudaMemcpy3D, and a layered 2D array. */
	{
		const int w = 8, h = 4, d = 3;
		float vol[d * h * w], got[d * h * w];
		for (int i = 0; i < d * h * w; i++)
			vol[i] = (float)(i * 13 % 101);
		cudaArray_t a3;
		CHECK(cudaMalloc3DArray(&a3, &fdesc, make_cudaExtent(w, h, d)));
		cudaMemcpy3DParms p = {};
		p.srcPtr = make_cudaPitchedPtr(vol, w * sizeof(float), w, h);
		p.dstArray = a3;
		p.extent = make_cudaExtent(w, h, d);
		p.kind = cudaMemcpyHostToDevice;
		CHECK(cudaMemcpy3D(&p));
		cudaTextureObject_t t = make_tex(a3, cudaFilterModePoint, cudaAddressModeClamp, false);
		float *dout;
		CHECK(cudaMalloc(&dout, sizeof(got)));
		sample3d<<<d, dim3(w, h)>>>(t, dout, w, h, d);
		CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
		VERIFY(got, vol, d * h * w, 0, "tex3D");
		CHECK(cudaDestroyTextureObject(t));
		CHECK(cudaFree(dout));
		CHECK(cudaFreeArray(a3));

		const int L = 3;
		float layers[L * H * W], lgot[L * H * W];
		for (int i = 0; i < L * H * W; i++)
			layers[i] = (float)(i % 97) - 20.0f;
		cudaArray_t al;
		CHECK(cudaMalloc3DArray(&al, &fdesc, make_cudaExtent(W, H, L), cudaArrayLayered));
		cudaMemcpy3DParms q = {};
		q.srcPtr = make_cudaPitchedPtr(layers, W * sizeof(float), W, H);
		q.dstArray = al;
		q.extent = make_cudaExtent(W, H, L);
		q.kind = cudaMemcpyHostToDevice;
		CHECK(cudaMemcpy3D(&q));
		t = make_tex(al, cudaFilterModePoint, cudaAddressModeClamp, false);
		CHECK(cudaMalloc(&dout, sizeof(lgot)));
		sample_layers<<<L, dim3(W, H)>>>(t, dout, L);
		CHECK(cudaMemcpy(lgot, dout, sizeof(lgot), cudaMemcpyDeviceToHost));
		VERIFY(lgot, layers, L * H * W, 0, "tex2DLayered");
		CHECK(cudaDestroyTextureObject(t));
		CHECK(cudaFree(dout));
		CHECK(cudaFreeArray(al));
	}

	/* tex2Dgather: component x of the four texels around each interior corner. */
	{
		cudaArray_t ag;
		CHECK(cudaMallocArray(&ag, &fdesc, W, H, cudaArrayTextureGather));
		CHECK(cudaMemcpy2DToArray(ag, 0, 0, img, W * sizeof(float), W * sizeof(float), H, cudaMemcpyHostToDevice));
		cudaTextureObject_t t = make_tex(ag, cudaFilterModePoint, cudaAddressModeClamp, false);
		const int n = (H - 1) * (W - 1);
		float4 *dout;
		CHECK(cudaMalloc(&dout, n * sizeof(float4)));
		gather<<<H - 1, W - 1>>>(t, dout);
		float4 got[n];
		CHECK(cudaMemcpy(got, dout, sizeof(got), cudaMemcpyDeviceToHost));
		float gf[4 * n], wf[4 * n];
		for (int y = 0; y < H - 1; y++)
			for (int x = 0; x < W - 1; x++) {
				int i = y * (W - 1) + x;
				memcpy(&gf[4 * i], &got[i], sizeof(float4));
				/* the guide's order: (i, j+1), (i+1, j+1), (i+1, j), (i, j) */
				wf[4 * i] = img[(y + 1) * W + x];
				wf[4 * i + 1] = img[(y + 1) * W + x + 1];
				wf[4 * i + 2] = img[y * W + x + 1];
				wf[4 * i + 3] = img[y * W + x];
			}
		VERIFY(gf, wf, 4 * n, 0, "tex2Dgather");
		CHECK(cudaDestroyTextureObject(t));
		CHECK(cudaFree(dout));
		CHECK(cudaFreeArray(ag));
	}

	/* Surfaces: one kernel writes an array, another reads it and writes a second one. */
	{
		cudaChannelFormatDesc ci = cudaCreateChannelDesc<int>();
		cudaArray_t s1, s2;
		CHECK(cudaMallocArray(&s1, &ci, W, H, cudaArraySurfaceLoadStore));
		CHECK(cudaMallocArray(&s2, &ci, W, H, cudaArraySurfaceLoadStore));
		cudaResourceDesc r = {};
		r.resType = cudaResourceTypeArray;
		r.res.array.array = s1;
		cudaSurfaceObject_t so1, so2;
		CHECK(cudaCreateSurfaceObject(&so1, &r));
		r.res.array.array = s2;
		CHECK(cudaCreateSurfaceObject(&so2, &r));
		surf_fill<<<H, W>>>(so1, W, H);
		surf_twice<<<H, W>>>(so1, so2, W, H);
		CHECK(cudaGetLastError());
		int got[H * W], want[H * W];
		CHECK(cudaMemcpy2DFromArray(got, W * sizeof(int), s2, 0, 0, W * sizeof(int), H, cudaMemcpyDeviceToHost));
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				want[y * W + x] = 2 * (y * 1000 + x * 3);
		VERIFY(got, want, H * W, 0, "surf2Dwrite and surf2Dread");
		/* an array-to-array copy of the part from column 4, row 2 */
		CHECK(cudaMemcpy2DArrayToArray(s1, 0, 0, s2, 4 * sizeof(int), 2, (W - 4) * sizeof(int), H - 2,
					       cudaMemcpyDeviceToDevice));
		int part[H * W];
		CHECK(cudaMemcpy2DFromArray(part, W * sizeof(int), s1, 0, 0, W * sizeof(int), H, cudaMemcpyDeviceToHost));
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				want[y * W + x] = (x < W - 4 && y < H - 2) ? 2 * ((y + 2) * 1000 + (x + 4) * 3) : y * 1000 + x * 3;
		VERIFY(part, want, H * W, 0, "array to array copy");
		cudaResourceDesc back;
		CHECK(cudaGetSurfaceObjectResourceDesc(&back, so2));
		EXPECT(back.resType == cudaResourceTypeArray && back.res.array.array == s2, "surface resource read back");
		CHECK(cudaDestroySurfaceObject(so1));
		CHECK(cudaDestroySurfaceObject(so2));
		CHECK(cudaFreeArray(s1));
		CHECK(cudaFreeArray(s2));
	}

	/* Misuse the runtime reports: a copy past the array's edge, a destroyed object. */
	{
		float big[H * (W + 1)];
		memset(big, 0, sizeof(big));
		cudaError_t e = cudaMemcpy2DToArray(arr, 0, 0, big, (W + 1) * sizeof(float), (W + 1) * sizeof(float), H,
						    cudaMemcpyHostToDevice);
		EXPECT(e == cudaErrorInvalidValue, "a copy wider than the array: %s", cudaGetErrorName(e));
		cudaGetLastError();
		printf("copy past the array's edge refused: %s\n", cudaGetErrorName(e));
	}
	CHECK(cudaFreeArray(arr));
	CHECK(cudaDeviceSynchronize());
	printf("texture: all checks passed\n");
	return 0;
}
