/* SPDX-License-Identifier: MIT */
/* queries.c — end to end: the questions libraries ask around every call (current context, its device, the primary context's state, device and function attributes, occupancy, the devices, whether a stream is capturing) answered right across every change, from two threads. */
#include "e2e.h"

#include <pthread.h>

/*
 * libvgpu answers these in the zone once it has heard the answer (libvgpu/qcache.c); every
 * check below follows a call that changes the answer, so a kept answer that outlived its
 * change fails here. tests/e2e/queries.proxylog checks that the 200,000 repeated queries did
 * not each go to the proxy.
 */

static CUdevice dev;

static void expect_current(CUcontext want, const char *when)
{
	CUcontext c = (CUcontext)(uintptr_t)0x1;
	CK(cuCtxGetCurrent(&c));
	if (c != want) {
		printf("FAIL %s: current context %p, expected %p\n", when, (void *)c, (void *)want);
		exit(1);
	}
}

/* want_flags < 0: any (what a release or reset leaves is not checked) */
static void expect_primary(int want_flags, int want_active, const char *when)
{
	unsigned flags = 0xdead;
	int active = -1;
	CK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
	if ((flags & ~CU_CTX_FLAGS_MASK) || (want_flags >= 0 && (flags & CU_CTX_SCHED_MASK) != (unsigned)want_flags) ||
	    active != want_active) {
		printf("FAIL %s: primary context flags 0x%x active %d, expected scheduling %d active %d\n", when,
		       flags, active, want_flags, want_active);
		exit(1);
	}
}

