/* SPDX-License-Identifier: MIT */
/* Opcode and modifier numbering shared by the PTX parser and the interpreter. */
#ifndef VGPU_SIM_PTX_OPS_H
#define VGPU_SIM_PTX_OPS_H

enum ptx_op {
	OP_NOP, OP_MOV, OP_ADD, OP_SUB, OP_MUL_LO, OP_MUL_HI, OP_MUL_WIDE, OP_MAD_LO, OP_MAD_HI,
	OP_MAD_WIDE, OP_DIV, OP_REM, OP_MIN, OP_MAX, OP_NEG, OP_ABS, OP_AND, OP_OR, OP_XOR,
	OP_NOT, OP_CNOT, OP_SHL, OP_SHR, OP_SHF_L, OP_SHF_R, OP_POPC, OP_CLZ, OP_BREV, OP_BFE,
	OP_BFI, OP_SETP, OP_SELP, OP_CVT, OP_CVTA_TO, OP_CVTA_FROM, OP_LD, OP_ST, OP_ATOM,
	OP_BRA, OP_CALL, OP_RET, OP_EXIT, OP_BAR, OP_FMA, OP_RCP, OP_SQRT, OP_RSQRT, OP_EX2,
	OP_LG2, OP_SIN, OP_COS, OP_TANH, OP_PACK, OP_UNPACK, OP_TRAP, OP_COPYSIGN, OP_PRMT,
	OP_TESTP,
	OP_SHFL, OP_VOTE, OP_WARPSYNC, OP_ACTIVEMASK,
	OP_CADD, OP_CSUB, OP_CMADLO, OP_CMADHI, OP_BFIND, OP_FRND, OP_MATCH, OP_REDUX,
	OP_ISSPACEP, OP_BMSK, OP_DP4A, OP_DP2A, OP_SAD, OP_VABSDIFF4, OP_LOP3,
	OP_TEX, OP_TXQ, OP_SULD, OP_SUST, OP_WMMA, OP_CPASYNC, OP_TF32, OP_HSET, OP_FP8, OP_MBAR, OP_ELECT,
	OP_VSHIFT, OP_CVTPACK, OP_CLUSTER, OP_FNS, OP_STACK, OP_CLOCK, OP_MUL24, OP_IMINMAX,
	OP_COUNT
};

/* Comparison operators of setp/set (mod). */
enum { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_LO, CMP_LS, CMP_HI, CMP_HS,
       CMP_EQU, CMP_NEU, CMP_LTU, CMP_LEU, CMP_GTU, CMP_GEU, CMP_NUM, CMP_NAN };
/* setp combiners (mod2 low bits); bit 4: second destination present; bit 5: c negated. */
enum { COMB_NONE, COMB_AND, COMB_OR, COMB_XOR };
#define SETP_HAS_Q  0x10
#define SETP_NEG_C  0x20
/* Packed comparisons of .f16x2/.bf16x2 (OP_HSET; kind the source type, mod the comparison):
 * mod2 HSET_PRED: setp, o[0] the lower half's predicate, o[4] the upper's; otherwise set,
 * each half of o[0] all ones (HSET_INT), or 1.0 as a half (HSET_F16) or bfloat16 (HSET_BF16). */
enum { HSET_INT, HSET_F16, HSET_BF16, HSET_PRED };
/* Rounding (mod) for cvt and float ops. */
enum { RND_NONE, RND_RN, RND_RZ, RND_RM, RND_RP, RND_RNI, RND_RZI, RND_RMI, RND_RPI };
/* Flags in mod2 for arithmetic. */
#define FL_SAT 0x01
#define FL_CC  0x02
#define FL_RELU 0x04   /* half and bfloat16 fma, cvt to them: a negative result becomes +0 */
#define FL_NAN  0x08   /* half and bfloat16 min/max .NaN: a NaN operand gives the canonical NaN */
#define FL_SATFINITE 0x08 /* cvt to half or bfloat16 .satfinite: beyond the largest finite, that */
/* The thread's stack (OP_STACK, mod): alloca.u64 d, size{, align} (imm the alignment) makes
 * room on it for the rest of the function, at a local address; stacksave.u64 d and
 * stackrestore.u64 a read and set where it ends (a value stacksave gave within the frame). */
