/* SPDX-License-Identifier: MIT */
/* libcudasim's mipmapped arrays and level-of-detail sampling through the driver API: creation
 * limits and refusals, each level's extents and storage (copies land in that level only),
 * levels owned by their mipmapped array, and kernels' tex.level / tex.grad / txq against values
 * computed here. Levels hold constants (level i: 10 * i) where the level choice is tested, so
 * every expected blend is exact; one level holds a pattern where its addressing is tested. */
#include "simtest.h"

#include <stdint.h>

static size_t used_now(void)
{
	size_t fr, tot;
	CK(cuMemGetInfo(&fr, &tot));
	return tot - fr;
}

static CUresult try_mip(size_t w, size_t h, size_t d, CUarray_format f, unsigned ch, unsigned flags, unsigned n)
{
	CUDA_ARRAY3D_DESCRIPTOR ad = {.Width = w, .Height = h, .Depth = d, .Format = f, .NumChannels = ch, .Flags = flags};
	CUmipmappedArray m = NULL;
	CUresult rc = cuMipmappedArrayCreate(&m, &ad, n);
	if (rc == CUDA_SUCCESS)
		CK(cuMipmappedArrayDestroy(m));
	return rc;
}

static CUmipmappedArray mk_mip(size_t w, size_t h, size_t d, CUarray_format f, unsigned ch, unsigned flags, unsigned n)
{
	CUDA_ARRAY3D_DESCRIPTOR ad = {.Width = w, .Height = h, .Depth = d, .Format = f, .NumChannels = ch, .Flags = flags};
	CUmipmappedArray m;
	CK(cuMipmappedArrayCreate(&m, &ad, n));
	return m;
}

static void t_create(void)
{
	CUmipmappedArray m = NULL;
	CUDA_ARRAY3D_DESCRIPTOR ad = {.Width = 16, .Height = 8, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1};
	CK_RC(cuMipmappedArrayCreate(NULL, &ad, 1), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMipmappedArrayCreate(&m, NULL, 1), CUDA_ERROR_INVALID_VALUE);
	/* levels: 1 to 1 + floor(log2(largest extent that shrinks)) */
	CK_RC(try_mip(16, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0, 0), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(16, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0, 5));
	CK_RC(try_mip(16, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0, 6), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(17, 31, 0, CU_AD_FORMAT_FLOAT, 1, 0, 5));
	CK_RC(try_mip(17, 31, 0, CU_AD_FORMAT_FLOAT, 1, 0, 6), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(1, 0, 0, CU_AD_FORMAT_FLOAT, 1, 0, 1));
	CK_RC(try_mip(1, 0, 0, CU_AD_FORMAT_FLOAT, 1, 0, 2), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(4, 4, 32, CU_AD_FORMAT_FLOAT, 1, 0, 6));           /* 3D: the depth counts */
	CK_RC(try_mip(4, 4, 32, CU_AD_FORMAT_FLOAT, 1, 0, 7), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(8, 8, 64, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_LAYERED, 4));   /* layers do not */
	CK_RC(try_mip(8, 8, 64, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_LAYERED, 5), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(16, 16, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP, 5));
	CK_RC(try_mip(16, 16, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP, 6), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(16, 16, 12, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED, 5));
	CK_RC(try_mip(16, 8, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP, 1), CUDA_ERROR_INVALID_VALUE);
	CK(try_mip(16, 8, 0, CU_AD_FORMAT_UNSIGNED_INT8, 4, CUDA_ARRAY3D_SURFACE_LDST, 5));
	CK(try_mip(16, 8, 0, CU_AD_FORMAT_HALF, 2, CUDA_ARRAY3D_TEXTURE_GATHER, 5));
	/* the same formats and descriptors as arrays */
	CK_RC(try_mip(0, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0, 1), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try_mip(16, 8, 0, (CUarray_format)0x77, 1, 0, 1), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try_mip(16, 8, 0, CU_AD_FORMAT_FLOAT, 3, 0, 1), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try_mip(16, 8, 0, CU_AD_FORMAT_NV12, 1, 0, 1), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try_mip(16, 8, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_SPARSE, 1), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try_mip(16, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0x8000, 1), CUDA_ERROR_INVALID_VALUE);
	/* the mipmapped limits (32768) are below the plain arrays' (131072 x 65536) */
	CK(try_mip(32768, 4, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0, 1));
	CK_RC(try_mip(32769, 4, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0, 1), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try_mip(4, 32769, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0, 1), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try_mip(32769, 0, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0, 1), CUDA_ERROR_INVALID_VALUE);

	static const struct { CUdevice_attribute a; int want; } attrs[] = {
		{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_MIPMAPPED_WIDTH, 32768},
		{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_WIDTH, 32768},
		{CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_HEIGHT, 32768},
	};
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		int v = -1;
		CK(cuDeviceGetAttribute(&v, attrs[i].a, 0));
		EXPECT(v == attrs[i].want);
	}
	printf("creation: level counts, formats, flags and limits checked\n");
}

