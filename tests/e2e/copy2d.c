/* SPDX-License-Identifier: MIT */
/* copy2d.c — end to end: large 2D and 3D copies between host rows (dense and pitched) and pitched device memory, a 3D volume and an array, at offsets, sync and on a stream; every byte checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

/* Rows of odd widths, so that the pieces the bulk stream is cut into start and end inside
 * rows; slices of more than 64 KiB, so that through vgpu the rows stream. */
enum { W = 1000, H = 300, PAD_X = 24, PAD_Y = 5 };

static uint8_t pattern(size_t i, unsigned seed)
{
	return (uint8_t)(i * 131 + seed * 7 + (i >> 9));
}

static void copy2d_on(const CUDA_MEMCPY2D *c, CUstream s, int async)
{
	if (async) {
		CK(cuMemcpy2DAsync(c, s));
		CK(cuStreamSynchronize(s));
	} else {
		CK(cuMemcpy2D(c));
	}
}

static void copy3d_on(const CUDA_MEMCPY3D *c, CUstream s, int async)
{
	if (async) {
		CK(cuMemcpy3DAsync(c, s));
		CK(cuStreamSynchronize(s));
	} else {
		CK(cuMemcpy3D(c));
	}
}

/* The box of pitched device memory at (PAD_X, PAD_Y) back into dense host rows, and into
 * host rows of another pitch at (8, 3) whose other bytes must stay as they were. */
static void pitched_back(CUdeviceptr d, size_t pitch, const uint8_t *want, CUstream s, int async)
{
	enum { HP = W + 40, HX = 8, HY = 3 };
	uint8_t *rows = calloc((size_t)W, H), *wide = malloc((size_t)HP * (H + HY));
	EXPECT(rows && wide);
	memset(wide, 0x77, (size_t)HP * (H + HY));
	CUDA_MEMCPY2D c = { .srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d, .srcPitch = pitch,
			    .srcXInBytes = PAD_X, .srcY = PAD_Y, .dstMemoryType = CU_MEMORYTYPE_HOST,
			    .dstHost = rows, .dstPitch = W, .WidthInBytes = W, .Height = H };
	copy2d_on(&c, s, async);
	EXPECT(memcmp(rows, want, (size_t)W * H) == 0);
	c.dstHost = wide;
	c.dstPitch = HP;
	c.dstXInBytes = HX;
	c.dstY = HY;
	copy2d_on(&c, s, async);
	size_t bad = 0;
	for (size_t y = 0; y < H + HY; y++)
		for (size_t x = 0; x < HP; x++) {
			int in = y >= HY && x >= HX && x < HX + W;
			bad += wide[y * HP + x] != (in ? want[(y - HY) * W + (x - HX)] : 0x77);
		}
	EXPECT(bad == 0);
	printf("2D %s back into dense host rows and into host rows of pitch %d at (%d, %d): ok\n",
	       async ? "on a stream" : "synchronous", HP, HX, HY);
	free(rows);
	free(wide);
}

/* host rows (dense) -> pitched device memory at (PAD_X, PAD_Y); read back whole and checked */
static void pitched(CUstream s, int async, unsigned seed)
{
	CUdeviceptr d;
	size_t pitch;
	CK(cuMemAllocPitch(&d, &pitch, W + PAD_X, H + PAD_Y, 4));
	size_t bytes = pitch * (H + PAD_Y);
	uint8_t *src = malloc((size_t)W * H), *back = malloc(bytes);
	EXPECT(src && back);
	for (size_t i = 0; i < (size_t)W * H; i++)
		src[i] = pattern(i, seed);
	CK(cuMemsetD8(d, 0xab, bytes));
	CUDA_MEMCPY2D c = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src, .srcPitch = W,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d, .dstPitch = pitch,
			    .dstXInBytes = PAD_X, .dstY = PAD_Y, .WidthInBytes = W, .Height = H };
	copy2d_on(&c, s, async);
	CK(cuMemcpyDtoH(back, d, bytes));
	size_t bad = 0;
	for (size_t y = 0; y < H + PAD_Y; y++)
		for (size_t x = 0; x < pitch; x++) {
			int in = y >= PAD_Y && x >= PAD_X && x < PAD_X + W;
			uint8_t want = in ? src[(y - PAD_Y) * W + (x - PAD_X)] : 0xab;
			bad += back[y * pitch + x] != want;
		}
	EXPECT(bad == 0);
	printf("2D %s into pitched memory at (%d, %d): %d x %d bytes, the rest untouched: ok\n",
	       async ? "on a stream" : "synchronous", PAD_X, PAD_Y, W, H);
	pitched_back(d, pitch, src, s, async);
	/* the same box again, from a sub-rectangle at (5, 2) of a wider host image (rows that are
	 * not one block), read back whole */
	enum { IP = W + 24 };
	uint8_t *img = malloc((size_t)IP * (H + 2));
	EXPECT(img != NULL);
	for (size_t i = 0; i < (size_t)IP * (H + 2); i++)
		img[i] = pattern(i, seed + 100);
	CK(cuMemsetD8(d, 0xab, bytes));
	c.srcHost = img + 2 * IP + 5;
	c.srcPitch = IP;
	copy2d_on(&c, s, async);
	CK(cuMemcpyDtoH(back, d, bytes));
	bad = 0;
	for (size_t y = 0; y < H + PAD_Y; y++)
		for (size_t x = 0; x < pitch; x++) {
			int in = y >= PAD_Y && x >= PAD_X && x < PAD_X + W;
			bad += back[y * pitch + x] != (in ? img[(y - PAD_Y + 2) * IP + (x - PAD_X + 5)] : 0xab);
		}
	EXPECT(bad == 0);
	printf("2D %s from a sub-rectangle of a host image of pitch %d: ok\n", async ? "on a stream" : "synchronous", IP);
	free(img);
	free(src);
	free(back);
	CK(cuMemFree(d));
}

