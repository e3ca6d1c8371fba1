/* SPDX-License-Identifier: MIT */
/* libcudasim basics: initialisation, devices, contexts and the per-thread context stack,
 * primary contexts, device and host memory, pointer attributes, copies and memsets in every
 * direction, and the error codes for freed, foreign and out-of-range pointers. */
#include "simtest.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_devices(void)
{
	int n = 0, v = 0, maj = 0, min = 0, a = 0;
	char name[128];
	size_t mem = 0;
	CK_RC(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
	CK_RC(cuInit(1), CUDA_ERROR_INVALID_VALUE);
	CK(cuInit(0));
	CK(cuDriverGetVersion(&v));
	EXPECT(v == CUDA_VERSION);
	CK(cuDeviceGetCount(&n));
	EXPECT(n == 2);            /* VGPU_SIM_DEVICES=2 set by main */
	CUdevice d;
	CK(cuDeviceGet(&d, 1));
	EXPECT(d == 1);
	CK_RC(cuDeviceGet(&d, 2), CUDA_ERROR_INVALID_DEVICE);
	CK(cuDeviceGetName(name, sizeof(name), 0));
	EXPECT(strstr(name, "test double") != NULL);
	CK(cuDeviceTotalMem(&mem, 0));
	EXPECT(mem == 64u << 20);  /* VGPU_SIM_MEM=64M */
	CK(cuDeviceComputeCapability(&maj, &min, 0));
	EXPECT(maj * 10 + min >= 75);
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0));
	EXPECT(a == 32);
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 0));
	EXPECT(a == 1024);
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 0));
	EXPECT(a == 1);
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
	EXPECT(a > 0);
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 0));
	EXPECT(a >= 48 * 1024);
	/* what the simulator implements it says it has, so programs take the paths a GPU's take:
	 * memory pools, virtual memory management (with POSIX descriptors, as Linux drivers) */
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 0));
	EXPECT(a == 1);
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0));
	EXPECT(a == 1);
	CK(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, 0));
	EXPECT(a == 1);
	/* every attribute a program may ask answers */
	for (int i = 1; i < CU_DEVICE_ATTRIBUTE_MAX; i++)
		CK(cuDeviceGetAttribute(&a, (CUdevice_attribute)i, 0));
	CK_RC(cuDeviceGetAttribute(&a, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
	CUuuid u0, u1;
	CK(cuDeviceGetUuid(&u0, 0));
	CK(cuDeviceGetUuid(&u1, 1));
	EXPECT(memcmp(&u0, &u1, sizeof(u0)) != 0);
	CUdevprop p;
	CK(cuDeviceGetProperties(&p, 0));
	EXPECT(p.maxThreadsPerBlock == 1024 && p.SIMDWidth == 32);
	const char *s;
	CK(cuGetErrorName(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
	EXPECT(!strcmp(s, "CUDA_ERROR_ILLEGAL_ADDRESS"));
	CK(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &s));
	EXPECT(s && *s);
	CK_RC(cuGetErrorName((CUresult)123456, &s), CUDA_ERROR_INVALID_VALUE);
}

static void *other_thread(void *arg)
{
	CUcontext want = arg, cur = (CUcontext)1;
	/* a new thread starts with no current context */
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == NULL);
	CUdeviceptr p;
	CK_RC(cuMemAlloc(&p, 16), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxSetCurrent(want));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == want);
	CK(cuMemAlloc(&p, 16));
	CK(cuMemFree(p));
	return NULL;
}

static pthread_barrier_t bar;