/* Each level's descriptor: extents max(1, e >> i) where e is not 0, layers kept. */
static void t_levels(void)
{
	static const struct { size_t w, h, d; unsigned flags, n; } shapes[] = {
		{9, 0, 0, 0, 4}, {20, 12, 0, 0, 5}, {8, 4, 2, 0, 4}, {8, 4, 3, CUDA_ARRAY3D_LAYERED, 4},
		{5, 0, 7, CUDA_ARRAY3D_LAYERED, 3}, {8, 8, 6, CUDA_ARRAY3D_CUBEMAP, 4},
		{8, 8, 12, CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED, 2},
	};
	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		size_t before = used_now(), bytes = 0;
		int layered = !!(shapes[si].flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP));
		CUmipmappedArray m = mk_mip(shapes[si].w, shapes[si].h, shapes[si].d, CU_AD_FORMAT_SIGNED_INT16, 2,
		                            shapes[si].flags, shapes[si].n);
		CUarray lv[8];
		for (unsigned l = 0; l < shapes[si].n; l++) {
			CK(cuMipmappedArrayGetLevel(&lv[l], m, l));
			CUarray again;
			CK(cuMipmappedArrayGetLevel(&again, m, l));
			EXPECT(again == lv[l]);
			for (unsigned k = 0; k < l; k++)
				EXPECT(lv[k] != lv[l]);
			size_t w = shapes[si].w >> l, h = shapes[si].h >> l, d = layered ? shapes[si].d : shapes[si].d >> l;
			w = w ? w : 1;
			h = shapes[si].h ? (h ? h : 1) : 0;
			d = shapes[si].d ? (d ? d : 1) : 0;
			CUDA_ARRAY3D_DESCRIPTOR b;
			memset(&b, 0xa5, sizeof(b));
			CK(cuArray3DGetDescriptor(&b, lv[l]));
			EXPECT(b.Width == w && b.Height == h && b.Depth == d && b.Format == CU_AD_FORMAT_SIGNED_INT16 &&
			       b.NumChannels == 2 && b.Flags == shapes[si].flags);
			CUDA_ARRAY_DESCRIPTOR b2;
			CK(cuArrayGetDescriptor(&b2, lv[l]));
			EXPECT(b2.Width == w && b2.Height == h);
			bytes += w * (h ? h : 1) * (d ? d : 1) * 4;
		}
		CUarray x = NULL;
		CK_RC(cuMipmappedArrayGetLevel(&x, m, shapes[si].n), CUDA_ERROR_INVALID_VALUE);
		CK_RC(cuMipmappedArrayGetLevel(NULL, m, 0), CUDA_ERROR_INVALID_VALUE);
		/* charged like arrays: the whole chain, and given back */
		EXPECT(used_now() >= before + bytes);
		/* a level belongs to its mipmapped array */
		CK_RC(cuArrayDestroy(lv[0]), CUDA_ERROR_INVALID_HANDLE);
		CUDA_ARRAY3D_DESCRIPTOR b;
		CK(cuArray3DGetDescriptor(&b, lv[0]));
		CUDA_ARRAY_MEMORY_REQUIREMENTS req;
		CUDA_ARRAY_SPARSE_PROPERTIES sp;
		CK_RC(cuMipmappedArrayGetMemoryRequirements(&req, m, 0), CUDA_ERROR_INVALID_VALUE);
		CK_RC(cuMipmappedArrayGetSparseProperties(&sp, m), CUDA_ERROR_INVALID_VALUE);
		CK(cuMipmappedArrayDestroy(m));
		EXPECT(used_now() == before);
		for (unsigned l = 0; l < shapes[si].n; l++)
			CK_RC(cuArray3DGetDescriptor(&b, lv[l]), CUDA_ERROR_INVALID_HANDLE);
		CK_RC(cuMipmappedArrayDestroy(m), CUDA_ERROR_INVALID_HANDLE);
		CK_RC(cuMipmappedArrayGetLevel(&x, m, 0), CUDA_ERROR_INVALID_HANDLE);
		CK_RC(cuMipmappedArrayGetSparseProperties(&sp, m), CUDA_ERROR_INVALID_HANDLE);
	}
	/* an array handle is no mipmapped array and the other way round */
	CUDA_ARRAY3D_DESCRIPTOR ad = {.Width = 4, .Height = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1};
	CUarray a, x;
	CK(cuArray3DCreate(&a, &ad));
	CK_RC(cuMipmappedArrayGetLevel(&x, (CUmipmappedArray)a, 0), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuMipmappedArrayDestroy((CUmipmappedArray)a), CUDA_ERROR_INVALID_HANDLE);
	CUmipmappedArray m = mk_mip(4, 4, 0, CU_AD_FORMAT_FLOAT, 1, 0, 3);
	CK_RC(cuArrayDestroy((CUarray)m), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuArray3DGetDescriptor(&ad, (CUarray)m), CUDA_ERROR_INVALID_HANDLE);
	CK(cuMipmappedArrayDestroy(m));
	CK(cuArrayDestroy(a));
	printf("levels: extents, handles and ownership of %zu shapes checked\n", sizeof(shapes) / sizeof(shapes[0]));
}

/* Host rows into one level (width x height x depth floats) and back. */
static void put_level(CUarray a, const float *src, size_t w, size_t h, size_t d)
{
	CUDA_MEMCPY3D p = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src, .srcPitch = w * 4, .srcHeight = h,
	                   .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a,
	                   .WidthInBytes = w * 4, .Height = h, .Depth = d};
	CK(cuMemcpy3D(&p));
}