/* host rows (dense) -> a 3D box at (3, 2, 1) of a volume with pitch 1024 and 110 rows a slice */
static void volume(CUstream s, int async, unsigned seed)
{
	enum { VW = 777, VH = 100, VD = 4, PITCH = 1024, SLICE_ROWS = 110, SLICES = 6 };
	size_t bytes = (size_t)PITCH * SLICE_ROWS * SLICES;
	CUdeviceptr d;
	CK(cuMemAlloc(&d, bytes));
	uint8_t *src = malloc((size_t)VW * VH * VD), *back = malloc(bytes);
	EXPECT(src && back);
	for (size_t i = 0; i < (size_t)VW * VH * VD; i++)
		src[i] = pattern(i, seed);
	CK(cuMemsetD8(d, 0x5c, bytes));
	CUDA_MEMCPY3D c = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src, .srcPitch = VW, .srcHeight = VH,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d, .dstPitch = PITCH,
			    .dstHeight = SLICE_ROWS, .dstXInBytes = 3, .dstY = 2, .dstZ = 1,
			    .WidthInBytes = VW, .Height = VH, .Depth = VD };
	copy3d_on(&c, s, async);
	CK(cuMemcpyDtoH(back, d, bytes));
	size_t bad = 0;
	for (size_t z = 0; z < SLICES; z++)
		for (size_t y = 0; y < SLICE_ROWS; y++)
			for (size_t x = 0; x < PITCH; x++) {
				int in = z >= 1 && z < 1 + VD && y >= 2 && y < 2 + VH && x >= 3 && x < 3 + VW;
				uint8_t want = in ? src[((z - 1) * VH + (y - 2)) * VW + (x - 3)] : 0x5c;
				bad += back[(z * SLICE_ROWS + y) * PITCH + x] != want;
			}
	EXPECT(bad == 0);
	printf("3D %s into a volume at (3, 2, 1): %d x %d x %d bytes, the rest untouched: ok\n",
	       async ? "on a stream" : "synchronous", VW, VH, VD);
	/* and the box back into dense host rows */
	memset(back, 0, (size_t)VW * VH * VD);
	CUDA_MEMCPY3D r = { .srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d, .srcPitch = PITCH,
			    .srcHeight = SLICE_ROWS, .srcXInBytes = 3, .srcY = 2, .srcZ = 1,
			    .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back, .dstPitch = VW, .dstHeight = VH,
			    .WidthInBytes = VW, .Height = VH, .Depth = VD };
	copy3d_on(&r, s, async);
	EXPECT(memcmp(back, src, (size_t)VW * VH * VD) == 0);
	printf("3D %s back from the volume into dense host rows: ok\n", async ? "on a stream" : "synchronous");
	/* and into a host volume of pitch VW + 5 and VH + 2 rows a slice, at (1, 1, 0): rows and
	 * slices apart, the bytes between them untouched */
	enum { HPITCH = VW + 5, HROWS = VH + 2 };
	size_t hb = (size_t)HPITCH * HROWS * VD;
	uint8_t *hv = malloc(hb);
	EXPECT(hv != NULL);
	memset(hv, 0x42, hb);
	r.dstHost = hv;
	r.dstPitch = HPITCH;
	r.dstHeight = HROWS;
	r.dstXInBytes = 1;
	r.dstY = 1;
	copy3d_on(&r, s, async);
	bad = 0;
	for (size_t z = 0; z < VD; z++)
		for (size_t y = 0; y < HROWS; y++)
			for (size_t x = 0; x < HPITCH; x++) {
				int in = y >= 1 && y < 1 + VH && x >= 1 && x < 1 + VW;
				uint8_t want = in ? src[(z * VH + (y - 1)) * VW + (x - 1)] : 0x42;
				bad += hv[(z * HROWS + y) * HPITCH + x] != want;
			}
	EXPECT(bad == 0);
	printf("3D %s back into a host volume of pitch %d and %d rows a slice: ok\n",
	       async ? "on a stream" : "synchronous", HPITCH, HROWS);
	free(hv);
	free(src);
	free(back);
	CK(cuMemFree(d));
}

