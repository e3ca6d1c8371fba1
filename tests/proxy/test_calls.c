/* SPDX-License-Identifier: MIT */
/* test_calls.c — generic calls through a real vgpu-proxy: results, range checks, handles, quotas, async errors, isolation, cleanup. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include <pthread.h>

#include "check.h"
#include "codec.h"
#include "proxytest.h"
#include "vgpu_calls.h"

static uint32_t seq;   /* shared by the threads' channels; atomically bumped */

/* One call the way libvgpu makes it: encode, send, stream inputs, wait, decode, read outputs. */
static CUresult call(struct vgpu_chan *ch, const struct vgpu_call_desc *d, void *const *argv, int async)
{
	static __thread uint8_t rbuf[VGPU_MSG_MAX];
	struct vgpu_wbuf w = { 0 };
	struct vgpu_bulk_list bl;
	struct vgpu_msg_hdr h;
	CUresult res = CUDA_ERROR_UNKNOWN;
	int rc;

	if ((rc = vgpu_encode_request(d, argv, &w, &bl)) < 0) {
		fprintf(stderr, "%s: encode failed: %s\n", d->name, strerror(-rc));
		goto out;
	}
	uint32_t s = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	if ((rc = vgpu_chan_send(ch, d->opcode, async ? VGPU_MSG_F_ASYNC : 0, s, w.data, (uint32_t)w.len)) < 0)
		goto io;
	for (unsigned i = 0; i < bl.n; i++)
		if (bl.seg[i].in && (rc = vgpu_chan_bulk_write(ch, bl.seg[i].ptr, bl.seg[i].len)) < 0)
			goto io;
	if ((rc = vgpu_chan_flush(ch)) < 0)
		goto io;
	if (async) {
		res = CUDA_SUCCESS;
		goto out;
	}
	if ((rc = vgpu_chan_recv(ch, &h, rbuf, sizeof(rbuf))) < 0)
		goto io;
	if (h.seq != s || !(h.flags & VGPU_MSG_F_REPLY) || h.opcode != d->opcode) {
		fprintf(stderr, "%s: reply seq %u flags 0x%x op %u, expected seq %u\n", d->name, h.seq, h.flags, h.opcode, s);
		goto out;
	}
	if (vgpu_decode_reply(d, argv, rbuf, (uint32_t)rc, &res, &bl) < 0) {
		fprintf(stderr, "%s: undecodable reply\n", d->name);
		res = CUDA_ERROR_UNKNOWN;
		goto out;
	}
	for (unsigned i = 0; i < bl.n; i++)
		if ((rc = vgpu_chan_bulk_read(ch, bl.seg[i].ptr, bl.seg[i].len)) < 0)
			goto io;
	goto out;
io:
	fprintf(stderr, "%s: channel error %s (%s)\n", d->name, strerror(-rc), vgpu_chan_strerror(ch));
	res = CUDA_ERROR_UNKNOWN;
out:
	vgpu_wbuf_free(&w);
	return res;
}

static CUresult mem_alloc(struct vgpu_chan *ch, CUdeviceptr *p, size_t n)
{
	CUdeviceptr *pp = p;
	void *a[] = { &pp, &n };
	return call(ch, &vgpu_call_cuMemAlloc_v2, a, 0);
}

static CUresult mem_free(struct vgpu_chan *ch, CUdeviceptr p)
{
	void *a[] = { &p };
	return call(ch, &vgpu_call_cuMemFree_v2, a, 0);
}

static CUresult htod(struct vgpu_chan *ch, CUdeviceptr d, const void *src, size_t n)
{
	void *a[] = { &d, &src, &n };
	return call(ch, &vgpu_call_cuMemcpyHtoD_v2, a, 0);
}

static CUresult dtoh(struct vgpu_chan *ch, void *dst, CUdeviceptr s, size_t n)
{
	void *a[] = { &dst, &s, &n };
	return call(ch, &vgpu_call_cuMemcpyDtoH_v2, a, 0);
}

static CUresult ctx_set(struct vgpu_chan *ch, CUcontext c)
{
	void *a[] = { &c };
	return call(ch, &vgpu_call_cuCtxSetCurrent, a, 0);
}

static CUresult ctx_sync(struct vgpu_chan *ch)
{
	return call(ch, &vgpu_call_cuCtxSynchronize, NULL, 0);
}

