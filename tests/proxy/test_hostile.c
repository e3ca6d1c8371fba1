/* SPDX-License-Identifier: MIT */
/* test_hostile.c — mutated and random requests against a real vgpu-proxy: the worker never dies, other channels keep working. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include "check.h"
#include "codec.h"
#include "proxytest.h"
#include "vgpu_calls.h"

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Wait up to ms for one message; 1 got it, 0 timeout, <0 channel error. */
static int recv_timeout(struct vgpu_chan *ch, struct vgpu_msg_hdr *h, void *buf, uint32_t cap, int ms)
{
	for (int i = 0; i < ms; i++) {
		int rc = vgpu_chan_try_recv(ch, h, buf, cap);
		if (rc >= 0)
			return 1;
		if (rc != -EAGAIN)
			return rc;
		ptest_sleep_ms(1);
	}
	return 0;
}

struct tmpl { const struct vgpu_call_desc *d; uint8_t msg[512]; uint32_t len; };

static int pid_of_zone(const struct ptest_proxy *p, const char *name)
{
	char buf[8192], key[80];
	int pid;
	snprintf(key, sizeof(key), "name=%s client=", name);
	if (ptest_stats(p, buf, sizeof(buf)) < 0)
		return -1;
	char *s = strstr(buf, key);
	unsigned client;
	return s && sscanf(s + strlen(key), "%u worker=%d", &client, &pid) == 2 ? pid : -1;
}

