/* SPDX-License-Identifier: MIT */
/* memory.c — end to end: allocations, every copy direction sync and async, pinned and pageable, big and odd sizes, memsets, 2D/3D. */
#include "e2e.h"

#include <pthread.h>
#include <stdint.h>

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)e2e_rand(&seed);
}

/* Round trip n bytes host -> device -> device -> host at the given offsets, sync or async. */
static void round_trip(size_t n, size_t off, int async, int pinned, CUstream s)
{
	unsigned char *src, *dst;
	CUdeviceptr a, b;

	if (pinned) {
		CK(cuMemAllocHost((void **)&src, n + off + 1));
		CK(cuMemHostAlloc((void **)&dst, n + off + 1, 0));
	} else {
		src = malloc(n + off + 1);
		dst = malloc(n + off + 1);
		EXPECT(src && dst);
	}
	fill(src, n + off + 1, (unsigned)(n * 31 + off));
	memset(dst, 0xee, n + off + 1);
	CK(cuMemAlloc(&a, n + off + 1));
	CK(cuMemAlloc(&b, n + off + 1));
	if (async) {
		CK(cuMemcpyHtoDAsync(a + off, src + off, n, s));
		CK(cuMemcpyDtoDAsync(b + off, a + off, n, s));
		CK(cuMemcpyDtoHAsync(dst + off, b + off, n, s));
		CK(cuStreamSynchronize(s));
	} else {
		CK(cuMemcpyHtoD(a + off, src + off, n));
		CK(cuMemcpyDtoD(b + off, a + off, n));
		CK(cuMemcpyDtoH(dst + off, b + off, n));
	}
	EXPECT(memcmp(src + off, dst + off, n) == 0);
	EXPECT(dst[off + n] == 0xee);
	CK(cuMemFree(a));
	CK(cuMemFree(b));
	if (pinned) {
		CK(cuMemFreeHost(src));
		CK(cuMemFreeHost(dst));
	} else {
		free(src);
		free(dst);
	}
}

/* Several threads copying large pageable buffers at once (libvgpu splits one copy at a time
 * between its helper threads where it has them; the others copy alone). */
static CUcontext thread_ctx;

