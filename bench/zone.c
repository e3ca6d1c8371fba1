/* SPDX-License-Identifier: MIT */
/* zone.c — driver-API workload timings; bench/zone.sh runs it through libvgpu+proxy and directly on the same driver, and compares. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define CK(x) do { CUresult r_ = (x); if (r_ != CUDA_SUCCESS) { \
	fprintf(stderr, "bench/zone: %s failed (%d) at line %d\n", #x, (int)r_, __LINE__); exit(1); } } while (0)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Best of `reps` timings of `iters` iterations of body, in seconds per iteration. */
#define BEST(reps, iters, body) ({ \
	double best_ = 1e30; \
	for (int r_ = 0; r_ < (reps); r_++) { \
		double t0_ = now(); \
		for (long i_ = 0; i_ < (iters); i_++) { body; } \
		double dt_ = (now() - t0_) / (double)(iters); \
		if (dt_ < best_) best_ = dt_; \
	} \
	best_; })

/* Iterations of one timed copy of n bytes: about 512 MiB moved (64 MiB quick), at least 2. */
static long iters_for(size_t n, int quick)
{
	long it = (long)((quick ? 64u << 20 : 512u << 20) / n);
	return it < 2 ? 2 : it;
}

/*
 * HtoD and DtoH bandwidth between host buffer h and device buffer d (both at least maxs
 * bytes) for each size up to maxs, printed as htod_<tag><N>KiB / dtoh_<tag><N>KiB.
 */
static void copies(const char *tag, void *h, CUdeviceptr d, const size_t *sizes, size_t nsizes, size_t maxs,
		   int quick, int reps)
{
	for (size_t i = 0; i < nsizes && sizes[i] <= maxs; i++) {
		size_t n = sizes[i];
		long it = iters_for(n, quick);
		double th = BEST(reps, it, CK(cuMemcpyHtoD(d, h, n)));
		double td = BEST(reps, it, CK(cuMemcpyDtoH(h, d, n)));
		printf("htod_%s%zuKiB %.3f GB/s\n", tag, n >> 10, (double)n / th * 1e-9);
		printf("dtoh_%s%zuKiB %.3f GB/s\n", tag, n >> 10, (double)n / td * 1e-9);
	}
}

/* HtoD and DtoH from pageable (malloc) memory, 4 KiB to 256 MiB (16 MiB quick), then
 * asynchronous ones on a stream and 2D ones. */
static void pageable_copies(int quick, int reps)
{
	static const size_t pageable[] = { 4u << 10, 64u << 10, 1u << 20, 4u << 20, 16u << 20, 64u << 20, 256u << 20 };
	size_t maxs = quick ? (16u << 20) : (256u << 20);
	unsigned char *h = malloc(maxs);
	CUdeviceptr d;

	if (!h) {
		fprintf(stderr, "bench/zone: cannot allocate %zu bytes of host memory\n", maxs);
		exit(1);
	}
	memset(h, 1, maxs);
	CK(cuMemAlloc(&d, maxs));
	copies("", h, d, pageable, sizeof(pageable) / sizeof(pageable[0]), maxs, quick, reps);

	/* The same asynchronously on a stream, each copy waited for (a tensor moved to or from
	 * the device and then used): about 128 MiB moved per figure. */
	static const size_t async_sizes[] = { 64u << 10, 4u << 20, 16u << 20 };
	CUstream s;
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	for (size_t i = 0; i < sizeof(async_sizes) / sizeof(async_sizes[0]) && async_sizes[i] <= maxs; i++) {
		size_t n = async_sizes[i];
		long it = (long)((quick ? 16u << 20 : 128u << 20) / n);
		double th = BEST(reps, it, { CK(cuMemcpyHtoDAsync(d, h, n, s)); CK(cuStreamSynchronize(s)); });
		double td = BEST(reps, it, { CK(cuMemcpyDtoHAsync(h, d, n, s)); CK(cuStreamSynchronize(s)); });
		printf("htod_async_%zuKiB %.3f GB/s\n", n >> 10, (double)n / th * 1e-9);
		printf("dtoh_async_%zuKiB %.3f GB/s\n", n >> 10, (double)n / td * 1e-9);
	}
	CK(cuStreamDestroy(s));

	/* A 2D copy of a 4 MiB image (1024 rows of 4 KiB) between dense host rows and a pitched
	 * allocation, as cudaMemcpy2D uploads and downloads images. */
	CUdeviceptr img;
	size_t pitch;
	CK(cuMemAllocPitch(&img, &pitch, 4096, 1024, 16));
	CUDA_MEMCPY2D up = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = h, .srcPitch = 4096,
			     .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = img, .dstPitch = pitch,
			     .WidthInBytes = 4096, .Height = 1024 };
	CUDA_MEMCPY2D down = { .srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = img, .srcPitch = pitch,
			       .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = h, .dstPitch = 4096,
			       .WidthInBytes = 4096, .Height = 1024 };
	long it2 = quick ? 4 : 32;
	double t2u = BEST(reps, it2, CK(cuMemcpy2D(&up)));
	double t2d = BEST(reps, it2, CK(cuMemcpy2D(&down)));
	printf("htod_2d_4096KiB %.3f GB/s\n", (double)(4u << 20) / t2u * 1e-9);
	printf("dtoh_2d_4096KiB %.3f GB/s\n", (double)(4u << 20) / t2d * 1e-9);
	/* The same image as a sub-rectangle of a wider host image (rows 4 KiB + 64 B apart): rows
	 * that are not one block in the program's memory. */
	if (maxs >= (4u << 20) + (64u << 10)) {
		up.srcPitch = down.dstPitch = 4096 + 64;
		t2u = BEST(reps, it2, CK(cuMemcpy2D(&up)));
		t2d = BEST(reps, it2, CK(cuMemcpy2D(&down)));
		printf("htod_2dsub_4096KiB %.3f GB/s\n", (double)(4u << 20) / t2u * 1e-9);
		printf("dtoh_2dsub_4096KiB %.3f GB/s\n", (double)(4u << 20) / t2d * 1e-9);
	}
	CK(cuMemFree(img));
	CK(cuMemFree(d));
	free(h);
}