/* Many repetitions of the same questions: one answer each time. */
static void repeat(CUcontext want, int n)
{
	int sms0 = 0, cc0 = 0;
	CK(cuDeviceGetAttribute(&sms0, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
	CK(cuDeviceGetAttribute(&cc0, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
	for (int i = 0; i < n; i++) {
		CUcontext c = NULL;
		CUdevice d = -1;
		int sms = 0, cc = 0;
		CK(cuCtxGetCurrent(&c));
		CK(cuCtxGetDevice(&d));
		CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
		CK(cuDeviceGetAttribute(&cc, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
		EXPECT(c == want && d == dev && sms == sms0 && cc == cc0);
		int n = 0;
		CUdevice d0 = -1;
		CK(cuDeviceGetCount(&n));
		CK(cuDeviceGet(&d0, 0));
		EXPECT(n >= 1 && d0 == dev);
	}
}

/* A stream's capture status by both calls, which must agree; NONE has no dependencies. */
static void expect_capture(CUstream s, CUstreamCaptureStatus want, const char *when)
{
	CUstreamCaptureStatus st = (CUstreamCaptureStatus)-1, st2 = (CUstreamCaptureStatus)-1;
	const CUgraphNode *deps = NULL;
	size_t n = 99;
	CK(cuStreamIsCapturing(s, &st));
	CK(cuStreamGetCaptureInfo(s, &st2, NULL, NULL, &deps, NULL, &n));
	if (st != want || st2 != want || (want == CU_STREAM_CAPTURE_STATUS_NONE && n != 0)) {
		printf("FAIL %s: capture status %d / %d (%zu dependencies), expected %d\n", when, (int)st, (int)st2, n,
		       (int)want);
		exit(1);
	}
}

static CUstream cap_stream;

static void *begin_capture(void *arg)
{
	CK(cuCtxSetCurrent((CUcontext)arg));
	CK(cuStreamBeginCapture(cap_stream, CU_STREAM_CAPTURE_MODE_RELAXED));
	return NULL;
}

/*
 * Whether a stream is capturing (cuBLAS asks before each of its calls; libvgpu answers in the
 * zone while no capture is open in the process): right across captures begun and ended here
 * and begun by another thread, an end that fails and leaves the capture under way (a stream
 * that joins the capture after it is capturing), a capture invalidated, the legacy and per-thread streams and a thread with no current context.
 * tests/e2e/queries.proxylog checks that the 60,000 repeated questions did not each go to the
 * proxy.
 */
static void capture_status(CUcontext ctx)
{
	CUstream s, legacy = CU_STREAM_LEGACY, per_thread = CU_STREAM_PER_THREAD;
	CUgraph g;
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	cap_stream = s;
	for (int i = 0; i < 10000; i++) {
		expect_capture(s, CU_STREAM_CAPTURE_STATUS_NONE, "a new stream");
		expect_capture(NULL, CU_STREAM_CAPTURE_STATUS_NONE, "the NULL stream");
	}
	expect_capture(legacy, CU_STREAM_CAPTURE_STATUS_NONE, "the legacy stream");
	expect_capture(per_thread, CU_STREAM_CAPTURE_STATUS_NONE, "the per-thread stream");
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	expect_capture(s, CU_STREAM_CAPTURE_STATUS_ACTIVE, "capture begun");
	expect_capture(NULL, CU_STREAM_CAPTURE_STATUS_NONE, "the NULL stream beside a capture");
	CK_ERR(cuStreamEndCapture(s, NULL), CUDA_ERROR_INVALID_VALUE);
	expect_capture(s, CU_STREAM_CAPTURE_STATUS_ACTIVE, "after an end that failed");
	/* a second stream, not capturing until it waits for an event of the capture (so joins it),
	 * then joined back (an end that failed must not have counted as the capture's end) */
	CUstream s2;
	CUevent fork, join;
	CK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING));
	CK(cuEventCreate(&join, CU_EVENT_DISABLE_TIMING));
	expect_capture(s2, CU_STREAM_CAPTURE_STATUS_NONE, "a second stream beside the capture");
	CK(cuEventRecord(fork, s));
	CK(cuStreamWaitEvent(s2, fork, 0));
	expect_capture(s2, CU_STREAM_CAPTURE_STATUS_ACTIVE, "the second stream joined to the capture");
	CK(cuEventRecord(join, s2));
	CK(cuStreamWaitEvent(s, join, 0));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphDestroy(g));
	expect_capture(s, CU_STREAM_CAPTURE_STATUS_NONE, "capture ended");
	expect_capture(s2, CU_STREAM_CAPTURE_STATUS_NONE, "the second stream after the capture");
	CK(cuEventDestroy(fork));
	CK(cuEventDestroy(join));
	CK(cuStreamDestroy(s2));
	/* begun by another thread: this thread's kept answer must not hold */
	pthread_t t;
	EXPECT(pthread_create(&t, NULL, begin_capture, ctx) == 0);
	EXPECT(pthread_join(t, NULL) == 0);
	expect_capture(s, CU_STREAM_CAPTURE_STATUS_ACTIVE, "capture begun by another thread");
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphDestroy(g));
	for (int i = 0; i < 10000; i++)
		expect_capture(s, CU_STREAM_CAPTURE_STATUS_NONE, "the other thread's capture ended");
	/* invalidated (a stream synchronised during its capture), then ended */
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CUresult r = cuStreamSynchronize(s);
	const char *rn = NULL;
	cuGetErrorName(r, &rn);
	expect_capture(s, CU_STREAM_CAPTURE_STATUS_INVALIDATED, "capture invalidated");
	CK_ERR(cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	expect_capture(s, CU_STREAM_CAPTURE_STATUS_NONE, "invalidated capture ended");
	/* no current context: the NULL stream is none of its */
	CK(cuCtxSetCurrent(NULL));
	CUstreamCaptureStatus st;
	CUresult nr = cuStreamIsCapturing(NULL, &st);
	const char *nn = NULL;
	cuGetErrorName(nr, &nn);
	CK(cuCtxSetCurrent(ctx));
	expect_capture(NULL, CU_STREAM_CAPTURE_STATUS_NONE, "the NULL stream again");
	CK(cuStreamDestroy(s));
	printf("capture status right across captures begun, failed to end, ended, invalidated (synchronising "
	       "the stream: %s), begun by another thread; the NULL stream without a current context: %s\n",
	       rn ? rn : "?", nn ? nn : "?");
}

static void *other_thread(void *arg)
{
	CUcontext mine = (CUcontext)arg;
	/* a new thread has no current context, whatever the first thread's is */
	expect_current(NULL, "new thread");
	CUdevice d;
	CK_ERR(cuCtxGetDevice(&d), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxSetCurrent(mine));
	expect_current(mine, "second thread after cuCtxSetCurrent");
	repeat(mine, 5000);
	return NULL;
}

int main(void)
{
	CUcontext primary, a, b;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	expect_current(NULL, "after cuInit");
	CK(cuDevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_AUTO));
	expect_primary(CU_CTX_SCHED_AUTO, 0, "before retain");
	CK(cuDevicePrimaryCtxRetain(&primary, dev));
	expect_primary(CU_CTX_SCHED_AUTO, 1, "after retain");
	CK(cuDevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_BLOCKING_SYNC));
	expect_primary(CU_CTX_SCHED_BLOCKING_SYNC, 1, "after cuDevicePrimaryCtxSetFlags");
	expect_current(NULL, "retained, not made current");
	CK(cuCtxSetCurrent(primary));
	expect_current(primary, "after cuCtxSetCurrent(primary)");
	repeat(primary, 5000);

	/* a created context is pushed on the thread's stack; destroying it pops it */
	CK(cuCtxCreate(&a, NULL, 0, dev));
	expect_current(a, "after cuCtxCreate");
	repeat(a, 5000);
	CK(cuCtxPopCurrent(&b));
	EXPECT(b == a);
	expect_current(primary, "after cuCtxPopCurrent");
	CK(cuCtxPushCurrent(a));
	expect_current(a, "after cuCtxPushCurrent");
	CK(cuCtxDestroy(a));
	expect_current(primary, "after cuCtxDestroy of the current context");
	repeat(primary, 5000);

	/* another thread's current context is its own */
	CK(cuCtxCreate(&b, NULL, 0, dev));
	CK(cuCtxPopCurrent(NULL));
	expect_current(primary, "after creating a context for another thread");
	pthread_t t;
	EXPECT(pthread_create(&t, NULL, other_thread, b) == 0);
	EXPECT(pthread_join(t, NULL) == 0);
	expect_current(primary, "after the other thread set its own");
	CK(cuCtxDestroy(b));

	/* a function's attributes: what was set is read back, every time */
	CUmodule m;
	CUfunction f;
	int v0 = -1, regs = -1;
	CK(cuModuleLoad(&m, e2e_kernel_path("basic.fatbin")));
	CK(cuModuleGetFunction(&f, m, "vec_add"));
	CK(cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
	CK(cuFuncGetAttribute(&v0, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
	EXPECT(regs >= 0 && v0 >= 0);
	for (int k = 1; k <= 3; k++) {
		CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k * 4096));
		/* occupancy: the same answer every time, the driver's (printed: directly and through
		 * vgpu must print the same) */
		int occ0 = -1, occd = -1;
		CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&occ0, f, 128, 0));
		CK(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&occd, f, 256, (size_t)k * 4096, 0));
		for (int i = 0; i < 3000; i++) {
			int v = -1, r = -1, o = -1, od = -1;
			CK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
			CK(cuFuncGetAttribute(&r, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
			CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&o, f, 128, 0));
			CK(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&od, f, 256, (size_t)k * 4096, 0));
			EXPECT(v == k * 4096 && r == regs && o == occ0 && od == occd);
		}
		printf("vec_add with up to %d KiB of dynamic shared memory: %d blocks of 128 threads per "
		       "multiprocessor, %d of 256 with %d KiB\n", k * 4, occ0, occd, k * 4);
	}
	CK(cuModuleUnload(m));

	capture_status(primary);
	expect_current(primary, "after the capture status checks");

	/* a failing call in between: the answers stay right */
	int v;
	CK_ERR(cuDeviceGetAttribute(&v, (CUdevice_attribute)100000, dev), CUDA_ERROR_INVALID_VALUE);
	expect_current(primary, "after a refused call");

	/* the primary context released: inactive, still current to this thread */
	CK(cuCtxSetCurrent(NULL));
	expect_current(NULL, "after cuCtxSetCurrent(NULL)");
	CK(cuDevicePrimaryCtxRelease(dev));
	expect_primary(-1, 0, "after release");
	CK(cuDevicePrimaryCtxRetain(&primary, dev));
	expect_primary(-1, 1, "retained again");
	CK(cuDevicePrimaryCtxReset(dev));
	expect_primary(-1, 0, "after reset");
	printf("queries: current context, its device, primary state and attributes right across every change\n");
	return 0;
}
