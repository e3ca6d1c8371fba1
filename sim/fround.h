/* SPDX-License-Identifier: MIT */
/* Directed-rounding floating-point helpers of the PTX interpreter (see fround.c). */
#ifndef VGPU_SIM_FROUND_H
#define VGPU_SIM_FROUND_H

#include <stdint.h>

#include "ptx.h"

/* op (OP_ADD, OP_SUB, OP_MUL_LO, OP_FMA, OP_DIV, OP_SQRT, OP_RCP) on K_F32/K_F64 bit patterns
 * a, b, c rounded with rnd (RND_RZ/RM/RP); sat clamps to [0, 1]. Returns the bit pattern. */
uint64_t sim_fround_op(int op, int kind, int rnd, uint64_t a, uint64_t b, uint64_t c, int sat);
/* Integer (sv or uv) → K_F32/K_F64, or f64 bits → f32 when src_f64, rounded with rnd. */
uint64_t sim_fround_cvt(int dkind, int rnd, int64_t sv, uint64_t uv, int src_signed, int src_f64,
                        uint64_t fbits);

#endif