/* The host function of the host-function burst: counts its runs. */
static long hits;
static void CUDA_CB count_hit(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&hits, 1, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	int quick = 0, alloc_only = 0, pageable_only = 0;
	const char *image = getenv("VGPU_BENCH_KERNELS");
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdeviceptr d;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
		} else if (strcmp(argv[i], "--alloc-free") == 0) {
			alloc_only = 1;
		} else if (strcmp(argv[i], "--pageable-only") == 0) {
			pageable_only = 1;
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: zone [--quick] [--alloc-free | --pageable-only]   (VGPU_BENCH_KERNELS=path/to/basic.fatbin)\n"
			       "Prints `name value unit` lines: trivial call, idle cuCtxSynchronize, alloc+free, launch\n"
			       "posting, HtoD/DtoH bandwidth from pageable, registered (cuMemHostRegister) and page-locked\n"
			       "(cuMemAllocHost) memory, cuMemHostRegister + cuMemHostUnregister of 4 MiB.\n"
			       "--quick: fewer iterations, copies up to 16 MiB; --alloc-free: print only alloc_free_ns and alloc_free_async_ns\n"
			       "and stop there; --pageable-only: print only the pageable copies (htod_/dtoh_[async_|2d_|2dsub_]<N>KiB).\n");
			return 0;
		} else {
			fprintf(stderr, "bench/zone: unknown option %s (try --help)\n", argv[i]);
			return 2;
		}
	}
	int reps = quick ? 1 : 3;
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	if (pageable_only) {
		pageable_copies(quick, reps);
		CK(cuCtxDestroy(ctx));
		return 0;
	}
	CK(cuModuleLoad(&mod, image ? image : "build/rel/tests/kernels/basic.fatbin"));
	CK(cuModuleGetFunction(&f, mod, "vec_add"));

	/* With --alloc-free these still run, unprinted, so alloc+free starts from the same state.
	 * The trivial call is one libvgpu always sends (cuCtxGetApiVersion): a round trip with
	 * nothing to do; a repeated cuCtxGetDevice is answered in the zone (libvgpu/qcache.c). */
	unsigned api;
	/* unmeasured first: the worker's thread starts out asleep and spins once it is busy */
	for (int i = 0; i < 2000; i++)
		CK(cuCtxGetApiVersion(ctx, &api));
	double t = BEST(reps, quick ? 2000 : 50000, CK(cuCtxGetApiVersion(ctx, &api)));
	if (!alloc_only)
		printf("trivial_call_ns %.1f ns\n", t * 1e9);
	CUdevice got;
	t = BEST(reps, quick ? 2000 : 50000, CK(cuCtxGetDevice(&got)));
	if (!alloc_only)
		printf("repeated_query_ns %.1f ns\n", t * 1e9);

	/* Nothing queued: what a synchronisation costs when there is nothing to wait for. */
	t = BEST(reps, quick ? 2000 : 20000, CK(cuCtxSynchronize()));
	if (!alloc_only)
		printf("ctx_sync_ns %.1f ns\n", t * 1e9);

	t = BEST(reps, quick ? 500 : 10000, { CK(cuMemAlloc(&d, 1 << 20)); CK(cuMemFree(d)); });
	printf("alloc_free_ns %.1f ns\n", t * 1e9);
	/* stream-ordered, as cudaMallocAsync users do: 64 KiB allocated and freed on a stream,
	 * the stream waited for after each 100 */
	{
		CUstream as;
		CK(cuStreamCreate(&as, CU_STREAM_NON_BLOCKING));
		int k = 0;
		t = BEST(reps, quick ? 500 : 10000, {
			CK(cuMemAllocAsync(&d, 64 << 10, as));
			CK(cuMemFreeAsync(d, as));
			if (++k % 100 == 0)
				CK(cuStreamSynchronize(as));
		});
		CK(cuStreamSynchronize(as));
		CK(cuStreamDestroy(as));
		printf("alloc_free_async_ns %.1f ns\n", t * 1e9);
	}
	if (alloc_only) {
		CK(cuModuleUnload(mod));
		CK(cuCtxDestroy(ctx));
		return 0;
	}

	/*
	 * Launches (n = 0, so each kernel returns at once). Burst: 1000 launches, which fit in the
	 * channel's ring, timed at the client only: what posting costs the application. Sustained:
	 * 20000 launches, more than the ring holds, so the rate is that of the whole path down to
	 * the backend executing them. Both synchronise after the timed part.
	 */
	CK(cuMemAlloc(&d, 4096));
	int zero = 0;
	void *args[] = { &d, &d, &d, &zero };
	static const struct { const char *name; long n; } runs[] = {
		{ "launch_burst_per_s", 1000 }, { "launch_sustained_per_s", 20000 } };
	for (unsigned k = 0; k < 2; k++) {
		long nl = quick ? runs[k].n / 10 : runs[k].n;
		double best = 1e30;
		for (int r = 0; r < reps + 2; r++) {
			double t0 = now();
			for (long i = 0; i < nl; i++)
				CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
			double dt = now() - t0;
			CK(cuCtxSynchronize());
			if (dt < best)
				best = dt;
		}
		printf("%s %.0f launches/s\n", runs[k].name, (double)nl / best);
	}
	/*
	 * The same burst launching a CUkernel of a library, as programs built with the CUDA
	 * runtime do: the kernel is resolved to its function in the current context first.
	 */
	{
		CUlibrary lib;
		CUkernel kern;
		long nl = quick ? 100 : 1000;
		double best = 1e30;
		CK(cuLibraryLoadFromFile(&lib, image ? image : "build/rel/tests/kernels/basic.fatbin", NULL, NULL, 0,
					 NULL, NULL, 0));
		CK(cuLibraryGetKernel(&kern, lib, "vec_add"));
		for (int r = 0; r < reps + 2; r++) {
			double t0 = now();
			for (long i = 0; i < nl; i++)
				CK(cuLaunchKernel((CUfunction)kern, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
			double dt = now() - t0;
			CK(cuCtxSynchronize());
			if (dt < best)
				best = dt;
		}
		printf("launch_kernel_burst_per_s %.0f launches/s\n", (double)nl / best);
		CK(cuLibraryUnload(lib));
	}
	/*
	 * Graph launches: a graph of 10 captured kernels launched again and again, as programs
	 * replaying CUDA graphs do. Through vgpu a graph without memory nodes is posted like a
	 * kernel launch (libvgpu/call.c). Burst: posting, timed at the client; sustained: 5000
	 * launches and the wait for them, the rate of the whole path.
	 */
	{
		CUstream s;
		CUgraph g;
		CUgraphExec ge;
		long nl = quick ? 100 : 1000;
		double best = 1e30;
		CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
		for (int i = 0; i < 10; i++)
			CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s, args, NULL));
		CK(cuStreamEndCapture(s, &g));
		CK(cuGraphInstantiate(&ge, g, 0));
		for (int r = 0; r < reps + 2; r++) {
			double t0 = now();
			for (long i = 0; i < nl; i++)
				CK(cuGraphLaunch(ge, s));
			double dt = now() - t0;
			CK(cuStreamSynchronize(s));
			if (dt < best)
				best = dt;
		}
		printf("graph_launch_burst_per_s %.0f launches/s\n", (double)nl / best);
		long ns = quick ? 500 : 5000;
		double t0 = now();
		for (long i = 0; i < ns; i++)
			CK(cuGraphLaunch(ge, s));
		CK(cuStreamSynchronize(s));
		printf("graph_launch_sustained_per_s %.0f launches/s\n", (double)ns / (now() - t0));
		CK(cuGraphExecDestroy(ge));
		CK(cuGraphDestroy(g));
		CK(cuStreamDestroy(s));
	}
	/*
	 * Host functions: a burst queued on a stream and run, as pipelines that hand results to
	 * the host do. Through vgpu each one is a launch (one round trip) and a hand-off to the
	 * zone's host-function thread and back while the stream waits; directly, the driver's
	 * own thread calls it.
	 */
	{
		CUstream s;
		long nl = quick ? 100 : 1000;
		double best = 1e30;
		CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
		for (int r = 0; r < reps + 2; r++) {
			double t0 = now();
			for (long i = 0; i < nl; i++)
				CK(cuLaunchHostFunc(s, count_hit, NULL));
			CK(cuStreamSynchronize(s));
			double dt = now() - t0;
			if (dt < best)
				best = dt;
		}
		if (hits != (long)(reps + 2) * nl) {
			fprintf(stderr, "bench/zone: %ld host functions ran, %ld were queued\n", hits, (long)(reps + 2) * nl);
			return 1;
		}
		printf("host_func_per_s %.0f host functions/s\n", (double)nl / best);
		CK(cuStreamDestroy(s));
	}
	CK(cuMemFree(d));

	/* Pageable copies first; the pageable buffer is freed before the pinned one is allocated. */
	pageable_copies(quick, reps);
	size_t maxs = quick ? (16u << 20) : (256u << 20);
	CK(cuMemAlloc(&d, maxs));

	/* Registered memory: page-aligned memory of the program's own, cuMemHostRegister'ed (through
	 * vgpu it becomes a region shared with the worker, copied without the ring). */
	static const size_t registered[] = { 1u << 20, 4u << 20, 64u << 20 };
	size_t rs = quick ? (4u << 20) : (64u << 20);
	void *hr = mmap(NULL, rs, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hr == MAP_FAILED) {
		fprintf(stderr, "bench/zone: cannot map %zu bytes of host memory\n", rs);
		return 1;
	}
	memset(hr, 1, rs);
	CK(cuMemHostRegister(hr, rs, 0));
	copies("registered_", hr, d, registered, sizeof(registered) / sizeof(registered[0]), rs, quick, reps);
	CK(cuMemHostUnregister(hr));
	/* Registering and unregistering 4 MiB of it, as programs that pin a buffer for a while
	 * do (through vgpu the pages become a shared region and back, contents kept). */
	t = BEST(reps, quick ? 5 : 20, { CK(cuMemHostRegister(hr, 4u << 20, 0)); CK(cuMemHostUnregister(hr)); });
	printf("register_unregister_4MiB_us %.1f us\n", t * 1e6);
	munmap(hr, rs);

	/* Page-locked host memory: the copies the driver can DMA directly. */
	void *hp;
	CK(cuMemAllocHost(&hp, maxs));
	memset(hp, 1, maxs);
	static const size_t pinned[] = { 4u << 10, 64u << 10, 1u << 20, 4u << 20, 64u << 20, 256u << 20 };
	copies("pinned_", hp, d, pinned, sizeof(pinned) / sizeof(pinned[0]), maxs, quick, reps);

	/* The same from a stream: each iteration queues one copy and waits for it. */
	CUstream s;
	size_t na = maxs < (64u << 20) ? maxs : (64u << 20);
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	t = BEST(reps, iters_for(na, quick), { CK(cuMemcpyHtoDAsync(d, hp, na, s)); CK(cuStreamSynchronize(s)); });
	printf("htod_pinned_async_%zuMiB %.3f GB/s\n", na >> 20, (double)na / t * 1e-9);
	CK(cuStreamDestroy(s));
	CK(cuMemFreeHost(hp));
	CK(cuMemFree(d));
	CK(cuModuleUnload(mod));
	CK(cuCtxDestroy(ctx));
	return 0;
}
