/* SPDX-License-Identifier: MIT */
/* adv.h — a hand-made hostile zone for the adversarial tests: raw channels to a real vgpu-proxy, the codec used directly. */
#ifndef VGPU_ADV_H
#define VGPU_ADV_H

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <string.h>

#include "check.h"
#include "codec.h"
#include "custom_wire.h"
#include "proxytest.h"
#include "vgpu_calls.h"
#include "vgpu_ops.h"

/* One zone as the proxy sees it: a channel (a zone may open more with its token). */
struct adv_zone {
	struct vgpu_chan *ch;
	struct vgpu_welcome w;
	uint32_t seq;
	char name[32];
};

static uint8_t adv_rbuf[VGPU_MSG_MAX];

/* Start the proxy on the simulator ($VGPU_BUILD/sim/libcudasim.so) with extra options. */
static __attribute__((unused)) int adv_start(struct ptest_proxy *p, const char *const *extra)
{
	char sim[256];
	snprintf(sim, sizeof(sim), "%s/sim/libcudasim.so", ptest_build());
	if (access(sim, R_OK) != 0) {
		printf("skip: %s is not built (make B=%s builds it)\n", sim, ptest_build());
		exit(77);
	}
	p->pid = -1;
	int rc = ptest_start(p, sim, extra);
	if (rc < 0) {
		fprintf(stderr, "vgpu-proxy did not start (%s); its log:\n", strerror(-rc));
		ptest_dump_log(p);
	}
	return rc;
}

/* Open a new zone (token NULL) or another channel of the zone with that token. */
static __attribute__((unused)) int adv_open(const struct ptest_proxy *p, struct adv_zone *z, const char *name,
					    const uint8_t *token)
{
	struct vgpu_hello h;
	memset(z, 0, sizeof(*z));
	snprintf(z->name, sizeof(z->name), "%s", name);
	ptest_hello(&h, token ? VGPU_HELLO_JOIN : VGPU_HELLO_NEW_ZONE, token, name);
	return ptest_open(p, &h, sizeof(h), &z->ch, &z->w);
}

/* Wait up to ms for one message: its length, -ETIMEDOUT, or the channel's -errno (-EPIPE: closed). */
static __attribute__((unused)) int adv_recv(struct adv_zone *z, struct vgpu_msg_hdr *h, int ms)
{
	for (int i = 0; i < ms; i++) {
		int rc = vgpu_chan_try_recv(z->ch, h, adv_rbuf, sizeof(adv_rbuf));
		if (rc != -EAGAIN)
			return rc;
		ptest_sleep_ms(1);
	}
	return -ETIMEDOUT;
}

/* Send raw bytes as a request; for a synchronous one wait for the reply (up to 10 s) and
 * return its CUresult (first msgpack element) or the channel's -errno (-EPIPE: the proxy
 * closed the channel). Async: 0 once sent. */
static __attribute__((unused)) long adv_raw(struct adv_zone *z, uint16_t op, uint16_t flags, const void *msg,
					    uint32_t len)
{
	struct vgpu_msg_hdr h;
	uint32_t seq = ++z->seq;
	int rc = vgpu_chan_send(z->ch, op, flags, seq, msg, len);
	if (rc < 0)
		return rc;
	vgpu_chan_flush(z->ch);
	if (flags & VGPU_MSG_F_ASYNC)
		return 0;
	rc = adv_recv(z, &h, 10000);
	if (rc < 0)
		return rc;
	if (h.seq != seq || h.opcode != op || rc < 2 || (adv_rbuf[0] & 0xf0) != 0x90)
		return -EBADMSG;
	uint8_t t = adv_rbuf[1];
	if (t < 0x80)
		return t;
	if (t == 0xcc && rc >= 3)
		return adv_rbuf[2];
	if (t == 0xcd && rc >= 4)
		return adv_rbuf[2] << 8 | adv_rbuf[3];
	if (t == 0xce && rc >= 6)
		return (long)((uint32_t)adv_rbuf[2] << 24 | adv_rbuf[3] << 16 | adv_rbuf[4] << 8 | adv_rbuf[5]);
	return -EBADMSG;
}

/* A call as libvgpu makes it: encode, send, stream bulk inputs, decode the reply into argv.
 * The call's CUresult, or -errno of the channel. */