enum { STK_ALLOCA, STK_SAVE, STK_RESTORE };
/* Clock registers (OP_CLOCK, mod), read when the instruction naming them runs: %clock64 and
 * %clock (its low 32 bits) count the device's cycles at PTX_CLOCK_KHZ, %globaltimer
 * nanoseconds (_lo and _hi its halves). */
enum { CLK_CYCLES, CLK_CYCLES32, CLK_NS, CLK_NS_LO, CLK_NS_HI };
/* mul24/mad24 (OP_MUL24, mod): the 48-bit product of the operands' low 24 bits (sign-extended
 * for .s32), its bits 47-16 with .hi (else 31-0); mad24 adds c (o[3]) */
#define M24_HI  0x01
#define M24_MAD 0x02
/* Integer min/max forms of their own (OP_IMINMAX, mod): of two 16-bit halves (.s16x2,
 * .u16x2), and .relu (a negative result is 0) of .s32 or .s16x2; with IMM_ADD the halves'
 * wrapping add. sm_90's DPX functions (__vimax3_s16x2, __viaddmax_s32_relu, ...) use them. */
#define IMM_ADD    0x10
#define IMM_MAX    0x01
#define IMM_SIGNED 0x02
#define IMM_RELU   0x04
#define IMM_X2     0x08
/* prmt's modes (OP_PRMT's mod; 0 the default, a selector per byte): c's low two bits pick one
 * of four byte orders of b:a */
enum { PRMT_DEFAULT, PRMT_F4E, PRMT_B4E, PRMT_RC8, PRMT_ECL, PRMT_ECR, PRMT_RC16 };
/* testp (OP_TESTP, mod): what is asked of the float */
enum { TP_FINITE, TP_INFINITE, TP_NUMBER, TP_NOTANUMBER, TP_NORMAL, TP_SUBNORMAL };
/* Atomic operations (mod). */
enum { AT_ADD, AT_MIN, AT_MAX, AT_INC, AT_DEC, AT_AND, AT_OR, AT_XOR, AT_EXCH, AT_CAS };
/* ld/st: mod2 = vector count (1, 2, 4) | LDST_VOLATILE | LDST_ALIGN32 (the first half of a
 * 256-bit .v8 access, made as two .v4 ones: the address must be 32-byte aligned). */
#define LDST_VOLATILE 0x80
#define LDST_ALIGN32 0x40
#define LDST_VEC(m) ((m) & 7)
#define AT_RED 0x80
/* OP_ATOM's mod2: the alignment its address needs when above the element's (the first
 * element of a vector atomic, made as one atomic per element, checks the vector's) */

/* Carry-chain arithmetic (OP_CADD ...): mod2 flags; o[4] is the frame's CC.CF slot. */
#define CC_OUT 0x01          /* .cc: write the carry (borrow for subtraction) */
#define CC_IN  0x02          /* addc/subc/madc: consume it */

/* Warp collectives: shfl modes and vote modes (mod); mod2 flags. */
enum { SHFL_UP, SHFL_DOWN, SHFL_BFLY, SHFL_IDX };
enum { VOTE_ALL, VOTE_ANY, VOTE_UNI, VOTE_BALLOT };
enum { MATCH_ANY, MATCH_ALL };
/* vshl/vshr (OP_VSHIFT) mod bits: right, .clamp (else .wrap), a signed, .sat to a signed d;
 * mod2 the secondary operation with c (VOP_*) */