/* host rows (dense) -> a CUDA array at (PAD_X, PAD_Y), read back through a 2D copy from it */
static void array(unsigned seed)
{
	CUDA_ARRAY_DESCRIPTOR ad = { .Width = W + PAD_X, .Height = H + PAD_Y, .Format = CU_AD_FORMAT_UNSIGNED_INT8,
				     .NumChannels = 1 };
	CUarray a;
	CK(cuArrayCreate(&a, &ad));
	uint8_t *src = malloc((size_t)W * H), *back = malloc((size_t)W * H);
	EXPECT(src && back);
	for (size_t i = 0; i < (size_t)W * H; i++)
		src[i] = pattern(i, seed);
	CUDA_MEMCPY2D up = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src, .srcPitch = W,
			     .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a, .dstXInBytes = PAD_X, .dstY = PAD_Y,
			     .WidthInBytes = W, .Height = H };
	CK(cuMemcpy2D(&up));
	memset(back, 0, (size_t)W * H);
	CUDA_MEMCPY2D down = { .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a, .srcXInBytes = PAD_X, .srcY = PAD_Y,
			       .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back, .dstPitch = W,
			       .WidthInBytes = W, .Height = H };
	CK(cuMemcpy2D(&down));
	EXPECT(memcmp(src, back, (size_t)W * H) == 0);
	printf("2D into an array at (%d, %d) and back: ok\n", PAD_X, PAD_Y);
	free(src);
	free(back);
	CK(cuArrayDestroy(a));
}

/* A box of pitched device memory and a sub-rectangle of a pinned host image, both ways, sync
 * and on a stream (through vgpu: named by the image's device address, no byte through the
 * ring; a size of its own, which copy2d.proxylog requires never to stream) */
static void pinned(CUstream s, int async, unsigned seed)
{
	enum { PW = 700, PH = 333, IP = PW + 36, IH = PH + 4 };
	CUdeviceptr d;
	size_t pitch;
	uint8_t *img, *back;
	CK(cuMemAllocHost((void **)&img, (size_t)IP * IH));
	CK(cuMemAllocPitch(&d, &pitch, PW, PH, 4));
	EXPECT((back = malloc(pitch * PH)) != NULL);
	for (size_t i = 0; i < (size_t)IP * IH; i++)
		img[i] = pattern(i, seed);
	CUDA_MEMCPY2D up = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = img, .srcPitch = IP, .srcXInBytes = 9,
			     .srcY = 3, .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d, .dstPitch = pitch,
			     .WidthInBytes = PW, .Height = PH };
	copy2d_on(&up, s, async);
	CK(cuMemcpyDtoH(back, d, pitch * PH));
	size_t bad = 0;
	for (size_t y = 0; y < PH; y++)
		bad += memcmp(back + y * pitch, img + (y + 3) * IP + 9, PW) != 0;
	EXPECT(bad == 0);
	/* back into the image at (20, 1), the bytes around the box untouched */
	uint8_t *was = malloc((size_t)IP * IH);
	EXPECT(was != NULL);
	memcpy(was, img, (size_t)IP * IH);
	CUDA_MEMCPY2D down = { .srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d, .srcPitch = pitch,
			       .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = img, .dstPitch = IP, .dstXInBytes = 20,
			       .dstY = 1, .WidthInBytes = PW, .Height = PH };
	copy2d_on(&down, s, async);
	for (size_t y = 0; y < IH; y++)
		for (size_t x = 0; x < IP; x++) {
			int in = y >= 1 && y < 1 + PH && x >= 20 && x < 20 + PW;
			bad += img[y * IP + x] != (in ? was[(y - 1 + 3) * IP + (x - 20 + 9)] : was[y * IP + x]);
		}
	EXPECT(bad == 0);
	printf("2D %s between pitched memory and a pinned host image of pitch %d: ok\n",
	       async ? "on a stream" : "synchronous", IP);
	free(was);
	free(back);
	CK(cuMemFreeHost(img));
	CK(cuMemFree(d));
}

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUstream s;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	for (int async = 0; async < 2; async++) {
		pitched(s, async, 1 + async);
		volume(s, async, 3 + async);
	}
	array(5);
	pinned(s, 0, 6);
	pinned(s, 1, 7);
	/* a refused box (past the allocation): an error, nothing written, the zone goes on */
	CUdeviceptr d;
	CK(cuMemAlloc(&d, (size_t)W * H));
	uint8_t *src = calloc((size_t)W, H + 1);
	EXPECT(src != NULL);
	CUDA_MEMCPY2D c = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src, .srcPitch = W,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d, .dstPitch = W,
			    .WidthInBytes = W, .Height = H + 1 };
	CK_ERR(cuMemcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
	printf("2D past the allocation: CUDA_ERROR_INVALID_VALUE\n");
	free(src);
	CK(cuMemFree(d));
	pitched(s, 0, 9);
	CK(cuStreamDestroy(s));
	CK(cuCtxDestroy(ctx));
	printf("copy2d: ok\n");
	return 0;
}