static void *copier(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	CK(cuCtxSetCurrent(thread_ctx));
	for (unsigned k = 0; k < 3; k++)
		round_trip((2u << 20) + 17 * t + k, t * 5 + k, 0, 0, NULL);
	return NULL;
}

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUstream s;
	size_t freeb = 0, total = 0, free2 = 0;
	static const size_t sizes[] = { 0, 1, 3, 4095, 4096, 4097, 65537, 1u << 20, (1u << 20) + 13, (5u << 20) + 777 };

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));

	/* Memory accounting follows allocations. */
	CK(cuMemGetInfo(&freeb, &total));
	CUdeviceptr big;
	CK(cuMemAlloc(&big, 64u << 20));
	CK(cuMemGetInfo(&free2, &total));
	EXPECT(free2 + (64u << 20) <= freeb + (1u << 20));
	CUdeviceptr base = 0;
	size_t range = 0;
	CK(cuMemGetAddressRange(&base, &range, big + 12345));
	EXPECT(base == big && range >= (64u << 20));
	unsigned mtype = 0;
	CK(cuPointerGetAttribute(&mtype, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, big));
	EXPECT(mtype == CU_MEMORYTYPE_DEVICE);

	/* 64 MiB through the ring, both ways. */
	unsigned char *h = malloc(64u << 20), *g = malloc(64u << 20);
	EXPECT(h && g);
	fill(h, 64u << 20, 7);
	CK(cuMemcpyHtoD(big, h, 64u << 20));
	memset(g, 0, 64u << 20);
	CK(cuMemcpyDtoH(g, big, 64u << 20));
	EXPECT(memcmp(h, g, 64u << 20) == 0);
	printf("64 MiB round trip: ok\n");
	thread_ctx = ctx;
	pthread_t th[3];
	for (unsigned t = 0; t < 3; t++)
		EXPECT(pthread_create(&th[t], NULL, copier, (void *)(uintptr_t)t) == 0);
	for (unsigned t = 0; t < 3; t++)
		EXPECT(pthread_join(th[t], NULL) == 0);
	printf("three threads' 2 MiB round trips: ok\n");

	/* Odd sizes and unaligned offsets, sync/async, pageable/pinned. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int mode = 0; mode < 4; mode++)
			round_trip(sizes[i], (i * 7) % 13, mode & 1, mode >> 1, s);
	printf("copies: ok\n");

	/* Unified-address cuMemcpy in all directions. */
	CUdeviceptr u;
	CK(cuMemAlloc(&u, 1000));
	CK(cuMemcpy(u, (CUdeviceptr)(uintptr_t)h, 1000));
	CK(cuMemcpy((CUdeviceptr)(uintptr_t)g, u, 1000));
	EXPECT(memcmp(h, g, 1000) == 0);
	CK(cuMemcpy(big + 5, u, 1000));
	/* s does not wait for the legacy stream (non-blocking), and a device-to-device cuMemcpy
	 * may still be running when it returns: synchronise before using its result on s */
	CK(cuCtxSynchronize());
	CK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)(g + 2000), big + 5, 1000, s));
	CK(cuStreamSynchronize(s));
	EXPECT(memcmp(h, g + 2000, 1000) == 0);

	/* Memsets. */
	CK(cuMemsetD8(u, 0xab, 1000));
	CK(cuMemcpyDtoH(g, u, 1000));
	for (int i = 0; i < 1000; i++)
		EXPECT(g[i] == 0xab);
	CK(cuMemsetD16(u, 0x1234, 500));
	CK(cuCtxSynchronize());   /* the memset may still run: the next one, on s, overlaps it */
	CK(cuMemsetD32Async(u + 400, 0xdeadbeef, 100, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(g, u, 1000));
	EXPECT(((uint16_t *)g)[0] == 0x1234 && ((uint16_t *)g)[199] == 0x1234);
	EXPECT(((uint32_t *)g)[100] == 0xdeadbeef && ((uint32_t *)g)[199] == 0xdeadbeef);

	/* Pitched allocation, 2D memset and 2D copies host <-> device with offsets. */
	CUdeviceptr p2;
	size_t pitch = 0;
	const size_t W = 100, H = 37;
	CK(cuMemAllocPitch(&p2, &pitch, W, H, 4));
	EXPECT(pitch >= W);
	CK(cuMemsetD2D8(p2, pitch, 0, W, H));
	unsigned char *img = malloc(300 * H), *back = malloc(W * H);
	fill(img, 300 * H, 99);
	CUDA_MEMCPY2D c2 = { 0 };
	c2.srcMemoryType = CU_MEMORYTYPE_HOST;
	c2.srcHost = img;
	c2.srcPitch = 300;
	c2.srcXInBytes = 17;
	c2.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c2.dstDevice = p2;
	c2.dstPitch = pitch;
	c2.WidthInBytes = W;
	c2.Height = H;
	CK(cuMemcpy2D(&c2));
	/* from pageable memory the driver returns once the bytes are staged, before they reach
	 * the device (an H200 read stale rows back on s without this) */
	CK(cuCtxSynchronize());
	CUDA_MEMCPY2D d2 = { 0 };
	d2.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	d2.srcDevice = p2;
	d2.srcPitch = pitch;
	d2.dstMemoryType = CU_MEMORYTYPE_HOST;
	d2.dstHost = back;
	d2.dstPitch = W;
	d2.WidthInBytes = W;
	d2.Height = H;
	CK(cuMemcpy2DAsync(&d2, s));
	CK(cuStreamSynchronize(s));
	for (size_t y = 0; y < H; y++)
		EXPECT(memcmp(back + y * W, img + y * 300 + 17, W) == 0);

	/* 3D copy device -> device of a 10x4x3 box inside a 16x8x4 volume. */
	CUdeviceptr vol, vol2;
	CK(cuMemAlloc(&vol, 16 * 8 * 4));
	CK(cuMemAlloc(&vol2, 16 * 8 * 4));
	fill(h, 16 * 8 * 4, 5);
	CK(cuMemcpyHtoD(vol, h, 16 * 8 * 4));
	CK(cuMemsetD8(vol2, 0, 16 * 8 * 4));
	CUDA_MEMCPY3D c3 = { 0 };
	c3.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	c3.srcDevice = vol;
	c3.srcPitch = 16;
	c3.srcHeight = 8;
	c3.srcXInBytes = 2;
	c3.srcY = 1;
	c3.srcZ = 1;
	c3.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c3.dstDevice = vol2;
	c3.dstPitch = 16;
	c3.dstHeight = 8;
	c3.WidthInBytes = 10;
	c3.Height = 4;
	c3.Depth = 3;
	CK(cuMemcpy3D(&c3));
	CK(cuMemcpyDtoH(g, vol2, 16 * 8 * 4));
	for (int z = 0; z < 3; z++)
		for (int y = 0; y < 4; y++)
			EXPECT(memcmp(g + (z * 8 + y) * 16, h + ((z + 1) * 8 + y + 1) * 16 + 2, 10) == 0);
	printf("memset/2D/3D: ok\n");

	CK(cuMemFree(vol));
	CK(cuMemFree(vol2));
	CK(cuMemFree(p2));
	CK(cuMemFree(u));
	/* The pointer names its allocation's context: device and pinned memory are freed with no
	 * context current (FFmpeg's filters free theirs so at the end). */
	void *ph = NULL;
	CK(cuMemAllocHost(&ph, 4096));
	CUcontext none = NULL;
	CK(cuCtxSetCurrent(NULL));
	CK(cuCtxGetCurrent(&none));
	EXPECT(none == NULL);
	CK(cuMemFree(big));
	CK(cuMemFreeHost(ph));
	CK(cuCtxSetCurrent(ctx));
	/* freeing NULL is a no-op that succeeds, as on the driver (cuBLAS does it as it starts),
	 * pinned memory's too */
	CK(cuMemFree(0));
	CK(cuMemFreeHost(NULL));
	CK_ERR(cuMemHostUnregister(NULL), CUDA_ERROR_INVALID_VALUE);
	printf("frees without a current context: ok\n");
	CK(cuStreamDestroy(s));
	CK(cuDevicePrimaryCtxRelease(dev));
	free(h);
	free(g);
	free(img);
	free(back);
	printf("memory: ok\n");
	return 0;
}
