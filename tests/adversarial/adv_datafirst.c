/* SPDX-License-Identifier: MIT */
/* adv_datafirst.c — VGPU_MSG_F_DATA_FIRST (device-to-host bytes before the reply) asked for where it does not belong, and refused copies that still owe their bytes. */
#include "adv.h"

#include "custom_wire.h"
#include "session.h"
#include "vgpu_ops.h"

/* Contract (session.h, proxy/chanloop.c): only a device-to-host copy (cuMemcpyDtoH_v2,
 * cuMemcpyDtoHAsync_v2, their twins, and a 2D/3D copy to host rows) whose bytes travel on the
 * bulk stream may carry the flag, and not as a posted request; anything else with it closes
 * the channel. A flagged copy refused for what it names (not the zone's memory, a handle it
 * does not hold) still sends exactly the announced bytes, zeros, and then its error; the
 * zone's and other zones' memory is untouched. */

enum { N = 1 << 20 };

static const struct vgpu_call_desc copy3d =
	VGPU_WIRE_DESC("cuMemcpy3D_v2", VGPU_OP_cuMemcpy3D_v2, VGPU_CALLF_CUSTOM, vgpu_wire_copy_args, VGPU_CW_NARGS);

/* A flagged request written by hand: the request, then n bulk bytes into dst, then the
 * reply; its result, or a negative errno. */
static long send_first(struct adv_zone *z, const struct vgpu_call_desc *d, void **av, void *dst, size_t n)
{
	struct vgpu_wbuf wb = { 0 };
	struct vgpu_bulk_list bl;
	struct vgpu_msg_hdr h;
	int rc = vgpu_encode_request(d, av, &wb, &bl);
	uint32_t seq = ++z->seq;

	if (rc < 0)
		return rc;
	rc = vgpu_chan_send(z->ch, d->opcode, VGPU_MSG_F_DATA_FIRST, seq, wb.data, (uint32_t)wb.len);
	vgpu_wbuf_free(&wb);
	if (rc < 0)
		return rc;
	vgpu_chan_flush(z->ch);
	if ((rc = vgpu_chan_bulk_read(z->ch, dst, n)) < 0)
		return rc;
	if ((rc = adv_recv(z, &h, 10000)) < 0)
		return rc;
	if (h.seq != seq || h.opcode != d->opcode || rc < 2)
		return -EBADMSG;
	return adv_rbuf[1] < 0x80 ? adv_rbuf[1] : adv_rbuf[1] == 0xcc ? adv_rbuf[2] : adv_rbuf[1] == 0xcd ?
	       (adv_rbuf[2] << 8 | adv_rbuf[3]) : -EBADMSG;
}

/* A flagged cuMemcpyDtoH_v2; with a stream (stream != NULL), cuMemcpyDtoHAsync_v2 on *stream. */
static long dtoh_first_on(struct adv_zone *z, void *dst, CUdeviceptr src, size_t n, const CUstream *stream)
{
	const struct vgpu_call_desc *d = stream ? &vgpu_call_cuMemcpyDtoHAsync_v2 : &vgpu_call_cuMemcpyDtoH_v2;
	CUstream s = stream ? *stream : NULL;
	void *av[] = { &dst, &src, &n, &s };
	return send_first(z, d, av, dst, n);
}

/* A flagged 2D copy of h rows of w bytes at pitch p from src (a device pointer, or an array
 * handle when array) into dense host rows at dst; asynchronous on stream when async. */
static long rows_first(struct adv_zone *z, void *dst, uint64_t src, int array, size_t p, size_t w, size_t h,
		       CUstream stream, int async)
{
	CUDA_MEMCPY3D c = { 0 };
	c.srcMemoryType = array ? CU_MEMORYTYPE_ARRAY : CU_MEMORYTYPE_DEVICE;
	if (array)
		c.srcArray = (CUarray)(uintptr_t)src;
	else
		c.srcDevice = src;
	c.srcPitch = p;
	c.srcHeight = c.dstHeight = h;
	c.dstMemoryType = CU_MEMORYTYPE_HOST;
	c.dstPitch = w;
	c.WidthInBytes = w;
	c.Height = h;
	c.Depth = 1;
	const CUDA_MEMCPY3D *cp = &c;
	const void *in = NULL;
	uint64_t inb = 0, outb = (uint64_t)w * h;
	unsigned flags = async ? VGPU_COPY_F_ASYNC : 0;
	void *av[VGPU_CW_NARGS] = { &cp, &in, &inb, &dst, &outb, &stream, &flags };
	return send_first(z, &copy3d, av, dst, outb);
}