static void get_level(CUarray a, float *dst, size_t w, size_t h, size_t d)
{
	CUDA_MEMCPY3D p = {.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a,
	                   .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = dst, .dstPitch = w * 4, .dstHeight = h,
	                   .WidthInBytes = w * 4, .Height = h, .Depth = d};
	CK(cuMemcpy3D(&p));
}

/* The extents of level l of m (1 for dimensions it lacks, layers for layered ones). */
static CUarray level_of(CUmipmappedArray m, unsigned l, size_t *w, size_t *h, size_t *d)
{
	CUarray a;
	CUDA_ARRAY3D_DESCRIPTOR b;
	CK(cuMipmappedArrayGetLevel(&a, m, l));
	CK(cuArray3DGetDescriptor(&b, a));
	*w = b.Width;
	*h = b.Height ? b.Height : 1;
	*d = b.Depth ? b.Depth : 1;
	return a;
}

/* Every level of m (floats) filled with f(level, x, y, z or layer). */
static void fill(CUmipmappedArray m, unsigned n, float (*f)(unsigned, size_t, size_t, size_t))
{
	for (unsigned l = 0; l < n; l++) {
		size_t w, h, d;
		CUarray a = level_of(m, l, &w, &h, &d);
		float *buf = malloc(w * h * d * 4);
		EXPECT(buf);
		for (size_t z = 0; z < d; z++)
			for (size_t y = 0; y < h; y++)
				for (size_t x = 0; x < w; x++)
					buf[(z * h + y) * w + x] = f(l, x, y, z);
		put_level(a, buf, w, h, d);
		free(buf);
	}
}

static float f_const(unsigned l, size_t x, size_t y, size_t z) { (void)x; (void)y; (void)z; return 10.0f * (float)l; }
static float f_layer(unsigned l, size_t x, size_t y, size_t z) { (void)x; (void)y; return 10.0f * (float)l + (float)z; }
static float f_pattern(unsigned l, size_t x, size_t y, size_t z)
{
	return (float)(l * 10000 + z * 1000 + y * 100 + x);
}

static void t_copies(void)
{
	enum { N = 5 };
	CUmipmappedArray m = mk_mip(16, 12, 3, CU_AD_FORMAT_FLOAT, 1, 0, N);
	fill(m, N, f_pattern);
	int n = 0;
	for (unsigned l = 0; l < N; l++) {
		size_t w, h, d;
		CUarray a = level_of(m, l, &w, &h, &d);
		float *buf = malloc(w * h * d * 4);
		EXPECT(buf);
		memset(buf, 0xff, w * h * d * 4);
		get_level(a, buf, w, h, d);
		for (size_t z = 0; z < d; z++)
			for (size_t y = 0; y < h; y++)
				for (size_t x = 0; x < w; x++, n++)
					EXPECT(buf[(z * h + y) * w + x] == f_pattern(l, x, y, z));
		/* one row too many for this level is refused before any byte moves */
		CUDA_MEMCPY3D p = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = buf, .srcPitch = w * 4,
		                   .srcHeight = h + 1, .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a,
		                   .WidthInBytes = w * 4, .Height = h + 1, .Depth = 1};
		CK_RC(cuMemcpy3D(&p), CUDA_ERROR_INVALID_VALUE);
		/* and the 1D copies see the level's bytes only */
		CK_RC(cuMemcpyAtoH(buf, a, 0, w * h * d * 4 + 4), CUDA_ERROR_INVALID_VALUE);
		CK(cuMemcpyAtoH(buf, a, 0, w * h * d * 4));
		EXPECT(buf[w * h * d - 1] == f_pattern(l, w - 1, h - 1, d - 1));
		free(buf);
	}
	CK(cuMipmappedArrayDestroy(m));
	printf("copies: %d texels of %d levels written and read back in place\n", n, N);
}

/* ---- kernels ---- */

#define KHEAD(name) ".visible .entry " name "(.param .u64 t, .param .u64 in, .param .u64 out)\n{\n" \
	" .reg .b64 %rd<8>;\n .reg .f32 %f<24>;\n .reg .b32 %r<4>;\n" \
	" ld.param.u64 %rd1, [t];\n ld.param.u64 %rd2, [in];\n ld.param.u64 %rd3, [out];\n" \
	" mov.u32 %r1, %tid.x;\n mul.wide.u32 %rd4, %r1, 48;\n add.u64 %rd5, %rd2, %rd4;\n" \
	" ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd5];\n ld.global.v4.f32 {%f5, %f6, %f7, %f8}, [%rd5+16];\n" \
	" ld.global.v4.f32 {%f9, %f10, %f11, %f12}, [%rd5+32];\n"
#define KTAIL " mul.wide.u32 %rd6, %r1, 4;\n add.u64 %rd7, %rd3, %rd6;\n st.global.f32 [%rd7], %f13;\n ret;\n}\n"