#define VSH_RIGHT 0x01
#define VSH_CLAMP 0x02
#define VSH_ASGN  0x04
#define VSH_SAT   0x08
#define VSH_DSGN  0x10
enum { VOP_NONE, VOP_ADD, VOP_MIN, VOP_MAX };
/* OP_TRAP: the trap instruction, or a multimem access (no address is a multicast object's) */
enum { TRAP_PLAIN, TRAP_MULTIMEM };
enum { REDUX_ADD, REDUX_MIN, REDUX_MAX, REDUX_AND, REDUX_OR, REDUX_XOR };
#define WARP_HAS_P    0x01   /* shfl: second (predicate) destination in o[4] */
#define WARP_FULLMASK 0x02   /* no membermask operand: all lanes */
#define WARP_NEG_A    0x04   /* vote: source predicate negated */
/* bar.red (OP_BAR's mod; 0 a plain barrier): the reduction over the threads released together
 * of a predicate in o[2] (mod2 BAR_NEG_C: negated), into o[0] of each. o[1]: the barrier's
 * number (0-15); with BAR_COUNT, o[3] the number of threads it waits for (else all the
 * block's); BAR_ARRIVE: bar.arrive, which counts the thread and goes on. */
enum { BAR_PLAIN, BAR_POPC, BAR_AND, BAR_OR };
#define BAR_NEG_C  0x01
#define BAR_COUNT  0x02
#define BAR_ARRIVE 0x04
#define BAR_IDS    16
/* dp4a/dp2a (mod): a's and b's bytes or halves signed; dp2a: b's upper two bytes */
#define DP_A_SIGNED 0x01
#define DP_B_SIGNED 0x02
#define DP_HI       0x04

/* Texture and surface instructions (sim/ptx_tex.c). tex/tld4 (OP_TEX), suld (OP_SULD) and
 * sust (OP_SUST): o[0..3] destinations (sust: values), o[4] the handle, imm the first of
 * contiguous slots holding the coordinates in PTX order (the layer first for a1d/a2d): the
 * coordinates of one instruction can outnumber the operand slots. mod: geometry. */
enum { TG_1D, TG_2D, TG_3D, TG_A1D, TG_A2D, TG_CUBE, TG_ACUBE /* tex only: a direction (x, y, z), after the cubemap layer for acube */ };
/* OP_TEX: kind the destination type, kind2 the coordinate type; mod2 TEX_TLD4 | the
 * component tld4 gathers (0-3: r, g, b, a), or TEX_LEVEL / TEX_GRAD: the level of detail
 * (tex.level: one slot) or the gradients (tex.grad: dPdx then dPdy, as many components each as
 * the geometry has texel dimensions, 3 for cubemaps) follow the coordinates in imm's slots */
#define TEX_TLD4     0x10
#define TEX_COMP(m)  ((m) & 3)
#define TEX_LEVEL    0x20
#define TEX_GRAD     0x40
#define TEX_LOD      (TEX_LEVEL | TEX_GRAD)
/* OP_SULD/OP_SUST: kind the .bN element, size its bytes; mod2 = out-of-range mode | vector
 * count << 2 */
enum { SU_TRAP, SU_CLAMP, SU_ZERO };
#define SU_MODE(m)   ((m) & 3)
#define SU_VEC(m)    ((m) >> 2)
/* OP_TXQ (txq and suq): mod the attribute, mod2 1 for suq (| TXQ_LEVEL: txq.level, o[1] the
 * level's slot); o[0] the result, o[4] the handle */
#define TXQ_LEVEL    0x02
enum { TQ_WIDTH, TQ_HEIGHT, TQ_DEPTH, TQ_CHANNEL_DATA_TYPE, TQ_CHANNEL_ORDER,
       TQ_NORMALIZED_COORDS, TQ_FILTER_MODE, TQ_ADDR_MODE_0, TQ_ADDR_MODE_1, TQ_ADDR_MODE_2,
       TQ_ARRAY_SIZE, TQ_NUM_MIPMAP_LEVELS, TQ_NUM_SAMPLES, TQ_MEMORY_LAYOUT };

