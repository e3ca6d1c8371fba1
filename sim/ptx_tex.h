/* SPDX-License-Identifier: MIT */
/* Texture and surface instructions of the PTX interpreter (internal to ptx_exec.c). */
#ifndef VGPU_SIM_PTX_TEX_H
#define VGPU_SIM_PTX_TEX_H

#include "ptx.h"

/* The executor's checked global access: host pointer for n bytes at device address a, or
 * NULL when they are not one live allocation's (the executor's range cache and hook). */
typedef uint8_t *(*ptx_tex_mem_fn)(void *ctx, uint64_t a, uint32_t n, int write);

/* Runs one OP_TEX, OP_TXQ, OP_SULD or OP_SUST instruction (in->op still combined with its
 * kind) over the thread's register file r. The handle goes through env->tex; every texel is
 * reached through mem, and only inside [addr, addr + bytes) of the view. Returns 0, or a
 * negative errno with what (a description naming the instruction, which the fault
 * message follows with the value *addr) and *addr (both out) filled. */
int ptx_tex_exec(const struct ptx_insn *in, uint64_t *r, const struct ptx_env *env,
                 ptx_tex_mem_fn mem, void *mctx, char *what, size_t whatlen, uint64_t *addr);

#endif
