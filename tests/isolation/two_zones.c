/* SPDX-License-Identifier: MIT */
/* two_zones.c — isolation: a second zone using the first zone's handles and memory, its quota, and a zone killed mid-transfer. */
#include "../e2e/e2e.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

/* What zone A shows zone B: the raw values it got from the driver API. */
struct a_objects {
	uint64_t ctx, mod, func, stream, event, dptr;
	uint64_t graph, exec, pool, library, kernel;
	uint64_t phys, mapped;      /* a physical allocation and the address it is mapped at */
	uint64_t gran;
};

#define PATTERN_BYTES (1u << 20)

static void pipe_write(int fd, const void *p, size_t n)
{
	EXPECT(write(fd, p, n) == (ssize_t)n);
}

static void pipe_read(int fd, void *p, size_t n)
{
	EXPECT(read(fd, p, n) == (ssize_t)n);
}

/* Zone A: creates one of everything, publishes it, waits, then checks nothing was touched. */
static int zone_a(int out, int in)
{
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUstream s;
	CUevent e;
	CUdeviceptr d;
	unsigned char *pat = malloc(PATTERN_BYTES), *back = malloc(PATTERN_BYTES);
	char go;

	for (unsigned i = 0; i < PATTERN_BYTES; i++)
		pat[i] = (unsigned char)(i * 7 + 1);
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuModuleLoad(&mod, e2e_kernel_path("basic.ptx")));
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	CK(cuStreamCreate(&s, 0));
	CK(cuEventCreate(&e, 0));
	/* Zones have separate address spaces, so two zones can hold the same device address; a
	 * leading allocation keeps A's buffer away from the addresses B's own allocations get. */
	CUdeviceptr pad;
	CK(cuMemAlloc(&pad, 8u << 20));
	CK(cuMemAlloc(&d, PATTERN_BYTES));
	CK(cuMemcpyHtoD(d, pat, PATTERN_BYTES));
	/* A graph (a memset captured on A's stream) and its executable graph, a memory pool, a
	 * library and one of its kernels. */
	CUgraph g;
	CUgraphExec ge;
	CUmemoryPool pool;
	CUlibrary lib;
	CUkernel k;
	CUdeviceptr gd;
	CK(cuMemAlloc(&gd, 4096));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemsetD32Async(gd, 0x5a5a5a5a, 1024, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&ge, g, 0));
	CUmemPoolProps props = { .allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
				 .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
	CK(cuMemPoolCreate(&pool, &props));
	CK(cuLibraryLoadFromFile(&lib, e2e_kernel_path("basic.fatbin"), NULL, NULL, 0, NULL, NULL, 0));
	CK(cuLibraryGetKernel(&k, lib, "vec_add"));
	/* Virtual memory management: one granule, reserved, created, mapped, opened, filled. */
	CUmemAllocationProp vprop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				      .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
	CUmemAccessDesc acc = { .location = vprop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	size_t gran;
	CUdeviceptr va;
	CUmemGenericAllocationHandle ph;
	CK(cuMemGetAllocationGranularity(&gran, &vprop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	CK(cuMemAddressReserve(&va, gran, 0, 0, 0));
	CK(cuMemCreate(&ph, gran, &vprop, 0));
	CK(cuMemMap(va, gran, 0, ph, 0));
	CK(cuMemSetAccess(va, gran, &acc, 1));
	CK(cuMemsetD8(va, 0xa5, gran));
	struct a_objects o = { (uintptr_t)ctx, (uintptr_t)mod, (uintptr_t)f, (uintptr_t)s, (uintptr_t)e, d,
			       (uintptr_t)g, (uintptr_t)ge, (uintptr_t)pool, (uintptr_t)lib, (uintptr_t)k,
			       ph, va, gran };
	pipe_write(out, &o, sizeof(o));
	pipe_read(in, &go, 1);

	/* Everything of A still works and A's memory is as A left it. */
	CUcontext cur;
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == ctx);
	CK(cuMemcpyDtoH(back, d, PATTERN_BYTES));
	EXPECT(memcmp(pat, back, PATTERN_BYTES) == 0);
	CK(cuEventRecord(e, s));
	CK(cuStreamSynchronize(s));
	CK(cuEventQuery(e));
	CUfunction f2;
	CK(cuModuleGetFunction(&f2, mod, "saxpy"));
	/* A's graph, pool and library still work. */
	unsigned words[1024];
	CK(cuMemsetD32(gd, 0, 1024));
	CK(cuGraphLaunch(ge, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(words, gd, sizeof(words)));
	for (unsigned i = 0; i < 1024; i++)
		EXPECT(words[i] == 0x5a5a5a5a);
	CUdeviceptr pd;
	CK(cuMemAllocFromPoolAsync(&pd, 4096, pool, s));
	CK(cuMemFreeAsync(pd, s));
	CK(cuStreamSynchronize(s));
	CK(cuKernelGetFunction(&f2, k));
	unsigned char vb[64];
	CK(cuMemcpyDtoH(vb, va, sizeof(vb)));
	for (unsigned i = 0; i < sizeof(vb); i++)
		EXPECT(vb[i] == 0xa5);
	CK(cuMemUnmap(va, gran));
	CK(cuMemRelease(ph));
	CK(cuMemAddressFree(va, gran));
	CK(cuGraphExecDestroy(ge));
	CK(cuGraphDestroy(g));
	CK(cuMemPoolDestroy(pool));
	CK(cuLibraryUnload(lib));
	CK(cuMemFree(gd));
	CK(cuMemFree(d));
	CK(cuCtxDestroy(ctx));
	free(pat);
	free(back);
	printf("zone A: objects and memory intact\n");
	return 0;
}

/* Zone B: every use of A's objects fails with the driver's error; A's memory is out of reach. */
static int zone_b(int in, int out, size_t quota)
{
	struct a_objects o;
	CUdevice dev;
	CUcontext ctx;
	CUfunction f;
	CUdeviceptr mine, p;
	unsigned char buf[64] = { 0 };
	int n = 64;

	pipe_read(in, &o, sizeof(o));
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuMemAlloc(&mine, 4096));
	EXPECT(o.dptr + PATTERN_BYTES <= mine || o.dptr >= mine + 4096);

	/* A's handles. */
	CK_ERR(cuCtxSetCurrent((CUcontext)(uintptr_t)o.ctx), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuCtxDestroy((CUcontext)(uintptr_t)o.ctx), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuModuleGetFunction(&f, (CUmodule)(uintptr_t)o.mod, "vec_add"), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuModuleUnload((CUmodule)(uintptr_t)o.mod), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuStreamSynchronize((CUstream)(uintptr_t)o.stream), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuStreamDestroy((CUstream)(uintptr_t)o.stream), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuEventQuery((CUevent)(uintptr_t)o.event), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuEventDestroy((CUevent)(uintptr_t)o.event), CUDA_ERROR_INVALID_HANDLE);
	/* Asynchronous misuse surfaces at the next synchronising call, as on the driver. */
	/* (the `extra` form: B has no layout for a function it never got from its own module) */
	struct { CUdeviceptr a, b, c; int n; } pk = { mine, mine, mine, n };
	size_t pksz = sizeof(pk);
	void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, &pk, CU_LAUNCH_PARAM_BUFFER_SIZE, &pksz, CU_LAUNCH_PARAM_END };
	CK(cuLaunchKernel((CUfunction)(uintptr_t)o.func, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, extra));
	CK_ERR(cuCtxSynchronize(), CUDA_ERROR_INVALID_HANDLE);
	CK(cuCtxSynchronize());

	/* A's graph, executable graph, pool, library and kernel. */
	size_t nn = 0;
	CK_ERR(cuGraphGetNodes((CUgraph)(uintptr_t)o.graph, NULL, &nn), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuGraphDestroy((CUgraph)(uintptr_t)o.graph), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuGraphUpload((CUgraphExec)(uintptr_t)o.exec, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuGraphExecDestroy((CUgraphExec)(uintptr_t)o.exec), CUDA_ERROR_INVALID_HANDLE);
	/* the launch of an executable graph this process did not instantiate waits for its
	 * answer, so its refusal comes at the call, as the driver gives it (libvgpu/call.c) */
	CK_ERR(cuGraphLaunch((CUgraphExec)(uintptr_t)o.exec, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK(cuCtxSynchronize());
	CK_ERR(cuMemAllocFromPoolAsync(&p, 4096, (CUmemoryPool)(uintptr_t)o.pool, NULL), CUDA_ERROR_INVALID_HANDLE);
	cuuint64_t thr = 0;
	CK_ERR(cuMemPoolSetAttribute((CUmemoryPool)(uintptr_t)o.pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr),
	       CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuMemPoolDestroy((CUmemoryPool)(uintptr_t)o.pool), CUDA_ERROR_INVALID_HANDLE);
	CUkernel kk;
	CK_ERR(cuLibraryGetKernel(&kk, (CUlibrary)(uintptr_t)o.library, "vec_add"), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuLibraryUnload((CUlibrary)(uintptr_t)o.library), CUDA_ERROR_INVALID_HANDLE);
	CK_ERR(cuKernelGetFunction(&f, (CUkernel)(uintptr_t)o.kernel), CUDA_ERROR_INVALID_HANDLE);
	CK(cuLaunchKernel((CUfunction)(uintptr_t)o.kernel, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, extra));
	CK_ERR(cuCtxSynchronize(), CUDA_ERROR_INVALID_HANDLE);
	CK(cuCtxSynchronize());
	/* A's physical allocation and mapped range: not B's to map, release, read or unmap. */
	CUdeviceptr bva;
	CUmemAllocationProp vprop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				      .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
	CK(cuMemAddressReserve(&bva, o.gran, 0, 0, 0));
	CK_ERR(cuMemMap(bva, o.gran, 0, (CUmemGenericAllocationHandle)o.phys, 0), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemRelease((CUmemGenericAllocationHandle)o.phys), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemcpyDtoH(buf, o.mapped, sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemUnmap(o.mapped, o.gran), CUDA_ERROR_INVALID_VALUE);
	CUmemGenericAllocationHandle rh;
	CUmemAllocationProp rp;
	CK_ERR(cuMemRetainAllocationHandle(&rh, (void *)(uintptr_t)o.mapped), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemGetAllocationPropertiesFromHandle(&rp, (CUmemGenericAllocationHandle)o.phys),
	       CUDA_ERROR_INVALID_VALUE);
	/* Physical memory is charged to B's quota before the driver sees it; memory asked for as
	 * exportable is made without export handles (its properties say so) and cannot be exported;
	 * the device says it has no such handles, nor IPC events, nor GPUDirect RDMA. */
	CUmemGenericAllocationHandle bh;
	size_t over = ((quota / o.gran) + 1) * o.gran;
	CK_ERR(cuMemCreate(&bh, over, &vprop, 0), CUDA_ERROR_OUT_OF_MEMORY);
	CUmemAllocationProp xvprop = vprop;
	xvprop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
	CK(cuMemCreate(&bh, o.gran, &xvprop, 0));
	CK(cuMemGetAllocationPropertiesFromHandle(&rp, bh));
	EXPECT(rp.requestedHandleTypes == CU_MEM_HANDLE_TYPE_NONE);
	int shared_fd = -1;
	CK_ERR(cuMemExportToShareableHandle(&shared_fd, bh, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
	       CUDA_ERROR_NOT_SUPPORTED);
	EXPECT(shared_fd == -1);
	CK(cuMemRelease(bh));
	static const CUdevice_attribute none_here[] = {
		CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED,
		CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES, CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED,
		CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED, CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED,
		CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED, CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED,
	};
	for (unsigned i = 0; i < sizeof(none_here) / sizeof(none_here[0]); i++) {
		int v = -1;
		CK(cuDeviceGetAttribute(&v, none_here[i], 0));
		EXPECT(v == 0);
	}
	CK(cuMemCreate(&bh, o.gran, &vprop, 0));
	CK_ERR(cuMemAlloc(&p, quota - o.gran + 4096), CUDA_ERROR_OUT_OF_MEMORY);   /* the granule counts */
	CK(cuMemRelease(bh));
	CK(cuMemAlloc(&p, quota - o.gran + 4096));                                /* and is given back */
	CK(cuMemFree(p));
	CK(cuMemAddressFree(bva, o.gran));
	/* A tensor map over A's memory: refused (the copy engine would reach it by address). */
	CUtensorMap tm;
	cuuint64_t tdims[1] = { 256 };
	cuuint32_t tbox[1] = { 64 }, tes[1] = { 1 };
	CK_ERR(cuTensorMapEncodeTiled(&tm, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 1, (void *)(uintptr_t)o.dptr, tdims, NULL,
				      tbox, tes, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
				      CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
	       CUDA_ERROR_INVALID_VALUE);
	/* A pool asked for as exportable could hand its memory to another zone: it is made
	 * without export handles, and cannot be exported. */
	CUmemPoolProps xprops = { .allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
				  .handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR,
				  .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
	CUmemoryPool xpool;
	CK(cuMemPoolCreate(&xpool, &xprops));
	int pool_fd = -1;
	CK_ERR(cuMemPoolExportToShareableHandle(&pool_fd, xpool, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
	       CUDA_ERROR_NOT_SUPPORTED);
	EXPECT(pool_fd == -1);
	CK(cuMemPoolDestroy(xpool));

	/* A's memory: reads, writes, copies within, memset, free. */
	CK_ERR(cuMemcpyDtoH(buf, o.dptr, sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemcpyHtoD(o.dptr, buf, sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemcpyDtoD(mine, o.dptr, sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemcpyDtoD(o.dptr, mine, sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemcpyDtoD(o.dptr + 64, o.dptr, sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemsetD8(o.dptr, 0, 16), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemFree(o.dptr), CUDA_ERROR_INVALID_VALUE);
	/* Ranges that start in B's own allocation and run past it. */
	CK_ERR(cuMemcpyHtoD(mine + 4090, buf, 16), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemcpyDtoH(buf, mine - 8, 16), CUDA_ERROR_INVALID_VALUE);

	/* What B is told of the device's memory: its quota, and what is left of it (the proxy's
	 * --zone-mem-view quota), not the device's, nor what A holds. */
	size_t fr = 0, fr2 = 0, tot = 0, dtot = 0;
	CK(cuMemGetInfo(&fr, &tot));
	CK(cuDeviceTotalMem(&dtot, dev));
	EXPECT(tot == quota && dtot == quota);
	EXPECT(fr < quota);   /* B holds memory already */
	CK(cuMemAlloc(&p, quota / 4));
	CK(cuMemGetInfo(&fr2, &tot));
	EXPECT(fr2 + quota / 4 == fr);   /* exactly what B took */
	CK(cuMemFree(p));
	CK(cuMemGetInfo(&fr2, &tot));
	EXPECT(fr2 == fr);

	/* Quota: one allocation over it fails; filling it fails at the limit; B goes on working. */
	CK_ERR(cuMemAlloc(&p, quota + 1), CUDA_ERROR_OUT_OF_MEMORY);
	CUdeviceptr chunks[256];
	int k = 0;
	CUresult r;
	while (k < 256 && (r = cuMemAlloc(&chunks[k], quota / 8)) == CUDA_SUCCESS)
		k++;
	EXPECT(k >= 6 && k < 256);
	EXPECT(r == CUDA_ERROR_OUT_OF_MEMORY);
	while (k > 0)
		CK(cuMemFree(chunks[--k]));
	/* Stream-ordered allocation is charged to the same quota, from any pool. */
	CUmemoryPool defpool;
	CK(cuDeviceGetDefaultMemPool(&defpool, dev));
	CK_ERR(cuMemAllocFromPoolAsync(&p, quota + 1, defpool, NULL), CUDA_ERROR_OUT_OF_MEMORY);
	CK_ERR(cuMemAllocAsync(&p, quota + 1, NULL), CUDA_ERROR_OUT_OF_MEMORY);
	CK(cuMemAllocAsync(&p, quota / 2, NULL));
	CK_ERR(cuMemAllocAsync(&chunks[0], quota / 2 + 4096, NULL), CUDA_ERROR_OUT_OF_MEMORY);
	CK(cuMemFreeAsync(p, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyHtoD(mine, buf, sizeof(buf)));
	CK(cuMemFree(mine));
	CK(cuCtxDestroy(ctx));
	printf("zone B: every use of zone A's objects refused\n");
	pipe_write(out, "d", 1);
	return 0;
}

/* A zone that keeps copying 64 MiB buffers until it is killed. */
static int zone_copier(int out)
{
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr d;
	size_t n = 64u << 20;
	unsigned char *h = calloc(1, n);

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuMemAlloc(&d, n));
	pipe_write(out, "r", 1);
	for (;;) {
		CK(cuMemcpyHtoD(d, h, n));
		CK(cuMemcpyDtoH(h, d, n));
	}
}

/* A zone that does a full 64 MiB round trip and checks it. */
static int zone_survivor(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr d;
	size_t n = 64u << 20;
	unsigned char *h = malloc(n), *g = malloc(n);

	for (size_t i = 0; i < n; i++)
		h[i] = (unsigned char)(i ^ (i >> 9));
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuMemAlloc(&d, n));
	CK(cuMemcpyHtoD(d, h, n));
	CK(cuMemcpyDtoH(g, d, n));
	EXPECT(memcmp(h, g, n) == 0);
	CK(cuMemFree(d));
	CK(cuCtxDestroy(ctx));
	free(h);
	free(g);
	printf("survivor zone: 64 MiB round trip correct while another zone was killed\n");
	return 0;
}

static int wait_ok(pid_t pid, const char *what)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "FAIL: %s did not exit cleanly (status 0x%x)\n", what, st);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t quota = argc > 1 ? strtoull(argv[1], NULL, 0) : (64u << 20);
	int ab[2], ba[2], done[2];
	pid_t a, b;
	char c;

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: two_zones [QUOTA_BYTES]\nRuns zones A and B (and a killed zone) against the proxy in $VGPU_PROXY.\n");
		return 0;
	}
	fflush(stdout);
	EXPECT(pipe(ab) == 0 && pipe(ba) == 0 && pipe(done) == 0);
	/* each process keeps only the pipe ends it uses: one that dies makes the others' reads
	 * end (and fail) rather than wait for ever */
	if ((a = fork()) == 0) {
		close(ab[0]), close(ba[1]), close(done[0]), close(done[1]);
		exit(zone_a(ab[1], ba[0]));
	}
	if ((b = fork()) == 0) {
		close(ab[1]), close(ba[0]), close(ba[1]), close(done[0]);
		exit(zone_b(ab[0], done[1], quota));
	}
	close(ab[0]), close(ab[1]), close(ba[0]), close(done[1]);
	pipe_read(done[0], &c, 1);
	pipe_write(ba[1], "g", 1);
	if (wait_ok(b, "zone B") || wait_ok(a, "zone A"))
		return 1;

	/* Kill a zone in the middle of its transfers; another zone must be unaffected. */
	int ready[2];
	EXPECT(pipe(ready) == 0);
	pid_t k = fork();
	if (k == 0)
		exit(zone_copier(ready[1]));
	pipe_read(ready[0], &c, 1);
	usleep(300 * 1000);
	kill(k, SIGKILL);
	waitpid(k, NULL, 0);
	pid_t s = fork();
	if (s == 0)
		exit(zone_survivor());
	if (wait_ok(s, "survivor zone"))
		return 1;
	printf("isolation: ok\n");
	return 0;
}
