/* SPDX-License-Identifier: MIT */
/* graph_copies.c — end to end: graphs whose copies name pageable host memory (captured copies, copy nodes made by hand), read and written each time the graph runs. */
#include "e2e.h"

#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 4096

static unsigned pattern(unsigned i, unsigned round)
{
	return i * 2654435761u + round * 97u + 1u;
}

/* Lines of this process's address map naming a memory region libvgpu shares with the worker. */
static int pinned_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "vgpu-pinned") != NULL;
	fclose(f);
	return n;
}

/* One capture: in (pageable) -> d, a memset over part of d, d -> out (pageable), one word of
 * d -> a stack variable through the unified-address copy, and a host-to-host copy. */
static CUgraph capture_round_trip(CUstream s, CUdeviceptr d, unsigned *in, unsigned *out, unsigned *word,
				  unsigned *h2h_src, unsigned *h2h_dst)
{
	CUgraph g;

	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemcpyHtoDAsync(d, in, N * sizeof(unsigned), s));
	CK(cuMemsetD32Async(d + 16 * sizeof(unsigned), 0xabcd, 16, s));
	CK(cuMemcpyDtoHAsync(out, d, N * sizeof(unsigned), s));
	CK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)word, d + 20 * sizeof(unsigned), sizeof(unsigned), s));
	CK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)h2h_dst, (CUdeviceptr)(uintptr_t)h2h_src, 64, s));
	CK(cuStreamEndCapture(s, &g));
	return g;
}