static const char mip_ptx[] =
	".version 7.0\n.target sm_75\n.address_size 64\n"
	KHEAD("k_level")
	" tex.level.2d.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1, %f2}], %f3;\n" KTAIL
	KHEAD("k_grad")
	" tex.grad.2d.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1, %f2}], {%f3, %f4}, {%f5, %f6};\n" KTAIL
	KHEAD("k_level1")
	" tex.level.1d.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1}], %f2;\n" KTAIL
	KHEAD("k_level3")
	" tex.level.3d.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1, %f2, %f3, %f3}], %f4;\n" KTAIL
	KHEAD("k_grad3")
	" tex.grad.3d.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1, %f2, %f3, %f3}], "
	"{%f4, %f5, %f6, %f6}, {%f7, %f8, %f9, %f9};\n" KTAIL
	KHEAD("k_cube")
	" tex.level.cube.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1, %f2, %f3, %f3}], %f4;\n" KTAIL
	KHEAD("k_gcube")
	" tex.grad.cube.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1, %f2, %f3, %f3}], "
	"{%f4, %f5, %f6, %f6}, {%f7, %f8, %f9, %f9};\n" KTAIL
	KHEAD("k_a2d")
	" mov.b32 %r2, %f1;\n"
	" tex.level.a2d.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%r2, %f2, %f3, %f3}], %f4;\n" KTAIL
	KHEAD("k_ilevel")   /* integer coordinates: texel indices of the level */
	" cvt.rzi.s32.f32 %r2, %f1;\n cvt.rzi.s32.f32 %r3, %f2;\n"
	" tex.level.2d.v4.f32.s32 {%f13, %f14, %f15, %f16}, [%rd1, {%r2, %r3}], %f3;\n" KTAIL
	KHEAD("k_plain")
	" tex.2d.v4.f32.f32 {%f13, %f14, %f15, %f16}, [%rd1, {%f1, %f2}];\n" KTAIL
	/* txq: levels, the level in[0]'s width and height, level 1's depth, the base width */
	".visible .entry k_txq(.param .u64 t, .param .u64 in, .param .u64 out)\n{\n"
	" .reg .b64 %rd<4>;\n .reg .b32 %r<8>;\n"
	" ld.param.u64 %rd1, [t];\n ld.param.u64 %rd2, [in];\n ld.param.u64 %rd3, [out];\n"
	" ld.global.u32 %r1, [%rd2];\n"
	" txq.num_mipmap_levels.b32 %r2, [%rd1];\n st.global.u32 [%rd3], %r2;\n"
	" txq.level.width.b32 %r3, [%rd1], %r1;\n st.global.u32 [%rd3+4], %r3;\n"
	" txq.level.height.b32 %r4, [%rd1], %r1;\n st.global.u32 [%rd3+8], %r4;\n"
	" txq.level.depth.b32 %r5, [%rd1], 1;\n st.global.u32 [%rd3+12], %r5;\n"
	" txq.width.b32 %r6, [%rd1];\n st.global.u32 [%rd3+16], %r6;\n"
	" ret;\n}\n";

static CUmodule mod;

/* Runs kernel name over texture t, one thread per row of in (up to 12 floats each); out[i]
 * the first component thread i fetched. */
static void run(const char *name, CUtexObject t, const float (*in)[12], unsigned n, float *out)
{
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, name));
	CUdeviceptr din, dout;
	CK(cuMemAlloc(&din, n * 48));
	CK(cuMemAlloc(&dout, n * 4));
	CK(cuMemcpyHtoD(din, in, n * 48));
	CK(cuMemsetD32(dout, 0x7fc00001, n));
	void *args[] = {&t, &din, &dout};
	CK(cuLaunchKernel(f, 1, 1, 1, n, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(out, dout, n * 4));
	CK(cuMemFree(din));
	CK(cuMemFree(dout));
}

static CUtexObject mk_tex(CUmipmappedArray m, CUfilter_mode mip, float bias, float lo, float hi, int norm,
			  CUfilter_mode filter)
{
	CUDA_RESOURCE_DESC rd = {.resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY};
	rd.res.mipmap.hMipmappedArray = m;
	CUDA_TEXTURE_DESC td = {.addressMode = {CU_TR_ADDRESS_MODE_CLAMP, CU_TR_ADDRESS_MODE_CLAMP, CU_TR_ADDRESS_MODE_CLAMP},
	                        .filterMode = filter, .flags = norm ? CU_TRSF_NORMALIZED_COORDINATES : 0,
	                        .maxAnisotropy = 4, .mipmapFilterMode = mip, .mipmapLevelBias = bias,
	                        .minMipmapLevelClamp = lo, .maxMipmapLevelClamp = hi};
	CUtexObject t;
	CK(cuTexObjectCreate(&t, &rd, &td, NULL));
	CUDA_RESOURCE_DESC back;
	CK(cuTexObjectGetResourceDesc(&back, t));
	EXPECT(!memcmp(&back, &rd, sizeof(rd)));
	CUDA_TEXTURE_DESC tb;
	CK(cuTexObjectGetTextureDesc(&tb, t));
	EXPECT(!memcmp(&tb, &td, sizeof(td)));
	return t;
}

struct ck { float in[12]; float want; };

