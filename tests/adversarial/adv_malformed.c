/* SPDX-License-Identifier: MIT */
/* adv_malformed.c — truncated messages, trailing bytes, nesting bombs, wrong msgpack types and lengths near 2^32/2^64 against a real proxy. */
#include "adv.h"

/*
 * Contract (docs/ARCHITECTURE.md, docs/PROTOCOL.md): a malformed request (-EBADMSG/-E2BIG in
 * the decoder) closes the channel it came on, and nothing else: the zone's other channels,
 * the other zone and the proxy keep working. A well-formed request with an impossible size
 * gets an error reply and the channel stays open.
 */

/* Send msg as opcode on a fresh channel of the hostile zone; expect the proxy to close it. */
static void expect_closed(const struct ptest_proxy *p, const uint8_t *token, const char *what, uint16_t op,
			  const void *msg, uint32_t len)
{
	struct adv_zone c;
	if (adv_open(p, &c, "hostile", token) < 0) {
		fprintf(stderr, "%s: cannot open a channel\n", what);
		check_failures++;
		return;
	}
	long r = adv_raw(&c, op, 0, msg, len);
	if (r != -EPIPE) {
		fprintf(stderr, "%s: expected the channel to be closed (-EPIPE), got %ld\n", what, r);
		check_failures++;
	}
	vgpu_chan_close(c.ch);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, h;
	CUcontext ca = NULL, ch = NULL;
	CUdeviceptr pa = 0;
	uint8_t data[256], back[256];
	static uint8_t msg[70000];

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "victim", NULL), 0);
	CHECK_EQ(adv_open(&p, &h, "hostile", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&h, &ch), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &pa, sizeof(data)), CUDA_SUCCESS);
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	CHECK_EQ(adv_htod(&a, pa, data, sizeof(data)), CUDA_SUCCESS);

	/* A valid cuMemAlloc_v2 request to cut and extend: [nil-or-ptr marker, size]. */
	struct vgpu_wbuf wb = { 0 };
	struct vgpu_bulk_list bl;
	CUdeviceptr dummy, *pd = &dummy;
	size_t sz = 4096;
	void *av[] = { &pd, &sz };
	CHECK_EQ(vgpu_encode_request(&vgpu_call_cuMemAlloc_v2, av, &wb, &bl), 0);
	uint32_t n = (uint32_t)wb.len;

	expect_closed(&p, h.w.token, "truncated by one byte", VGPU_OP_cuMemAlloc_v2, wb.data, n - 1);
	expect_closed(&p, h.w.token, "empty payload", VGPU_OP_cuMemAlloc_v2, wb.data, 0);
	memcpy(msg, wb.data, n);
	msg[n] = 0xc0;
	expect_closed(&p, h.w.token, "one trailing byte", VGPU_OP_cuMemAlloc_v2, msg, n + 1);

	/* Nesting bomb: 16000 nested one-element arrays where the array of arguments belongs
	 * (as deep as a message on the test's 16 KiB ring allows). */
	memset(msg, 0x91, 16000);
	msg[16000] = 0xc0;
	expect_closed(&p, h.w.token, "nesting bomb", VGPU_OP_cuMemAlloc_v2, msg, 16001);
	msg[0] = 0x92;   /* [[[[...]]]], [[...]]: the same as the right argument count */
	expect_closed(&p, h.w.token, "nesting bomb as both arguments", VGPU_OP_cuMemAlloc_v2, msg, 16001);
	/* A map of 2^32-1 pairs as the whole request. */
	const uint8_t bigmap[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	expect_closed(&p, h.w.token, "map of 2^32-1 pairs", VGPU_OP_cuMemAlloc_v2, bigmap, sizeof(bigmap));

	/* Wrong types: a string where the size goes, a float, a negative integer. */
	const uint8_t str_size[] = { 0x92, 0xc3, 0xa3, 'b', 'i', 'g' };
	expect_closed(&p, h.w.token, "string as size", VGPU_OP_cuMemAlloc_v2, str_size, sizeof(str_size));
	const uint8_t flt_size[] = { 0x92, 0xc3, 0xca, 0x40, 0x49, 0x0f, 0xdb };
	expect_closed(&p, h.w.token, "float as size", VGPU_OP_cuMemAlloc_v2, flt_size, sizeof(flt_size));
	const uint8_t neg_size[] = { 0x92, 0xc3, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	expect_closed(&p, h.w.token, "INT64_MIN as size", VGPU_OP_cuMemAlloc_v2, neg_size, sizeof(neg_size));
	const uint8_t three_args[] = { 0x93, 0xc3, 0x10, 0x10 };
	expect_closed(&p, h.w.token, "three arguments for two", VGPU_OP_cuMemAlloc_v2, three_args, sizeof(three_args));

	/* cuMemcpyHtoD_v2 [dst, bin, ByteCount] with a bin32 header announcing 2^32-1 bytes. */
	{
		uint8_t m[32];
		uint32_t k = 0;
		m[k++] = 0x93;
		m[k++] = 0xcf;
		for (int s = 56; s >= 0; s -= 8)
			m[k++] = (uint8_t)(pa >> s);
		m[k++] = 0xc6; m[k++] = 0xff; m[k++] = 0xff; m[k++] = 0xff; m[k++] = 0xff;
		m[k++] = 0x01;
		expect_closed(&p, h.w.token, "bin32 of 2^32-1 bytes in a short message", VGPU_OP_cuMemcpyHtoD_v2, m, k);
	}
	/* A string of 2^32-1 bytes for cuModuleGetFunction's name. */
	{
		const uint8_t m[] = { 0x93, 0xc3, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x' };
		expect_closed(&p, h.w.token, "str32 of 2^32-1 bytes", VGPU_OP_cuModuleGetFunction, m, sizeof(m));
	}

	/* Well-formed but impossible: 2^64-1 and 2^32+1 bytes of device memory. The channel stays. */
	{
		CUdeviceptr q = 0;
		CHECK_EQ(adv_alloc(&h, &q, (size_t)UINT64_MAX), CUDA_ERROR_OUT_OF_MEMORY);
		CHECK(adv_alive(&h));
	}

	/* Everything else still works: the hostile zone's first channel, the victim and its data. */
	CHECK(adv_alive(&h));
	CHECK(adv_alive(&a));
	memset(back, 0, sizeof(back));
	CHECK_EQ(adv_dtoh(&a, back, pa, sizeof(back)), CUDA_SUCCESS);
	CHECK(memcmp(back, data, sizeof(data)) == 0);
	vgpu_wbuf_free(&wb);
	vgpu_chan_close(h.ch);
	vgpu_chan_close(a.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
