/* SPDX-License-Identifier: MIT */
/* libcudasim's CUDA arrays, copies with arrays, texture and surface objects through the
 * driver API: descriptors round trip for every accepted format, channel count and flag; every
 * copy direction lands where a dense row-major model of the array says, with bounds checked
 * before any byte moves; handles cannot be forged, reused or passed as the other kind; an
 * array's storage is no pointer the program may free; objects outlive the array they name. */
#include "simtest.h"

#include <stdint.h>

void vgpu_sim_set_access_hook(void (*fn)(void *ctx, uint64_t dptr, uint64_t len, int write), void *ctx);

static const CUarray_format formats[] = {
	CU_AD_FORMAT_UNSIGNED_INT8, CU_AD_FORMAT_UNSIGNED_INT16, CU_AD_FORMAT_UNSIGNED_INT32,
	CU_AD_FORMAT_SIGNED_INT8, CU_AD_FORMAT_SIGNED_INT16, CU_AD_FORMAT_SIGNED_INT32,
	CU_AD_FORMAT_HALF, CU_AD_FORMAT_FLOAT,
};

static size_t used_now(void)
{
	size_t fr, tot;
	CK(cuMemGetInfo(&fr, &tot));
	return tot - fr;
}

static CUarray mk3(size_t w, size_t h, size_t d, CUarray_format f, unsigned ch, unsigned flags)
{
	CUDA_ARRAY3D_DESCRIPTOR ad = {.Width = w, .Height = h, .Depth = d, .Format = f, .NumChannels = ch, .Flags = flags};
	CUarray a;
	CK(cuArray3DCreate(&a, &ad));
	return a;
}

static CUresult try3(size_t w, size_t h, size_t d, CUarray_format f, unsigned ch, unsigned flags)
{
	CUDA_ARRAY3D_DESCRIPTOR ad = {.Width = w, .Height = h, .Depth = d, .Format = f, .NumChannels = ch, .Flags = flags};
	CUarray a = NULL;
	CUresult rc = cuArray3DCreate(&a, &ad);
	if (rc == CUDA_SUCCESS)
		CK(cuArrayDestroy(a));
	return rc;
}

static void t_descriptors(void)
{
	static const unsigned chans[] = {1, 2, 4};
	/* shapes: 1D, 2D, 3D, 1D layered, 2D layered; flags on top */
	static const size_t shapes[][3] = {{7, 0, 0}, {5, 3, 0}, {4, 3, 2}, {6, 0, 3}, {3, 2, 4}};
	static const unsigned extra[] = {0, CUDA_ARRAY3D_SURFACE_LDST, CUDA_ARRAY3D_TEXTURE_GATHER,
	                                 CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_TEXTURE_GATHER};
	int n = 0;
	for (size_t fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++)
		for (size_t ci = 0; ci < 3; ci++)
			for (size_t si = 0; si < 5; si++)
				for (size_t ei = 0; ei < 4; ei++) {
					unsigned flags = extra[ei] | (si >= 3 ? CUDA_ARRAY3D_LAYERED : 0);
					int gather_ok = si == 1;
					const size_t *s = shapes[si];
					CUDA_ARRAY3D_DESCRIPTOR ad = {s[0], s[1], s[2], formats[fi], chans[ci], flags}, back;
					CUarray a;
					CUresult rc = cuArray3DCreate(&a, &ad);
					if ((flags & CUDA_ARRAY3D_TEXTURE_GATHER) && !gather_ok) {
						CK_RC(rc, CUDA_ERROR_INVALID_VALUE);
						continue;
					}
					CK(rc);
					memset(&back, 0xa5, sizeof(back));
					CK(cuArray3DGetDescriptor(&back, a));
					EXPECT(back.Width == s[0] && back.Height == s[1] && back.Depth == s[2] &&
					       back.Format == formats[fi] && back.NumChannels == chans[ci] && back.Flags == flags);
					CUDA_ARRAY_DESCRIPTOR b2;
					CK(cuArrayGetDescriptor(&b2, a));
					EXPECT(b2.Width == s[0] && b2.Height == s[1] && b2.Format == formats[fi] &&
					       b2.NumChannels == chans[ci]);
					CK(cuArrayDestroy(a));
					n++;
				}
	/* the 2D call */
	for (size_t fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++) {
		CUDA_ARRAY_DESCRIPTOR d = {.Width = 9, .Height = fi, .Format = formats[fi], .NumChannels = 2}, b;
		CUarray a;
		CK(cuArrayCreate(&a, &d));
		CK(cuArrayGetDescriptor(&b, a));
		EXPECT(!memcmp(&b, &d, sizeof(d)));
		CUDA_ARRAY3D_DESCRIPTOR b3;
		CK(cuArray3DGetDescriptor(&b3, a));
		EXPECT(b3.Width == 9 && b3.Height == fi && b3.Depth == 0 && b3.Flags == 0);
		CK(cuArrayDestroy(a));
	}
	/* storage is device memory, charged and given back */
	size_t before = used_now();
	CUarray a = mk3(1024, 256, 0, CU_AD_FORMAT_FLOAT, 4, 0);
	EXPECT(used_now() >= before + 1024 * 256 * 16);
	CK(cuArrayDestroy(a));
	EXPECT(used_now() == before);
	printf("descriptors: %d format/channel/shape/flag combinations round trip\n", n);
}

