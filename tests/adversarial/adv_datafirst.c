/* SPDX-License-Identifier: MIT */
/* adv_datafirst.c — VGPU_MSG_F_DATA_FIRST (device-to-host bytes before the reply) asked for where it does not belong, and refused copies that still owe their bytes. */
#include "adv.h"

#include "session.h"

/* Contract (session.h, proxy/chanloop.c): only a device-to-host copy (cuMemcpyDtoH_v2,
 * cuMemcpyDtoHAsync_v2, their twins) whose bytes travel on the bulk stream may carry the flag,
 * and not as a posted request; anything else with it closes the channel. A
 * flagged copy refused for what it names (not the zone's memory) still sends exactly the
 * announced bytes, zeros, and then its error; the zone's and other zones' memory is untouched. */

enum { N = 1 << 20 };

/* A flagged cuMemcpyDtoH_v2 written by hand: request, then n bulk bytes, then the reply. With
 * a stream (stream != NULL), the same as cuMemcpyDtoHAsync_v2 on *stream. */
static long dtoh_first_on(struct adv_zone *z, void *dst, CUdeviceptr src, size_t n, const CUstream *stream)
{
	const struct vgpu_call_desc *d = stream ? &vgpu_call_cuMemcpyDtoHAsync_v2 : &vgpu_call_cuMemcpyDtoH_v2;
	struct vgpu_wbuf wb = { 0 };
	struct vgpu_bulk_list bl;
	struct vgpu_msg_hdr h;
	CUstream s = stream ? *stream : NULL;
	void *av[] = { &dst, &src, &n, &s };
	long ret;
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
	ret = adv_rbuf[1] < 0x80 ? adv_rbuf[1] : adv_rbuf[1] == 0xcc ? adv_rbuf[2] : adv_rbuf[1] == 0xcd ?
	      (adv_rbuf[2] << 8 | adv_rbuf[3]) : -EBADMSG;
	return ret;
}

static long dtoh_first(struct adv_zone *z, void *dst, CUdeviceptr src, size_t n)
{
	return dtoh_first_on(z, dst, src, n, NULL);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b, c;
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