/* Several channels (threads) of one zone at once: allocations, copies and frees interleave. */
struct thr { const struct ptest_proxy *p; const uint8_t *token; CUcontext ctx; unsigned idx; int failures; };

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	struct vgpu_hello h;
	struct vgpu_welcome w;
	struct vgpu_chan *ch;
	enum { M = 200000 };
	uint8_t *src = malloc(M), *dst = malloc(M);

	ptest_hello(&h, VGPU_HELLO_JOIN, t->token, "za-thread");
	if (ptest_open(t->p, &h, sizeof(h), &ch, &w) < 0) {
		t->failures++;
		goto out;
	}
	if (ctx_set(ch, t->ctx) != CUDA_SUCCESS)   /* each thread makes the zone's context current */
		t->failures++;
	for (unsigned r = 0; r < 20; r++) {
		CUdeviceptr d = 0;
		size_t n = M - r * 1001 - t->idx;
		for (size_t i = 0; i < n; i++)
			src[i] = (uint8_t)(i ^ (t->idx * 31 + r));
		if (mem_alloc(ch, &d, n) != CUDA_SUCCESS || htod(ch, d, src, n) != CUDA_SUCCESS ||
		    dtoh(ch, dst, d, n) != CUDA_SUCCESS || memcmp(src, dst, n) != 0 || mem_free(ch, d) != CUDA_SUCCESS)
			t->failures++;
	}
	vgpu_chan_close(ch);
out:
	free(src);
	free(dst);
	return NULL;
}

