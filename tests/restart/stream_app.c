/* SPDX-License-Identifier: MIT */
/* stream_app.c — a zone that keeps copying and launching, verifying every round, while vgpu-proxy's supervisor is restarted or the zone migrated under it. */
#include <cuda.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* the words of --pools' stream-ordered allocation that outlives its context */
#define KEPT_WORD(i) (0x9e3779b9u * ((uint32_t)(i) + 1u))
#define CK(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
	const char *n_ = NULL; cuGetErrorName(r_, &n_); \
	fprintf(stderr, "FAIL %s:%d: %s -> %s\n", __FILE__, __LINE__, #call, n_ ? n_ : "?"); exit(1); } } while (0)

enum { N = 1 << 16 };
static CUcontext ctx;
static CUfunction vec_add;

/* One round: a, b up, c = a + b by the kernel, c down and checked; async copies on s. */
static void round_trip(CUstream s, int k)
{
	static __thread float a[N], b[N], c[N];
	CUdeviceptr da, db, dc;
	int n = N;

	for (int i = 0; i < N; i++) {
		a[i] = (float)(i + k);
		b[i] = (float)(2 * k);
	}
	CK(cuMemAlloc(&da, sizeof(a)));
	CK(cuMemAlloc(&db, sizeof(b)));
	CK(cuMemAlloc(&dc, sizeof(c)));
	CK(cuMemcpyHtoDAsync(da, a, sizeof(a), s));
	CK(cuMemcpyHtoDAsync(db, b, sizeof(b), s));
	void *args[] = { &da, &db, &dc, &n };
	CK(cuLaunchKernel(vec_add, N / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
	CK(cuMemcpyDtoHAsync(c, dc, sizeof(c), s));
	CK(cuStreamSynchronize(s));
	for (int i = 0; i < N; i++)
		if (c[i] != a[i] + b[i]) {
			fprintf(stderr, "FAIL: round %d: c[%d] = %g, expected %g\n", k, i, c[i], a[i] + b[i]);
			exit(1);
		}
	CK(cuMemFree(da));
	CK(cuMemFree(db));
	CK(cuMemFree(dc));
}

/* A thread started later: its channel JOINs the zone through whichever supervisor (or, after
 * a migration, proxy) runs then; it goes on until the main loop ends, at least 5 rounds. */
static int late_done, late_rounds;
static volatile sig_atomic_t late_signalled;   /* --late-on-signal: SIGUSR1 arrived */

static void on_usr1(int sig)
{
	(void)sig;
	late_signalled = 1;
}

static void *late_thread(void *arg)
{
	CUstream s;
	(void)arg;
	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	for (int k = 0; k < 5 || !__atomic_load_n(&late_done, __ATOMIC_ACQUIRE); k++) {
		round_trip(s, 1000 + k);
		late_rounds = k + 1;
		usleep(20000);
	}
	CK(cuStreamDestroy(s));
	return NULL;
}

/* Device memory held for the whole run (HOLD_BYTES): a pattern that must survive. */
static uint32_t hold_word(uint64_t i) { return (uint32_t)(i * 2654435761u) ^ 0x5a5a5a5au; }

static void hold_check(CUdeviceptr d, uint64_t bytes, uint64_t off, uint64_t len)
{
	static uint32_t buf[1 << 18];
	for (uint64_t o = off; o < off + len; o += sizeof(buf)) {
		uint64_t k = off + len - o < sizeof(buf) ? off + len - o : sizeof(buf);
		CK(cuMemcpyDtoH(buf, d + o, k));
		for (uint64_t i = 0; i < k / 4; i++)
			if (buf[i] != hold_word(o / 4 + i)) {
				fprintf(stderr, "FAIL: held memory word %llu of %llu changed\n",
					(unsigned long long)(o / 4 + i), (unsigned long long)(bytes / 4));
				exit(1);
			}
	}
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *image = argc > 1 ? argv[1] : "build/san/tests/kernels/basic.fatbin";
	double seconds = argc > 2 ? atof(argv[2]) : 5;
	uint64_t hold = argc > 3 ? strtoull(argv[3], NULL, 0) & ~3ull : 0;
	int late_wanted = 1, late_on_signal = 0, pinned = 0, global = 0, pools = 0, timing = 0, graph = 0, vmm = 0;
	int idle_primary = 0, printf_on_signal = 0, hold_pushed_ms = 0, stacked = 0, ordinal = 0;
	const char *until = NULL;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--no-late"))
			late_wanted = 0;
		else if (!strcmp(argv[i], "--late-on-signal"))
			late_on_signal = 1;
		else if (!strcmp(argv[i], "--pinned"))
			pinned = 1;
		else if (!strcmp(argv[i], "--global"))
			global = 1;
		else if (!strcmp(argv[i], "--global-value"))
			global = 2;
		else if (!strcmp(argv[i], "--pools"))
			pools = 1;
		else if (!strcmp(argv[i], "--timing"))
			timing = 1;
		else if (!strcmp(argv[i], "--graph"))
			graph = 1;
		else if (!strcmp(argv[i], "--graph-set-enabled"))
			graph = 2;
		else if (!strcmp(argv[i], "--graph-conditional"))
			graph = 3;
		else if (!strcmp(argv[i], "--vmm"))
			vmm = 1;
		else if (!strcmp(argv[i], "--idle-primary"))
			idle_primary = 1;
		else if (!strcmp(argv[i], "--hold-pushed") && i + 1 < argc)
			hold_pushed_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--printf-on-signal"))
			printf_on_signal = 1;
		else if (!strcmp(argv[i], "--stacked"))
			stacked = 1;
		else if (!strcmp(argv[i], "--device") && i + 1 < argc)
			ordinal = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--until") && i + 1 < argc)
			until = argv[++i];
	}
	if (late_on_signal || printf_on_signal)
		signal(SIGUSR1, on_usr1);
	CUdeviceptr dhold = 0;
	double worst = 0;
	CUdevice dev;
	CUmodule mod;
	CUstream s;
	struct timespec t0, t;
	int rounds = 0, late_started = 0;
	pthread_t late;

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: stream_app [KERNEL_IMAGE [SECONDS [HOLD_BYTES [--no-late|--late-on-signal] [--pinned] [--global|--global-value] [--pools] [--timing] [--graph|--graph-set-enabled|--graph-conditional] [--vmm] [--idle-primary [--hold-pushed MS]] [--printf-on-signal] [--stacked] [--device N] [--until FILE]]]]\n"
		       "Copies and "
		       "launches for SECONDS (default 5), verifying every round; a thread started halfway joins the zone "
		       "(not with --no-late; with --late-on-signal when SIGUSR1 arrives instead); HOLD_BYTES of device memory keep a pattern checked every round and at the "
		       "end; --pinned copies through 1 MiB of pinned host memory every round and has a kernel read it in place; --global writes a module global every round and checks what "
		       "the module's kernel reads there, has a kernel store through its address and reads it back with a 2D copy, and asks for the "
		       "address again, which must be the same, and for its range, which must hold it; --global-value never asks for a global's address: the module's kernel "
		       "adds 100 to it every round and returns what it found, which must be 100 times the rounds before; --pools sets the default pool's release threshold, creates a pool, makes it the device's current "
		       "one and allocates from both every round, checking that all of it holds, and keeps 4 KiB it allocated stream-ordered in a context it then destroyed, "
		       "reading a word of it back every round and its device; --device N works on device N (default 0); --timing records an event at the "
		       "start and times every round from it (cuEventElapsedTime); --graph captures a memset, a kernel and a "
		       "device copy into a graph, adds an empty node and a child graph (a memset), instantiates it and launches it every round, checking its "
		       "result and that the graph's node handles stay the same (--graph-set-enabled: and enables its first node in the "
		       "executable graph, which it already was; --graph-conditional: and makes a graph with a conditional node, whose "
		       "body is a memset); --vmm reserves 4 granules of addresses, maps a granule of "
		       "one physical allocation and the second granule of another there, releases the first while mapped, "
		       "writes a word there every round and checks a slice against its own copy, the handle the mapping "
		       "retains and the allocation's properties; --idle-primary retains the device's primary context, "
		       "allocates in it and resets it, keeps its handle idle (made current every round, where work fails) "
		       "and at the end retains it again, which must give the same handle, and works in it (--hold-pushed MS: "
		       "stays MS milliseconds with it pushed over the zone's context every round); "
		       "--printf-on-signal first launches a kernel that prints 'kernel says 4242', then makes no call "
		       "until SIGUSR1 arrives (so its text waits in the worker, as across a move) and synchronises; "
		       "--stacked creates the zone's context over another one it created first (so the thread's stack "
		       "holds two for the whole run, as cuCtxCreate leaves it), which holds a pattern; at the end, "
		       "destroying the zone's context must leave that one current, its pattern intact and new memory its; "
		       "--until FILE goes on past SECONDS until FILE exists (at most 600 s more), so that a "
		       "slow machine cannot end the run before a test is done with it; prints the longest round.\n");
		return 0;
	}
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, ordinal));
	CUcontext below = NULL;
	CUdeviceptr below_mem = 0;
	if (stacked) {   /* the zone's context goes over this one: two on the stack from here on */
		CK(cuCtxCreate(&below, NULL, 0, dev));
		CK(cuMemAlloc(&below_mem, 4096));
		CK(cuMemsetD32(below_mem, 0x5eedbe10u, 1024));
	}
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuModuleLoad(&mod, image));
	CK(cuModuleGetFunction(&vec_add, mod, "vec_add"));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	if (hold) {
		uint32_t *h = malloc(hold);
		if (!h)
			return 1;
		for (uint64_t i = 0; i < hold / 4; i++)
			h[i] = hold_word(i);
		CK(cuMemAlloc(&dhold, hold));
		CK(cuMemcpyHtoD(dhold, h, hold));
		free(h);
	}
	void *host_pinned = NULL;
	CUdeviceptr dpin = 0;
	if (pinned) {
		CK(cuMemAllocHost(&host_pinned, 1 << 20));
		CK(cuMemAlloc(&dpin, 1 << 20));
	}
	CUdeviceptr gcount = 0, gout = 0;
	CUfunction guse = NULL, gstore = NULL;
	if (global) {
		size_t gsz;
		if (global == 1) {
			CK(cuModuleGetGlobal(&gcount, &gsz, mod, "dev_counter"));
			CK(cuModuleGetFunction(&gstore, mod, "oob_write"));
		}
		CK(cuModuleGetFunction(&guse, mod, "use_globals"));
		CK(cuMemAlloc(&gout, sizeof(int)));
	}
	CUmemoryPool dpool = NULL, mpool = NULL;
	if (pools) {
		cuuint64_t thr = 48ull << 20;
		int no = 0;
		CUmemPoolProps props;
		memset(&props, 0, sizeof(props));
		props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
		props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
		props.location.id = dev;
		CK(cuDeviceGetDefaultMemPool(&dpool, dev));
		CK(cuMemPoolSetAttribute(dpool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr));
		CK(cuMemPoolCreate(&mpool, &props));
		CK(cuMemPoolSetAttribute(mpool, CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &no));
		CK(cuDeviceSetMemPool(dev, mpool));
	}
	/* --pools: stream-ordered memory made in a context since destroyed, which no context owns
	 * (cuCtxDestroy leaves it allocated): its bytes are checked every round, wherever the zone is */
	CUdeviceptr kept = 0;
	if (pools) {
		static uint32_t pat[1024];
		CUcontext tmpc;
		CUstream ts;
		for (uint32_t i = 0; i < 1024; i++)
			pat[i] = KEPT_WORD(i);
		CK(cuCtxCreate(&tmpc, NULL, 0, dev));
		CK(cuStreamCreate(&ts, CU_STREAM_NON_BLOCKING));
		CK(cuMemAllocAsync(&kept, sizeof(pat), ts));
		CK(cuMemcpyHtoDAsync(kept, pat, sizeof(pat), ts));
		CK(cuStreamSynchronize(ts));
		CK(cuCtxDestroy(tmpc));   /* its stream with it; the memory stays, and the context before is current again */
	}
	/* --graph: y = 0 (memset), y = 2 x + y (kernel), z = y (device copy), then an empty node;
	 * the graph and its executable graph kept for the whole run, the node handles too */
	CUgraph gr = NULL;
	CUgraphExec gexec = NULL;
	CUgraphNode gnodes[8];
	size_t ngnodes = 8;
	CUdeviceptr gx = 0, gy = 0, gz = 0, gw = 0;
	if (graph) {
		CUfunction saxpy;
		CUgraphNode empty, last = NULL;
		int n = N;
		float a = 2.0f;
		CK(cuModuleGetFunction(&saxpy, mod, "saxpy"));
		CK(cuMemAlloc(&gx, N * sizeof(float)));
		CK(cuMemAlloc(&gy, N * sizeof(float)));
		CK(cuMemAlloc(&gz, N * sizeof(float)));
		void *sargs[] = { &n, &a, &gx, &gy };
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
		CK(cuMemsetD32Async(gy, 0, N, s));
		CK(cuLaunchKernel(saxpy, N / 256, 1, 1, 256, 1, 1, 0, s, sargs, NULL));
		CK(cuMemcpyDtoDAsync(gz, gy, N * sizeof(float), s));
		CK(cuStreamEndCapture(s, &gr));
		CK(cuGraphGetNodes(gr, gnodes, &ngnodes));
		for (size_t i = 0; i < ngnodes; i++) {   /* the copy: the node no other depends on */
			size_t nd = 0;
			CK(cuGraphNodeGetDependentNodes(gnodes[i], NULL, NULL, &nd));
			if (!nd)
				last = gnodes[i];
		}
		CK(cuGraphAddEmptyNode(&empty, gr, &last, 1));
		/* after the empty node, a child graph that sets w to 7s (the child's copy is the node's) */
		CUgraph child;
		CUgraphNode cnode, mnode;
		CUDA_MEMSET_NODE_PARAMS wm;
		memset(&wm, 0, sizeof(wm));
		CK(cuMemAlloc(&gw, 64));
		wm.dst = gw;
		wm.value = 7;
		wm.elementSize = 4;
		wm.width = 16;
		wm.height = 1;
		CK(cuGraphCreate(&child, 0));
		CK(cuGraphAddMemsetNode(&mnode, child, NULL, 0, &wm, ctx));
		CK(cuGraphAddChildGraphNode(&cnode, gr, &empty, 1, child));
		CK(cuGraphDestroy(child));
		CK(cuGraphInstantiate(&gexec, gr, 0));
		ngnodes = 8;
		CK(cuGraphGetNodes(gr, gnodes, &ngnodes));
		if (ngnodes != 5) {
			fprintf(stderr, "FAIL: the graph has %zu nodes, expected 5\n", ngnodes);
			exit(1);
		}
		for (size_t i = 0; graph == 2 && i < ngnodes; i++) {
			CUgraphNodeType t;
			CK(cuGraphNodeGetType(gnodes[i], &t));
			if (t == CU_GRAPH_NODE_TYPE_MEMSET)
				CK(cuGraphNodeSetEnabled(gexec, gnodes[i], 1));
		}
		if (graph == 2) {   /* a test checkpointing the zone waits for this line */
			printf("stream_app: executable graph changed\n");
			fflush(stdout);
		}
		if (graph == 3) {   /* the same: a zone with a conditional node cannot be checkpointed */
			CUgraph cg;
			CUgraphConditionalHandle ch;
			CUgraphNodeParams cp;
			CUgraphNode cn, bn;
			memset(&cp, 0, sizeof(cp));
			CK(cuGraphCreate(&cg, 0));
			CK(cuGraphConditionalHandleCreate(&ch, cg, ctx, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
			cp.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
			cp.conditional.handle = ch;
			cp.conditional.type = CU_GRAPH_COND_TYPE_IF;
			cp.conditional.size = 1;
			cp.conditional.ctx = ctx;
			CK(cuGraphAddNode(&cn, cg, NULL, NULL, 0, &cp));
			CK(cuGraphAddMemsetNode(&bn, cp.conditional.phGraph_out[0], NULL, 0, &wm, ctx));
			printf("stream_app: conditional node made\n");
			fflush(stdout);
		}
	}
	/* --vmm: [granule of A][second granule of B] mapped at the start of a 4-granule reservation */
	CUdeviceptr vbase = 0;
	CUmemGenericAllocationHandle vh[2] = { 0, 0 }, vkeep = 0;
	size_t vgran = 0, vwords = 0;
	uint32_t *vshadow = NULL;
	if (vmm) {
		CUmemAllocationProp vp;
		memset(&vp, 0, sizeof(vp));
		vp.type = CU_MEM_ALLOCATION_TYPE_PINNED;
		vp.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
		vp.location.id = dev;
		CK(cuMemGetAllocationGranularity(&vgran, &vp, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
		CK(cuMemAddressReserve(&vbase, 4 * vgran, 0, 0, 0));
		CK(cuMemCreate(&vh[0], vgran, &vp, 0));
		CK(cuMemCreate(&vh[1], 2 * vgran, &vp, 0));
		CK(cuMemMap(vbase, vgran, 0, vh[0], 0));
		CK(cuMemMap(vbase + vgran, vgran, vgran, vh[1], 0));
		CUmemAccessDesc acc;
		memset(&acc, 0, sizeof(acc));
		acc.location = vp.location;
		acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
		CK(cuMemSetAccess(vbase, 2 * vgran, &acc, 1));
		CK(cuMemRelease(vh[0]));   /* the mapping keeps its memory */
		/* one more reference to the second, held to the end: a move must keep the driver's
		 * count of them, or the last release finds the handle gone */
		CK(cuMemRetainAllocationHandle(&vkeep, (void *)(uintptr_t)(vbase + vgran)));
		vwords = 2 * vgran / 4;
		vshadow = malloc(2 * vgran);
		if (!vshadow)
			return 1;
		for (size_t i = 0; i < vwords; i++)
			vshadow[i] = hold_word(i) ^ 0x0f0f0f0fu;
		CK(cuMemcpyHtoD(vbase, vshadow, 2 * vgran));
	}
	/* --idle-primary: the primary context reset with memory in it; its handle kept */
	CUcontext prim = NULL;
	if (idle_primary) {
		CUdeviceptr pd;
		CK(cuDevicePrimaryCtxRetain(&prim, dev));
		CK(cuCtxPushCurrent(prim));
		CK(cuMemAlloc(&pd, 1 << 20));
		CK(cuCtxPopCurrent(NULL));
		CK(cuDevicePrimaryCtxReset(dev));
	}
	CUevent ev_start = NULL, ev_now = NULL;
	if (timing) {
		CK(cuEventCreate(&ev_start, CU_EVENT_DEFAULT));
		CK(cuEventCreate(&ev_now, CU_EVENT_DEFAULT));
		CK(cuEventRecord(ev_start, s));
	}
	if (printf_on_signal) {   /* the kernel's text waits, untaken, until the signal */
		CUfunction say;
		int k = 4242;
		void *sargs[] = { &k };
		CK(cuModuleGetFunction(&say, mod, "say"));
		CK(cuLaunchKernel(say, 1, 1, 1, 32, 1, 1, 0, NULL, sargs, NULL));
		printf("stream_app: kernel launched; waiting for SIGUSR1\n");
		fflush(stdout);
		while (!late_signalled)
			usleep(10000);
		late_signalled = 0;
		CK(cuCtxSynchronize());   /* its reply brings the text, wherever the zone is now */
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		double r0 = now_s();
		round_trip(s, rounds++);
		if (pinned) {   /* there and back through the pinned region (copies without the ring) */
			uint32_t *w = host_pinned;
			for (int i = 0; i < (1 << 18); i++)
				w[i] = (uint32_t)(i ^ rounds);
			CK(cuMemcpyHtoD(dpin, host_pinned, 1 << 20));
			memset(host_pinned, 0, 1 << 20);
			CK(cuMemcpyDtoH(host_pinned, dpin, 1 << 20));
			for (int i = 0; i < (1 << 18); i++)
				if (w[i] != (uint32_t)(i ^ rounds)) {
					fprintf(stderr, "FAIL: round %d: pinned word %d = %u\n", rounds, i, w[i]);
					exit(1);
				}
			/* and the kernel reads it in place, through the program's own pointer (unified
			 * addressing): c = a + a with a in pinned host memory */
			static float back[N];
			float *f = host_pinned;
			CUdeviceptr hp = (CUdeviceptr)(uintptr_t)host_pinned, dp = 0;
			int n = N;
			CK(cuMemHostGetDevicePointer(&dp, host_pinned, 0));
			if (dp != hp) {
				fprintf(stderr, "FAIL: round %d: pinned memory at %p is %#llx for kernels\n", rounds, host_pinned,
					(unsigned long long)dp);
				exit(1);
			}
			for (int i = 0; i < N; i++)
				f[i] = (float)((i ^ rounds) & 0xffff);
			void *pargs[] = { &hp, &hp, &dpin, &n };
			CK(cuLaunchKernel(vec_add, N / 256, 1, 1, 256, 1, 1, 0, NULL, pargs, NULL));
			CK(cuMemcpyDtoH(back, dpin, sizeof(back)));
			for (int i = 0; i < N; i++)
				if (back[i] != 2 * f[i]) {
					fprintf(stderr, "FAIL: round %d: the kernel read pinned element %d as %g\n", rounds, i,
						back[i] / 2);
					exit(1);
				}
		}
		if (global == 2) {   /* the global keeps its value: the kernels alone count in it */
			int seen = -1;
			void *gargs[] = { &gout };
			CK(cuLaunchKernel(guse, 1, 1, 1, 32, 1, 1, 0, NULL, gargs, NULL));
			CK(cuMemcpyDtoH(&seen, gout, sizeof(seen)));
			if (seen != 100 * (rounds - 1)) {
				fprintf(stderr, "FAIL: round %d: the kernel found %d in dev_counter, expected %d\n", rounds, seen,
					100 * (rounds - 1));
				exit(1);
			}
		}
		if (global == 1) {   /* the global keeps its address: written there, the module's kernel reads it */
			int v = rounds, seen = -1, after = -1;
			void *gargs[] = { &gout };
			CK(cuMemcpyHtoD(gcount, &v, sizeof(v)));
			CK(cuLaunchKernel(guse, 1, 1, 1, 32, 1, 1, 0, NULL, gargs, NULL));
			CK(cuMemcpyDtoH(&seen, gout, sizeof(seen)));
			CK(cuMemcpyDtoH(&after, gcount, sizeof(after)));
			if (seen != v || after != v + 100) {
				fprintf(stderr, "FAIL: round %d: the kernel read %d from dev_counter (written %d), left %d\n",
					rounds, seen, v, after);
				exit(1);
			}
			/* the address as a kernel's parameter, in a 2D copy, and asked for again */
			long long zero = 0;
			void *sargs[] = { &gcount, &zero };
			int stored = -1;
			CUdeviceptr again = 0;
			size_t gsz = 0;
			CK(cuLaunchKernel(gstore, 1, 1, 1, 1, 1, 1, 0, NULL, sargs, NULL));
			CUDA_MEMCPY2D c2;
			memset(&c2, 0, sizeof(c2));
			c2.srcMemoryType = CU_MEMORYTYPE_DEVICE;
			c2.srcDevice = gcount;
			c2.dstMemoryType = CU_MEMORYTYPE_HOST;
			c2.dstHost = &stored;
			c2.WidthInBytes = sizeof(stored);
			c2.Height = 1;
			CK(cuMemcpy2D(&c2));
			CK(cuModuleGetGlobal(&again, &gsz, mod, "dev_counter"));
			CUdeviceptr rbase = 0, start = 0;
			size_t rsize = 0;
			CK(cuMemGetAddressRange(&rbase, &rsize, gcount));
			CK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, gcount));
			if (start != rbase || gcount - rbase >= rsize || rsize - (gcount - rbase) < sizeof(int)) {
				fprintf(stderr, "FAIL: round %d: dev_counter at 0x%llx is in a range [0x%llx, +%zu) starting at 0x%llx\n",
					rounds, (unsigned long long)gcount, (unsigned long long)rbase, rsize,
					(unsigned long long)start);
				exit(1);
			}
			if (stored != 1 || again != gcount || gsz != sizeof(int)) {
				fprintf(stderr, "FAIL: round %d: a kernel given dev_counter's address left %d there (expected 1); "
					"asked again, its address is 0x%llx (0x%llx before), %zu bytes\n", rounds, stored,
					(unsigned long long)again, (unsigned long long)gcount, gsz);
				exit(1);
			}
		}
		if (pools) {   /* the pools, their attributes and the current pool hold; both allocate */
			cuuint64_t thr = 0;
			int opp = 1;
			CUmemoryPool cur = NULL;
			CUdeviceptr p1, p2;
			uint32_t w = (uint32_t)rounds * 2654435761u, back = 0;
			CK(cuMemPoolGetAttribute(dpool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr));
			CK(cuMemPoolGetAttribute(mpool, CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &opp));
			CK(cuDeviceGetMemPool(&cur, dev));
			if (thr != 48ull << 20 || opp != 0 || cur != mpool) {
				fprintf(stderr, "FAIL: round %d: default pool threshold %llu, created pool opportunistic reuse %d, "
					"current pool %s\n", rounds, (unsigned long long)thr, opp, cur == mpool ? "kept" : "changed");
				exit(1);
			}
			CK(cuMemAllocFromPoolAsync(&p1, 1 << 20, mpool, s));
			CK(cuMemAllocAsync(&p2, 4096, s));   /* from the current pool */
			CK(cuMemcpyHtoDAsync(p1 + 4096, &w, 4, s));
			CK(cuMemcpyDtoDAsync(p2, p1 + 4096, 4, s));
			CK(cuMemcpyDtoHAsync(&back, p2, 4, s));
			CK(cuMemFreeAsync(p1, s));
			CK(cuMemFreeAsync(p2, s));
			CK(cuStreamSynchronize(s));
			if (back != w) {
				fprintf(stderr, "FAIL: round %d: pool memory read back %u, wrote %u\n", rounds, back, w);
				exit(1);
			}
			uint32_t ki = (uint32_t)rounds % 1024, kw = 0;
			int kdev = -1;
			CK(cuPointerGetAttribute(&kdev, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, kept));
			if (kdev != ordinal) {
				fprintf(stderr, "FAIL: round %d: stream-ordered memory of a destroyed context is on device %d, "
					"made on device %d\n", rounds, kdev, ordinal);
				exit(1);
			}
			CK(cuMemcpyDtoH(&kw, kept + 4 * ki, 4));
			if (kw != KEPT_WORD(ki)) {
				fprintf(stderr, "FAIL: round %d: stream-ordered memory of a destroyed context read 0x%x at word %u, "
					"not 0x%x\n", rounds, kw, ki, KEPT_WORD(ki));
				exit(1);
			}
		}
		if (graph) {   /* the executable graph computes z = 2 x; the graph keeps its nodes */
			static float hx[N], hz[N];
			CUgraphNode now[8];
			size_t nnow = 8;
			for (int i = 0; i < N; i++)
				hx[i] = (float)(i % 1000 + rounds);
			uint32_t hw[16];
			memset(hw, 0, sizeof(hw));
			CK(cuMemcpyHtoD(gx, hx, sizeof(hx)));
			CK(cuMemcpyHtoD(gw, hw, sizeof(hw)));
			CK(cuGraphLaunch(gexec, s));
			CK(cuStreamSynchronize(s));
			CK(cuMemcpyDtoH(hz, gz, sizeof(hz)));
			CK(cuMemcpyDtoH(hw, gw, sizeof(hw)));
			for (int i = 0; i < 16; i++)
				if (hw[i] != 7) {
					fprintf(stderr, "FAIL: round %d: the child graph left w[%d] = %u\n", rounds, i, hw[i]);
					exit(1);
				}
			for (int i = 0; i < N; i++)
				if (hz[i] != 2.0f * hx[i]) {
					fprintf(stderr, "FAIL: round %d: the graph left z[%d] = %g, expected %g\n", rounds, i, hz[i],
						2.0f * hx[i]);
					exit(1);
				}
			CK(cuGraphGetNodes(gr, now, &nnow));
			if (nnow != ngnodes || memcmp(now, gnodes, nnow * sizeof(now[0]))) {
				fprintf(stderr, "FAIL: round %d: the graph's nodes changed (%zu nodes)\n", rounds, nnow);
				exit(1);
			}
		}
		if (vmm) {   /* a word written through the mapping; a slice checked against the copy */
			static uint32_t slice[4096];
			size_t at = ((size_t)rounds * 4099) % vwords, from = (size_t)rounds * 4096 % vwords;
			uint32_t v = (uint32_t)rounds * 2654435761u;
			size_t n = vwords - from < 4096 ? vwords - from : 4096;
			CUmemGenericAllocationHandle hr = 0;
			CUmemAllocationProp pp;
			CK(cuMemcpyHtoD(vbase + at * 4, &v, 4));
			vshadow[at] = v;
			CK(cuMemcpyDtoH(slice, vbase + from * 4, n * 4));
			if (memcmp(slice, vshadow + from, n * 4)) {
				fprintf(stderr, "FAIL: round %d: mapped memory differs from its copy at word %zu..\n", rounds, from);
				exit(1);
			}
			CK(cuMemRetainAllocationHandle(&hr, (void *)(uintptr_t)(vbase + vgran)));
			CK(cuMemGetAllocationPropertiesFromHandle(&pp, hr));
			if (hr != vh[1] || pp.location.id != dev) {
				fprintf(stderr, "FAIL: round %d: the mapping retains handle 0x%llx (made 0x%llx) on device %d\n",
					rounds, (unsigned long long)hr, (unsigned long long)vh[1], pp.location.id);
				exit(1);
			}
			CK(cuMemRelease(hr));
		}
		if (idle_primary) {   /* the idle handle can be made current; work in it fails */
			CUcontext back = NULL;
			CK(cuCtxPushCurrent(prim));
			CUresult r = cuCtxSynchronize();
			if (hold_pushed_ms)   /* a checkpoint may come while two contexts are stacked */
				usleep((useconds_t)hold_pushed_ms * 1000);
			CK(cuCtxPopCurrent(&back));
			if (r == CUDA_SUCCESS || back != prim) {
				fprintf(stderr, "FAIL: round %d: the reset primary context %s\n", rounds,
					r == CUDA_SUCCESS ? "synchronized as if alive" : "did not come back from the stack");
				exit(1);
			}
		}
		if (timing) {   /* an elapsed time from the start event, whatever happened since */
			float ms = -1;
			CK(cuEventRecord(ev_now, s));
			CK(cuEventSynchronize(ev_now));
			CK(cuEventElapsedTime(&ms, ev_start, ev_now));
			if (!(ms >= 0)) {
				fprintf(stderr, "FAIL: round %d: %g ms elapsed since the start event\n", rounds, ms);
				exit(1);
			}
		}
		if (hold)   /* a 64 KiB slice that moves through the buffer */
			hold_check(dhold, hold, ((uint64_t)rounds * 65536) % hold & ~3ull,
				   hold - ((uint64_t)rounds * 65536) % hold < 65536 ? hold - ((uint64_t)rounds * 65536) % hold : 65536);
		if (now_s() - r0 > worst)
			worst = now_s() - r0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9;
		if (late_wanted && !late_started && (late_on_signal ? late_signalled : el > seconds / 2)) {
			if (pthread_create(&late, NULL, late_thread, NULL) != 0)
				return 1;
			late_started = 1;
		}
		if (el > seconds && (!until || access(until, F_OK) == 0))
			break;
		if (until && el > seconds + 600) {
			fprintf(stderr, "FAIL: %s did not appear within %g s\n", until, seconds + 600);
			exit(1);
		}
		usleep(20000);
	}
	__atomic_store_n(&late_done, 1, __ATOMIC_RELEASE);
	if (late_started)
		pthread_join(late, NULL);
	if (hold) {
		hold_check(dhold, hold, 0, hold);
		CK(cuMemFree(dhold));
	}
	if (host_pinned) {
		CK(cuMemFreeHost(host_pinned));
		CK(cuMemFree(dpin));
	}
	if (pools) {
		CK(cuMemFree(kept));   /* from a context other than the one that made it */
		CK(cuDeviceSetMemPool(dev, dpool));
		CK(cuMemPoolDestroy(mpool));
	}
	if (vmm) {
		uint32_t *all = malloc(2 * vgran);
		if (!all)
			return 1;
		CK(cuMemcpyDtoH(all, vbase, 2 * vgran));
		if (memcmp(all, vshadow, 2 * vgran)) {
			fprintf(stderr, "FAIL: mapped memory differs from its copy at the end\n");
			exit(1);
		}
		free(all);
		free(vshadow);
		CK(cuMemRelease(vkeep));
		CK(cuMemUnmap(vbase, 2 * vgran));
		CK(cuMemRelease(vh[1]));
		CK(cuMemAddressFree(vbase, 4 * vgran));
	}
	if (graph) {
		CK(cuGraphExecDestroy(gexec));
		CK(cuGraphDestroy(gr));
		CK(cuMemFree(gx));
		CK(cuMemFree(gy));
		CK(cuMemFree(gz));
		CK(cuMemFree(gw));
	}
	if (idle_primary) {   /* back to life under the same handle, empty, and working */
		CUcontext again = NULL;
		CUdeviceptr pd;
		uint32_t w = 0x600dcafe, r = 0;
		CK(cuDevicePrimaryCtxRetain(&again, dev));
		if (again != prim) {
			fprintf(stderr, "FAIL: the primary context came back as another handle\n");
			exit(1);
		}
		CK(cuCtxPushCurrent(prim));
		CK(cuMemAlloc(&pd, 4096));
		CK(cuMemcpyHtoD(pd, &w, 4));
		CK(cuMemcpyDtoH(&r, pd, 4));
		CK(cuMemFree(pd));
		CK(cuCtxPopCurrent(NULL));
		CK(cuDevicePrimaryCtxRelease(dev));
		if (r != w) {
			fprintf(stderr, "FAIL: the primary context, alive again, read back %08x\n", r);
			exit(1);
		}
	}
	if (timing) {
		CK(cuEventDestroy(ev_start));
		CK(cuEventDestroy(ev_now));
	}
	CK(cuStreamDestroy(s));
	CK(cuModuleUnload(mod));
	CK(cuCtxDestroy(ctx));
	if (stacked) {   /* the one below is current again, as it was, wherever the zone went */
		CUcontext cur = NULL, owner = NULL;
		CUdeviceptr fresh;
		uint32_t words[1024];
		CK(cuCtxGetCurrent(&cur));
		CK(cuMemAlloc(&fresh, 4096));
		CK(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, fresh));
		CK(cuMemcpyDtoH(words, below_mem, sizeof(words)));
		for (unsigned i = 0; i < 1024; i++)
			if (words[i] != 0x5eedbe10u) {
				fprintf(stderr, "FAIL: the context below the zone's holds %08x at word %u\n", words[i], i);
				exit(1);
			}
		if (cur != below || owner != below) {
			fprintf(stderr, "FAIL: after the zone's context was destroyed the thread's current context is %p "
				"and new memory belongs to %p, not the context below it (%p)\n", (void *)cur, (void *)owner,
				(void *)below);
			exit(1);
		}
		CK(cuMemFree(fresh));
		CK(cuMemFree(below_mem));
		CK(cuCtxDestroy(below));
	}
	char late_txt[64] = "";
	if (late_started)
		snprintf(late_txt, sizeof(late_txt), ", and a late thread's %d", late_rounds);
	printf("stream_app: %d rounds verified%s%s; longest round %.1f ms\n", rounds, late_txt,
	       hold ? ", held memory intact" : "", worst * 1e3);
	return 0;
}