/* Runs the cases through kernel name and compares every result exactly. */
static int check(const char *what, const char *name, CUtexObject t, const struct ck *c, unsigned n)
{
	float (*in)[12] = calloc(n, sizeof(*in)), *out = calloc(n, sizeof(float));
	EXPECT(in && out);
	for (unsigned i = 0; i < n; i++)
		memcpy(in[i], c[i].in, sizeof(c[i].in));
	run(name, t, (const float (*)[12])in, n, out);
	for (unsigned i = 0; i < n; i++)
		if (out[i] != c[i].want) {
			fprintf(stderr, "%s: case %u (%g %g %g %g ...): got %.9g, expected %.9g\n", what, i,
			        c[i].in[0], c[i].in[1], c[i].in[2], c[i].in[3], out[i], c[i].want);
			exit(1);
		}
	free(in);
	free(out);
	return (int)n;
}

static void t_sample(void)
{
	/* 32 x 16, 6 levels (32x16 ... 1x1), level i holding 10 * i */
	enum { N = 6 };
	CUmipmappedArray m = mk_mip(32, 16, 0, CU_AD_FORMAT_FLOAT, 1, 0, N);
	fill(m, N, f_const);
	int n = 0;

	CUtexObject lin = mk_tex(m, CU_TR_FILTER_MODE_LINEAR, 0, 0, N - 1, 1, CU_TR_FILTER_MODE_LINEAR);
	static const struct ck c_lin[] = {
		{{0.5f, 0.5f, 0.0f}, 0}, {{0.3f, 0.7f, 1.25f}, 12.5f}, {{0.5f, 0.5f, 2.5f}, 25},
		{{0.9f, 0.1f, 4.75f}, 47.5f}, {{0.5f, 0.5f, 5.0f}, 50}, {{0.5f, 0.5f, 7.0f}, 50},
		{{0.5f, 0.5f, -1.0f}, 0}, {{0.5f, 0.5f, 3.0f}, 30}, {{0.5f, 0.5f, 0.5f}, 5},
	};
	n += check("linear mipmap filter", "k_level", lin, c_lin, sizeof(c_lin) / sizeof(c_lin[0]));
	/* gradients in normalised coordinates, measured in level-0 texels (32 x 16) */
	static const struct ck c_grad[] = {
		{{0.5f, 0.5f, 4.0f / 32, 0, 0, 0}, 20},               /* dPdx 4 texels: lod 2 */
		{{0.5f, 0.5f, 0, 0, 0, 8.0f / 16}, 30},               /* dPdy 8 texels: lod 3 */
		{{0.5f, 0.5f, 2.0f / 32, 0, 0, 4.0f / 16}, 20},       /* the longer of 2 and 4 */
		{{0.5f, 0.5f, 0, 0, 0, 0}, 0},                        /* none: the base */
		{{0.5f, 0.5f, 2.0f / 32, 2.0f / 16, 0, 0}, 15},       /* length sqrt(8): lod 1.5 */
		{{0.5f, 0.5f, 0.5f / 32, 0, 0, 0}, 0},                /* magnified: lod -1, clamped */
		{{0.5f, 0.5f, 1000, 0, 0, 0}, 50},                    /* beyond the last level */
	};
	n += check("gradients", "k_grad", lin, c_grad, sizeof(c_grad) / sizeof(c_grad[0]));

	CUtexObject pt = mk_tex(m, CU_TR_FILTER_MODE_POINT, 0, 0, N - 1, 1, CU_TR_FILTER_MODE_POINT);
	static const struct ck c_pt[] = {
		{{0.5f, 0.5f, 1.25f}, 10}, {{0.5f, 0.5f, 1.5f}, 20}, {{0.5f, 0.5f, 2.75f}, 30},
		{{0.5f, 0.5f, 0.49f}, 0}, {{0.5f, 0.5f, 9.0f}, 50},
	};
	n += check("point mipmap filter", "k_level", pt, c_pt, sizeof(c_pt) / sizeof(c_pt[0]));
	static const struct ck c_gpt[] = {{{0.5f, 0.5f, 2.0f / 32, 2.0f / 16, 0, 0}, 20}};
	n += check("gradients, point", "k_grad", pt, c_gpt, 1);

	/* bias and clamps */
	CUtexObject bias = mk_tex(m, CU_TR_FILTER_MODE_LINEAR, 1.0f, 0, N - 1, 1, CU_TR_FILTER_MODE_LINEAR);
	static const struct ck c_bias[] = {{{0.5f, 0.5f, 0.5f}, 15}, {{0.5f, 0.5f, 4.5f}, 50},
	                                   {{0.5f, 0.5f, -1.0f}, 0}};
	n += check("bias", "k_level", bias, c_bias, sizeof(c_bias) / sizeof(c_bias[0]));
	CUtexObject nbias = mk_tex(m, CU_TR_FILTER_MODE_LINEAR, -1.0f, 0, N - 1, 1, CU_TR_FILTER_MODE_LINEAR);
	static const struct ck c_nbias[] = {{{0.5f, 0.5f, 0.5f}, 0}, {{0.5f, 0.5f, 3.25f}, 22.5f}};
	n += check("negative bias", "k_level", nbias, c_nbias, 2);
	CUtexObject clamp = mk_tex(m, CU_TR_FILTER_MODE_LINEAR, 0, 2.0f, 3.5f, 1, CU_TR_FILTER_MODE_LINEAR);
	static const struct ck c_clamp[] = {{{0.5f, 0.5f, 0.0f}, 20}, {{0.5f, 0.5f, 4.5f}, 35},
	                                    {{0.5f, 0.5f, 2.25f}, 22.5f}, {{0.5f, 0.5f, 0, 0, 0, 0}, 20}};
	n += check("clamps", "k_level", clamp, c_clamp, 3);
	n += check("clamps, gradients", "k_grad", clamp, c_clamp + 3, 1);
	/* a zeroed descriptor clamps every level of detail to 0 (maxMipmapLevelClamp 0) */
	CUtexObject zero = mk_tex(m, CU_TR_FILTER_MODE_LINEAR, 0, 0, 0, 1, CU_TR_FILTER_MODE_LINEAR);
	static const struct ck c_zero[] = {{{0.5f, 0.5f, 3.0f}, 0}};
	n += check("zero clamp", "k_level", zero, c_zero, 1);
	/* plain tex reads the base level, whatever the clamps say */
	static const struct ck c_plain[] = {{{0.5f, 0.5f}, 0}};
	n += check("plain tex", "k_plain", clamp, c_plain, 1);

	/* txq */
	uint32_t q[5];
	float qin[1][12] = {{0}};
	uint32_t lvl = 2;
	memcpy(qin[0], &lvl, 4);
	CUfunction fq;
	CK(cuModuleGetFunction(&fq, mod, "k_txq"));
	CUdeviceptr din, dq;
	CK(cuMemAlloc(&din, 48));
	CK(cuMemAlloc(&dq, sizeof(q)));
	CK(cuMemcpyHtoD(din, qin, 48));
	void *qa[] = {&lin, &din, &dq};
	CK(st_launch1(fq, qa));
	CK(cuMemcpyDtoH(q, dq, sizeof(q)));
	EXPECT(q[0] == N && q[1] == 8 && q[2] == 4 && q[3] == 1 && q[4] == 32);
	lvl = 9;    /* no such level */
	CK(cuMemcpyHtoD(din, &lvl, 4));
	CK(st_launch1(fq, qa));
	CK(cuMemcpyDtoH(q, dq, sizeof(q)));
	EXPECT(q[0] == N && q[1] == 0 && q[2] == 0);
	n += 2;
	CK(cuMemFree(din));
	CK(cuMemFree(dq));

	CK(cuTexObjectDestroy(lin));
	CK(cuTexObjectDestroy(pt));
	CK(cuTexObjectDestroy(bias));
	CK(cuTexObjectDestroy(nbias));
	CK(cuTexObjectDestroy(zero));

	/* destroyed under a live object: the object keeps reading what it had */
	CK(cuMipmappedArrayDestroy(m));
	static const struct ck c_after[] = {{{0.5f, 0.5f, 2.25f}, 22.5f}};
	n += check("after destroy", "k_level", clamp, c_after, 1);
	CK(cuTexObjectDestroy(clamp));
	printf("level of detail, 2D: %d fetches checked\n", n);
}

