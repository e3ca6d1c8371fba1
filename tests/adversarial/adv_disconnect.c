/* SPDX-License-Identifier: MIT */
/* adv_disconnect.c — a zone's channel vanishes in the middle of a chunked (bulk) transfer, both directions. */
#include "adv.h"

/* Contract: the proxy sees the peer gone, drops the half-done call and closes that channel
 * only; the zone's other channels, its memory and the other zone keep working, and nothing
 * stays charged to the zone's in-flight bulk quota. */

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b, c;
	CUcontext ca = NULL, cb = NULL;
	CUdeviceptr pa = 0, pb = 0;
	enum { BIG = 8 << 20 };
	uint8_t small[256], back[256];
	static uint8_t bulk[1 << 20];

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "leaver", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "neighbour", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &pa, BIG), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&b, &pb, sizeof(small)), CUDA_SUCCESS);
	memset(small, 0x42, sizeof(small));
	CHECK_EQ(adv_htod(&b, pb, small, sizeof(small)), CUDA_SUCCESS);
	CHECK_EQ(adv_htod(&a, pa, small, sizeof(small)), CUDA_SUCCESS);

	for (int round = 0; round < 3; round++) {
		/* Host to device: announce 8 MiB, stream 1 MiB, vanish. */
		CHECK_EQ(adv_open(&p, &c, "leaver", a.w.token), 0);
		{
			struct vgpu_wbuf wb = { 0 };
			struct vgpu_bulk_list bl;
			CUdeviceptr d = pa;
			const void *src = bulk;
			size_t n = BIG;
			void *av[] = { &d, &src, &n };
			CHECK_EQ(vgpu_encode_request(&vgpu_call_cuMemcpyHtoD_v2, av, &wb, &bl), 0);
			CHECK_EQ(bl.n, 1);
			CHECK_EQ(vgpu_chan_send(c.ch, VGPU_OP_cuMemcpyHtoD_v2, 0, 1, wb.data, (uint32_t)wb.len), 0);
			vgpu_chan_flush(c.ch);
			CHECK_EQ(vgpu_chan_bulk_write(c.ch, bulk, sizeof(bulk)), 0);
			vgpu_chan_flush(c.ch);
			vgpu_wbuf_free(&wb);
		}
		vgpu_chan_close(c.ch);
		/* Device to host: ask for 8 MiB, read the reply, leave before the bytes are taken. */
		CHECK_EQ(adv_open(&p, &c, "leaver", a.w.token), 0);
		{
			struct vgpu_wbuf wb = { 0 };
			struct vgpu_bulk_list bl;
			struct vgpu_msg_hdr h;
			CUdeviceptr d = pa;
			void *dst = bulk;
			size_t n = BIG;
			void *av[] = { &dst, &d, &n };
			CHECK_EQ(vgpu_encode_request(&vgpu_call_cuMemcpyDtoH_v2, av, &wb, &bl), 0);
			CHECK_EQ(vgpu_chan_send(c.ch, VGPU_OP_cuMemcpyDtoH_v2, 0, 1, wb.data, (uint32_t)wb.len), 0);
			vgpu_chan_flush(c.ch);
			CHECK(adv_recv(&c, &h, 10000) > 0);
			vgpu_wbuf_free(&wb);
		}
		vgpu_chan_close(c.ch);
		/* The zone's first channel still works and its memory is consistent. */
		CHECK(adv_alive(&a));
		CHECK(adv_alive(&b));
	}
	CHECK_EQ(adv_dtoh(&b, back, pb, sizeof(back)), CUDA_SUCCESS);
	CHECK(memcmp(back, small, sizeof(small)) == 0);
	/* A full-size copy on the surviving channel: nothing is left reserved from the dropped ones. */
	static uint8_t full[BIG];
	memset(full, 0x17, sizeof(full));
	CHECK_EQ(adv_htod(&a, pa, full, sizeof(full)), CUDA_SUCCESS);
	memset(full, 0, sizeof(full));
	CHECK_EQ(adv_dtoh(&a, full, pa, sizeof(full)), CUDA_SUCCESS);
	CHECK_EQ(full[0], 0x17);
	CHECK_EQ(full[BIG - 1], 0x17);
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