/* Runs x with new input; checks every output it must have written at this launch. */
static void run_and_check(CUgraphExec x, CUstream s, unsigned round, unsigned *in, unsigned *out, unsigned *word,
			  unsigned *h2h_src, unsigned *h2h_dst)
{
	for (unsigned i = 0; i < N; i++)
		in[i] = pattern(i, round);
	for (unsigned i = 0; i < 16; i++)
		h2h_src[i] = pattern(i, round + 1000);
	memset(out, 0xff, N * sizeof(unsigned));
	memset(h2h_dst, 0, 64);
	*word = 0;
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
	for (unsigned i = 0; i < N; i++)
		EXPECT(out[i] == (i >= 16 && i < 32 ? 0xabcdu : pattern(i, round)));
	EXPECT(*word == 0xabcd);
	for (unsigned i = 0; i < 16; i++)
		EXPECT(h2h_dst[i] == pattern(i, round + 1000));
}

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUstream s;
	CUdeviceptr d, dp;
	CUgraph g, gc, g2;
	CUgraphExec x, xc;
	unsigned word = 0, h2h_src[16], h2h_dst[16];
	unsigned *in = malloc(N * sizeof(unsigned)), *out = malloc(N * sizeof(unsigned));
	unsigned *in2 = malloc(N * sizeof(unsigned)), *out2 = malloc(N * sizeof(unsigned));

	EXPECT(in && out && in2 && out2);
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&d, N * sizeof(unsigned)));

	/* 1. Captured copies read and write the program's memory at each launch, not at capture. */
	g = capture_round_trip(s, d, in, out, &word, h2h_src, h2h_dst);
	CK(cuGraphInstantiate(&x, g, 0));
	for (unsigned round = 0; round < 3; round++)
		run_and_check(x, s, round, in, out, &word, h2h_src, h2h_dst);
	printf("captured copies on pageable memory: 3 launches verified\n");

	/* 1b. A child forked now (the parent holds staging) captures and runs its own copies:
	 * through vgpu, whose child is a zone of its own. (The driver refuses CUDA in a child
	 * forked after cuInit, tests/e2e/fork.c; the simulator's threads do not survive fork.) */
	pid_t child = getenv("VGPU_E2E_PROXY") ? fork() : 0;
	EXPECT(child >= 0);
	if (child == 0 && getenv("VGPU_E2E_PROXY")) {
		CUcontext cc;
		CUstream cs;
		CUdeviceptr cd;
		CUgraphExec cx;
		CK(cuInit(0));
		CK(cuCtxCreate(&cc, NULL, 0, dev));
		CK(cuStreamCreate(&cs, CU_STREAM_NON_BLOCKING));
		CK(cuMemAlloc(&cd, N * sizeof(unsigned)));
		CUgraph cg = capture_round_trip(cs, cd, in, out, &word, h2h_src, h2h_dst);
		CK(cuGraphInstantiate(&cx, cg, 0));
		run_and_check(cx, cs, 11, in, out, &word, h2h_src, h2h_dst);
		CK(cuCtxDestroy(cc));
		_exit(0);
	}
	int cst = 0;
	EXPECT(!child || (waitpid(child, &cst, 0) == child && WIFEXITED(cst) && WEXITSTATUS(cst) == 0));
	run_and_check(x, s, 12, in, out, &word, h2h_src, h2h_dst);
	printf("a forked child's own graph copies, and the parent's after: verified\n");

	/* 2. A clone outlives its original: what the copies need stays with every graph made from it. */
	CK(cuGraphClone(&gc, g));
	CK(cuGraphDestroy(g));
	CK(cuGraphInstantiate(&xc, gc, 0));
	CK(cuGraphDestroy(gc));
	CK(cuGraphExecDestroy(x));
	run_and_check(xc, s, 7, in, out, &word, h2h_src, h2h_dst);
	printf("a clone's executable graph, its original gone: verified\n");

	/* 3. The executable graph updated from a capture of the same work on other buffers. */
	g2 = capture_round_trip(s, d, in2, out2, &word, h2h_src, h2h_dst);
	CUgraphExecUpdateResultInfo info;
	CK(cuGraphExecUpdate(xc, g2, &info));
	EXPECT(info.result == CU_GRAPH_EXEC_UPDATE_SUCCESS);
	CK(cuGraphDestroy(g2));
	memset(out, 0x11, N * sizeof(unsigned));
	run_and_check(xc, s, 9, in2, out2, &word, h2h_src, h2h_dst);
	EXPECT(out[0] == 0x11111111u);   /* the old buffers are no longer the graph's */
	CK(cuGraphExecDestroy(xc));
	printf("an executable graph updated to other buffers: verified\n");

	/* 4. Pitched rows: a box of a host image to pitched device memory and back into another. */
	{
		enum { W = 40, H = 8, SP = 64, DP = 80 };
		static unsigned char src[SP * (H + 2)], dst[DP * (H + 3)];
		size_t dpitch;
		CUgraph g4;
		CUgraphExec x4;
		CK(cuMemAllocPitch(&dp, &dpitch, W, H, 4));
		CUDA_MEMCPY2D up = { .srcXInBytes = 4, .srcY = 1, .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src,
				     .srcPitch = SP, .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = dp,
				     .dstPitch = dpitch, .WidthInBytes = W, .Height = H };
		CUDA_MEMCPY2D down = { .srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = dp, .srcPitch = dpitch,
				       .dstXInBytes = 8, .dstY = 2, .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = dst,
				       .dstPitch = DP, .WidthInBytes = W, .Height = H };
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
		CK(cuMemcpy2DAsync(&up, s));
		CK(cuMemcpy2DAsync(&down, s));
		CK(cuStreamEndCapture(s, &g4));
		CK(cuGraphInstantiate(&x4, g4, 0));
		for (unsigned i = 0; i < sizeof(src); i++)
			src[i] = (unsigned char)(i * 7 + 3);
		memset(dst, 0xee, sizeof(dst));
		CK(cuGraphLaunch(x4, s));
		CK(cuStreamSynchronize(s));
		for (unsigned y = 0; y < H + 3; y++)
			for (unsigned xb = 0; xb < DP; xb++) {
				int inside = y >= 2 && y < 2 + H && xb >= 8 && xb < 8 + W;
				unsigned char want = inside ? src[(y - 2 + 1) * SP + 4 + (xb - 8)] : 0xee;
				EXPECT(dst[y * DP + xb] == want);
			}
		CK(cuGraphExecDestroy(x4));
		CK(cuGraphDestroy(g4));
		CK(cuMemFree(dp));
		printf("pitched rows in and out of a graph: verified\n");
	}

	/* 4b. The same through a CUDA array: host rows into it and back out, in one graph. */
	{
		enum { AW = 16, AH = 4 };
		static unsigned asrc[AW * AH], adst[AW * AH];
		CUarray arr;
		CUgraph ga;
		CUgraphExec xa;
		CUDA_ARRAY_DESCRIPTOR ad = { .Width = AW, .Height = AH, .Format = CU_AD_FORMAT_UNSIGNED_INT32,
					     .NumChannels = 1 };
		CK(cuArrayCreate(&arr, &ad));
		CUDA_MEMCPY2D in2 = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = asrc, .srcPitch = AW * 4,
				      .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = arr, .WidthInBytes = AW * 4,
				      .Height = AH };
		CUDA_MEMCPY2D out2 = { .srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = arr,
				       .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = adst, .dstPitch = AW * 4,
				       .WidthInBytes = AW * 4, .Height = AH };
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
		CK(cuMemcpy2DAsync(&in2, s));
		CK(cuMemcpy2DAsync(&out2, s));
		CK(cuStreamEndCapture(s, &ga));
		CK(cuGraphInstantiate(&xa, ga, 0));
		for (unsigned i = 0; i < AW * AH; i++)
			asrc[i] = pattern(i, 4);
		memset(adst, 0, sizeof(adst));
		CK(cuGraphLaunch(xa, s));
		CK(cuStreamSynchronize(s));
		for (unsigned i = 0; i < AW * AH; i++)
			EXPECT(adst[i] == pattern(i, 4));
		CK(cuGraphExecDestroy(xa));
		CK(cuGraphDestroy(ga));
		CK(cuArrayDestroy(arr));
		printf("rows into a CUDA array and back out in a graph: verified\n");
	}

	/* 5. Copy nodes made by hand; the device-to-host copy made first and ordered after a memset
	 * by an edge added later, which must order the whole copy, not part of it. */
	{
		CUgraph g5;
		CUgraphExec x5;
		CUgraphNode up, down, set;
		CUDA_MEMCPY3D c;
		CK(cuGraphCreate(&g5, 0));
		memset(&c, 0, sizeof(c));
		c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
		c.srcDevice = d;
		c.dstMemoryType = CU_MEMORYTYPE_HOST;
		c.dstHost = out;
		c.WidthInBytes = N * sizeof(unsigned);
		c.Height = c.Depth = 1;
		CK(cuGraphAddMemcpyNode(&down, g5, NULL, 0, &c, ctx));
		CUDA_MEMSET_NODE_PARAMS m = { .dst = d, .value = 0x5a5a5a5a, .elementSize = 4, .width = N, .height = 1 };
		CK(cuGraphAddMemsetNode(&set, g5, NULL, 0, &m, ctx));
		CK(cuGraphAddDependencies(g5, &set, &down, NULL, 1));
		memset(&c, 0, sizeof(c));
		c.srcMemoryType = CU_MEMORYTYPE_HOST;
		c.srcHost = in;
		c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
		c.dstDevice = d;
		c.WidthInBytes = 64 * sizeof(unsigned);
		c.Height = c.Depth = 1;
		CK(cuGraphAddMemcpyNode(&up, g5, &down, 1, &c, ctx));
		CK(cuGraphInstantiate(&x5, g5, 0));
		CK(cuMemsetD32(d, 0, N));
		for (unsigned i = 0; i < N; i++)
			in[i] = pattern(i, 5);
		memset(out, 0, N * sizeof(unsigned));
		CK(cuGraphLaunch(x5, s));
		CK(cuStreamSynchronize(s));
		for (unsigned i = 0; i < N; i++)
			EXPECT(out[i] == 0x5a5a5a5au);
		unsigned back[64];
		CK(cuMemcpyDtoH(back, d, sizeof(back)));
		for (unsigned i = 0; i < 64; i++)
			EXPECT(back[i] == pattern(i, 5));
		CK(cuGraphExecDestroy(x5));
		CK(cuGraphDestroy(g5));
		printf("copy nodes made by hand, an edge added later: verified\n");
	}

	/* 6. Many graphs made and destroyed: through vgpu, what each held is reused, not grown. */
	int before = pinned_mappings();
	for (unsigned round = 0; round < 200; round++) {
		g = capture_round_trip(s, d, in, out, &word, h2h_src, h2h_dst);
		CK(cuGraphInstantiate(&x, g, 0));
		CK(cuGraphDestroy(g));
		if (round % 50 == 0)
			run_and_check(x, s, round, in, out, &word, h2h_src, h2h_dst);
		CK(cuGraphExecDestroy(x));
	}
	CK(cuCtxSynchronize());
	int after = pinned_mappings();
	if (getenv("VGPU_E2E_PROXY") && after - before > 4) {
		fprintf(stderr, "FAIL: 200 graphs made and gone left %d more pinned regions mapped (%d before)\n",
			after - before, before);
		return 1;
	}
	printf("200 graphs made and destroyed: verified\n");

	CK(cuMemFree(d));
	CK(cuStreamDestroy(s));
	CK(cuDevicePrimaryCtxRelease(dev));
	free(in);
	free(out);
	free(in2);
	free(out2);
	printf("graph_copies: all checks passed\n");
	return 0;
}