/* Warp matrix functions (OP_WMMA). mod: the operation; size: the shape. Loads and stores:
 * kind the element type (.f16, .f32, .s8, .u8, .s32 or WM_K_*), kind2 the state space, o[0]
 * the first of the fragment's contiguous register slots, o[4] the address slot, imm its offset, o[1] the
 * stride slot (0: none given). mma: kind the D type, kind2 the C type, o[0] D, o[1] A,
 * o[2] B, o[3] C (each the first of contiguous slots). */
enum { WM_LOAD_A, WM_LOAD_B, WM_LOAD_C, WM_STORE_D, WM_MMA,
       WM_MMA_SYNC,   /* mma.sync: size an MS_* shape; kind the D type, kind2 the C type; mod2
		       * WM_BF16 or WM_TF32 for those inputs (else .f16); o[] as wmma.mma's */
       WM_LDMATRIX,   /* ldmatrix: size the matrices (1, 2, 4); mod2 WM_TRANS; o[0] the first of
		       * size destination slots, o[4] the address slot, imm its offset */
       WM_STMATRIX,   /* stmatrix: the same, o[0] the first of size source slots */
       WM_MOVMATRIX }; /* movmatrix (.trans): o[0] the destination slot, o[1] the source's */
enum { MS_M16N8K16, MS_M16N8K8, MS_M16N8K32, MS_M8N8K4 /* .f64 */ };
#define MS_U8_B  0x80   /* mma.sync with 8-bit inputs: B unsigned (WM_U8: A unsigned) */
#define MS_FP8   0x01   /* mma.sync (always .row.col, so WM_ROW's bit is free): fp8 inputs,
			 * A .e5m2 with WM_U8 (else .e4m3), B .e5m2 with MS_U8_B */
#define WM_TRANS 0x80   /* ldmatrix .trans */
enum { WM_M16N16K16, WM_M32N8K16, WM_M8N32K16, WM_M16N16K8 /* tf32 */, WM_M8N8K4 /* .f64 */ };
#define WM_ROW   0x01   /* load/store: row-major memory; mma: A row-major */
#define WM_B_ROW 0x02   /* mma: B row-major */
#define WM_SATF  0x04   /* mma: .satfinite (integer: the sums clamped to the s32 range) */
#define WM_INT_A 0x08   /* mma: integer inputs (.s8 or .u8: WM_U8), s32 accumulators */
#define WM_U8    0x10
#define WM_BF16  0x20   /* mma: bfloat16 inputs (f32 accumulators) */
#define WM_K_BF16 K_BF16 /* a wmma fragment's bfloat16 elements */
#define WM_TF32  0x40   /* mma: tf32 inputs (f32 accumulators) */
#define WM_K_TF32 16    /* a wmma fragment's tf32 elements (the float's top 19 bits; a kind only wmma uses) */

/* Registers of a wmma fragment, as the ISA fixes them: A or B (frag WM_LOAD_A, WM_LOAD_B) or
 * an accumulator (WM_LOAD_C) of element kind (ptx.h's K_*, WM_K_BF16, WM_K_TF32) in shape. */
static inline int wm_nregs(int frag, int shape, int kind)
{
	static const unsigned char int8[3][2] = {{2, 2}, {4, 1}, {1, 4}};   /* m16n16k16, m32n8k16, m8n32k16: a, b */
	static const unsigned char bf16[3][2] = {{4, 4}, {8, 2}, {2, 8}};
	if (shape == WM_M8N8K4)   /* doubles: 32 elements of A or B, 64 of C, a register each */
		return frag == WM_LOAD_C ? 2 : 1;
	if (frag == WM_LOAD_C)
		return kind == K_F16 ? 4 : 8;
	if (kind == WM_K_TF32)
		return 4;   /* m16n16k8: 128 elements of A or B, one per register */
	return kind == K_F16 ? 8 : kind == WM_K_BF16 ? bf16[shape][frag] : int8[shape][frag];
}