static void t_refused(void)
{
	/* formats the simulator does not hold, and ones that are no format */
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_NV12, 1, 0), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_UNORM_INT8X1, 1, 0), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_BC1_UNORM, 4, 0), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_UNORM_INT_101010_2, 4, 0), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try3(8, 8, 0, (CUarray_format)0x77, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_FLOAT, 3, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_FLOAT, 0, 0), CUDA_ERROR_INVALID_VALUE);
	/* flags */
	/* cubemaps: square, six faces (six per cubemap when layered), no gather */
	CK(try3(8, 8, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP));
	CK(try3(8, 8, 12, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED));
	CK_RC(try3(8, 4, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 8, 12, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 8, 7, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 8, 6, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_TEXTURE_GATHER),
	      CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(32769, 32769, 6, CU_AD_FORMAT_UNSIGNED_INT8, 1, CUDA_ARRAY3D_CUBEMAP), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_SPARSE), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_DEFERRED_MAPPING), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0x10000), CUDA_ERROR_INVALID_VALUE);
	/* shapes and limits */
	CK_RC(try3(0, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 0, 4, CU_AD_FORMAT_FLOAT, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_LAYERED), CUDA_ERROR_INVALID_VALUE);
	CK(try3(131072, 0, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0));
	CK_RC(try3(131073, 0, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(32769, 0, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, CUDA_ARRAY3D_SURFACE_LDST), CUDA_ERROR_INVALID_VALUE);
	CK(try3(16, 65536, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0));
	CK_RC(try3(16, 65537, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(131073, 2, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(16385, 2, 2, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(2, 2, 16385, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CK(try3(2, 2, 2048, CU_AD_FORMAT_UNSIGNED_INT8, 1, CUDA_ARRAY3D_LAYERED));
	CK_RC(try3(2, 2, 2049, CU_AD_FORMAT_UNSIGNED_INT8, 1, CUDA_ARRAY3D_LAYERED), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(32769, 0, 2, CU_AD_FORMAT_UNSIGNED_INT8, 1, CUDA_ARRAY3D_LAYERED), CUDA_ERROR_INVALID_VALUE);
	CK_RC(try3(32769, 32769, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, CUDA_ARRAY3D_TEXTURE_GATHER),
	      CUDA_ERROR_INVALID_VALUE);
	CUarray a;
	CK_RC(cuArray3DCreate(&a, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuArrayCreate(NULL, &(CUDA_ARRAY_DESCRIPTOR){8, 8, CU_AD_FORMAT_FLOAT, 1}), CUDA_ERROR_INVALID_VALUE);
	/* limits as the device reports them */
	int v;
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH, 0));
	EXPECT(v == 131072);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT, 0));
	EXPECT(v == 65536);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH, 0));
	EXPECT(v == 16384);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_LAYERS, 0));
	EXPECT(v == 2048);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT, 0));
	EXPECT(v == 32);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH, 0));
	EXPECT(v == 1 << 27);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_PITCH, 0));
	EXPECT(v == 2097120);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_WIDTH, 0));
	EXPECT(v == 131072);
	size_t lw;
	CK(cuDeviceGetTexture1DLinearMaxWidth(&lw, CU_AD_FORMAT_FLOAT, 4, 0));
	EXPECT(lw == (size_t)1 << 27);
}

/* ---- copies, checked against a dense row-major model of the array ---- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed * 17 + (i >> 8));
}

/* model[z][y][x] of a box copied from a source with its own pitch and rows per slice */
static void box(uint8_t *dst, size_t dpitch, size_t drows, size_t dx, size_t dy, size_t dz, const uint8_t *src,
		size_t spitch, size_t srows, size_t sx, size_t sy, size_t sz, size_t w, size_t h, size_t d)
{
	for (size_t z = 0; z < d; z++)
		for (size_t y = 0; y < h; y++)
			memcpy(dst + ((dz + z) * drows + dy + y) * dpitch + dx,
			       src + ((sz + z) * srows + sy + y) * spitch + sx, w);
}

static void read_all(CUarray a, uint8_t *out, size_t bytes)
{
	CK(cuMemcpyAtoH(out, a, 0, bytes));
}

