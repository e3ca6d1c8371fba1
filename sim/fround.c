/* SPDX-License-Identifier: MIT */
/* Floating-point instructions with directed rounding (.rz .rm .rp): the host's rounding mode
 * is switched around the single operation. Built with -frounding-math so the compiler keeps
 * each operation between the mode changes. */
#include "fround.h"
#include "ptx_ops.h"

#include <fenv.h>
#include <math.h>
#include <string.h>

static int host_mode(int rnd)
{
	switch (rnd) {
	case RND_RZ: return FE_TOWARDZERO;
	case RND_RM: return FE_DOWNWARD;
	case RND_RP: return FE_UPWARD;
	default: return FE_TONEAREST;
	}
}

static float f32(uint64_t v) { uint32_t b = (uint32_t)v; float f; memcpy(&f, &b, 4); return f; }
static double f64(uint64_t v) { double d; memcpy(&d, &v, 8); return d; }
static uint64_t pf32(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static uint64_t pf64(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

uint64_t sim_fround_op(int op, int kind, int rnd, uint64_t a, uint64_t b, uint64_t c, int sat)
{
	int old = fegetround();
	fesetround(host_mode(rnd));
	uint64_t r;
	if (kind == K_F32) {
		volatile float x = f32(a), y = f32(b), z = f32(c), v;
		switch (op) {
		case OP_ADD: v = x + y; break;
		case OP_SUB: v = x - y; break;
		case OP_MUL_LO: v = x * y; break;
		case OP_FMA: v = fmaf(x, y, z); break;
		case OP_DIV: v = x / y; break;
		case OP_SQRT: v = sqrtf(x); break;
		default: v = 1.0f / x; break;     /* OP_RCP */
		}
		float w = v;
		if (sat)
			w = isnan(w) ? 0.0f : w < 0.0f ? 0.0f : w > 1.0f ? 1.0f : w;
		r = pf32(w);
	} else {
		volatile double x = f64(a), y = f64(b), z = f64(c), v;
		switch (op) {
		case OP_ADD: v = x + y; break;
		case OP_SUB: v = x - y; break;
		case OP_MUL_LO: v = x * y; break;
		case OP_FMA: v = fma(x, y, z); break;
		case OP_DIV: v = x / y; break;
		case OP_SQRT: v = sqrt(x); break;
		default: v = 1.0 / x; break;
		}
		double w = v;
		if (sat)
			w = isnan(w) ? 0.0 : w < 0.0 ? 0.0 : w > 1.0 ? 1.0 : w;
		r = pf64(w);
	}
	fesetround(old);
	return r;
}

uint64_t sim_fround_cvt(int dkind, int rnd, int64_t sv, uint64_t uv, int src_signed, int src_f64,
                        uint64_t fbits)
{
	int old = fegetround();
	fesetround(host_mode(rnd));
	uint64_t r;
	if (src_f64) {
		volatile double d = f64(fbits);
		volatile float f = (float)d;
		r = pf32(f);
	} else if (dkind == K_F32) {
		volatile float f = src_signed ? (float)sv : (float)uv;
		r = pf32(f);
	} else {
		volatile double d = src_signed ? (double)sv : (double)uv;
		r = pf64(d);
	}
	fesetround(old);
	return r;
}