int main(int argc, char **argv)
{
	struct ptest_proxy p = { .pid = -1 };
	char drv[256];
	struct vgpu_hello h;
	struct vgpu_welcome w;
	struct vgpu_chan *a = NULL;
	static uint8_t rbuf[VGPU_MSG_MAX];
	struct tmpl t[6];
	unsigned nt = 0;

	const int sim = argc > 1 && !strcmp(argv[1], "--sim");
	if (sim)
		snprintf(drv, sizeof(drv), "%s/sim/libcudasim.so", ptest_build());
	else
		snprintf(drv, sizeof(drv), "%s/tests/proxy/libfakedrv.so", ptest_build());
	if (access(drv, R_OK) != 0) {
		printf("%s not built yet; nothing to test against\n", drv);
		return 77;
	}
	const char *extra[] = { "--zone-mem-limit", "64M", "--log-level", "warn", NULL };
	if (ptest_start(&p, drv, extra) < 0) {
		ptest_dump_log(&p);
		ptest_cleanup(&p);
		return 1;
	}
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "target");
	CHECK_EQ(ptest_open(&p, &h, sizeof(h), &a, &w), 0);
	if (!a)
		goto done;
	int pid0 = pid_of_zone(&p, "target");
	CHECK(pid0 > 0);

	/* Templates: valid encodings of a few calls, to mutate. */
	{
		struct vgpu_wbuf wb = { 0 };
		struct vgpu_bulk_list bl;
		CUdeviceptr d = 0x1000, *pd = &d;
		size_t n = 64;
		int ver, *pv = &ver;
		uint8_t small[64] = { 0 };
		const void *src = small;
		void *dst = small;
		CUcontext c = NULL, *pc = &c;
		unsigned fl = 0;
		CUdevice dev = 0;
		void *a_alloc[] = { &pd, &n }, *a_free[] = { &d }, *a_ver[] = { &pv };
		void *a_htod[] = { &d, &src, &n }, *a_dtoh[] = { &dst, &d, &n }, *a_ctx[] = { &pc, &fl, &dev };
		struct { const struct vgpu_call_desc *d; void **argv; } calls[] = {
			{ &vgpu_call_cuMemAlloc_v2, a_alloc }, { &vgpu_call_cuMemFree_v2, a_free },
			{ &vgpu_call_cuDriverGetVersion, a_ver }, { &vgpu_call_cuMemcpyHtoD_v2, a_htod },
			{ &vgpu_call_cuMemcpyDtoH_v2, a_dtoh }, { &vgpu_call_cuCtxCreate_v2, a_ctx },
		};
		for (unsigned i = 0; i < 6; i++) {
			if (vgpu_encode_request(calls[i].d, calls[i].argv, &wb, &bl) < 0 || wb.len > sizeof(t[0].msg))
				continue;
			t[nt].d = calls[i].d;
			memcpy(t[nt].msg, wb.data, wb.len);
			t[nt].len = (uint32_t)wb.len;
			nt++;
		}
		vgpu_wbuf_free(&wb);
	}
	CHECK_EQ(nt, 6);

	unsigned replies = 0, closed = 0, stuck = 0;
	for (unsigned iter = 0; iter < 400 && nt == 6; iter++) {
		struct vgpu_chan *c;
		struct vgpu_msg_hdr mh;
		uint8_t msg[600];
		const struct tmpl *tp = &t[rnd() % nt];
		uint32_t len = tp->len;
		memcpy(msg, tp->msg, len);
		switch (rnd() % 4) {
		case 0:   /* flip a few bytes */
			for (unsigned k = 1 + rnd() % 4; k; k--)
				msg[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:   /* truncate */
			len = (uint32_t)(rnd() % len);
			break;
		case 2:   /* trailing garbage */
			for (unsigned k = 1 + rnd() % 16; k && len < sizeof(msg); k--)
				msg[len++] = (uint8_t)rnd();
			break;
		default:  /* pure noise */
			len = (uint32_t)(rnd() % sizeof(msg));
			for (uint32_t k = 0; k < len; k++)
				msg[k] = (uint8_t)rnd();
		}
		uint16_t op = (rnd() % 8) ? tp->d->opcode : (uint16_t)(rnd() % 0x200);
		ptest_hello(&h, VGPU_HELLO_JOIN, w.token, "hostile");
		if (ptest_open(&p, &h, sizeof(h), &c, &w) < 0) {
			CHECK(!"JOIN refused during the hostile run");
			break;
		}
		vgpu_chan_send(c, op, (rnd() % 5) ? 0 : VGPU_MSG_F_ASYNC, iter, msg, len);
		vgpu_chan_flush(c);
		int rc = recv_timeout(c, &mh, rbuf, sizeof(rbuf), 300);
		if (rc > 0)
			replies++;
		else if (rc < 0)
			closed++;
		else
			stuck++;   /* waiting for announced bulk bytes, or an async request: closing ends it */
		vgpu_chan_close(c);
		if (iter % 100 == 99)
			CHECK_EQ(pid_of_zone(&p, "target"), pid0);   /* same worker: it never died */
	}
	printf("400 hostile requests: %u replied, %u closed by the proxy, %u left waiting\n", replies, closed, stuck);
	CHECK(replies > 0 && closed > 0);

	/* The zone's original channel still works and its worker is the same process. */
	{
		int ver = 0, *pv = &ver;
		void *av[] = { &pv };
		struct vgpu_wbuf wb = { 0 };
		struct vgpu_bulk_list bl;
		struct vgpu_msg_hdr mh;
		CUresult res = CUDA_ERROR_UNKNOWN;
		CHECK_EQ(vgpu_encode_request(&vgpu_call_cuDriverGetVersion, av, &wb, &bl), 0);
		CHECK_EQ(vgpu_chan_send(a, vgpu_call_cuDriverGetVersion.opcode, 0, 99999, wb.data, (uint32_t)wb.len), 0);
		int n = vgpu_chan_recv(a, &mh, rbuf, sizeof(rbuf));
		CHECK(n > 0);
		CHECK_EQ(mh.seq, 99999);
		if (n > 0)
			CHECK_EQ(vgpu_decode_reply(&vgpu_call_cuDriverGetVersion, av, rbuf, (uint32_t)n, &res, &bl), 0);
		CHECK_EQ(res, CUDA_SUCCESS);
		if (!sim)
			CHECK_EQ(ver, 424242);
		vgpu_wbuf_free(&wb);
	}
	CHECK_EQ(pid_of_zone(&p, "target"), pid0);
done:
	vgpu_chan_close(a);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	CHECK_EQ(ptest_stop(&p), 0);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "grep -q 'killed by signal\\|AddressSanitizer\\|runtime error' %s", p.log);
		CHECK(system(cmd) != 0);   /* no worker crashed, no sanitizer report */
	}
	if (check_failures)
		ptest_dump_log(&p);
	ptest_cleanup(&p);
	CHECK_DONE();
}