static void *stale_thread(void *arg)
{
	CK(cuCtxSetCurrent(arg));
	CK(cuCtxSynchronize());
	pthread_barrier_wait(&bar);       /* main destroys the context now */
	pthread_barrier_wait(&bar);
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CUdeviceptr p;
	CK_RC(cuMemAlloc(&p, 16), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK(cuCtxSetCurrent(NULL));
	return NULL;
}

static void test_contexts(void)
{
	/* a context destroyed while current on another thread */
	CUcontext z;
	pthread_t zt;
	pthread_barrier_init(&bar, NULL, 2);
	CK(cuCtxCreate(&z, NULL, 0, 0));
	EXPECT(pthread_create(&zt, NULL, stale_thread, z) == 0);
	pthread_barrier_wait(&bar);
	CK(cuCtxDestroy(z));
	pthread_barrier_wait(&bar);
	pthread_join(zt, NULL);
	pthread_barrier_destroy(&bar);

	CUcontext a, b, cur;
	unsigned ver, flags;
	CK(cuCtxCreate(&a, NULL, 0, 0));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == a);
	CK(cuCtxCreate(&b, NULL, CU_CTX_SCHED_YIELD, 1));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == b);
	CUdevice d;
	CK(cuCtxGetDevice(&d));
	EXPECT(d == 1);
	CK(cuCtxGetFlags(&flags));
	EXPECT(flags == CU_CTX_SCHED_YIELD);
	CK(cuCtxPopCurrent(&cur));
	EXPECT(cur == b);
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == a);
	CK(cuCtxPushCurrent(b));
	CK(cuCtxGetApiVersion(b, &ver));
	EXPECT(ver > 0);
	size_t lim;
	CK(cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
	CK(cuCtxGetLimit(&lim, CU_LIMIT_STACK_SIZE));
	EXPECT(lim == 4096);
	CUfunc_cache cc;
	CK(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
	CK(cuCtxGetCacheConfig(&cc));
	EXPECT(cc == CU_FUNC_CACHE_PREFER_SHARED);
	int lo, hi;
	CK(cuCtxGetStreamPriorityRange(&lo, &hi));
	EXPECT(hi <= lo);
	CK(cuCtxSynchronize());
	CK(cuCtxDestroy(b));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == a);
	pthread_t t;
	EXPECT(pthread_create(&t, NULL, other_thread, a) == 0);
	pthread_join(t, NULL);
	CK(cuCtxDestroy(a));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == NULL);
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);

	/* primary context */
	CUcontext p1, p2;
	unsigned pf;
	int active;
	CK(cuDevicePrimaryCtxSetFlags(0, CU_CTX_SCHED_BLOCKING_SYNC));
	CK(cuDevicePrimaryCtxGetState(0, &pf, &active));
	EXPECT(!active && pf == CU_CTX_SCHED_BLOCKING_SYNC);
	CK(cuDevicePrimaryCtxRetain(&p1, 0));
	CK(cuDevicePrimaryCtxRetain(&p2, 0));
	EXPECT(p1 == p2);
	CK(cuDevicePrimaryCtxGetState(0, &pf, &active));
	EXPECT(active);
	CK_RC(cuCtxDestroy(p1), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuDevicePrimaryCtxRelease(0));
	CK(cuDevicePrimaryCtxGetState(0, &pf, &active));
	EXPECT(active);
	CK(cuDevicePrimaryCtxRelease(0));
	CK(cuDevicePrimaryCtxGetState(0, &pf, &active));
	EXPECT(!active);
	CK_RC(cuDevicePrimaryCtxRelease(0), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuDevicePrimaryCtxReset(0));

	/* A reset leaves the primary context's handle current and valid to make current again,
	 * idle (work fails with CONTEXT_IS_DESTROYED) until a retain brings it back, same handle,
	 * empty, with a new id; the runtime's cudaDeviceReset depends on all of it. */
	unsigned long long id1 = 0, id2 = 0;
	CUdeviceptr dp;
	CK(cuDevicePrimaryCtxRetain(&p1, 0));
	CK(cuCtxSetCurrent(p1));
	CK(cuCtxGetId(NULL, &id1));
	CK(cuMemAlloc(&dp, 4096));
	CK(cuDevicePrimaryCtxReset(0));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == p1);
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK_RC(cuCtxGetId(NULL, &id2), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK_RC(cuCtxGetId(p1, &id2), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK_RC(cuMemAlloc(&dp, 4096), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK(cuCtxSetCurrent(NULL));
	CK(cuCtxSetCurrent(p1));
	CK(cuCtxPushCurrent(p1));
	CK(cuCtxPopCurrent(&cur));
	EXPECT(cur == p1);
	CK(cuDevicePrimaryCtxRetain(&p2, 0));
	EXPECT(p2 == p1);
	CK(cuCtxSynchronize());
	CK(cuCtxGetId(NULL, &id2));
	EXPECT(id2 != id1);
	CK_RC(cuMemFree(dp), CUDA_ERROR_INVALID_VALUE);   /* went with the reset */
	CK(cuDevicePrimaryCtxRelease(0));
	CK(cuDevicePrimaryCtxGetState(0, &pf, &active));
	EXPECT(!active);
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK(cuCtxSetCurrent(NULL));
}

static void test_memory(void)
{
	CUcontext ctx;
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	size_t fr0, tot, fr1;
	CK(cuMemGetInfo(&fr0, &tot));
	EXPECT(tot == 64u << 20 && fr0 <= tot);
	CUdeviceptr a, b;
	CK(cuMemAlloc(&a, 1 << 20));
	CK(cuMemGetInfo(&fr1, &tot));
	EXPECT(fr0 - fr1 >= 1 << 20);
	CK_RC(cuMemAlloc(&b, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemAlloc(&b, 65u << 20), CUDA_ERROR_OUT_OF_MEMORY);
	CK(cuMemAlloc(&b, 1000));
	EXPECT(a % 256 == 0 && b % 256 == 0 && a != b);
	CUdeviceptr base;
	size_t sz;
	CK(cuMemGetAddressRange(&base, &sz, b + 10));
	EXPECT(base == b && sz == 1000);
	CK_RC(cuMemGetAddressRange(&base, &sz, b + 1000), CUDA_ERROR_NOT_FOUND);

	/* copies in every direction through both the explicit and the unified entry points */
	unsigned char h[1000], g[1000];
	for (int i = 0; i < 1000; i++)
		h[i] = (unsigned char)(i * 7 + 3);
	CK(cuMemcpyHtoD(b, h, 1000));
	CK(cuMemcpyDtoD(a + 5, b, 1000));
	memset(g, 0, sizeof(g));
	CK(cuMemcpyDtoH(g, a + 5, 1000));
	EXPECT(!memcmp(g, h, 1000));
	memset(g, 0, sizeof(g));
	CK(cuMemcpy((CUdeviceptr)(uintptr_t)g, b, 1000));                   /* DtoH */
	EXPECT(!memcmp(g, h, 1000));
	CK(cuMemcpy(a, (CUdeviceptr)(uintptr_t)h, 500));                    /* HtoD */
	CK(cuMemcpy(a + 500, a, 500));                                      /* DtoD */
	unsigned char hh[500];
	CK(cuMemcpy((CUdeviceptr)(uintptr_t)hh, (CUdeviceptr)(uintptr_t)h, 500)); /* HtoH */
	EXPECT(!memcmp(hh, h, 500));
	CK(cuMemcpyDtoH(g, a + 500, 500));
	EXPECT(!memcmp(g, h, 500));

	/* error paths: out of range, freed, foreign */
	CK_RC(cuMemcpyHtoD(b + 1, h, 1000), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyDtoH(g, b + 1008, 16), CUDA_ERROR_INVALID_VALUE);   /* in the padding after b */
	CK_RC(cuMemcpyDtoD(b, 0, 16), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyDtoH(g, (CUdeviceptr)(uintptr_t)h, 16), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemsetD8(b + 999, 0, 2), CUDA_ERROR_INVALID_VALUE);
	CUdeviceptr dead;
	CK(cuMemAlloc(&dead, 4096));
	CK(cuMemFree(dead));
	CK_RC(cuMemFree(dead), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpyHtoD(dead, h, 16), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemcpy((CUdeviceptr)(uintptr_t)g, dead, 16), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemsetD32(dead, 1, 4), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemFree(b + 8), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemFree((CUdeviceptr)(uintptr_t)h), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuMemFree(0xdeadbeef000ull), CUDA_ERROR_INVALID_VALUE);
	unsigned mt = 0;
	CK_RC(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, dead), CUDA_ERROR_INVALID_VALUE);

	/* memsets */
	CK(cuMemsetD8(b, 0xab, 1000));
	CK(cuMemcpyDtoH(g, b, 1000));
	for (int i = 0; i < 1000; i++)
		EXPECT(g[i] == 0xab);
	CK(cuMemsetD16(b + 2, 0x1234, 10));
	CK(cuMemsetD32(b + 100, 0xdeadbeef, 5));
	CK(cuMemcpyDtoH(g, b, 200));
	uint16_t s16;
	uint32_t s32;
	memcpy(&s16, g + 2 + 18, 2);
	EXPECT(s16 == 0x1234 && g[22] == 0xab && g[1] == 0xab);
	memcpy(&s32, g + 116, 4);
	EXPECT(s32 == 0xdeadbeef && g[120] == 0xab);
	CK_RC(cuMemsetD32(b + 1, 0, 1), CUDA_ERROR_INVALID_VALUE);   /* misaligned */

	/* pitched memory, 2D memset and 2D/3D copies */
	CUdeviceptr pm;
	size_t pitch;
	CK(cuMemAllocPitch(&pm, &pitch, 100, 8, 4));
	EXPECT(pitch >= 100);
	CK(cuMemsetD2D8(pm, pitch, 0, pitch, 8));
	CK(cuMemsetD2D32(pm, pitch, 0x01020304, 10, 8));
	unsigned char img[8][100];
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 100; x++)
			img[y][x] = (unsigned char)(x + 3 * y);
	CUDA_MEMCPY2D c2 = {0};
	c2.srcMemoryType = CU_MEMORYTYPE_HOST;
	c2.srcHost = &img[0][10];
	c2.srcPitch = 100;
	c2.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c2.dstDevice = pm;
	c2.dstXInBytes = 40;
	c2.dstY = 1;
	c2.dstPitch = pitch;
	c2.WidthInBytes = 50;
	c2.Height = 6;
	CK(cuMemcpy2D(&c2));
	unsigned char *back = malloc(pitch * 8);
	CK(cuMemcpyDtoH(back, pm, pitch * 8));
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 100; x++) {
			unsigned char want = (y >= 1 && y < 7 && x >= 40 && x < 90) ? img[y - 1][x - 30]
			                     : x < 40 ? (unsigned char)(4 - (x & 3)) : 0;
			EXPECT(back[(size_t)y * pitch + (size_t)x] == want);
		}
	c2.Height = 9;          /* one row past the allocation */
	CK_RC(cuMemcpy2D(&c2), CUDA_ERROR_INVALID_VALUE);
	c2.Height = 6;
	c2.srcPitch = 10;       /* pitch below width */
	CK_RC(cuMemcpy2D(&c2), CUDA_ERROR_INVALID_VALUE);
	CUDA_MEMCPY3D c3 = {0};
	c3.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	c3.srcDevice = pm;
	c3.srcPitch = pitch;
	c3.srcHeight = 4;
	c3.dstMemoryType = CU_MEMORYTYPE_HOST;
	unsigned char box[2][4][20];
	c3.dstHost = box;
	c3.dstPitch = 20;
	c3.dstHeight = 4;
	c3.srcXInBytes = 45;
	c3.WidthInBytes = 20;
	c3.Height = 4;
	c3.Depth = 2;
	CK(cuMemcpy3D(&c3));
	for (int z = 0; z < 2; z++)
		for (int y = 0; y < 4; y++)
			for (int x = 0; x < 20; x++)
				EXPECT(box[z][y][x] == back[(size_t)(z * 4 + y) * pitch + 45 + (size_t)x]);
	c3.Depth = 3;
	CK_RC(cuMemcpy3D(&c3), CUDA_ERROR_INVALID_VALUE);
	/* the asynchronous and unaligned forms do the same on a stream */
	CUstream st;
	CK(cuStreamCreate(&st, 0));
	c3.Depth = 2;
	memset(box, 0, sizeof(box));
	CK(cuMemcpy3DAsync(&c3, st));
	CK(cuStreamSynchronize(st));
	EXPECT(box[1][3][19] == back[(size_t)7 * pitch + 64]);
	c2.srcPitch = 100;
	c2.Height = 6;
	CK(cuMemsetD2D16Async(pm, pitch, 0x0707, pitch / 2, 8, st));
	CK(cuMemcpy2DAsync(&c2, st));
	CK(cuMemcpyDtoHAsync(back, pm, pitch * 8, st));     /* pageable: synchronous */
	EXPECT(back[pitch + 40] == img[0][10] && back[0] == 7 && back[pitch * 7 + 95] == 7);
	CK(cuMemcpy2DUnaligned(&c2));
	CK(cuMemsetD2D8Async(pm, pitch, 1, 4, 2, st));
	CK(cuMemsetD2D32Async(pm + 8, pitch, 0x02020202, 1, 2, st));
	CK(cuMemsetD8Async(pm + 12, 3, 1, st));
	CK(cuMemsetD16Async(pm + 14, 0x0404, 1, st));
	CK(cuMemsetD32Async(pm + 16, 0x05050505, 1, st));
	CK(cuStreamSynchronize(st));
	CK(cuMemcpyDtoH(back, pm, pitch * 2));
	static const unsigned char row0[20] = {1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 3, 7, 4, 4, 5, 5, 5, 5};
	EXPECT(!memcmp(back, row0, 20) && back[pitch] == 1 && back[pitch + 8] == 2 && back[pitch + 12] == 7);
	CK(cuStreamDestroy(st));
	free(back);

	/* pinned and registered host memory */
	void *hp;
	CK(cuMemAllocHost(&hp, 4096));
	CK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)hp));
	EXPECT(mt == CU_MEMORYTYPE_HOST);
	CUdeviceptr hd;
	CK(cuMemHostGetDevicePointer(&hd, hp, 0));
	CK(cuMemcpyDtoD(hd, b, 100));            /* pinned memory is reachable as a device pointer */
	EXPECT(((unsigned char *)hp)[0] == 0xab);
	unsigned hf;
	CK(cuMemHostGetFlags(&hf, hp));
	CK(cuMemFreeHost(hp));
	CK_RC(cuMemFreeHost(hp), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemHostAlloc(&hp, 100, CU_MEMHOSTALLOC_DEVICEMAP));
	CK(cuMemFreeHost(hp));
	static char reg[8192];
	CK(cuMemHostRegister(reg, sizeof(reg), 0));
	CK_RC(cuMemHostRegister(reg, sizeof(reg), 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	CK(cuMemHostGetDevicePointer(&hd, reg + 100, 0));
	EXPECT(hd == (CUdeviceptr)(uintptr_t)(reg + 100));
	CK(cuMemHostUnregister(reg));
	CK_RC(cuMemHostUnregister(reg), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);

	/* pointer attributes */
	CUcontext pc;
	CK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, a + 3));
	EXPECT(mt == CU_MEMORYTYPE_DEVICE);
	CK(cuPointerGetAttribute(&pc, CU_POINTER_ATTRIBUTE_CONTEXT, a));
	EXPECT(pc == ctx);
	CUdeviceptr start;
	CK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, a + 77));
	EXPECT(start == a);
	CUpointer_attribute at[2] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
	int ord = -1;
	void *data[2] = {&mt, &ord};
	CK(cuPointerGetAttributes(2, at, data, b));
	EXPECT(mt == CU_MEMORYTYPE_DEVICE && ord == 0);

	CK(cuMemFree(a));
	CK(cuMemFree(b));
	CK(cuMemFree(pm));
	CK(cuMemGetInfo(&fr1, &tot));
	EXPECT(fr1 == fr0);
	CK(cuDevicePrimaryCtxRelease(0));
}

