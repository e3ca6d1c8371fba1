/* SPDX-License-Identifier: MIT */
/* adv_opcodes.c — unknown, removed and control opcodes from a zone against a real proxy. */
#include "adv.h"

/*
 * Contract (docs/ARCHITECTURE.md): an opcode without a call gets the reply
 * [CUDA_ERROR_NOT_SUPPORTED] and the channel stays open; an opcode >= 0xff00 other than BYE
 * closes the channel; BYE closes it without a reply.
 */
int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, h, c;
	CUcontext ca = NULL;
	const uint8_t empty[] = { 0x90 };

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "bystander", NULL), 0);
	CHECK_EQ(adv_open(&p, &h, "hostile", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);

	/* Removed/never assigned opcodes: the holes of the pinned opcode space, and past its end. */
	unsigned holes = 0;
	for (unsigned op = 1; op < VGPU_OP_COUNT && holes < 8; op++) {
		if (vgpu_call_table[op])
			continue;
		holes++;
		CHECK_EQ(adv_raw(&h, (uint16_t)op, 0, empty, sizeof(empty)), CUDA_ERROR_NOT_SUPPORTED);
	}
	CHECK(holes > 0);
	CHECK_EQ(adv_raw(&h, (uint16_t)VGPU_OP_COUNT, 0, empty, sizeof(empty)), CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EQ(adv_raw(&h, 0xfeff, 0, empty, sizeof(empty)), CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EQ(adv_raw(&h, 0, 0, NULL, 0), CUDA_ERROR_NOT_SUPPORTED);
	CHECK(adv_alive(&h));

	/* A control opcode the client may not send (WELCOME, and an undefined one): channel closed. */
	CHECK_EQ(adv_open(&p, &c, "hostile", h.w.token), 0);
	CHECK_EQ(adv_raw(&c, 0xff00, 0, NULL, 0), -EPIPE);
	vgpu_chan_close(c.ch);
	CHECK_EQ(adv_open(&p, &c, "hostile", h.w.token), 0);
	CHECK_EQ(adv_raw(&c, 0xffff, 0, empty, sizeof(empty)), -EPIPE);
	vgpu_chan_close(c.ch);
	/* BYE: closed, no reply. */
	CHECK_EQ(adv_open(&p, &c, "hostile", h.w.token), 0);
	CHECK_EQ(adv_raw(&c, 0xff01, 0, NULL, 0), -EPIPE);
	vgpu_chan_close(c.ch);

	CHECK(adv_alive(&h));
	CHECK(adv_alive(&a));
	vgpu_chan_close(h.ch);
	vgpu_chan_close(a.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