int main(int argc, char **argv)
{
	struct ptest_proxy p = { .pid = -1 };
	char drv[256];
	struct vgpu_hello h;
	struct vgpu_welcome wa, wb;
	struct vgpu_chan *a = NULL, *b = NULL;
	unsigned long long v;
	const int sim = argc > 1 && !strcmp(argv[1], "--sim");
	const char *extra[] = { "--zone-mem-limit", "4M", "--zone-handle-limit", "8", "--zone-bulk-limit", "1M", NULL };

	if (sim)
		snprintf(drv, sizeof(drv), "%s/sim/libcudasim.so", ptest_build());
	else
		snprintf(drv, sizeof(drv), "%s/tests/proxy/libfakedrv.so", ptest_build());
	if (access(drv, R_OK) != 0) {
		printf("%s not built yet; nothing to test against\n", drv);
		return 77;
	}
	int rc = ptest_start(&p, drv, extra);
	if (rc < 0) {
		fprintf(stderr, "vgpu-proxy did not start: %s\n", strerror(-rc));
		ptest_dump_log(&p);
		ptest_cleanup(&p);
		return 1;
	}
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "za");
	CHECK_EQ(ptest_open(&p, &h, sizeof(h), &a, &wa), 0);
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "zb");
	CHECK_EQ(ptest_open(&p, &h, sizeof(h), &b, &wb), 0);
	if (!a || !b)
		goto done;

	/* A plain call reaches the backend. */
	int ver = 0, *pver = &ver;
	void *gv[] = { &pver };
	CHECK_EQ(call(a, &vgpu_call_cuDriverGetVersion, gv, 0), CUDA_SUCCESS);
	if (!sim)
		CHECK_EQ(ver, 424242);   /* the stand-in driver's marker */
	else
		CHECK(ver > 0);

	/* Contexts are opaque handles of the zone; each zone retains its own. */
	CUcontext ca = NULL, cb = NULL, *pc = &ca;
	CUdevice dev = 0;
	void *cv[] = { &pc, &dev };
	CHECK_EQ(call(a, &vgpu_call_cuDevicePrimaryCtxRetain, cv, 0), CUDA_SUCCESS);
	pc = &cb;
	CHECK_EQ(call(b, &vgpu_call_cuDevicePrimaryCtxRetain, cv, 0), CUDA_SUCCESS);
	CHECK(ca != NULL && cb != NULL);
	CHECK_EQ(ctx_set(a, ca), CUDA_SUCCESS);
	CHECK_EQ(ctx_set(b, cb), CUDA_SUCCESS);
	/* Made-up and stale-generation ids are refused. */
	CHECK_EQ(ctx_set(a, (CUcontext)(uintptr_t)((uintptr_t)ca ^ (1ull << 32))), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(ctx_set(a, (CUcontext)(uintptr_t)0x7777), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(ctx_set(a, (CUcontext)(uintptr_t)UINT64_MAX), CUDA_ERROR_INVALID_HANDLE);

	/* Memory: round trip, 1 MiB through the bulk stream, and odd offsets. */
	enum { N = 1 << 20 };
	uint8_t *src = malloc(N), *dst = malloc(N);
	for (unsigned i = 0; i < N; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	CUdeviceptr da = 0, db = 0;
	CHECK_EQ(mem_alloc(a, &da, N), CUDA_SUCCESS);
	CHECK_EQ(mem_alloc(b, &db, N), CUDA_SUCCESS);
	CHECK_EQ(htod(a, da, src, N), CUDA_SUCCESS);
	memset(dst, 0, N);
	CHECK_EQ(dtoh(a, dst, da, N), CUDA_SUCCESS);
	CHECK(memcmp(src, dst, N) == 0);
	CHECK_EQ(htod(a, da + 4093, src + 11, 12345), CUDA_SUCCESS);
	CHECK_EQ(dtoh(a, dst, da + 4093, 12345), CUDA_SUCCESS);
	CHECK(memcmp(src + 11, dst, 12345) == 0);
	CHECK_EQ(ptest_stats_field(&p, "za", "mem", &v), 0);
	CHECK_EQ(v, N);

	/* Ranges outside the zone's own allocations: refused, and the channel stays in sync. */
	CHECK_EQ(htod(a, da + N - 10, src, 20), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(htod(a, da + N - 10, src, 100000), CUDA_ERROR_INVALID_VALUE);  /* bulk-sized */
	CHECK_EQ(dtoh(a, dst, da - 1, 2), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtoh(a, dst, 0x1000, 16), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(mem_free(a, da + 1), CUDA_ERROR_INVALID_VALUE);            /* not an allocation start */
	CHECK_EQ(dtoh(a, dst, da, N), CUDA_SUCCESS);                         /* still in sync, A intact */
	CHECK(memcmp(src, dst, 4093) == 0);

	/* Quota (4 MiB per zone): A holds 1 MiB; 3 MiB more fits, one byte more does not. */
	CUdeviceptr big = 0, one = 0;
	CHECK_EQ(mem_alloc(a, &big, 3 << 20), CUDA_SUCCESS);
	CHECK_EQ(mem_alloc(a, &one, 1), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(mem_alloc(b, &one, 1), CUDA_SUCCESS);                       /* B unaffected */
	CHECK_EQ(mem_free(a, big), CUDA_SUCCESS);
	CHECK_EQ(mem_free(a, big), CUDA_ERROR_INVALID_VALUE);                /* double free */
	CHECK_EQ(mem_alloc(a, &big, 2 << 20), CUDA_SUCCESS);
	/* B naming A's memory. Workers are separate processes, so the same number can be a valid
	 * address in both; pick one of A's that is none of B's. */
	CUdeviceptr foreign = big + 8192;
	int checked = 0;
	if (!(foreign >= db && foreign < db + N) && foreign != one) {
		CHECK_EQ(htod(b, foreign, src, 64), CUDA_ERROR_INVALID_VALUE);       /* B writing A's */
		CHECK_EQ(dtoh(b, dst, foreign, 100000), CUDA_ERROR_INVALID_VALUE);   /* B reading A's */
		checked++;
	}
	if (big != db && big != one) {
		CHECK_EQ(mem_free(b, big), CUDA_ERROR_INVALID_VALUE);                /* B freeing A's */
		checked++;
	}
	if (checked < 2)
		printf("note: A's and B's allocations coincide numerically; %d of 2 cross-zone checks skipped\n", 2 - checked);
	CHECK_EQ(dtoh(a, dst, big, 64), CUDA_SUCCESS);

	/* Handle quota (8 per zone): B holds its context; streams until refused, then
	 * destroying one makes room. */
	CUstream st[8];
	unsigned sfl = 0;
	int made = 0;
	for (; made < 8; made++) {
		CUstream *ps = &st[made];
		void *sv[] = { &ps, &sfl };
		if (call(b, &vgpu_call_cuStreamCreate, sv, 0) != CUDA_SUCCESS)
			break;
	}
	CHECK_EQ(made, 7);
	void *dv[] = { &st[0] };
	CHECK_EQ(call(b, &vgpu_call_cuStreamDestroy_v2, dv, 0), CUDA_SUCCESS);
	CHECK_EQ(call(b, &vgpu_call_cuStreamDestroy_v2, dv, 0), CUDA_ERROR_INVALID_HANDLE);  /* stale */
	{
		CUstream *ps = &st[0];
		void *sv[] = { &ps, &sfl };
		CHECK_EQ(call(b, &vgpu_call_cuStreamCreate, sv, 0), CUDA_SUCCESS);
	}
	/* B's stream ids mean nothing in A (A holds one handle, B eight); a context id is not a stream. */
	void *syv[] = { &st[5] };
	CHECK_EQ(call(a, &vgpu_call_cuStreamSynchronize, syv, 0), CUDA_ERROR_INVALID_HANDLE);
	void *syc[] = { &ca };
	CHECK_EQ(call(a, &vgpu_call_cuStreamSynchronize, syc, 0), CUDA_ERROR_INVALID_HANDLE);
	void *sy0[] = { &st[5] };
	CHECK_EQ(call(b, &vgpu_call_cuStreamSynchronize, sy0, 0), CUDA_SUCCESS);

	/* An async call that fails is reported by the next synchronising call, once. */
	CUstream s0 = NULL;
	size_t n64 = 64;
	const void *srcp = src;
	CUdeviceptr bad = 0x10;
	void *av[] = { &bad, &srcp, &n64, &s0 };
	CHECK_EQ(call(a, &vgpu_call_cuMemcpyHtoDAsync_v2, av, 1), CUDA_SUCCESS);
	CHECK_EQ(ctx_sync(a), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(ctx_sync(a), CUDA_SUCCESS);
	/* In-flight bulk quota (1 MiB). An async copy of 2 MiB to device memory streams through
	 * the bulk area chunk by chunk and stages nothing, so it is not bounded by it: it lands,
	 * and reads back the same. A call whose input is staged whole (2 MiB of cuMemSetAccess
	 * descriptors) is refused before the driver sees it, its bytes are still consumed, and
	 * the zone goes on. */
	{
		uint8_t *big2 = malloc(2u << 20), *back = malloc(2u << 20);
		CHECK(big2 && back);
		for (size_t i = 0; i < (2u << 20); i++)
			big2[i] = (uint8_t)(i * 31 + 7);
		const void *bp = big2;
		size_t bn = 2u << 20;
		CUdeviceptr bdst = da;
		void *bv[] = { &bdst, &bp, &bn, &s0 };
		CUdeviceptr big3 = 0;
		CHECK_EQ(mem_free(a, big), CUDA_SUCCESS);
		CHECK_EQ(mem_alloc(a, &big3, 2u << 20), CUDA_SUCCESS);
		bdst = big3;
		CHECK_EQ(call(a, &vgpu_call_cuMemcpyHtoDAsync_v2, bv, 1), CUDA_SUCCESS);
		CHECK_EQ(ctx_sync(a), CUDA_SUCCESS);
		for (size_t off = 0; off < (2u << 20); off += 512u << 10)   /* (staged replies: within the quota) */
			CHECK_EQ(dtoh(a, back + off, big3 + off, 512u << 10), CUDA_SUCCESS);
		CHECK(memcmp(big2, back, 2u << 20) == 0);
		size_t count = (2u << 20) / sizeof(CUmemAccessDesc) + 1;
		CUmemAccessDesc *descs = calloc(count, sizeof(*descs));
		CHECK(descs != NULL);
		CUdeviceptr vptr = big3;
		size_t vsize = 2u << 20;
		const CUmemAccessDesc *dp = descs;
		void *sv[] = { &vptr, &vsize, &dp, &count };
		CHECK_EQ(call(a, &vgpu_call_cuMemSetAccess, sv, 0), CUDA_ERROR_OUT_OF_MEMORY);
		free(descs);
		bn = 512u << 10;   /* the channel goes on */
		CHECK_EQ(call(a, &vgpu_call_cuMemcpyHtoDAsync_v2, bv, 1), CUDA_SUCCESS);
		CHECK_EQ(ctx_sync(a), CUDA_SUCCESS);
		CHECK_EQ(dtoh(a, dst, da, 4093), CUDA_SUCCESS);
		CHECK(memcmp(src, dst, 4093) == 0);
		big = big3;
		free(big2);
		free(back);
	}

	/* A large device-to-host copy flagged async by a confused client: no reply, no bulk
	 * bytes; the next call's reply is the next thing on the channel. */
	{
		void *dstp = dst;
		size_t nn = N;
		void *xv[] = { &dstp, &da, &nn };
		CHECK_EQ(call(a, &vgpu_call_cuMemcpyDtoH_v2, xv, 1), CUDA_SUCCESS);
		CHECK_EQ(ctx_sync(a), CUDA_SUCCESS);
		CHECK_EQ(dtoh(a, dst, da, 64), CUDA_SUCCESS);
	}

	/* Zone A's process dies in the middle of a large transfer: everything A held is freed,
	 * B carries on. (A separate client process, so that it can be killed.) */
	{
		int pfd[2];
		CHECK_EQ(pipe(pfd), 0);
		pid_t kid = fork();
		if (kid == 0) {
			struct vgpu_chan *k;
			struct vgpu_welcome kw;
			struct vgpu_hello kh;
			CUdeviceptr kd = 0;
			size_t kn = 3u << 20;
			uint8_t *kbuf = calloc(1, kn);
			ptest_hello(&kh, VGPU_HELLO_NEW_ZONE, NULL, "zkill");
			CUcontext kc = NULL, *kpc = &kc;
			CUdevice kdev = 0;
			void *kcv[] = { &kpc, &kdev };
			if (ptest_open(&p, &kh, sizeof(kh), &k, &kw) < 0 ||
			    call(k, &vgpu_call_cuDevicePrimaryCtxRetain, kcv, 0) != CUDA_SUCCESS ||
			    ctx_set(k, kc) != CUDA_SUCCESS || mem_alloc(k, &kd, kn) != CUDA_SUCCESS)
				_exit(1);
			char c = 'y';
			if (write(pfd[1], &c, 1) != 1)
				_exit(1);
			for (;;)
				htod(k, kd, kbuf, kn);
		}
		char c = 0;
		CHECK_EQ(read(pfd[0], &c, 1), 1);
		CHECK_EQ(ptest_stats_field(&p, "zkill", "mem", &v), 0);
		CHECK_EQ(v, 3u << 20);
		ptest_sleep_ms(30);
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		CHECK_EQ(ptest_wait_zones(&p, 2), 0);
		CHECK(ptest_stats_field(&p, "zkill", "mem", &v) < 0);   /* gone from the stats */
		close(pfd[0]);
		close(pfd[1]);
	}
	CHECK_EQ(htod(b, db, src, N), CUDA_SUCCESS);
	CHECK_EQ(dtoh(b, dst, db, N), CUDA_SUCCESS);
	CHECK(memcmp(src, dst, N) == 0);

	/* Four more channels of zone A working at once (A holds 3 MiB of its 4 MiB: 4 x 200 KB fits). */
	{
		pthread_t th[4];
		struct thr t[4];
		for (unsigned i = 0; i < 4; i++) {
			t[i] = (struct thr){ &p, wa.token, ca, i, 0 };
			CHECK_EQ(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
		}
		for (unsigned i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			CHECK_EQ(t[i].failures, 0);
		}
		CHECK_EQ(ptest_stats_field(&p, "za", "mem", &v), 0);
		CHECK_EQ(v, 3u << 20);
	}

	/* Stats of a live zone, then its cleanup on disconnect. */
	CHECK_EQ(ptest_stats_field(&p, "zb", "handles", &v), 0);
	CHECK_EQ(v, 8);
	CHECK_EQ(ptest_stats_field(&p, "zb", "ctx", &v), 0);
	CHECK_EQ(v, 1);
	CHECK_EQ(ptest_stats_field(&p, "zb", "stream", &v), 0);
	CHECK_EQ(v, 7);
	CHECK_EQ(ptest_stats_field(&p, "za", "errors", &v), 0);
	CHECK(v >= 8);
	free(src);
	free(dst);
done:
	vgpu_chan_close(a);
	vgpu_chan_close(b);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	CHECK_EQ(ptest_stop(&p), 0);
	if (check_failures || getenv("VGPU_TEST_VERBOSE"))
		ptest_dump_log(&p);
	ptest_cleanup(&p);
	CHECK_DONE();
}