/* NULL out-parameters and handles give an error code, never a crash. */
static void test_nulls(void)
{
	CUcontext ctx;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	EXPECT(cuDriverGetVersion(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceGet(NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceGetCount(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceGetName(NULL, 10, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceGetUuid(NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceTotalMem(NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceGetAttribute(NULL, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceComputeCapability(NULL, NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDeviceGetProperties(NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDevicePrimaryCtxRetain(NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuDevicePrimaryCtxGetState(0, NULL, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxCreate(NULL, NULL, 0, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxGetCurrent(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxGetDevice(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxGetFlags(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxGetLimit(NULL, CU_LIMIT_STACK_SIZE) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxGetCacheConfig(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxGetApiVersion(ctx, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuCtxDestroy(NULL) == CUDA_ERROR_INVALID_CONTEXT);
	EXPECT(cuCtxPushCurrent(NULL) == CUDA_ERROR_INVALID_CONTEXT);
	EXPECT(cuMemAlloc(NULL, 16) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemAllocPitch(NULL, NULL, 16, 16, 4) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemGetInfo(NULL, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemAllocHost(NULL, 16) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemFreeHost(NULL) == CUDA_SUCCESS);             /* as the driver: free(NULL) */
	EXPECT(cuMemHostRegister(NULL, 16, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemHostUnregister(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemHostGetDevicePointer(NULL, NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemHostGetFlags(NULL, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuPointerGetAttribute(NULL, CU_POINTER_ATTRIBUTE_CONTEXT, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuPointerGetAttributes(1, NULL, NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemcpyHtoD(0, NULL, 16) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemcpyDtoH(NULL, 0, 16) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemcpy2D(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemcpy3D(NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemsetD8(0, 0, 16) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuModuleLoad(NULL, "x") == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuModuleLoadData(NULL, "x") == CUDA_ERROR_INVALID_VALUE);
	CUmodule m;
	EXPECT(cuModuleLoadData(&m, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuModuleUnload(NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuModuleGetFunction(NULL, NULL, "k") == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuModuleGetGlobal(NULL, NULL, NULL, "g") == CUDA_ERROR_INVALID_HANDLE);
	int v;
	EXPECT(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuFuncSetAttribute(NULL, CU_FUNC_ATTRIBUTE_NUM_REGS, 1) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuFuncSetCacheConfig(NULL, CU_FUNC_CACHE_PREFER_L1) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuOccupancyMaxActiveBlocksPerMultiprocessor(&v, NULL, 32, 0) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuOccupancyMaxPotentialBlockSize(&v, &v, NULL, NULL, 0, 0) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuLaunchKernelEx(NULL, NULL, NULL, NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuStreamCreate(NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuStreamGetFlags(NULL, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuStreamGetPriority(NULL, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuStreamAddCallback(NULL, NULL, NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuLaunchHostFunc(NULL, NULL, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuStreamWaitEvent(NULL, NULL, 0) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuEventCreate(NULL, 0) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuEventDestroy(NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuEventRecord(NULL, NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuEventQuery(NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuEventSynchronize(NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuEventElapsedTime(NULL, NULL, NULL) == CUDA_ERROR_INVALID_HANDLE);
	EXPECT(cuGetErrorName(CUDA_SUCCESS, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuGetErrorString(CUDA_SUCCESS, NULL) == CUDA_ERROR_INVALID_VALUE);
	CK(cuCtxDestroy(ctx));
}

/* Context/stream queries, peers across the two simulated devices, stream-ordered memory. */
static void test_extras(void)
{
	CUcontext a, b, cur;
	CK(cuCtxCreate(&b, NULL, 0, 1));
	CK(cuCtxCreate(&a, NULL, 0, 0));
	unsigned long long ia, ib;
	CK(cuCtxGetId(a, &ia));
	CK(cuCtxGetId(b, &ib));
	EXPECT(ia != ib);
	CUdevice d;
	CK(cuCtxGetDevice_v2(&d, b));
	EXPECT(d == 1);
	CK(cuCtxSynchronize_v2(b));
	CUstream s;
	CK(cuStreamCreate(&s, 0));
	CK(cuStreamGetCtx(s, &cur));
	EXPECT(cur == a);
	CK(cuStreamGetDevice(s, &d));
	EXPECT(d == 0);
	unsigned long long sid, nid;
	CK(cuStreamGetId(s, &sid));
	CK(cuStreamGetId(NULL, &nid));
	EXPECT(sid != nid);
	/* peers */
	int can;
	CK(cuDeviceCanAccessPeer(&can, 0, 1));
	EXPECT(can == 1);
	CK(cuDeviceCanAccessPeer(&can, 0, 0));
	EXPECT(can == 0);
	CK(cuCtxEnablePeerAccess(b, 0));
	CK_RC(cuCtxEnablePeerAccess(b, 0), CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED);
	CK(cuCtxDisablePeerAccess(b));
	CK_RC(cuCtxDisablePeerAccess(b), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
	CUdeviceptr pa, pb;
	CK(cuMemAlloc(&pa, 64));
	CK(cuCtxPushCurrent(b));
	CK(cuMemAlloc(&pb, 64));
	CK(cuCtxPopCurrent(&cur));
	CK(cuMemsetD32(pa, 0x11223344, 16));
	CK(cuMemcpyPeer(pb, b, pa, a, 64));
	unsigned v[16];
	CK(cuMemcpyDtoH(v, pb, 64));
	EXPECT(v[0] == 0x11223344 && v[15] == 0x11223344);
	/* PCI bus id round trip */
	char bus[32];
	CK(cuDeviceGetPCIBusId(bus, sizeof(bus), 1));
	CK(cuDeviceGetByPCIBusId(&d, bus));
	EXPECT(d == 1);
	CK_RC(cuDeviceGetByPCIBusId(&d, "0000:ff:00.0"), CUDA_ERROR_INVALID_DEVICE);
	/* stream-ordered allocation: the free happens when the stream reaches it */
	size_t f0, f1, f2, tot;
	CUdeviceptr q;
	CK(cuMemGetInfo(&f0, &tot));
	CK(cuMemAllocAsync(&q, 1 << 20, s));
	CK(cuMemsetD8Async(q, 0, 1 << 20, s));
	CK(cuMemGetInfo(&f1, &tot));
	EXPECT(f0 - f1 >= 1 << 20);
	CK(cuMemFreeAsync(q, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemGetInfo(&f2, &tot));
	EXPECT(f2 == f0);
	CK_RC(cuMemFreeAsync(q, s), CUDA_ERROR_INVALID_VALUE);
	CK(cuCtxResetPersistingL2Cache());
	CK(cuCtxSetFlags(CU_CTX_SCHED_SPIN));
	unsigned fl;
	CK(cuCtxGetFlags(&fl));
	EXPECT(fl == CU_CTX_SCHED_SPIN);
	CK(cuStreamDestroy(s));
	CK(cuCtxDestroy(a));
	CK(cuCtxDestroy(b));
}

/* the simulator's test hook: the events of every context (api_stream.c) */
void vgpu_sim_live_events(long *events);

/*
 * A context's events go with it (cuCtxDestroy destroys all its resources), recorded or not,
 * and so do the primary context's when the device is reset; a handle of one then names
 * nothing. Before, they stayed in the simulator's list of events until the process ended.
 */
static void test_events_ctx_gone(void)
{
	CUcontext c, p;
	CUstream s;
	CUevent e[3], q;
	long n0, n;
	vgpu_sim_live_events(&n0);
	CK(cuCtxCreate(&c, NULL, 0, 0));
	CK(cuStreamCreate(&s, 0));
	for (int i = 0; i < 3; i++)
		CK(cuEventCreate(&e[i], i ? CU_EVENT_DISABLE_TIMING : 0));
	CK(cuEventRecord(e[0], s));
	CK(cuEventRecord(e[1], NULL));
	vgpu_sim_live_events(&n);
	EXPECT(n == n0 + 3);
	CK(cuCtxDestroy(c));
	vgpu_sim_live_events(&n);
	EXPECT(n == n0);
	CK(cuDevicePrimaryCtxRetain(&p, 0));
	CK(cuCtxSetCurrent(p));
	EXPECT(cuEventQuery(e[0]) != CUDA_SUCCESS);    /* names nothing now */
	CK(cuEventCreate(&q, 0));
	CK(cuEventRecord(q, NULL));
	vgpu_sim_live_events(&n);
	EXPECT(n == n0 + 1);
	CK(cuDevicePrimaryCtxReset(0));
	vgpu_sim_live_events(&n);
	EXPECT(n == n0);
	CK(cuCtxSetCurrent(NULL));
}

/* the simulator's test hook: what it holds that the driver keeps past a context (graph.c) */
void vgpu_sim_live_objects(long *graphs, long *execs, long *pools, long *libraries, long *ordered);

/*
 * Stream-ordered memory is no context's (cuCtxDestroy's documentation): an allocation from a
 * pool outlives the context it was made in, reachable and freeable from another, and the
 * pool counts it until then. A reset of the device frees it with the rest of the device's
 * state; the pool forgets it then: its count goes back, and a later ordinary allocation at
 * the same address is not taken for the pool's when it is freed.
 */
static void test_pool_ctx_gone(void)
{
	CUcontext c, p;
	CUstream s;
	CUmemoryPool pool;
	CUdeviceptr q, r;
	cuuint64_t used = 1;
	uint8_t byte = 0;
	long g, x, pl, l, ord0, ord;
	vgpu_sim_live_objects(&g, &x, &pl, &l, &ord0);
	CK(cuCtxCreate(&c, NULL, 0, 0));
	CK(cuStreamCreate(&s, 0));
	CK(cuDeviceGetDefaultMemPool(&pool, 0));
	CK(cuMemAllocAsync(&q, 1 << 20, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
	EXPECT(used == 1 << 20);
	CK(cuCtxDestroy(c));
	CK(cuCtxCreate(&c, NULL, 0, 0));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
	EXPECT(used == 1 << 20);                    /* kept past its context */
	CK(cuMemsetD8(q + 4096, 0x5a, 1));
	CK(cuMemcpyDtoH(&byte, q + 4096, 1));
	EXPECT(byte == 0x5a);
	vgpu_sim_live_objects(&g, &x, &pl, &l, &ord);
	EXPECT(ord == ord0 + 1);
	CK(cuMemFree(q));                           /* from another context */
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
	EXPECT(used == 0);
	CK(cuCtxDestroy(c));
	/* the reset of the device takes it, whichever context made it */
	CK(cuDevicePrimaryCtxRetain(&p, 0));
	CK(cuCtxSetCurrent(p));
	CK(cuMemAllocAsync(&q, 1 << 20, NULL));
	CK(cuCtxSynchronize());
	CK(cuDevicePrimaryCtxReset(0));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
	EXPECT(used == 0);
	vgpu_sim_live_objects(&g, &x, &pl, &l, &ord);
	EXPECT(ord == ord0);
	CK(cuDevicePrimaryCtxRetain(&p, 0));
	CK(cuCtxSetCurrent(p));
	CK_RC(cuMemFree(q), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemAlloc(&r, 1 << 20));
	CK(cuMemFree(r));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
	EXPECT(used == 0);
	CK(cuCtxSetCurrent(NULL));
	CK(cuDevicePrimaryCtxRelease(0));   /* (the reset dropped the first retain) */
}

/*
 * Freed device memory reads zero when it is allocated again (its whole pages; a free under
 * 64 KiB is not cleared), whether its pages are given back or, with VGPU_SIM_KEEP_FREED,
 * cleared in place: an allocation that does not start on a page boundary included (device
 * memory is 256-byte aligned). Run first, on a fresh arena, so where the allocations land is
 * known; the parent runs it as the simulator does by default, a child with the option set.
 */
static void test_freed_reads_zero(void)
{
	const size_t n = 1u << 20;
	CUcontext c;
	CUdeviceptr small, big, again;
	uint8_t *h = malloc(n);
	EXPECT(h != NULL);
	CK(cuCtxCreate(&c, NULL, 0, 0));
	CK(cuMemAlloc(&small, 256));
	CK(cuMemAlloc(&big, n));
	EXPECT(big == small + 256 && big % 4096 != 0);
	CK(cuMemsetD8(big, 0xab, n));
	CK(cuMemcpyDtoH(h, big, n));
	EXPECT(h[0] == 0xab && h[n - 1] == 0xab);
	CK(cuMemFree(big));
	CK(cuMemAlloc(&again, n));
	EXPECT(again == big);                       /* first fit: the same memory */
	CK(cuMemcpyDtoH(h, again, n));
	size_t lo = (size_t)(((big + 4095) & ~(CUdeviceptr)4095) - big), hi = (size_t)(((big + n) & ~(CUdeviceptr)4095) - big);
	for (size_t i = lo; i < hi; i++)
		if (h[i]) {
			fprintf(stderr, "byte %zu of memory freed and allocated again is 0x%02x, not 0 (VGPU_SIM_KEEP_FREED=%s)\n",
				i, h[i], getenv("VGPU_SIM_KEEP_FREED") ? getenv("VGPU_SIM_KEEP_FREED") : "unset");
			exit(1);
		}
	CK(cuMemFree(again));
	CK(cuMemFree(small));
	CK(cuCtxDestroy(c));
	free(h);
}

int main(void)
{
	setenv("VGPU_SIM_DEVICES", "2", 1);
	setenv("VGPU_SIM_MEM", "64M", 1);
	pid_t kid = fork();
	EXPECT(kid >= 0);
	if (kid == 0) {
		setenv("VGPU_SIM_KEEP_FREED", "64M", 1);
		CK(cuInit(0));
		test_freed_reads_zero();
		_exit(0);
	}
	int st = 0;
	EXPECT(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unsetenv("VGPU_SIM_KEEP_FREED");
	test_devices();
	test_freed_reads_zero();
	test_contexts();
	test_memory();
	test_nulls();
	test_extras();
	test_pool_ctx_gone();
	test_events_ctx_gone();
	printf("test_sim_basic: all checks passed\n");
	return 0;
}