static void t_addressing(void)
{
	/* level 1 of a 32 x 16 array (16 x 8) holds a pattern: each level in its own texels */
	enum { N = 4 };
	CUmipmappedArray m = mk_mip(32, 16, 0, CU_AD_FORMAT_FLOAT, 1, 0, N);
	fill(m, N, f_pattern);
	CUtexObject un = mk_tex(m, CU_TR_FILTER_MODE_POINT, 0, 0, N - 1, 0, CU_TR_FILTER_MODE_POINT);
	CUtexObject no = mk_tex(m, CU_TR_FILTER_MODE_POINT, 0, 0, N - 1, 1, CU_TR_FILTER_MODE_POINT);
	CUtexObject li = mk_tex(m, CU_TR_FILTER_MODE_POINT, 0, 0, N - 1, 0, CU_TR_FILTER_MODE_LINEAR);
	struct ck c_un[16 * 8], c_no[16 * 8], c_i[16 * 8];
	unsigned k = 0;
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 16; x++, k++) {
			c_un[k] = (struct ck){{x + 0.5f, y + 0.5f, 1.0f}, f_pattern(1, (size_t)x, (size_t)y, 0)};
			c_no[k] = (struct ck){{(x + 0.5f) / 16, (y + 0.5f) / 8, 1.0f}, f_pattern(1, (size_t)x, (size_t)y, 0)};
			c_i[k] = (struct ck){{(float)x, (float)y, 1.0f}, f_pattern(1, (size_t)x, (size_t)y, 0)};
		}
	int n = 0;
	n += check("unnormalised, level 1", "k_level", un, c_un, k);
	n += check("normalised, level 1", "k_level", no, c_no, k);
	n += check("integer coordinates, level 1", "k_ilevel", un, c_i, k);
	/* linear filtering within level 2 (8 x 4): halfway between texels (1, 1) and (2, 1) */
	static const struct ck c_li[] = {{{2.0f, 1.5f, 2.0f}, 20101.5f}, {{2.0f, 2.0f, 2.0f}, 20151.5f}};
	n += check("linear filter within a level", "k_level", li, c_li, 2);
	CK(cuTexObjectDestroy(un));
	CK(cuTexObjectDestroy(no));
	CK(cuTexObjectDestroy(li));

	/* a texture over one level's array reads that level alone, as an array */
	CUarray a;
	CK(cuMipmappedArrayGetLevel(&a, m, 2));
	CUDA_RESOURCE_DESC rd = {.resType = CU_RESOURCE_TYPE_ARRAY};
	rd.res.array.hArray = a;
	CUDA_TEXTURE_DESC td = {.filterMode = CU_TR_FILTER_MODE_POINT, .maxMipmapLevelClamp = 3,
	                        .mipmapFilterMode = CU_TR_FILTER_MODE_LINEAR};
	CUtexObject t;
	CK(cuTexObjectCreate(&t, &rd, &td, NULL));
	static const struct ck c_lv[] = {{{3.5f, 2.5f, 0.0f}, 20203}, {{3.5f, 2.5f, 2.5f}, 20203}};
	n += check("texture over a level", "k_level", t, c_lv, 2);
	CK(cuTexObjectDestroy(t));

	/* surfaces over levels, never over the mipmapped array */
	CUsurfObject s;
	CUDA_RESOURCE_DESC rm = {.resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY};
	rm.res.mipmap.hMipmappedArray = m;
	CK_RC(cuSurfObjectCreate(&s, &rm), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuSurfObjectCreate(&s, &rd), CUDA_ERROR_INVALID_VALUE);    /* made without SURFACE_LDST */
	CUmipmappedArray ms = mk_mip(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_SURFACE_LDST, 2);
	CK(cuMipmappedArrayGetLevel(&a, ms, 1));
	rd.res.array.hArray = a;
	CK(cuSurfObjectCreate(&s, &rd));
	CK(cuSurfObjectDestroy(s));
	CK(cuMipmappedArrayDestroy(ms));
	/* a texture over a mipmapped array handle that is none */
	rm.res.mipmap.hMipmappedArray = (CUmipmappedArray)a;
	CK_RC(cuTexObjectCreate(&t, &rm, &td, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK(cuMipmappedArrayDestroy(m));
	printf("addressing: %d fetches within levels checked\n", n);
}

static void t_geometries(void)
{
	int n = 0;
	/* 1D: 16, 5 levels */
	CUmipmappedArray m1 = mk_mip(16, 0, 0, CU_AD_FORMAT_FLOAT, 1, 0, 5);
	fill(m1, 5, f_const);
	CUtexObject t1 = mk_tex(m1, CU_TR_FILTER_MODE_LINEAR, 0, 0, 4, 1, CU_TR_FILTER_MODE_POINT);
	static const struct ck c1[] = {{{0.3f, 3.5f}, 35}, {{0.3f, 0.25f}, 2.5f}};
	n += check("1D", "k_level1", t1, c1, 2);
	/* 3D: 8 x 8 x 8, 4 levels; the depth shrinks and counts in gradients */
	CUmipmappedArray m3 = mk_mip(8, 8, 8, CU_AD_FORMAT_FLOAT, 1, 0, 4);
	fill(m3, 4, f_const);
	CUtexObject t3 = mk_tex(m3, CU_TR_FILTER_MODE_LINEAR, 0, 0, 3, 1, CU_TR_FILTER_MODE_LINEAR);
	static const struct ck c3[] = {{{0.5f, 0.5f, 0.5f, 0.5f}, 5}, {{0.1f, 0.9f, 0.7f, 2.75f}, 27.5f}};
	n += check("3D", "k_level3", t3, c3, 2);
	static const struct ck c3g[] = {{{0.5f, 0.5f, 0.5f, 0, 0, 4.0f / 8, 0, 0, 0}, 20},
	                                {{0.5f, 0.5f, 0.5f, 0, 0, 0, 1.0f / 8, 1.0f / 8, 0}, 5}};   /* sqrt(2): lod 0.5 */
	n += check("3D gradients", "k_grad3", t3, c3g, 2);
	/* cubemap: 16 x 16 faces, 5 levels */
	CUmipmappedArray mc = mk_mip(16, 16, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP, 5);
	fill(mc, 5, f_const);
	CUtexObject tc = mk_tex(mc, CU_TR_FILTER_MODE_LINEAR, 0, 0, 4, 1, CU_TR_FILTER_MODE_LINEAR);
	static const struct ck cc[] = {{{1.0f, 0.2f, 0.3f, 2.5f}, 25}, {{-0.1f, -1.0f, 0.4f, 1.0f}, 10}};
	n += check("cubemap", "k_cube", tc, cc, 2);
	/* direction +x (major axis 1): half the face width, 8, scales the derivatives */
	static const struct ck ccg[] = {{{1.0f, 0, 0, 0, 0.5f, 0, 0, 0, 0}, 20},
	                                {{2.0f, 0, 0, 0, 0, 0, 0, 0, 0.5f}, 10}};
	n += check("cubemap gradients", "k_gcube", tc, ccg, 2);
	/* 2D layered: 8 x 8 with 3 layers, 4 levels; level i layer L holds 10 i + L */
	CUmipmappedArray ml = mk_mip(8, 8, 3, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_LAYERED, 4);
	fill(ml, 4, f_layer);
	CUtexObject tl = mk_tex(ml, CU_TR_FILTER_MODE_LINEAR, 0, 0, 3, 1, CU_TR_FILTER_MODE_LINEAR);
	struct ck cl[3] = {{{0, 0.5f, 0.5f, 1.25f}, 14.5f}, {{0, 0.5f, 0.5f, 3.0f}, 31}, {{0, 0.5f, 0.5f, 0.5f}, 7}};
	int32_t layer[3] = {2, 1, 5};   /* 5: clamped to the last layer */
	for (int i = 0; i < 3; i++)
		memcpy(&cl[i].in[0], &layer[i], 4);
	n += check("2D layered", "k_a2d", tl, cl, 3);
	/* integers read as integers take the nearest level even with a linear mipmap filter */
	CUmipmappedArray mi = mk_mip(8, 8, 0, CU_AD_FORMAT_SIGNED_INT32, 1, 0, 4);
	for (unsigned l = 0; l < 4; l++) {
		size_t w, h, d;
		CUarray a = level_of(mi, l, &w, &h, &d);
		int32_t buf[64];
		for (size_t i = 0; i < w * h; i++)
			buf[i] = (int32_t)(10 * l);
		CK(cuMemcpyHtoA(a, 0, buf, w * h * 4));
	}
	CUtexObject ti = mk_tex(mi, CU_TR_FILTER_MODE_LINEAR, 0, 0, 3, 1, CU_TR_FILTER_MODE_POINT);
	float in[2][12] = {{0.5f, 0.5f, 1.25f}, {0.5f, 0.5f, 1.5f}}, out[2];
	run("k_level", ti, (const float (*)[12])in, 2, out);
	int32_t got[2];
	memcpy(got, out, sizeof(got));
	EXPECT(got[0] == 10 && got[1] == 20);
	n += 2;
	/* a texture that is not mipmapped has one level, whatever the level of detail */
	CUDA_ARRAY3D_DESCRIPTOR ad = {.Width = 4, .Height = 4, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1};
	CUarray a;
	CK(cuArray3DCreate(&a, &ad));
	float sev[16];
	for (int i = 0; i < 16; i++)
		sev[i] = 7;
	CK(cuMemcpyHtoA(a, 0, sev, sizeof(sev)));
	CUDA_RESOURCE_DESC rd = {.resType = CU_RESOURCE_TYPE_ARRAY};
	rd.res.array.hArray = a;
	CUDA_TEXTURE_DESC td = {.filterMode = CU_TR_FILTER_MODE_LINEAR, .flags = CU_TRSF_NORMALIZED_COORDINATES,
	                        .mipmapFilterMode = CU_TR_FILTER_MODE_LINEAR, .maxMipmapLevelClamp = 8};
	CUtexObject tp;
	CK(cuTexObjectCreate(&tp, &rd, &td, NULL));
	static const struct ck cp[] = {{{0.5f, 0.5f, 2.5f}, 7}};
	n += check("not mipmapped", "k_level", tp, cp, 1);
	uint32_t q[5], zero[12] = {0};
	CUfunction fq;
	CK(cuModuleGetFunction(&fq, mod, "k_txq"));
	CUdeviceptr din, dq;
	CK(cuMemAlloc(&din, 48));
	CK(cuMemAlloc(&dq, sizeof(q)));
	CK(cuMemcpyHtoD(din, zero, 48));
	void *qa[] = {&tp, &din, &dq};
	CK(st_launch1(fq, qa));
	CK(cuMemcpyDtoH(q, dq, sizeof(q)));
	EXPECT(q[0] == 1 && q[1] == 4 && q[2] == 4 && q[3] == 0 && q[4] == 4);
	qa[0] = &t3;    /* level 1 of the 8 x 8 x 8 one: depth 4 */
	CK(st_launch1(fq, qa));
	CK(cuMemcpyDtoH(q, dq, sizeof(q)));
	EXPECT(q[0] == 4 && q[1] == 8 && q[2] == 8 && q[3] == 4 && q[4] == 8);
	n += 2;
	CK(cuMemFree(din));
	CK(cuMemFree(dq));
	CUtexObject ts[] = {t1, t3, tc, tl, ti, tp};
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
		CK(cuTexObjectDestroy(ts[i]));
	CK(cuArrayDestroy(a));
	CK(cuMipmappedArrayDestroy(m1));
	CK(cuMipmappedArrayDestroy(m3));
	CK(cuMipmappedArrayDestroy(mc));
	CK(cuMipmappedArrayDestroy(ml));
	CK(cuMipmappedArrayDestroy(mi));
	printf("geometries: %d fetches of 1D, 3D, cubemap, layered and integer textures checked\n", n);
}

int main(void)
{
	CUcontext c;
	CK(cuInit(0));
	CK(cuCtxCreate(&c, NULL, 0, 0));
	t_create();
	t_levels();
	t_copies();
	CK(cuModuleLoadData(&mod, mip_ptx));
	t_sample();
	t_addressing();
	t_geometries();
	CK(cuModuleUnload(mod));
	/* a context takes its mipmapped arrays with it */
	size_t before = used_now();
	CUmipmappedArray m = mk_mip(64, 64, 0, CU_AD_FORMAT_FLOAT, 4, 0, 7);
	EXPECT(used_now() > before);
	CK(cuCtxDestroy(c));
	CK(cuCtxCreate(&c, NULL, 0, 0));
	EXPECT(used_now() == before);
	CUarray x;
	CK_RC(cuMipmappedArrayGetLevel(&x, m, 0), CUDA_ERROR_INVALID_HANDLE);
	CK(cuCtxDestroy(c));
	printf("test_sim_mipmap: ok\n");
	return 0;
}