static __attribute__((unused)) long adv_call(struct adv_zone *z, const struct vgpu_call_desc *d, void **argv)
{
	struct vgpu_wbuf wb = { 0 };
	struct vgpu_bulk_list bl;
	struct vgpu_msg_hdr h;
	CUresult res = CUDA_ERROR_UNKNOWN;
	long ret;
	int rc = vgpu_encode_request(d, argv, &wb, &bl);
	if (rc < 0) {
		vgpu_wbuf_free(&wb);
		return rc;
	}
	uint16_t flags = (d->flags & VGPU_CALLF_ASYNC) ? VGPU_MSG_F_ASYNC : 0;
	uint32_t seq = ++z->seq;
	if ((rc = vgpu_chan_send(z->ch, d->opcode, flags, seq, wb.data, (uint32_t)wb.len)) < 0)
		goto fail;
	vgpu_chan_flush(z->ch);
	for (unsigned i = 0; i < bl.n; i++)
		if (bl.seg[i].in && (rc = vgpu_chan_bulk_write(z->ch, bl.seg[i].ptr, bl.seg[i].len)) < 0)
			goto fail;
	vgpu_chan_flush(z->ch);
	if (flags) {
		vgpu_wbuf_free(&wb);
		return 0;
	}
	if ((rc = adv_recv(z, &h, 10000)) < 0)
		goto fail;
	if (h.seq != seq || vgpu_decode_reply(d, argv, adv_rbuf, (uint32_t)rc, &res, &bl) < 0) {
		rc = -EBADMSG;
		goto fail;
	}
	for (unsigned i = 0; i < bl.n; i++)
		if (bl.seg[i].out && (rc = vgpu_chan_bulk_read(z->ch, bl.seg[i].ptr, bl.seg[i].len)) < 0)
			goto fail;
	ret = res;
	vgpu_wbuf_free(&wb);
	return ret;
fail:
	vgpu_wbuf_free(&wb);
	return rc;
}

/* ---- the few calls every test needs ---- */

/* cuInit, cuDeviceGet(0), cuDevicePrimaryCtxRetain, cuCtxSetCurrent: the zone's context. */
static __attribute__((unused)) long adv_init_ctx(struct adv_zone *z, CUcontext *ctx /* out */)
{
	unsigned fl = 0;
	CUdevice dev = 0;
	CUdevice *pdev = &dev;
	int ord = 0;
	void *a_init[] = { &fl }, *a_get[] = { &pdev, &ord }, *a_ret[] = { &ctx, &dev };
	long r = adv_call(z, &vgpu_call_cuInit, a_init);
	if (r == 0)
		r = adv_call(z, &vgpu_call_cuDeviceGet, a_get);
	if (r == 0)
		r = adv_call(z, &vgpu_call_cuDevicePrimaryCtxRetain, a_ret);
	if (r == 0) {
		CUcontext c = *ctx;
		void *a_set[] = { &c };
		r = adv_call(z, &vgpu_call_cuCtxSetCurrent, a_set);
	}
	return r;
}

static __attribute__((unused)) long adv_alloc(struct adv_zone *z, CUdeviceptr *p, size_t n)
{
	void *av[] = { &p, &n };
	return adv_call(z, &vgpu_call_cuMemAlloc_v2, av);
}

static __attribute__((unused)) long adv_htod(struct adv_zone *z, CUdeviceptr d, const void *src, size_t n)
{
	void *av[] = { &d, &src, &n };
	return adv_call(z, &vgpu_call_cuMemcpyHtoD_v2, av);
}

static __attribute__((unused)) long adv_dtoh(struct adv_zone *z, void *dst, CUdeviceptr d, size_t n)
{
	void *av[] = { &dst, &d, &n };
	return adv_call(z, &vgpu_call_cuMemcpyDtoH_v2, av);
}

/* Load len bytes of PTX text (its NUL included) as a module of the current context and get
 * its function `name` into *f. */
static __attribute__((unused)) long adv_ptx_function(struct adv_zone *z, const char *ptx, uint64_t len,
						     const char *name, CUfunction *f)
{
	static const struct vgpu_call_desc modload = VGPU_WIRE_DESC("cuModuleLoadData", VGPU_OP_cuModuleLoadData,
		VGPU_CALLF_CUSTOM, vgpu_wire_module_args, VGPU_MW_NARGS);
	CUmodule mod = NULL, *pmod = &mod;
	const void *img = ptx;
	void *mv[VGPU_MW_NARGS] = { &pmod, &img, &len };
	long r = adv_call(z, &modload, mv);
	if (r != CUDA_SUCCESS)
		return r;
	void *gv[] = { &f, &mod, &name };
	return adv_call(z, &vgpu_call_cuModuleGetFunction, gv);
}

/* The zone still works: cuDriverGetVersion answers CUDA_SUCCESS on a channel. */
static __attribute__((unused)) int adv_alive(struct adv_zone *z)
{
	int ver = 0, *pv = &ver;
	void *av[] = { &pv };
	return adv_call(z, &vgpu_call_cuDriverGetVersion, av) == CUDA_SUCCESS && ver > 0;
}

/* Wait (up to 5 s) until n zones have ended on their own: their channels closed, their
 * workers logged the zone freed. (Stopping the proxy before would kill the workers.) */
static __attribute__((unused)) void adv_wait_zones_ended(const struct ptest_proxy *p, int n)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "for i in $(seq 100); do [ $(grep -c 'zone freed' %s) -ge %d ] && exit 0; "
		 "sleep 0.05; done; exit 1", p->log, n);
	CHECK_EQ(system(cmd), 0);
}

/* Stop the proxy; fail if it exited badly or a sanitizer/crash line is in its log. */
static __attribute__((unused)) void adv_finish(struct ptest_proxy *p)
{
	char cmd[300];
	CHECK_EQ(ptest_stop(p), 0);
	snprintf(cmd, sizeof(cmd), "grep -q 'killed by signal\\|AddressSanitizer\\|runtime error\\|LeakSanitizer' %s", p->log);
	CHECK(system(cmd) != 0);
	if (check_failures)
		ptest_dump_log(p);
	ptest_cleanup(p);
}

#endif
