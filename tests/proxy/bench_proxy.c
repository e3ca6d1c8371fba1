/* SPDX-License-Identifier: MIT */
/* bench_proxy.c — calls through vgpu-proxy versus the same driver called in-process, side by side, as ratios. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <dlfcn.h>
#include <pthread.h>

#include "codec.h"
#include "proxytest.h"
#include "vgpu_calls.h"

static uint32_t seq;
static uint8_t rbuf[VGPU_MSG_MAX];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Same call path as libvgpu's (encode, send, stream, wait, decode, stream back). */
static CUresult call(struct vgpu_chan *ch, const struct vgpu_call_desc *d, void *const *argv, struct vgpu_wbuf *w)
{
	struct vgpu_bulk_list bl;
	struct vgpu_msg_hdr h;
	CUresult res;
	int rc;
	if (vgpu_encode_request(d, argv, w, &bl) < 0)
		return CUDA_ERROR_UNKNOWN;
	if (vgpu_chan_send(ch, d->opcode, 0, ++seq, w->data, (uint32_t)w->len) < 0)
		return CUDA_ERROR_UNKNOWN;
	for (unsigned i = 0; i < bl.n; i++)
		if (bl.seg[i].in && vgpu_chan_bulk_write(ch, bl.seg[i].ptr, bl.seg[i].len) < 0)
			return CUDA_ERROR_UNKNOWN;
	vgpu_chan_flush(ch);
	if ((rc = vgpu_chan_recv(ch, &h, rbuf, sizeof(rbuf))) < 0)
		return CUDA_ERROR_UNKNOWN;
	if (vgpu_decode_reply(d, argv, rbuf, (uint32_t)rc, &res, &bl) < 0)
		return CUDA_ERROR_UNKNOWN;
	for (unsigned i = 0; i < bl.n; i++)
		if (vgpu_chan_bulk_read(ch, bl.seg[i].ptr, bl.seg[i].len) < 0)
			return CUDA_ERROR_UNKNOWN;
	return res;
}

/* Bare ring round trip: a 16-byte message echoed by a thread (the floor for any call). */
static void *echo(void *p)
{
	struct vgpu_chan *s = p;
	struct vgpu_msg_hdr h;
	uint8_t b[64];
	int n;
	while ((n = vgpu_chan_recv(s, &h, b, sizeof(b))) >= 0) {
		if (vgpu_chan_send(s, h.opcode, VGPU_MSG_F_REPLY, h.seq, b, (uint32_t)n) < 0)
			break;
		vgpu_chan_flush(s);
	}
	return NULL;
}

static double ring_rtt_us(unsigned iters)
{
	struct vgpu_chan_geom g = { 64u << 10, 1u << 20 };
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	pthread_t th;
	uint8_t b[64] = { 0 };
	if (vgpu_shm_pair(&g, &c, &s) < 0)
		return -1;
	pthread_create(&th, NULL, echo, s);
	double t0 = now();
	for (unsigned i = 0; i < iters; i++) {
		vgpu_chan_send(c, 1, 0, i, b, 16);
		vgpu_chan_flush(c);
		vgpu_chan_recv(c, &h, b, sizeof(b));
	}
	double t = now() - t0;
	vgpu_chan_close(c);
	pthread_join(th, NULL);
	vgpu_chan_close(s);
	return t / iters * 1e6;
}

