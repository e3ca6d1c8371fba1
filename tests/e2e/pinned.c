/* SPDX-License-Identifier: MIT */
/* pinned.c — end to end: copies from and to pinned host memory (shared with the proxy's worker, no ring), every size, odd offsets, sync and async, from several threads. */
#include "e2e.h"

#include <pthread.h>
#include <stdint.h>

static CUcontext ctx;
static unsigned char *shared_buf; /* pinned by the main thread, used by all of them */
enum { SHARED_BYTES = 3 << 20, THREADS = 3 };
static unsigned long sums[THREADS];

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)e2e_rand(&seed);
}

/* n bytes at offset off of a pinned buffer to the device and back into another one. */
static unsigned long round_trip(unsigned char *src, unsigned char *dst, size_t n, size_t off, int async,
				CUstream s)
{
	CUdeviceptr d;
	unsigned long sum = 0;

	fill(src + off, n, (unsigned)(n * 7 + off));
	memset(dst, 0xee, n + off + 2);
	CK(cuMemAlloc(&d, n + off + 1));
	if (async) {
		CK(cuMemcpyHtoDAsync(d + off, src + off, n, s));
		CK(cuMemcpyDtoHAsync(dst + off + 1, d + off, n, s));
		CK(cuStreamSynchronize(s));
	} else {
		CK(cuMemcpyHtoD(d + off, src + off, n));
		CK(cuMemcpyDtoH(dst + off + 1, d + off, n));
	}
	if (memcmp(dst + off + 1, src + off, n) != 0) {
		fprintf(stderr, "FAIL: %zu bytes at offset %zu (%s) came back different\n", n, off, async ? "async" : "sync");
		exit(1);
	}
	EXPECT(dst[off] == 0xee && dst[off + 1 + n] == 0xee); /* nothing written outside */
	for (size_t i = 0; i < n; i++)
		sum += dst[off + 1 + i];
	CK(cuMemFree(d));
	return sum;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	static const size_t sizes[] = { 1, 3, 4096, 4097, 65536, 65536 + 13, 1 << 20, (2 << 20) + 5 };
	size_t cap = (4 << 20) + 64;
	unsigned char *src, *dst;
	unsigned long sum = 0;
	CUstream s;

	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAllocHost((void **)&src, cap));
	CK(cuMemHostAlloc((void **)&dst, cap, CU_MEMHOSTALLOC_PORTABLE));
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
		for (int async = 0; async < 2; async++)
			sum += round_trip(src, dst, sizes[k], (size_t)(k * 5 + id) % 29, async, s);
	/* A region another thread allocated: this thread's channel uses it too. */
	CUdeviceptr d;
	size_t part = SHARED_BYTES / THREADS, at = (size_t)id * part;
	CK(cuMemAlloc(&d, part));
	CK(cuMemcpyHtoDAsync(d, shared_buf + at, part, s));
	CK(cuMemsetD8Async(d, (unsigned char)(0x40 + id), 17, s));
	CK(cuMemcpyDtoHAsync(shared_buf + at, d, part, s));
	CK(cuStreamSynchronize(s));
	for (size_t i = 0; i < 17; i++)
		EXPECT(shared_buf[at + i] == 0x40 + id);
	CK(cuMemFree(d));
	CK(cuMemFreeHost(src));
	CK(cuMemFreeHost(dst));
	CK(cuStreamDestroy(s));
	sums[id] = sum;
	return NULL;
}

int main(void)
{
	CUdevice dev;
	pthread_t t[THREADS];
	unsigned flags = 0;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAllocHost((void **)&shared_buf, SHARED_BYTES));
	CK(cuMemHostGetFlags(&flags, shared_buf + 100));
	fill(shared_buf, SHARED_BYTES, 99);
	for (int i = 0; i < THREADS; i++)
		EXPECT(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		printf("thread %d: 8 sizes x sync/async verified, checksum %lu\n", i, sums[i]);
	}
	/* Straddling the end of a pinned buffer: not inside one region, copied as pageable bytes
	 * would be (the driver accepts it the same way). */
	unsigned char *tail;
	CUdeviceptr d;
	CK(cuMemAllocHost((void **)&tail, 4096));
	CK(cuMemAlloc(&d, 8192));
	CK(cuMemcpyHtoD(d, shared_buf + SHARED_BYTES - 8192, 8192));
	CK(cuMemcpyDtoH(tail, d, 4096));
	EXPECT(memcmp(tail, shared_buf + SHARED_BYTES - 8192, 4096) == 0);
	/* An async copy queued, then the memory freed: freeing waits for the copy. */
	CK(cuMemcpyDtoHAsync(tail, d + 4096, 4096, NULL));
	CK(cuMemFreeHost(tail));
	CK(cuMemFree(d));
	CK(cuMemFreeHost(shared_buf));
	CK_ERR(cuMemFreeHost(shared_buf), CUDA_ERROR_INVALID_VALUE);
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("pinned: ok\n");
	return 0;
}