static long dtoh_first(struct adv_zone *z, void *dst, CUdeviceptr src, size_t n)
{
	return dtoh_first_on(z, dst, src, n, NULL);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b, c, c2;
	CUcontext ca = NULL, cb = NULL;
	CUdeviceptr pa = 0, pb = 0;
	static uint8_t da[N], db[N], back[N];

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "attacker", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "victim", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &pa, N), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&b, &pb, N), CUDA_SUCCESS);
	for (unsigned i = 0; i < N; i++) {
		da[i] = (uint8_t)(i * 3 + 1);
		db[i] = (uint8_t)(i ^ 0xa5);
	}
	CHECK_EQ(adv_htod(&a, pa, da, N), CUDA_SUCCESS);
	CHECK_EQ(adv_htod(&b, pb, db, N), CUDA_SUCCESS);

	/* Its own memory: the bytes, then success. */
	memset(back, 0, N);
	CHECK_EQ(dtoh_first(&a, back, pa, N), CUDA_SUCCESS);
	CHECK(memcmp(back, da, N) == 0);
	/* The other zone's memory, or past its own: zeros of the announced length, then the error. */
	memset(back, 0xee, N);
	CHECK_EQ(dtoh_first(&a, back, pb, N), CUDA_ERROR_INVALID_VALUE);
	for (unsigned i = 0; i < N; i++)
		CHECK(back[i] == 0);
	CHECK_EQ(dtoh_first(&a, back, pa + 1, N), CUDA_ERROR_INVALID_VALUE);
	CHECK(adv_alive(&a));
	/* The asynchronous form streams the same way: on the legacy stream its own memory, the
	 * other zone's (zeros, then the error), and a stream handle the zone never had (zeros,
	 * then the error naming the handle). */
	CUstream legacy = NULL, forged = (CUstream)(uintptr_t)0x5eed0001u;
	memset(back, 0, N);
	CHECK_EQ(dtoh_first_on(&a, back, pa, N, &legacy), CUDA_SUCCESS);
	CHECK(memcmp(back, da, N) == 0);
	memset(back, 0xee, N);
	CHECK_EQ(dtoh_first_on(&a, back, pb, N, &legacy), CUDA_ERROR_INVALID_VALUE);
	for (unsigned i = 0; i < N; i++)
		CHECK(back[i] == 0);
	memset(back, 0xee, N);
	CHECK_EQ(dtoh_first_on(&a, back, pa, N, &forged), CUDA_ERROR_INVALID_HANDLE);
	for (unsigned i = 0; i < N; i++)
		CHECK(back[i] == 0);
	CHECK(adv_alive(&a));

	/* 2D copies to host rows stream the same way: 1000 rows of 1000 bytes at pitch 1024 of
	 * its own memory, sync and on the legacy stream; the other zone's memory, a box past its
	 * own allocation, an array and a stream the zone never had: zeros, then the error. */
	enum { RW = 1000, RH = 1000, RP = 1024 };
	for (int async = 0; async < 2; async++) {
		memset(back, 0, N);
		CHECK_EQ(rows_first(&a, back, pa, 0, RP, RW, RH, NULL, async), CUDA_SUCCESS);
		size_t bad = 0;
		for (size_t y = 0; y < RH; y++)
			bad += memcmp(back + y * RW, da + y * RP, RW) != 0;
		CHECK(bad == 0);
		memset(back, 0xee, N);
		CHECK_EQ(rows_first(&a, back, pb, 0, RP, RW, RH, NULL, async), CUDA_ERROR_INVALID_VALUE);
		for (unsigned i = 0; i < RW * RH; i++)
			CHECK(back[i] == 0);
		memset(back, 0xee, N);
		CHECK_EQ(rows_first(&a, back, pa + 32 * RP, 0, RP, RW, RH, NULL, async), CUDA_ERROR_INVALID_VALUE);
		for (unsigned i = 0; i < RW * RH; i++)
			CHECK(back[i] == 0);
	}
	memset(back, 0xee, N);
	CHECK_EQ(rows_first(&a, back, 0x5eed0002u, 1, 0, RW, RH, NULL, 0), CUDA_ERROR_INVALID_HANDLE);
	for (unsigned i = 0; i < RW * RH; i++)
		CHECK(back[i] == 0);
	memset(back, 0xee, N);
	CHECK_EQ(rows_first(&a, back, pa, 0, RP, RW, RH, forged, 1), CUDA_ERROR_INVALID_HANDLE);
	for (unsigned i = 0; i < RW * RH; i++)
		CHECK(back[i] == 0);
	CHECK(adv_alive(&a));

	/* The flag where it does not belong closes that channel (only that one). */
	uint8_t small[16];
	struct vgpu_wbuf wb = { 0 };
	struct vgpu_bulk_list bl;
	size_t n = sizeof(small);
	void *sp = small, *av[] = { &sp, &pa, &n };
	CHECK_EQ(vgpu_encode_request(&vgpu_call_cuMemcpyDtoH_v2, av, &wb, &bl), 0);
	CHECK_EQ(adv_open(&p, &c, "attacker", a.w.token), 0);
	CHECK_EQ(adv_raw(&c, VGPU_OP_cuMemcpyDtoH_v2, VGPU_MSG_F_DATA_FIRST, wb.data, (uint32_t)wb.len), -EPIPE);
	vgpu_chan_close(c.ch);
	vgpu_wbuf_free(&wb);
	/* ... and so does a device-to-host copy both posted (no reply) and flagged */
	CUstream s0 = NULL;
	void *avs[] = { &sp, &pa, &n, &s0 };
	CHECK_EQ(vgpu_encode_request(&vgpu_call_cuMemcpyDtoHAsync_v2, avs, &wb, &bl), 0);
	CHECK_EQ(adv_open(&p, &c, "attacker", a.w.token), 0);
	CHECK_EQ(adv_raw(&c, VGPU_OP_cuMemcpyDtoHAsync_v2, VGPU_MSG_F_DATA_FIRST | VGPU_MSG_F_ASYNC, wb.data,
			 (uint32_t)wb.len), 0);   /* posted: nothing comes back, then the channel is gone */
	vgpu_wbuf_free(&wb);
	int ver = 0, *pv = &ver;
	void *avv[] = { &pv };
	CHECK_EQ(vgpu_encode_request(&vgpu_call_cuDriverGetVersion, avv, &wb, &bl), 0);
	CHECK_EQ(adv_raw(&c, VGPU_OP_cuDriverGetVersion, 0, wb.data, (uint32_t)wb.len), -EPIPE);
	vgpu_chan_close(c.ch);
	vgpu_wbuf_free(&wb);
	void *av2[] = { &pv };
	CHECK_EQ(vgpu_encode_request(&vgpu_call_cuDriverGetVersion, av2, &wb, &bl), 0);
	CHECK_EQ(adv_open(&p, &c, "attacker", a.w.token), 0);
	CHECK_EQ(adv_raw(&c, VGPU_OP_cuDriverGetVersion, VGPU_MSG_F_DATA_FIRST, wb.data, (uint32_t)wb.len), -EPIPE);
	vgpu_chan_close(c.ch);
	vgpu_wbuf_free(&wb);
	/* ... and so do a flagged 2D copy from host rows (its bytes go to the proxy), and a 2D
	 * download small enough to come back in its reply */
	{
		CUDA_MEMCPY3D c = { 0 };
		c.srcMemoryType = CU_MEMORYTYPE_HOST;
		c.srcPitch = 64;
		c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
		c.dstDevice = pa;
		c.dstPitch = 64;
		c.WidthInBytes = 64;
		c.Height = 256;
		c.Depth = 1;
		const CUDA_MEMCPY3D *cp = &c;
		const void *in = da;
		void *outp = NULL;
		uint64_t inb = 64 * 256, outb = 0;
		unsigned flags = 0;
		void *avc[VGPU_CW_NARGS] = { &cp, &in, &inb, &outp, &outb, &s0, &flags };
		CHECK_EQ(vgpu_encode_request(&copy3d, avc, &wb, &bl), 0);
		CHECK_EQ(adv_open(&p, &c2, "attacker", a.w.token), 0);
		CHECK_EQ(adv_raw(&c2, VGPU_OP_cuMemcpy3D_v2, VGPU_MSG_F_DATA_FIRST, wb.data, (uint32_t)wb.len), -EPIPE);
		vgpu_chan_close(c2.ch);
		vgpu_wbuf_free(&wb);
		/* 16 rows of 64 bytes: 1 KiB, inline in the reply */
		c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
		c.srcDevice = pa;
		c.dstMemoryType = CU_MEMORYTYPE_HOST;
		c.Height = 16;
		in = NULL;
		inb = 0;
		outp = back;
		outb = 64 * 16;
		CHECK_EQ(vgpu_encode_request(&copy3d, avc, &wb, &bl), 0);
		CHECK_EQ(adv_open(&p, &c2, "attacker", a.w.token), 0);
		CHECK_EQ(adv_raw(&c2, VGPU_OP_cuMemcpy3D_v2, VGPU_MSG_F_DATA_FIRST, wb.data, (uint32_t)wb.len), -EPIPE);
		vgpu_chan_close(c2.ch);
		vgpu_wbuf_free(&wb);
	}
	CHECK(adv_alive(&a) && adv_alive(&b));

	/* Nothing of the victim's changed. */
	CHECK_EQ(adv_dtoh(&b, back, pb, N), CUDA_SUCCESS);
	CHECK(memcmp(back, db, N) == 0);
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	adv_wait_zones_ended(&p, 2);
	adv_finish(&p);
	CHECK_DONE();
}