int main(int argc, char **argv)
{
	struct ptest_proxy p = { .pid = -1 };
	char lib[256];
	int quick = 0;
	const char *drvopt = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else if (!strcmp(argv[i], "--driver") && i + 1 < argc) {
			drvopt = argv[++i];
		} else {
			printf("usage: proxy_calls [--quick] [--driver LIB]\n"
			       "Calls through vgpu-proxy (shm transport) vs the same driver library called in-process,\n"
			       "plus a bare ring round trip. LIB defaults to $VGPU_BUILD/sim/libcudasim.so if built, else\n"
			       "the test stand-in driver $VGPU_BUILD/tests/proxy/libfakedrv.so (plain memcpy: shows the\n"
			       "proxy's own overhead).\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (drvopt)
		snprintf(lib, sizeof(lib), "%s", drvopt);
	else
		snprintf(lib, sizeof(lib), "%s/sim/libcudasim.so", ptest_build());
	if (!drvopt && access(lib, R_OK) != 0)
		snprintf(lib, sizeof(lib), "%s/tests/proxy/libfakedrv.so", ptest_build());
	void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		printf("cannot load %s: %s\n", lib, dlerror());
		return 77;
	}
	CUresult (*d_init)(unsigned) = (CUresult (*)(unsigned))dlsym(dl, "cuInit");
	CUresult (*d_ver)(int *) = (CUresult (*)(int *))dlsym(dl, "cuDriverGetVersion");
	CUresult (*d_alloc)(CUdeviceptr *, size_t) = (CUresult (*)(CUdeviceptr *, size_t))dlsym(dl, "cuMemAlloc_v2");
	CUresult (*d_free)(CUdeviceptr) = (CUresult (*)(CUdeviceptr))dlsym(dl, "cuMemFree_v2");
	CUresult (*d_htod)(CUdeviceptr, const void *, size_t) = (CUresult (*)(CUdeviceptr, const void *, size_t))dlsym(dl, "cuMemcpyHtoD_v2");
	CUresult (*d_dtoh)(void *, CUdeviceptr, size_t) = (CUresult (*)(void *, CUdeviceptr, size_t))dlsym(dl, "cuMemcpyDtoH_v2");
	CUresult (*d_retain)(CUcontext *, CUdevice) = (CUresult (*)(CUcontext *, CUdevice))dlsym(dl, "cuDevicePrimaryCtxRetain");
	CUresult (*d_setcur)(CUcontext) = (CUresult (*)(CUcontext))dlsym(dl, "cuCtxSetCurrent");
	if (!d_init || !d_ver || !d_alloc || !d_free || !d_htod || !d_dtoh || !d_retain || !d_setcur) {
		printf("%s lacks an entry point the benchmark needs\n", lib);
		return 77;
	}
	CUcontext dctx;
	d_init(0);
	d_retain(&dctx, 0);
	d_setcur(dctx);

	const char *extra[] = { "--log-level", "warn", NULL };
	if (ptest_start(&p, lib, extra) < 0) {
		fprintf(stderr, "vgpu-proxy did not start\n");
		ptest_dump_log(&p);
		ptest_cleanup(&p);
		return 1;
	}
	struct vgpu_hello h;
	struct vgpu_welcome w;
	struct vgpu_chan *ch;
	struct vgpu_chan_geom g = VGPU_CHAN_DEFAULT_GEOM;
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "bench");
	struct vgpu_msg_hdr mh;
	if (vgpu_shm_connect(p.sock, &h, sizeof(h), &g, &ch) < 0 || vgpu_chan_recv(ch, &mh, &w, sizeof(w)) < 0) {
		fprintf(stderr, "cannot connect to the proxy\n");
		ptest_cleanup(&p);
		return 1;
	}
	struct vgpu_wbuf wb = { 0 };
	CUcontext ctx, *pctx = &ctx;
	CUdevice dev = 0;
	void *cv[] = { &pctx, &dev };
	void *sv[] = { &ctx };
	if (call(ch, &vgpu_call_cuDevicePrimaryCtxRetain, cv, &wb) != CUDA_SUCCESS ||
	    call(ch, &vgpu_call_cuCtxSetCurrent, sv, &wb) != CUDA_SUCCESS) {
		fprintf(stderr, "cannot set a context up through the proxy\n");
		return 1;
	}

	printf("driver: %s   (proxy build %s; shm transport, default geometry)\n", lib, ptest_build());
	printf("%-34s %14s %14s %8s\n", "operation", "direct", "via proxy", "ratio");

	unsigned iters = quick ? 2000 : 50000;
	double rr = ring_rtt_us(iters);
	int ver, *pv = &ver;
	void *va[] = { &pv };
	double t0 = now();
	for (unsigned i = 0; i < iters; i++)
		d_ver(&ver);
	double td = (now() - t0) / iters * 1e6;
	t0 = now();
	for (unsigned i = 0; i < iters; i++)
		call(ch, &vgpu_call_cuDriverGetVersion, va, &wb);
	double tp = (now() - t0) / iters * 1e6;
	printf("%-34s %11.3f us %11.3f us %7.1fx\n", "trivial call (cuDriverGetVersion)", td, tp, tp / td);
	printf("%-34s %14s %11.3f us %7.2fx  (proxy call / bare ring)\n", "bare ring round trip (16 B)", "", rr, tp / rr);

	unsigned ai = quick ? 500 : 10000;
	CUdeviceptr dp, *pdp = &dp;
	size_t sz = 4096;
	void *aa[] = { &pdp, &sz };
	void *fa[] = { &dp };
	t0 = now();
	for (unsigned i = 0; i < ai; i++) {
		d_alloc(&dp, sz);
		d_free(dp);
	}
	td = (now() - t0) / ai * 1e6;
	t0 = now();
	for (unsigned i = 0; i < ai; i++) {
		call(ch, &vgpu_call_cuMemAlloc_v2, aa, &wb);
		call(ch, &vgpu_call_cuMemFree_v2, fa, &wb);
	}
	tp = (now() - t0) / ai * 1e6;
	printf("%-34s %11.3f us %11.3f us %7.1fx\n", "cuMemAlloc+cuMemFree (4 KiB)", td, tp, tp / td);

	size_t maxn = quick ? (4u << 20) : (64u << 20);
	uint8_t *buf = malloc(maxn);
	memset(buf, 0x5a, maxn);
	CUdeviceptr ddev, pdev;
	d_alloc(&ddev, maxn);
	pdp = &pdev;
	sz = maxn;
	call(ch, &vgpu_call_cuMemAlloc_v2, aa, &wb);
	for (size_t n = 4096; n <= maxn; n *= 4) {
		unsigned reps = (unsigned)((quick ? (64u << 20) : (1024u << 20)) / n);
		if (reps < 3)
			reps = 3;
		for (int dir = 0; dir < 2; dir++) {
			const void *src = buf;
			void *dst = buf;
			void *ha[] = { &pdev, &src, &n };
			void *da[] = { &dst, &pdev, &n };
			t0 = now();
			for (unsigned r = 0; r < reps; r++)
				dir ? d_dtoh(buf, ddev, n) : d_htod(ddev, buf, n);
			td = now() - t0;
			t0 = now();
			for (unsigned r = 0; r < reps; r++)
				call(ch, dir ? &vgpu_call_cuMemcpyDtoH_v2 : &vgpu_call_cuMemcpyHtoD_v2, dir ? da : ha, &wb);
			tp = now() - t0;
			double gd = (double)n * reps / td / 1e9, gp = (double)n * reps / tp / 1e9;
			char name[64];
			snprintf(name, sizeof(name), "%s %zu KiB", dir ? "DtoH" : "HtoD", n >> 10);
			printf("%-34s %9.2f GB/s %9.2f GB/s %7.0f%%  (proxy / direct)\n", name, gd, gp, 100.0 * gp / gd);
		}
	}
	vgpu_wbuf_free(&wb);
	free(buf);
	vgpu_chan_close(ch);
	ptest_wait_zones(&p, 0);
	ptest_stop(&p);
	ptest_cleanup(&p);
	return 0;
}
