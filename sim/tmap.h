/* SPDX-License-Identifier: MIT */
/* tmap.h — the simulator's encoding of a tensor map (CUtensorMap), shared by the driver side that
 * makes it (tmap.c) and the PTX executor that reads it (cp.async.bulk.tensor, ptx_exec.c). */
#ifndef VGPU_SIM_TMAP_H
#define VGPU_SIM_TMAP_H

#include <stdint.h>

/* The 128 bytes hold the arguments in a fixed order (the real encoding is the GPU's own and is
 * not reproduced); a kernel may be handed any 128 bytes, so the magic says whether it is one. */
#define SIM_TMAP_MAGIC 0x504d4154u   /* "TAMP" */
struct sim_tmap {
	uint64_t address;
	uint64_t dims[5], strides[4];
	uint16_t box[5];
	uint8_t estrides[5];
	uint8_t type, rank, layout;    /* layout: 0 tiled, 1 im2col, 2 im2col wide */
	uint16_t flags;                /* interleave | swizzle << 4 | l2 << 8 | oob << 12 */
	uint32_t magic;
};

#endif