/* Operands of two more opcodes:
 * cp.async (OP_CPASYNC): size bytes from global [o[1] + r[o[3]]] to shared [o[0] + imm]; o[2]
 * a src-size slot (0: none), o[4] an ignore-src predicate slot (0: none).
 * cvt.rna{.satfinite}.tf32.f32 (OP_TF32): o[0] = o[1] rounded to tf32, ties away from zero;
 * mod2 FL_SAT: infinities become the largest finite tf32.
 * cvt with fp8 pairs (OP_FP8; sm_89+): mod FP8_FROM_F32 (o[0] = {o[1], o[2]} as fp8, o[1] in the
 * upper byte), FP8_FROM_F16X2 (o[0] = the two halves of o[1] as fp8, in their order) or
 * FP8_TO_F16X2 (o[0] = the two fp8 of o[1] as halves); mod2 FP8_E5M2 (else e4m3), FL_RELU.
 * To fp8 is .rn.satfinite: to nearest even, past the largest finite (infinities too) that,
 * NaN the canonical NaN. */
enum { FP8_FROM_F32, FP8_FROM_F16X2, FP8_TO_F16X2 };
/* Thread-block clusters (OP_CLUSTER, mod): CLOP_ARRIVE / CLOP_WAIT, barrier.cluster's halves;
 * CLOP_MAPA, o[0] = the address of o[1]'s shared variable in the cluster's block of rank o[2];
 * CLOP_RANK, o[0] = the rank of the block whose shared memory address o[1] is in. mod2 1: the
 * addresses are .shared::cluster ones (32 bits), else generic. A .shared::cluster address is
 * the block's own shared address below 1 << 24, else block rank r's offset + ((r + 1) << 24);
 * a generic one is that plus the shared window. */
enum { CLOP_ARRIVE, CLOP_WAIT, CLOP_MAPA, CLOP_RANK };
/* cvt.pack.sat.{u16,s16,u8,s8}.s32.b32 d, a, b{, c} (OP_CVTPACK; int8 GEMM epilogues'): a and
 * b saturated to mod bits (8 or 16), signed when mod2 is 1; d = b's in the low bits, a's
 * above them, then the low bits of c (o[3]; 8-bit forms only) above both. */
/* mbarrier (OP_MBAR; a barrier object of 8 bytes at [o[4] + imm] in state space kind2):
 * mod MB_INIT (count o[1]), MB_ARRIVE / MB_ARRIVE_DROP (o[0] the state token, o[1] the count),
 * MB_TEST / MB_TRY (o[0] the predicate: the phase of token o[1], or with MB_PARITY the phase of
 * parity o[1], has completed), MB_PENDING (o[0] = the arrivals token o[1] still waited for),
 * MB_INVAL, MB_CP_ARRIVE (cp.async.mbarrier.arrive: an arrival, cancelled by the increment
 * that comes with it unless MB_NOINC). */
enum { MB_INIT, MB_ARRIVE, MB_ARRIVE_DROP, MB_TEST, MB_TRY, MB_PENDING, MB_INVAL, MB_CP_ARRIVE,
       MB_EXPECT_TX, MB_COMPLETE_TX,   /* [o[4] + imm] gets o[1] bytes expected, or completed */
       MB_BULK_LOAD,    /* cp.async.bulk global -> shared: shared [o[0] + imm] = global [o[1] + r[o[3]]],
			 * o[2] bytes, then as many completed on the mbarrier at [o[4]] */
       MB_BULK_STORE,   /* shared -> global: global [o[0] + imm] = shared [o[1] + r[o[3]]], o[2] bytes */
       MB_TMA_LOAD,     /* cp.async.bulk.tensor, tiled, size dimensions: the box at coordinates
			 * o[2].. of the tensor map at generic [o[1]] into shared [o[0] + imm],
			 * its bytes completed on the mbarrier at [o[4]] */
       MB_TMA_STORE };  /* the box from shared [o[0] + imm] into the tensor at coordinates o[2].. */
#define MB_PARITY 0x01
#define MB_NOINC  0x02
#define MB_TX     0x04   /* arrive.expect_tx: o[2] bytes expected before the arrival */
#define FP8_E5M2 0x10

#endif