static void t_copies_1d(void)
{
	/* a 2D array of 16 x 8 texels of float2 (8 bytes): 128-byte rows, 1024 bytes */
	enum { W = 16, H = 8, T = 8, BYTES = W * H * T };
	CUarray a = mk3(W, H, 0, CU_AD_FORMAT_FLOAT, 2, 0), b = mk3(W, H, 0, CU_AD_FORMAT_FLOAT, 2, 0);
	uint8_t model[BYTES], mb[BYTES], src[BYTES], got[BYTES];
	fill(src, BYTES, 1);
	CK(cuMemcpyHtoA(a, 0, src, BYTES));
	memcpy(model, src, BYTES);
	read_all(a, got, BYTES);
	EXPECT(!memcmp(got, model, BYTES));
	/* byte offsets across rows, unaligned to elements: the storage is dense and row-major */
	fill(src, BYTES, 2);
	CK(cuMemcpyHtoA(a, 131, src, 300));
	memcpy(model + 131, src, 300);
	CK(cuMemcpyAtoH(got, a, 77, 500));
	EXPECT(!memcmp(got, model + 77, 500));
	/* device <-> array */
	CUdeviceptr d;
	CK(cuMemAlloc(&d, BYTES));
	fill(src, BYTES, 3);
	CK(cuMemcpyHtoD(d, src, BYTES));
	CK(cuMemcpyDtoA(a, 256, d + 10, 200));
	memcpy(model + 256, src + 10, 200);
	CK(cuMemsetD8(d, 0, BYTES));
	CK(cuMemcpyAtoD(d + 5, a, 100, 600));
	CK(cuMemcpyDtoH(got, d, BYTES));
	EXPECT(!memcmp(got + 5, model + 100, 600) && got[0] == 0 && got[605] == 0);
	/* array <-> array */
	memset(mb, 0, BYTES);
	CK(cuMemcpyHtoA(b, 0, mb, BYTES));
	CK(cuMemcpyAtoA(b, 40, a, 8, 900));
	memcpy(mb + 40, model + 8, 900);
	read_all(b, got, BYTES);
	EXPECT(!memcmp(got, mb, BYTES));
	/* async, ordered on a stream with the other work */
	CUstream s;
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	uint8_t *pin;
	CK(cuMemAllocHost((void **)&pin, BYTES));
	fill(pin, BYTES, 4);
	CK(cuMemcpyHtoAAsync(a, 64, pin, 512, s));
	memcpy(model + 64, pin, 512);
	uint8_t *pout;
	CK(cuMemAllocHost((void **)&pout, BYTES));
	CK(cuMemcpyAtoHAsync(pout, a, 0, BYTES, s));
	CK(cuStreamSynchronize(s));
	EXPECT(!memcmp(pout, model, BYTES));
	/* pageable host memory with the async calls */
	fill(src, BYTES, 5);
	CK(cuMemcpyHtoAAsync(a, 0, src, 16, s));
	memcpy(model, src, 16);
	CK(cuMemcpyAtoHAsync(got, a, 0, BYTES, s));
	CK(cuStreamSynchronize(s));
	EXPECT(!memcmp(got, model, BYTES));
	/* bounds, before any byte moves */
	CK_RC(cuMemcpyHtoA(a, BYTES - 10, src, 11), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyHtoA(a, BYTES + 1, src, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyAtoH(got, a, 1, BYTES), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyAtoA(b, 0, a, 1000, 100), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyAtoA(b, 1000, a, 0, 100), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyDtoA(a, 0, d + BYTES - 8, 16), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyAtoD(d, a, SIZE_MAX - 4, 8), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyHtoAAsync(a, BYTES, src, 1, s), CUDA_ERROR_INVALID_VALUE);
	read_all(a, got, BYTES);
	EXPECT(!memcmp(got, model, BYTES));
	CK(cuMemFreeHost(pin));
	CK(cuMemFreeHost(pout));
	CK(cuStreamDestroy(s));
	CK(cuMemFree(d));
	CK(cuArrayDestroy(a));
	CK(cuArrayDestroy(b));
}

static void t_copies_2d_3d(void)
{
	/* a 3D array 12 x 10 x 6 of ushort2 (4 bytes): pitch 48, slice 480 */
	enum { W = 12, H = 10, D = 6, T = 4, P = W * T, BYTES = P * H * D };
	CUarray a = mk3(W, H, D, CU_AD_FORMAT_UNSIGNED_INT16, 2, 0);
	static uint8_t model[BYTES], got[BYTES], host[64 * 32 * 8];
	memset(model, 0, BYTES);
	CK(cuMemcpyHtoA(a, 0, model, BYTES));
	/* 3D host -> array with offsets on both sides; the host has its own pitch and height */
	fill(host, sizeof(host), 7);
	CUDA_MEMCPY3D c = {0};
	c.srcMemoryType = CU_MEMORYTYPE_HOST;
	c.srcHost = host;
	c.srcPitch = 64;
	c.srcHeight = 32;
	c.srcXInBytes = 3;
	c.srcY = 2;
	c.srcZ = 1;
	c.dstMemoryType = CU_MEMORYTYPE_ARRAY;
	c.dstArray = a;
	c.dstXInBytes = 8;
	c.dstY = 1;
	c.dstZ = 2;
	c.WidthInBytes = 24;
	c.Height = 7;
	c.Depth = 3;
	CK(cuMemcpy3D(&c));
	box(model, P, H, 8, 1, 2, host, 64, 32, 3, 2, 1, 24, 7, 3);
	read_all(a, got, BYTES);
	EXPECT(!memcmp(got, model, BYTES));
	/* 3D array -> device (pitched) -> host, async on a stream */
	CUdeviceptr dp;
	size_t dpitch;
	CK(cuMemAllocPitch(&dp, &dpitch, 64, 16 * 6, 4));
	CK(cuMemsetD8(dp, 0, dpitch * 96));
	CUDA_MEMCPY3D e = {0};
	e.srcMemoryType = CU_MEMORYTYPE_ARRAY;
	e.srcArray = a;
	e.srcXInBytes = 4;
	e.srcY = 1;
	e.srcZ = 1;
	e.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	e.dstDevice = dp;
	e.dstPitch = dpitch;
	e.dstHeight = 16;
	e.dstXInBytes = 2;
	e.dstY = 3;
	e.dstZ = 1;
	e.WidthInBytes = 40;
	e.Height = 9;
	e.Depth = 5;
	CUstream s;
	CK(cuStreamCreate(&s, 0));
	CK(cuMemcpy3DAsync(&e, s));
	CK(cuStreamSynchronize(s));
	static uint8_t dev[4096 * 64], want[4096 * 64];
	CK(cuMemcpyDtoH(dev, dp, dpitch * 96));
	memset(want, 0, sizeof(want));
	box(want, dpitch, 16, 2, 3, 1, model, P, H, 4, 1, 1, 40, 9, 5);
	EXPECT(!memcmp(dev, want, dpitch * 96));
	/* array -> array in 3D */
	CUarray b = mk3(W, H, D, CU_AD_FORMAT_UNSIGNED_INT16, 2, 0);
	static uint8_t mb[BYTES];
	fill(mb, BYTES, 9);
	CK(cuMemcpyHtoA(b, 0, mb, BYTES));
	CUDA_MEMCPY3D f = {0};
	f.srcMemoryType = CU_MEMORYTYPE_ARRAY;
	f.srcArray = a;
	f.dstMemoryType = CU_MEMORYTYPE_ARRAY;
	f.dstArray = b;
	f.srcXInBytes = 0;
	f.srcY = 3;
	f.srcZ = 0;
	f.dstXInBytes = 12;
	f.dstY = 0;
	f.dstZ = 3;
	f.WidthInBytes = 36;
	f.Height = 7;
	f.Depth = 3;
	CK(cuMemcpy3D(&f));
	box(mb, P, H, 12, 0, 3, model, P, H, 0, 3, 0, 36, 7, 3);
	read_all(b, got, BYTES);
	EXPECT(!memcmp(got, mb, BYTES));
	/* 2D: host -> array (slice 0), array -> host, device <-> array, unaligned and async forms */
	CUarray a2 = mk3(W, H, 0, CU_AD_FORMAT_UNSIGNED_INT16, 2, 0);
	static uint8_t m2[P * H];
	memset(m2, 0, sizeof(m2));
	CK(cuMemcpyHtoA(a2, 0, m2, sizeof(m2)));
	CUDA_MEMCPY2D g = {0};
	g.srcMemoryType = CU_MEMORYTYPE_HOST;
	g.srcHost = host;
	g.srcPitch = 64;
	g.srcXInBytes = 5;
	g.srcY = 1;
	g.dstMemoryType = CU_MEMORYTYPE_ARRAY;
	g.dstArray = a2;
	g.dstXInBytes = 4;
	g.dstY = 2;
	g.WidthInBytes = 40;
	g.Height = 8;
	CK(cuMemcpy2D(&g));
	box(m2, P, H, 4, 2, 0, host, 64, 1, 5, 1, 0, 40, 8, 1);
	read_all(a2, got, sizeof(m2));
	EXPECT(!memcmp(got, m2, sizeof(m2)));
	CUDA_MEMCPY2D g2 = {0};
	g2.srcMemoryType = CU_MEMORYTYPE_ARRAY;
	g2.srcArray = a2;
	g2.srcXInBytes = 8;
	g2.srcY = 3;
	g2.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	g2.dstDevice = dp;
	g2.dstPitch = dpitch;
	g2.WidthInBytes = 32;
	g2.Height = 6;
	CK(cuMemsetD8(dp, 0, dpitch * 96));
	CK(cuMemcpy2DUnaligned(&g2));
	CK(cuMemcpyDtoH(dev, dp, dpitch * 8));
	memset(want, 0, sizeof(want));
	box(want, dpitch, 1, 0, 0, 0, m2, P, 1, 8, 3, 0, 32, 6, 1);
	EXPECT(!memcmp(dev, want, dpitch * 8));
	/* device -> array, async; then array -> array with 2D */
	CUDA_MEMCPY2D g3 = {0};
	g3.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	g3.srcDevice = dp;
	g3.srcPitch = dpitch;
	g3.dstMemoryType = CU_MEMORYTYPE_ARRAY;
	g3.dstArray = a2;
	g3.dstY = 4;
	g3.WidthInBytes = 32;
	g3.Height = 6;
	CK(cuMemcpy2DAsync(&g3, s));
	CK(cuStreamSynchronize(s));
	box(m2, P, 1, 0, 4, 0, want, dpitch, 1, 0, 0, 0, 32, 6, 1);
	read_all(a2, got, sizeof(m2));
	EXPECT(!memcmp(got, m2, sizeof(m2)));
	CUDA_MEMCPY2D g4 = {0};
	g4.srcMemoryType = CU_MEMORYTYPE_ARRAY;
	g4.srcArray = a2;
	g4.dstMemoryType = CU_MEMORYTYPE_ARRAY;
	g4.dstArray = b;       /* slice 0 of a 3D array */
	g4.srcXInBytes = 4;
	g4.dstXInBytes = 8;
	g4.srcY = 1;
	g4.dstY = 2;
	g4.WidthInBytes = 16;
	g4.Height = 5;
	CK(cuMemcpy2D(&g4));
	box(mb, P, H, 8, 2, 0, m2, P, H, 4, 1, 0, 16, 5, 1);
	read_all(b, got, BYTES);
	EXPECT(!memcmp(got, mb, BYTES));
	/* a layered 2D array: Z is the layer */
	CUarray l = mk3(4, 3, 5, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_LAYERED);
	float lay[5][3][4], lg[5][3][4];
	for (int i = 0; i < 60; i++)
		((float *)lay)[i] = (float)i;
	CUDA_MEMCPY3D lc = {0};
	lc.srcMemoryType = CU_MEMORYTYPE_HOST;
	lc.srcHost = lay;
	lc.srcPitch = 16;
	lc.srcHeight = 3;
	lc.dstMemoryType = CU_MEMORYTYPE_ARRAY;
	lc.dstArray = l;
	lc.WidthInBytes = 16;
	lc.Height = 3;
	lc.Depth = 5;
	CK(cuMemcpy3D(&lc));
	CK(cuMemcpyAtoH(lg, l, 0, sizeof(lg)));
	EXPECT(!memcmp(lg, lay, sizeof(lg)));
	/* bounds and element alignment, checked before any byte moves */
	read_all(a, got, BYTES);
	EXPECT(!memcmp(got, model, BYTES));
	CUDA_MEMCPY3D bad = c;
	bad.dstXInBytes = 9;                      /* not a whole element */
	CK_RC(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
	bad = c;
	bad.WidthInBytes = 26;                    /* not whole elements */
	CK_RC(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
	bad = c;
	bad.dstXInBytes = 28;                     /* 28 + 24 > 48 */
	CK_RC(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
	bad = c;
	bad.dstY = 4;                             /* 4 + 7 > 10 */
	CK_RC(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
	bad = c;
	bad.dstZ = 4;                             /* 4 + 3 > 6 */
	CK_RC(cuMemcpy3DAsync(&bad, s), CUDA_ERROR_INVALID_VALUE);
	bad = c;
	bad.dstZ = SIZE_MAX;
	CK_RC(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
	bad = c;
	bad.dstArray = (CUarray)(uintptr_t)0x1234;
	CK_RC(cuMemcpy3D(&bad), CUDA_ERROR_INVALID_HANDLE);
	CUDA_MEMCPY2D g5 = g;
	g5.Height = 9;                            /* 2 + 9 > 10 */
	CK_RC(cuMemcpy2D(&g5), CUDA_ERROR_INVALID_VALUE);
	g5 = g;
	g5.dstXInBytes = 2;
	CK_RC(cuMemcpy2DAsync(&g5, s), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpy3D(&lc), CUDA_SUCCESS);
	lc.Depth = 6;
	CK_RC(cuMemcpy3D(&lc), CUDA_ERROR_INVALID_VALUE);
	read_all(a, got, BYTES);
	EXPECT(!memcmp(got, model, BYTES));
	/* a copy node made from an array copy reads back as that array, not its storage */
	CUgraph gr;
	CUgraphNode node;
	CUcontext cur;
	CK(cuCtxGetCurrent(&cur));
	CK(cuGraphCreate(&gr, 0));
	CK(cuGraphAddMemcpyNode(&node, gr, NULL, 0, &f, cur));
	CUDA_MEMCPY3D rb;
	CK(cuGraphMemcpyNodeGetParams(node, &rb));
	EXPECT(rb.srcMemoryType == CU_MEMORYTYPE_ARRAY && rb.srcArray == a && rb.srcY == 3 && rb.srcZ == 0);
	EXPECT(rb.dstMemoryType == CU_MEMORYTYPE_ARRAY && rb.dstArray == b && rb.dstXInBytes == 12 && rb.dstZ == 3);
	EXPECT(rb.WidthInBytes == 36 && rb.Height == 7 && rb.Depth == 3);
	CK(cuGraphDestroy(gr));
	CK(cuStreamDestroy(s));
	CK(cuMemFree(dp));
	CK(cuArrayDestroy(a));
	CK(cuArrayDestroy(b));
	CK(cuArrayDestroy(a2));
	CK(cuArrayDestroy(l));
}

/* ---- the array's storage is not the program's memory ---- */

static uint64_t last_dev;
static void hook(void *ctx, uint64_t p, uint64_t len, int write)
{
	(void)ctx, (void)len;
	if (write)
		last_dev = p;
}

static void t_storage(void)
{
	CUarray a = mk3(64, 64, 0, CU_AD_FORMAT_FLOAT, 1, 0);
	static float src[64 * 64];
	vgpu_sim_set_access_hook(hook, NULL);
	CK(cuMemcpyHtoA(a, 0, src, sizeof(src)));
	vgpu_sim_set_access_hook(NULL, NULL);
	CUdeviceptr p = (CUdeviceptr)last_dev;
	EXPECT(p != 0);
	CK_RC(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemFreeAsync(p, NULL), CUDA_ERROR_INVALID_VALUE);
	CUdeviceptr base;
	size_t size;
	CK_RC(cuMemGetAddressRange(&base, &size, p), CUDA_ERROR_NOT_FOUND);
	CUcontext ctx;
	CK_RC(cuPointerGetAttribute(&ctx, CU_POINTER_ATTRIBUTE_CONTEXT, p), CUDA_ERROR_INVALID_VALUE);
	unsigned mt = 99;
	CUpointer_attribute at = CU_POINTER_ATTRIBUTE_MEMORY_TYPE;
	void *data = &mt;
	CK(cuPointerGetAttributes(1, &at, &data, p));
	EXPECT(mt == 0);
	CK_RC(cuMemcpyHtoD(p, src, 16), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyDtoH(src, p, 16), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemsetD32(p, 0, 4), CUDA_ERROR_INVALID_VALUE);
	void *hp = (void *)(uintptr_t)p;
	CUdeviceptr dd;
	CK_RC(cuMemHostGetDevicePointer(&dd, hp, 0), CUDA_ERROR_INVALID_VALUE);
	CK(cuArrayDestroy(a));
}

/* ---- handles ---- */

static void t_handles(void)
{
	CUDA_ARRAY3D_DESCRIPTOR d;
	CK_RC(cuArrayDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuArrayDestroy((CUarray)(uintptr_t)0x12345), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuArrayDestroy((CUarray)(uintptr_t)1), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuArrayDestroy((CUarray)(uintptr_t)~0ull), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuArray3DGetDescriptor(&d, (CUarray)&d), CUDA_ERROR_INVALID_HANDLE);
	CUarray a = mk3(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_SURFACE_LDST);
	CK(cuArrayDestroy(a));
	CK_RC(cuArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuArray3DGetDescriptor(&d, a), CUDA_ERROR_INVALID_HANDLE);
	/* its slot reused: the old handle still names nothing */
	CUarray a2 = mk3(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_SURFACE_LDST);
	EXPECT(a2 != a);
	CK_RC(cuArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
	uint8_t buf[16];
	CK_RC(cuMemcpyHtoA(a, 0, buf, 4), CUDA_ERROR_INVALID_HANDLE);
	/* kinds do not mix */
	CUDA_RESOURCE_DESC rd = {.resType = CU_RESOURCE_TYPE_ARRAY};
	rd.res.array.hArray = a2;
	CUDA_TEXTURE_DESC td = {0};
	CUtexObject t;
	CUsurfObject su;
	CK(cuTexObjectCreate(&t, &rd, &td, NULL));
	CK(cuSurfObjectCreate(&su, &rd));
	EXPECT(t && su && t != su);
	CUDA_RESOURCE_DESC back;
	CK_RC(cuSurfObjectGetResourceDesc(&back, t), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuTexObjectGetResourceDesc(&back, su), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuSurfObjectDestroy(t), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuTexObjectDestroy(su), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuArrayDestroy((CUarray)(uintptr_t)t), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuTexObjectDestroy((CUtexObject)(uintptr_t)a2), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuMemcpyHtoA((CUarray)(uintptr_t)t, 0, buf, 4), CUDA_ERROR_INVALID_HANDLE);
	rd.res.array.hArray = (CUarray)(uintptr_t)t;
	CK_RC(cuTexObjectCreate(&t, &rd, &td, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuTexObjectDestroy(0), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuTexObjectDestroy(0xdeadbeef00000001ull), CUDA_ERROR_INVALID_HANDLE);
	CK(cuTexObjectDestroy(t));
	CK_RC(cuTexObjectDestroy(t), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuTexObjectGetTextureDesc(&td, t), CUDA_ERROR_INVALID_HANDLE);
	CK(cuSurfObjectDestroy(su));
	CK_RC(cuSurfObjectDestroy(su), CUDA_ERROR_INVALID_HANDLE);
	CK(cuArrayDestroy(a2));
}

/* ---- texture and surface objects ---- */

static void t_objects(void)
{
	CUarray a = mk3(32, 16, 0, CU_AD_FORMAT_UNSIGNED_INT8, 4, 0);
	CUDA_RESOURCE_DESC rd = {.resType = CU_RESOURCE_TYPE_ARRAY}, back;
	rd.res.array.hArray = a;
	CUDA_TEXTURE_DESC td = {.addressMode = {CU_TR_ADDRESS_MODE_CLAMP, CU_TR_ADDRESS_MODE_BORDER, CU_TR_ADDRESS_MODE_MIRROR},
	                        .filterMode = CU_TR_FILTER_MODE_LINEAR, .flags = CU_TRSF_NORMALIZED_COORDINATES,
	                        .borderColor = {0.25f, 0.5f, 0.75f, 1.0f}}, tback;
	CUtexObject t;
	CK(cuTexObjectCreate(&t, &rd, &td, NULL));
	CK(cuTexObjectGetResourceDesc(&back, t));
	EXPECT(back.resType == CU_RESOURCE_TYPE_ARRAY && back.res.array.hArray == a && back.flags == 0);
	CK(cuTexObjectGetTextureDesc(&tback, t));
	EXPECT(!memcmp(&tback, &td, sizeof(td)));
	CUDA_RESOURCE_VIEW_DESC vd;
	CK_RC(cuTexObjectGetResourceViewDesc(&vd, t), CUDA_ERROR_INVALID_VALUE);
	CK(cuTexObjectDestroy(t));
	/* an all-zero view is no view; any other is not simulated */
	memset(&vd, 0, sizeof(vd));
	CK(cuTexObjectCreate(&t, &rd, &td, &vd));
	CK(cuTexObjectDestroy(t));
	vd.format = CU_RES_VIEW_FORMAT_UINT_4X8;
	vd.width = 32;
	vd.height = 16;
	CK_RC(cuTexObjectCreate(&t, &rd, &td, &vd), CUDA_ERROR_NOT_SUPPORTED);
	/* texture descriptors the driver refuses */
	CUDA_TEXTURE_DESC bt = td;
	bt.addressMode[2] = (CUaddress_mode)4;
	CK_RC(cuTexObjectCreate(&t, &rd, &bt, NULL), CUDA_ERROR_INVALID_VALUE);
	bt = td;
	bt.filterMode = (CUfilter_mode)2;
	CK_RC(cuTexObjectCreate(&t, &rd, &bt, NULL), CUDA_ERROR_INVALID_VALUE);
	bt = td;
	bt.flags |= 0x100;
	CK_RC(cuTexObjectCreate(&t, &rd, &bt, NULL), CUDA_ERROR_INVALID_VALUE);
	/* a linear filter over texels read as integers is taken (FFmpeg's thumbnail_cuda
	 * makes such objects), as is the point filter */
	bt = td;
	bt.flags |= CU_TRSF_READ_AS_INTEGER;
	CK(cuTexObjectCreate(&t, &rd, &bt, NULL));
	CK(cuTexObjectDestroy(t));
	bt.filterMode = CU_TR_FILTER_MODE_POINT;
	CK(cuTexObjectCreate(&t, &rd, &bt, NULL));
	CK(cuTexObjectDestroy(t));
	CK_RC(cuTexObjectCreate(&t, &rd, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuTexObjectCreate(NULL, &rd, &td, NULL), CUDA_ERROR_INVALID_VALUE);
	CUarray ai = mk3(32, 0, 0, CU_AD_FORMAT_SIGNED_INT32, 1, 0);
	CUDA_RESOURCE_DESC ri = {.resType = CU_RESOURCE_TYPE_ARRAY};
	ri.res.array.hArray = ai;
	bt = td;
	bt.flags = 0;
	CK(cuTexObjectCreate(&t, &ri, &bt, NULL));   /* 32-bit ints, read as integers, with a linear filter */
	CK(cuTexObjectDestroy(t));
	bt.filterMode = CU_TR_FILTER_MODE_POINT;
	CK(cuTexObjectCreate(&t, &ri, &bt, NULL));
	CK(cuTexObjectDestroy(t));
	CK(cuArrayDestroy(ai));
	CUDA_RESOURCE_DESC br = rd;
	br.flags = 1;
	CK_RC(cuTexObjectCreate(&t, &br, &td, NULL), CUDA_ERROR_INVALID_VALUE);
	br = rd;
	br.resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY;   /* an array's handle names no mipmapped array */
	CK_RC(cuTexObjectCreate(&t, &br, &td, NULL), CUDA_ERROR_INVALID_HANDLE);
	br.resType = (CUresourcetype)9;
	CK_RC(cuTexObjectCreate(&t, &br, &td, NULL), CUDA_ERROR_INVALID_VALUE);

	/* linear memory */
	CUdeviceptr d;
	CK(cuMemAlloc(&d, 1 << 20));
	CUDA_TEXTURE_DESC tp = {.filterMode = CU_TR_FILTER_MODE_POINT, .flags = CU_TRSF_READ_AS_INTEGER};
	CUDA_RESOURCE_DESC rl = {.resType = CU_RESOURCE_TYPE_LINEAR};
	rl.res.linear.devPtr = d + 512;
	rl.res.linear.format = CU_AD_FORMAT_FLOAT;
	rl.res.linear.numChannels = 2;
	rl.res.linear.sizeInBytes = 4096;
	CK(cuTexObjectCreate(&t, &rl, &tp, NULL));
	CK(cuTexObjectGetResourceDesc(&back, t));
	EXPECT(!memcmp(&back, &rl, sizeof(rl)));
	CK(cuTexObjectDestroy(t));
	CUDA_RESOURCE_DESC bl = rl;
	bl.res.linear.devPtr = d + 4;             /* unaligned */
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_INVALID_VALUE);
	bl = rl;
	bl.res.linear.sizeInBytes = (1 << 20) - 256; /* runs past the allocation */
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_INVALID_VALUE);
	bl = rl;
	bl.res.linear.devPtr = 0x1000;            /* nobody's memory */
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_INVALID_VALUE);
	bl = rl;
	bl.res.linear.numChannels = 3;
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_INVALID_VALUE);
	bl = rl;
	bl.res.linear.format = CU_AD_FORMAT_NV12;
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_NOT_SUPPORTED);
	bl = rl;
	bl.res.linear.sizeInBytes = 0;
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_INVALID_VALUE);
	/* the 1D linear limit, in elements */
	CUdeviceptr big;
	CK(cuMemAlloc(&big, ((size_t)1 << 27) + 512));
	bl = rl;
	bl.res.linear.devPtr = big;
	bl.res.linear.format = CU_AD_FORMAT_UNSIGNED_INT8;
	bl.res.linear.numChannels = 1;
	bl.res.linear.sizeInBytes = (size_t)1 << 27;
	CK(cuTexObjectCreate(&t, &bl, &tp, NULL));
	CK(cuTexObjectDestroy(t));
	bl.res.linear.sizeInBytes = ((size_t)1 << 27) + 1;
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemFree(big));
	/* an array's storage is not linear memory */
	CUdeviceptr fr;
	CK(cuMemAlloc(&fr, 4096));
	CK(cuMemFree(fr));
	bl = rl;
	bl.res.linear.devPtr = fr;                /* freed */
	bl.res.linear.sizeInBytes = 64;
	CK_RC(cuTexObjectCreate(&t, &bl, &tp, NULL), CUDA_ERROR_INVALID_VALUE);

	/* pitched memory */
	CUdeviceptr pp;
	size_t pitch;
	CK(cuMemAllocPitch(&pp, &pitch, 100 * 4, 50, 4));
	CUDA_RESOURCE_DESC r2 = {.resType = CU_RESOURCE_TYPE_PITCH2D};
	r2.res.pitch2D.devPtr = pp;
	r2.res.pitch2D.format = CU_AD_FORMAT_FLOAT;
	r2.res.pitch2D.numChannels = 1;
	r2.res.pitch2D.width = 100;
	r2.res.pitch2D.height = 50;
	r2.res.pitch2D.pitchInBytes = pitch;
	CK(cuTexObjectCreate(&t, &r2, &td, NULL));
	CK(cuTexObjectGetResourceDesc(&back, t));
	EXPECT(!memcmp(&back, &r2, sizeof(r2)));
	CK(cuTexObjectDestroy(t));
	CUDA_RESOURCE_DESC b2 = r2;
	b2.res.pitch2D.pitchInBytes = 400 + 8;    /* not a multiple of 32 */
	CK_RC(cuTexObjectCreate(&t, &b2, &td, NULL), CUDA_ERROR_INVALID_VALUE);
	b2 = r2;
	b2.res.pitch2D.pitchInBytes = 384;        /* shorter than a row */
	CK_RC(cuTexObjectCreate(&t, &b2, &td, NULL), CUDA_ERROR_INVALID_VALUE);
	b2 = r2;
	b2.res.pitch2D.height = 51;               /* past the allocation */
	CK_RC(cuTexObjectCreate(&t, &b2, &td, NULL), CUDA_ERROR_INVALID_VALUE);
	b2 = r2;
	b2.res.pitch2D.devPtr = pp + 32;          /* unaligned */
	CK_RC(cuTexObjectCreate(&t, &b2, &td, NULL), CUDA_ERROR_INVALID_VALUE);
	b2 = r2;
	b2.res.pitch2D.width = 131073;
	b2.res.pitch2D.height = 1;
	b2.res.pitch2D.pitchInBytes = 131073 * 4 + 28;
	CK_RC(cuTexObjectCreate(&t, &b2, &td, NULL), CUDA_ERROR_INVALID_VALUE);
	b2 = r2;
	b2.res.pitch2D.height = 0;
	CK_RC(cuTexObjectCreate(&t, &b2, &td, NULL), CUDA_ERROR_INVALID_VALUE);

	/* surfaces: arrays made for load/store only */
	CUsurfObject su;
	CK_RC(cuSurfObjectCreate(&su, &rd), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuSurfObjectCreate(&su, &rl), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuSurfObjectCreate(&su, &r2), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuSurfObjectCreate(NULL, &rd), CUDA_ERROR_INVALID_VALUE);
	CUarray sa = mk3(8, 8, 4, CU_AD_FORMAT_HALF, 2, CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_LAYERED);
	CUDA_RESOURCE_DESC rs = {.resType = CU_RESOURCE_TYPE_ARRAY};
	rs.res.array.hArray = sa;
	CK(cuSurfObjectCreate(&su, &rs));
	CK(cuSurfObjectGetResourceDesc(&back, su));
	EXPECT(back.resType == CU_RESOURCE_TYPE_ARRAY && back.res.array.hArray == sa);
	CK(cuSurfObjectDestroy(su));
	CK(cuArrayDestroy(sa));
	CK(cuMemFree(pp));
	CK(cuMemFree(d));
	CK(cuArrayDestroy(a));
}

/* An object keeps the texels of the array it names: destroying the array first leaves it
 * valid (and the storage charged) until the object goes. */
static void t_lifetimes(void)
{
	size_t before = used_now();
	CUarray a = mk3(256, 256, 0, CU_AD_FORMAT_FLOAT, 4, CUDA_ARRAY3D_SURFACE_LDST);
	size_t with = used_now();
	EXPECT(with >= before + 256 * 256 * 16);
	CUDA_RESOURCE_DESC rd = {.resType = CU_RESOURCE_TYPE_ARRAY}, back;
	rd.res.array.hArray = a;
	CUDA_TEXTURE_DESC td = {0};
	CUtexObject t;
	CUsurfObject su;
	CK(cuTexObjectCreate(&t, &rd, &td, NULL));
	CK(cuSurfObjectCreate(&su, &rd));
	CK(cuArrayDestroy(a));
	CUDA_ARRAY3D_DESCRIPTOR ad;
	CK_RC(cuArray3DGetDescriptor(&ad, a), CUDA_ERROR_INVALID_HANDLE);
	CK(cuTexObjectGetResourceDesc(&back, t));
	EXPECT(back.res.array.hArray == a);
	EXPECT(used_now() == with);
	CK(cuTexObjectDestroy(t));
	EXPECT(used_now() == with);
	CK(cuSurfObjectDestroy(su));
	EXPECT(used_now() == before);

	/* a context's arrays and objects go with it */
	CUcontext mine, other;
	CK(cuCtxGetCurrent(&mine));
	CK(cuCtxCreate(&other, NULL, 0, 0));
	CUarray b = mk3(128, 128, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_SURFACE_LDST);
	rd.res.array.hArray = b;
	CK(cuTexObjectCreate(&t, &rd, &td, NULL));
	CK(cuSurfObjectCreate(&su, &rd));
	CK(cuCtxDestroy(other));
	CK(cuCtxSetCurrent(mine));
	EXPECT(used_now() == before);
	CK_RC(cuArrayDestroy(b), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuTexObjectGetResourceDesc(&back, t), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuSurfObjectDestroy(su), CUDA_ERROR_INVALID_HANDLE);
	/* an array of another context is no resource here */
	CK(cuCtxCreate(&other, NULL, 0, 0));
	CUarray c = mk3(8, 8, 0, CU_AD_FORMAT_FLOAT, 1, 0);
	CK(cuCtxSetCurrent(mine));
	rd.res.array.hArray = c;
	CK_RC(cuTexObjectCreate(&t, &rd, &td, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK(cuArrayDestroy(c));
	CK(cuCtxDestroy(other));
	CK(cuCtxSetCurrent(mine));
}

/* ---- kernels through the objects (the interpreter's part: run only when it loads) ---- */

static const char tex_ptx[] =
	".version 7.0\n.target sm_75\n.address_size 64\n"
	".visible .entry k(.param .u64 tex, .param .u64 surf)\n{\n"
	" .reg .b64 %rd<3>;\n .reg .f32 %f<8>;\n .reg .b32 %r<6>;\n"
	" ld.param.u64 %rd1, [tex];\n ld.param.u64 %rd2, [surf];\n"
	" mov.u32 %r1, %tid.x;\n mov.u32 %r2, %tid.y;\n"
	" cvt.rn.f32.u32 %f1, %r1;\n add.f32 %f1, %f1, 0f3F000000;\n"
	" cvt.rn.f32.u32 %f2, %r2;\n add.f32 %f2, %f2, 0f3F000000;\n"
	" tex.2d.v4.f32.f32 {%f3, %f4, %f5, %f6}, [%rd1, {%f1, %f2}];\n"
	" add.f32 %f3, %f3, 0f3F800000;\n"
	" mov.b32 %r4, %f3;\n shl.b32 %r3, %r1, 2;\n"
	" sust.b.2d.b32.trap [%rd2, {%r3, %r2}], {%r4};\n"
	" ret;\n}\n";

static void t_launch(void)
{
	CUmodule m;
	CUresult rc = cuModuleLoadData(&m, tex_ptx);
	if (rc != CUDA_SUCCESS) {
		printf("launch through texture and surface objects: skipped, the interpreter refuses tex/sust "
		       "(cuModuleLoadData: %s)\n", st_name(rc));
		return;
	}
	enum { W = 16, H = 8 };
	CUarray in = mk3(W, H, 0, CU_AD_FORMAT_FLOAT, 1, 0);
	CUarray out = mk3(W, H, 0, CU_AD_FORMAT_FLOAT, 1, CUDA_ARRAY3D_SURFACE_LDST);
	float src[H][W], got[H][W];
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			src[y][x] = (float)(y * 100 + x);
	CK(cuMemcpyHtoA(in, 0, src, sizeof(src)));
	CUDA_RESOURCE_DESC rt = {.resType = CU_RESOURCE_TYPE_ARRAY}, rs = rt;
	rt.res.array.hArray = in;
	rs.res.array.hArray = out;
	CUDA_TEXTURE_DESC td = {.addressMode = {CU_TR_ADDRESS_MODE_CLAMP, CU_TR_ADDRESS_MODE_CLAMP},
	                        .filterMode = CU_TR_FILTER_MODE_POINT};
	CUtexObject t;
	CUsurfObject su;
	CK(cuTexObjectCreate(&t, &rt, &td, NULL));
	CK(cuSurfObjectCreate(&su, &rs));
	CUfunction f;
	CK(cuModuleGetFunction(&f, m, "k"));
	void *args[] = {&t, &su};
	CK(cuLaunchKernel(f, 1, 1, 1, W, H, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyAtoH(got, out, 0, sizeof(got)));
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			EXPECT(got[y][x] == src[y][x] + 1.0f);
	CK(cuTexObjectDestroy(t));
	CK(cuSurfObjectDestroy(su));
	CK(cuArrayDestroy(in));
	CK(cuArrayDestroy(out));
	CK(cuModuleUnload(m));
	printf("launch through texture and surface objects: %dx%d texels read and written\n", W, H);
}

int main(void)
{
	CUcontext c;
	CK(cuInit(0));
	CK(cuCtxCreate(&c, NULL, 0, 0));
	t_descriptors();
	t_refused();
	t_copies_1d();
	t_copies_2d_3d();
	t_storage();
	t_handles();
	t_objects();
	t_lifetimes();
	t_launch();
	CK(cuCtxDestroy(c));
	printf("test_sim_texture: ok\n");
	return 0;
}
