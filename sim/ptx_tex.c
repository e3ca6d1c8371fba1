/* SPDX-License-Identifier: MIT */
/* Texture and surface instructions of the PTX interpreter: tex/tld4 sampling (addressing,
 * point and linear filtering, read modes) as the CUDA Programming Guide's "Texture Fetching"
 * appendix defines it, txq/suq queries, and suld.b/sust.b with their out-of-range modes. The
 * resource is the driver's view of a handle (ptx_env.tex); texels are reached only through
 * the executor's checked global access and only inside the view's [addr, addr + bytes). */
#include "ptx_tex.h"
#include "ptx_ops.h"

#include <cuda.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Bounds a view must respect (far beyond what CUDA creates) so that index arithmetic never
 * overflows and a float coordinate always converts to an in-range integer. */
#define TEX_MAX_EXTENT (1ull << 32)    /* texels per dimension, layers */
#define TEX_MAX_STRIDE (1ull << 48)    /* pitch, slice */
#define TEX_MAX_COORD  0x1p40f         /* |texel coordinate| kept below this before floor */

struct tctx {
	const struct ptx_insn *in;
	struct ptx_tex v;         /* the driver's view, copied once and validated */
	uint64_t handle;
	ptx_tex_mem_fn mem;
	void *mctx;
	char *what;
	size_t whatlen;
	uint64_t *addr;
};

static inline float f32(uint64_t v) { uint32_t b = (uint32_t)v; float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static const char *const geom_name[] = {"1d", "2d", "3d", "a1d", "a2d", "cube", "acube"};
static const char *const tq_name[] = {"width", "height", "depth", "channel_data_type",
	"channel_order", "normalized_coords", "filter_mode", "addr_mode_0", "addr_mode_1",
	"addr_mode_2", "array_size", "num_mipmap_levels", "num_samples", "memory_layout"};
static const char *const su_name[] = {"trap", "clamp", "zero"};

/* The instruction as the PTX names it (without types), for messages. */
static void insn_name(const struct ptx_insn *in, char *buf, size_t n)
{
	const char *g = in->mod < 7 ? geom_name[in->mod] : "?";
	switch (in->op >> 4) {
	case OP_TEX:
		if (in->mod2 & TEX_TLD4)
			snprintf(buf, n, "tld4.%c.%s", "rgba"[TEX_COMP(in->mod2)], g);
		else
			snprintf(buf, n, "tex%s.%s", in->mod2 & TEX_LEVEL ? ".level" : in->mod2 & TEX_GRAD ? ".grad" : "", g);
		break;
	case OP_TXQ:
		snprintf(buf, n, "%s%s.%s", in->mod2 & 1 ? "suq" : "txq", in->mod2 & TXQ_LEVEL ? ".level" : "",
		         in->mod <= TQ_MEMORY_LAYOUT ? tq_name[in->mod] : "?");
		break;
	default:
		snprintf(buf, n, "%s.b.%s.%s", (in->op >> 4) == OP_SULD ? "suld" : "sust", g,
		         su_name[SU_MODE(in->mod2) < 3 ? SU_MODE(in->mod2) : 0]);
		break;
	}
}

static int tfault(struct tctx *c, int rc, uint64_t addr, const char *fmt, ...)
{
	char name[48];
	insn_name(c->in, name, sizeof(name));
	int k = snprintf(c->what, c->whatlen, "%s: ", name);
	if (k >= 0 && (size_t)k < c->whatlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->what + k, c->whatlen - (size_t)k, fmt, ap);
		va_end(ap);
	}
	*c->addr = addr;
	return rc;
}

/* ---- formats ------------------------------------------------------------------------ */

static unsigned fmt_size(uint32_t f)
{
	switch (f) {
	case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 1;
	case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 2;
	case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 4;
	default: return 0;
	}
}

/* Whether a fetch returns integers: 32-bit integer formats always, 8/16-bit ones only with
 * CU_TRSF_READ_AS_INTEGER (otherwise normalised to [0, 1] or [-1, 1]); half and float never. */
static int int_read(const struct ptx_tex *v)
{
	switch (v->format) {
	case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: return 1;
	case CU_AD_FORMAT_HALF: case CU_AD_FORMAT_FLOAT: return 0;
	default: return (v->flags & CU_TRSF_READ_AS_INTEGER) != 0;
	}
}

/* IEEE half to float (exact). */
static float half_to_float(uint16_t h)
{
	uint32_t e = (h >> 10) & 31, m = h & 1023;
	float r = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) :
	          ldexpf((float)(1024 + m), (int)e - 25);
	return (h & 0x8000) ? -r : r;
}

/* One texel's four components as 32-bit results (float bits, or integers when int_read):
 * components the format lacks read 0, a missing fourth one 1. */
static void decode(const struct ptx_tex *v, const uint8_t *p, int iread, uint32_t out[4])
{
	unsigned fs = fmt_size(v->format);
	for (unsigned i = 0; i < 4; i++) {
		if (i >= v->channels) {
			out[i] = i < 3 ? 0 : iread ? 1 : bits(1.0f);
			continue;
		}
		const uint8_t *q = p + i * fs;
		uint16_t u16;
		int16_t s16;
		switch (v->format) {
		case CU_AD_FORMAT_UNSIGNED_INT8:
			out[i] = iread ? q[0] : bits((float)q[0] / 255.0f);
			break;
		case CU_AD_FORMAT_SIGNED_INT8:
			out[i] = iread ? (uint32_t)(int32_t)(int8_t)q[0] :
			         bits(fmaxf((float)(int8_t)q[0] / 127.0f, -1.0f));
			break;
		case CU_AD_FORMAT_UNSIGNED_INT16:
			memcpy(&u16, q, 2);
			out[i] = iread ? u16 : bits((float)u16 / 65535.0f);
			break;
		case CU_AD_FORMAT_SIGNED_INT16:
			memcpy(&s16, q, 2);
			out[i] = iread ? (uint32_t)(int32_t)s16 : bits(fmaxf((float)s16 / 32767.0f, -1.0f));
			break;
		case CU_AD_FORMAT_HALF:
			memcpy(&u16, q, 2);
			out[i] = bits(half_to_float(u16));
			break;
		default:   /* 32-bit integers and floats: the bits as stored */
			memcpy(&out[i], q, 4);
			break;
		}
	}
}

/* The border colour as a fetch result: the float, or for an integer read its value
 * truncated toward zero (saturated, NaN as 0) — CUDA gives the colour only as floats. */
static void border(const struct ptx_tex *v, int iread, uint32_t out[4])
{
	for (int i = 0; i < 4; i++) {
		float f = v->border[i];
		if (!iread)
			out[i] = bits(f);
		else
			out[i] = (uint32_t)(isnan(f) ? 0 : f <= -0x1p31f ? INT32_MIN :
			                    f >= 0x1p31f ? INT32_MAX : (int32_t)f);
	}
}

/* ---- views and texels --------------------------------------------------------------- */

/* Looks the handle up and checks the view's geometry, so that nothing after can divide by
 * zero or overflow: the driver fills the view, but a wrong one must fault, not crash. */
static int view_get(struct tctx *c, const struct ptx_env *env, int surface)
{
	if (!env->tex || env->tex(env->tex_ctx, c->handle, surface, &c->v) < 0)
		return tfault(c, -EFAULT, c->handle, "illegal address: no live %s object has the handle",
		              surface ? "surface" : "texture");
	const struct ptx_tex *v = &c->v;
	unsigned fs = fmt_size(v->format);
	if (!fs || (v->channels != 1 && v->channels != 2 && v->channels != 4) ||
	    v->texel != fs * v->channels || !v->width || !v->height || !v->depth ||
	    v->width > TEX_MAX_EXTENT || v->height > TEX_MAX_EXTENT || v->depth > TEX_MAX_EXTENT ||
	    v->layers > TEX_MAX_EXTENT || v->pitch > TEX_MAX_STRIDE || v->slice > TEX_MAX_STRIDE ||
	    (v->cube && (v->layers < 6 || v->layers % 6 || v->width != v->height)))
		return tfault(c, -EFAULT, c->handle, "malformed %s view (format 0x%x, %u channels of "
		              "%u bytes per texel, %llux%llux%llu, %llu layers); handle",
		              surface ? "surface" : "texture", v->format, v->channels, v->texel,
		              (unsigned long long)v->width, (unsigned long long)v->height,
		              (unsigned long long)v->depth, (unsigned long long)v->layers);
	return 0;
}

/* Host pointer to n bytes at byte xb of row y of slice z of layer l (each already inside the
 * resource's extent), or NULL with the fault filled: beyond the view's bytes (a view too small
 * for its dimensions) or not live device memory (freed under the kernel). */
static uint8_t *texel_ptr(struct tctx *c, uint64_t xb, uint64_t y, uint64_t z, uint64_t l,
                          uint32_t n, int w, int *rc)
{
	const struct ptx_tex *v = &c->v;
	unsigned __int128 off = (unsigned __int128)xb + (unsigned __int128)y * v->pitch +
	                        ((unsigned __int128)z + l) * v->slice;
	if (off + n > v->bytes) {
		*rc = tfault(c, -EFAULT, v->addr, "illegal address: byte %llu of row %llu, slice %llu, "
		             "layer %llu is beyond the %llu bytes of the resource at",
		             (unsigned long long)xb, (unsigned long long)y, (unsigned long long)z,
		             (unsigned long long)l, (unsigned long long)v->bytes);
		return NULL;
	}
	uint64_t a = v->addr + (uint64_t)off;
	uint8_t *p = c->mem(c->mctx, a, n, w);
	if (!p)
		*rc = tfault(c, -EFAULT, a, "illegal address: %s", w ? "surface store to" : "texel read from");
	return p;
}

/* Applies the address mode to texel index *i of a dimension of n texels; returns 1 when the
 * texel is outside and reads the border colour. Wrap and mirror exist only for normalised
 * coordinates; otherwise they clamp, as the Programming Guide says. */
static int address(int64_t *i, int64_t n, uint32_t mode, int norm)
{
	if (*i >= 0 && *i < n)
		return 0;
	if (norm && mode == CU_TR_ADDRESS_MODE_WRAP) {
		*i = ((*i % n) + n) % n;
		return 0;
	}
	if (norm && mode == CU_TR_ADDRESS_MODE_MIRROR) {
		int64_t m = ((*i % (2 * n)) + 2 * n) % (2 * n);
		*i = m < n ? m : 2 * n - 1 - m;
		return 0;
	}
	if (mode == CU_TR_ADDRESS_MODE_BORDER)
		return 1;
	*i = *i < 0 ? 0 : n - 1;
	return 0;
}

/* The four components of texel idx (nd coordinates, the rest 0) of layer l, addressed. */
static int fetch(struct tctx *c, const int64_t idx[3], int nd, uint64_t l, int norm, int iread,
                 uint32_t out[4])
{
	const struct ptx_tex *v = &c->v;
	const int64_t n[3] = {(int64_t)v->width, (int64_t)v->height, (int64_t)v->depth};
	int64_t x[3] = {0, 0, 0};
	for (int d = 0; d < nd; d++) {
		x[d] = idx[d];
		if (address(&x[d], n[d], v->addr_mode[d], norm)) {
			border(v, iread, out);
			return 0;
		}
	}
	int rc = 0;
	const uint8_t *p = texel_ptr(c, (uint64_t)x[0] * v->texel, (uint64_t)x[1], (uint64_t)x[2],
	                             l, v->texel, 0, &rc);
	if (!p)
		return rc;
	decode(v, p, iread, out);
	return 0;
}

/* ---- tex, tld4 ---------------------------------------------------------------------- */

static int geom_dims(int g) { return g == TG_3D ? 3 : g == TG_2D || g == TG_A2D || g >= TG_CUBE ? 2 : 1; }

/*
 * A cubemap's face and its texel coordinates for direction (x, y, z), as the CUDA
 * Programming Guide's table has them: the axis of the largest magnitude m picks the face
 * (+x 0, -x 1, +y 2, -y 3, +z 4, -z 5), the face coordinates (s, t) are two other components,
 * signed per face, and the texel coordinates are ((s / m + 1) / 2, (t / m + 1) / 2) of the
 * face's width and height.
 */
static int cube_face(float x, float y, float z, float w, float h, float *u, float *v)
{
	float ax = fabsf(x), ay = fabsf(y), az = fabsf(z), s, t, m;
	int face;
	if (ax >= ay && ax >= az) {
		face = x >= 0 ? 0 : 1;
		s = x >= 0 ? -z : z;
		t = -y;
		m = ax;
	} else if (ay >= az) {
		face = y >= 0 ? 2 : 3;
		s = x;
		t = y >= 0 ? z : -z;
		m = ay;
	} else {
		face = z >= 0 ? 4 : 5;
		s = z >= 0 ? x : -x;
		t = -y;
		m = az;
	}
	if (!(m > 0)) {   /* the zero direction (or NaN): the first face's centre */
		s = t = 0;
		m = 1;
	}
	*u = (s / m + 1.0f) * 0.5f * w;
	*v = (t / m + 1.0f) * 0.5f * h;
	return face;
}

/* A float texel coordinate made safe to floor and convert: NaN reads texel 0, and values
 * beyond any extent are bounded (they address the same texels as the bound). */
static float coord_bound(float u)
{
	if (isnan(u))
		return 0.0f;
	return u < -TEX_MAX_COORD ? -TEX_MAX_COORD : u > TEX_MAX_COORD ? TEX_MAX_COORD : u;
}

/* One fetch of c->v (a texture, or one level of a mipmapped one) at coordinates cs. */
static inline __attribute__((always_inline)) int sample(struct tctx *c, const uint64_t *cs, uint32_t out[4])
{
	const struct ptx_insn *in = c->in;
	const struct ptx_tex *v = &c->v;
	int nd = geom_dims(in->mod);
	uint64_t l = 0;
	float fc[3] = {0, 0, 0};   /* the coordinates as floats (a cubemap's: its face's texels) */
	int cube = in->mod >= TG_CUBE;
	if (cube) {
		if (!v->cube)
			return tfault(c, -EFAULT, c->handle, "a cubemap fetch from a texture that is not a cubemap; "
			              "texture object");
		uint64_t maps = v->layers / 6;
		if (in->mod == TG_ACUBE) {   /* the cubemap's index in the array, clamped as a layer's */
			l = (uint32_t)*cs++;
			if (l >= maps)
				l = maps - 1;
		}
		l = l * 6 + (uint64_t)cube_face(f32(cs[0]), f32(cs[1]), f32(cs[2]), (float)v->width,
		                                (float)v->height, &fc[0], &fc[1]);
		/* within a face coordinates clamp to its edge (no filtering across faces) */
		c->v.addr_mode[0] = c->v.addr_mode[1] = CU_TR_ADDRESS_MODE_CLAMP;
	} else if (in->mod >= TG_A1D) {
		/* the layer index is an unsigned integer, clamped to the layers there are */
		l = (uint32_t)*cs++;
		if (l >= (v->layers ? v->layers : 1))
			l = v->layers ? v->layers - 1 : 0;
	}
	if (!cube)
		for (int d = 0; d < nd; d++)
			fc[d] = f32(cs[d]);
	const float n[3] = {(float)v->width, (float)v->height, (float)v->depth};
	int iread = int_read(v);
	int icoord = in->kind2 == K_S32;
	int norm = !icoord && !cube && (v->flags & CU_TRSF_NORMALIZED_COORDINATES);
	int tld4 = in->mod2 & TEX_TLD4;
	/* integer coordinates are texel indices, never filtered; integer reads are not filtered */
	int linear = !icoord && !iread && !tld4 && v->filter == CU_TR_FILTER_MODE_LINEAR;
	int64_t i0[3] = {0, 0, 0};
	float a[3] = {0, 0, 0};
	for (int d = 0; d < nd; d++) {
		if (icoord) {
			i0[d] = (int32_t)cs[d];
			continue;
		}
		float u = fc[d];
		if (norm)
			u *= n[d];
		if (linear || tld4)
			u -= 0.5f;     /* xB = x - 0.5: the footprint's first texel and its weight */
		u = coord_bound(u);
		float fl = floorf(u);
		i0[d] = (int64_t)fl;
		/* the weight in 9-bit fixed point with 8 fractional bits, as the hardware has it */
		a[d] = roundf((u - fl) * 256.0f) / 256.0f;
	}
	int rc;
	if (tld4) {
		/* the bilinear footprint's four texels, counter-clockwise from the lower left:
		 * (i, j+1), (i+1, j+1), (i+1, j), (i, j) */
		static const int dx[4] = {0, 1, 1, 0}, dy[4] = {1, 1, 0, 0};
		for (int k = 0; k < 4; k++) {
			int64_t idx[3] = {i0[0] + dx[k], i0[1] + dy[k], 0};
			uint32_t t[4];
			if ((rc = fetch(c, idx, nd, l, norm, iread, t)))
				return rc;
			out[k] = t[TEX_COMP(in->mod2)];
		}
	} else if (!linear) {
		if ((rc = fetch(c, i0, nd, l, norm, iread, out)))
			return rc;
	} else {
		/* sum over the 2^nd corners (x varying fastest) of the weight product times the
		 * texel, in the order of the Programming Guide's formulas */
		float acc[4] = {0, 0, 0, 0};
		for (int k = 0; k < (1 << nd); k++) {
			int64_t idx[3] = {0, 0, 0};
			float w = 1.0f;
			for (int d = 0; d < nd; d++) {
				int hi = (k >> d) & 1;
				idx[d] = i0[d] + hi;
				w *= hi ? a[d] : 1.0f - a[d];
			}
			uint32_t t[4];
			if ((rc = fetch(c, idx, nd, l, norm, 0, t)))
				return rc;
			for (int ch = 0; ch < 4; ch++)
				acc[ch] += w * f32(t[ch]);
		}
		for (int ch = 0; ch < 4; ch++)
			out[ch] = bits(acc[ch]);
	}
	return 0;
}

/*
 * Mipmap levels (tex.level, tex.grad). The level of detail is tex.level's operand, or for
 * tex.grad log2 of the longer of the two gradients measured in level-0 texels (normalised
 * coordinates scaled by the extents; unnormalised and integer ones taken as texels; a
 * cubemap's direction derivatives scaled by half the face width over the major axis, which
 * leaves out the change of the major axis itself). It is then biased, clamped to
 * [min, max] of the texture's clamps and to the levels there are, and kept to 8 fractional
 * bits. A point mipmap filter reads the nearest level (halves round up), a linear one blends
 * the two levels around it by the fraction, each read with the texture's own filter;
 * integer reads always take the nearest level. Each level is addressed in its own texels.
 */
static int sample_lod(struct tctx *c, const uint64_t *cs, uint32_t out[4])
{
	static const int ncoord[] = {1, 2, 3, 2, 3, 3, 4};   /* coordinates per geometry, the layer too */
	static const int gdim[] = {1, 2, 3, 1, 2, 3, 3};     /* gradient components */
	const struct ptx_insn *in = c->in;
	const struct ptx_tex base = c->v;
	unsigned levels = base.levels > 1 ? base.levels : 1;
	if (levels > 1 && (levels > 32 || base.linear || base.pitch != base.width * base.texel ||
	                   base.slice != base.pitch * base.height))
		return tfault(c, -EFAULT, c->handle, "malformed mipmapped texture view (%u levels, pitch %llu, "
		              "slice %llu); handle", levels, (unsigned long long)base.pitch,
		              (unsigned long long)base.slice);
	const uint64_t *x = cs + ncoord[in->mod];
	float lod;
	if (in->mod2 & TEX_LEVEL) {
		lod = f32(x[0]);
	} else {
		int g = gdim[in->mod], cube = in->mod >= TG_CUBE;
		int norm = in->kind2 != K_S32 && (base.flags & CU_TRSF_NORMALIZED_COORDINATES);
		const float n[3] = {(float)base.width, (float)base.height, (float)base.depth};
		float sc[3] = {1.0f, 1.0f, 1.0f};
		if (cube) {
			const uint64_t *dir = cs + (in->mod == TG_ACUBE);
			float m = fmaxf(fabsf(f32(dir[0])), fmaxf(fabsf(f32(dir[1])), fabsf(f32(dir[2]))));
			sc[0] = sc[1] = sc[2] = m > 0 ? 0.5f * n[0] / m : 0.0f;
		} else if (norm) {
			for (int d = 0; d < g; d++)
				sc[d] = n[d];
		}
		float lx = 0, ly = 0;
		for (int d = 0; d < g; d++) {
			float a = f32(x[d]) * sc[d], b = f32(x[g + d]) * sc[d];
			lx += a * a;
			ly += b * b;
		}
		/* log2 of the longer length: half the log2 of its square */
		lod = 0.5f * log2f(fmaxf(lx, ly));
	}
	if (isnan(lod))
		lod = 0.0f;
	lod += base.lod_bias;
	lod = fminf(fmaxf(lod, base.lod_min), base.lod_max);
	lod = fminf(fmaxf(lod, 0.0f), (float)(levels - 1));
	lod = roundf(lod * 256.0f) / 256.0f;
	int rc;
	if (base.mip_filter != CU_TR_FILTER_MODE_LINEAR || int_read(&base) || in->kind2 == K_S32) {
		unsigned l = (unsigned)floorf(lod + 0.5f);
		if (l && ptx_tex_level(&base, l, &c->v))
			return tfault(c, -EFAULT, c->handle, "malformed mipmapped texture view; handle");
		return sample(c, cs, out);
	}
	unsigned l0 = (unsigned)floorf(lod);
	float f = lod - (float)l0;
	if (l0 && ptx_tex_level(&base, l0, &c->v))
		return tfault(c, -EFAULT, c->handle, "malformed mipmapped texture view; handle");
	if ((rc = sample(c, cs, out)) || !(f > 0))
		return rc;
	uint32_t hi[4];
	if (ptx_tex_level(&base, l0 + 1, &c->v))
		return tfault(c, -EFAULT, c->handle, "malformed mipmapped texture view; handle");
	if ((rc = sample(c, cs, hi)))
		return rc;
	for (int ch = 0; ch < 4; ch++)
		out[ch] = bits((1.0f - f) * f32(out[ch]) + f * f32(hi[ch]));
	return 0;
}

static int do_tex(struct tctx *c, uint64_t *r)
{
	const struct ptx_insn *in = c->in;
	const uint64_t *cs = r + in->imm;
	uint32_t out[4];
	int rc = __builtin_expect(in->mod2 & TEX_LOD, 0) ? sample_lod(c, cs, out) : sample(c, cs, out);
	if (rc)
		return rc;
	/* the destination type does not convert: the registers get the fetch's 32-bit results
	 * (floats for a normalised or float read, integers otherwise), as the hardware returns
	 * them; the PTX ISA leaves a mismatched type undefined */
	for (int k = 0; k < 4; k++)
		r[in->o[k]] = out[k];
	return 0;
}

int ptx_tex_level(const struct ptx_tex *v, unsigned l, struct ptx_tex *out)
{
	if (l >= (v->levels > 1 ? v->levels : 1) || l >= 64)
		return -ERANGE;
	*out = *v;
	if (!l)
		return 0;
	unsigned __int128 off = 0;
	for (unsigned i = 0; i <= l; i++) {
		uint64_t w = v->width >> i, h = v->dims >= 2 ? v->height >> i : v->height;
		uint64_t d = v->dims == 3 ? v->depth >> i : v->depth;
		out->width = w ? w : 1;
		out->height = h ? h : 1;
		out->depth = d ? d : 1;
		out->pitch = out->width * v->texel;
		out->slice = out->pitch * out->height;
		unsigned __int128 bytes = (unsigned __int128)out->slice * (v->layers ? v->layers : out->depth);
		if (out->slice > TEX_MAX_STRIDE || bytes > TEX_MAX_STRIDE)
			return -ERANGE;
		out->bytes = (uint64_t)bytes;
		if (i < l)
			off += bytes;
	}
	if (off > TEX_MAX_STRIDE)
		return -ERANGE;
	out->addr = v->addr + (uint64_t)off;
	return 0;
}

/* ---- suld, sust --------------------------------------------------------------------- */

static int do_surf(struct tctx *c, uint64_t *r, int store)
{
	const struct ptx_insn *in = c->in;
	const struct ptx_tex *v = &c->v;
	const uint64_t *cs = r + in->imm;
	int nd = geom_dims(in->mod);
	int64_t l = in->mod >= TG_A1D ? (int32_t)*cs++ : 0;
	int64_t x = (int32_t)cs[0], y = nd > 1 ? (int32_t)cs[1] : 0, z = nd > 2 ? (int32_t)cs[2] : 0;
	uint32_t es = in->size, nv = SU_VEC(in->mod2), acc = es * nv;
	int64_t rowb = (int64_t)(v->width * v->texel);   /* x is in bytes */
	int64_t nl = v->layers ? (int64_t)v->layers : 1;
	int inside = x >= 0 && x + acc <= rowb && y >= 0 && y < (int64_t)v->height && z >= 0 &&
	             z < (int64_t)v->depth && l >= 0 && l < nl;
	if (!inside) {
		int mode = SU_MODE(in->mod2);
		if (mode == SU_ZERO) {
			if (!store)
				for (uint32_t i = 0; i < nv; i++)
					r[in->o[i]] = 0;
			return 0;
		}
		if (mode == SU_TRAP || acc > rowb)
			return tfault(c, -EFAULT, c->handle, "illegal address: coordinates (x %lld bytes, y %lld, "
			              "z %lld, layer %lld) of a %u-byte access outside the surface of "
			              "%llux%llux%llu texels of %u bytes, %lld layers; surface",
			              (long long)x, (long long)y, (long long)z, (long long)l, acc,
			              (unsigned long long)v->width, (unsigned long long)v->height,
			              (unsigned long long)v->depth, v->texel, (long long)(v->layers));
		/* clamp: to the nearest texel (x at texel granularity) */
		if (x < 0)
			x = 0;
		if (x + acc > rowb)
			x = (rowb - acc) / v->texel * v->texel;
		y = y < 0 ? 0 : y >= (int64_t)v->height ? (int64_t)v->height - 1 : y;
		z = z < 0 ? 0 : z >= (int64_t)v->depth ? (int64_t)v->depth - 1 : z;
		l = l < 0 ? 0 : l >= nl ? nl - 1 : l;
	}
	int rc = 0;
	uint8_t *p = texel_ptr(c, (uint64_t)x, (uint64_t)y, (uint64_t)z, (uint64_t)l, acc, store, &rc);
	if (!p)
		return rc;
	for (uint32_t i = 0; i < nv; i++) {
		if (store) {
			memcpy(p + i * es, &r[in->o[i]], es);
		} else {
			uint64_t e = 0;
			memcpy(&e, p + i * es, es);
			r[in->o[i]] = e;
		}
	}
	return 0;
}

/* ---- txq, suq ----------------------------------------------------------------------- */

/* PTX's address-mode enumeration: wrap, mirror, clamp_ogl, clamp_to_edge, clamp_to_border. */
static uint32_t ptx_addr_mode(uint32_t m)
{
	switch (m) {
	case CU_TR_ADDRESS_MODE_WRAP: return 0;
	case CU_TR_ADDRESS_MODE_MIRROR: return 1;
	case CU_TR_ADDRESS_MODE_BORDER: return 4;
	default: return 3;
	}
}

static uint32_t query(const struct ptx_tex *v, int q)
{
	switch (q) {
	case TQ_WIDTH: return (uint32_t)v->width;
	case TQ_HEIGHT: return (uint32_t)v->height;
	case TQ_DEPTH: return (uint32_t)v->depth;
	/* CUDA has one format enumeration and a channel count, no channel order */
	case TQ_CHANNEL_DATA_TYPE: return v->format;
	case TQ_CHANNEL_ORDER: return v->channels;
	case TQ_NORMALIZED_COORDS: return (v->flags & CU_TRSF_NORMALIZED_COORDINATES) != 0;
	case TQ_FILTER_MODE: return v->filter;
	case TQ_ADDR_MODE_0: case TQ_ADDR_MODE_1: case TQ_ADDR_MODE_2:
		return ptx_addr_mode(v->addr_mode[q - TQ_ADDR_MODE_0]);
	case TQ_ARRAY_SIZE: return (uint32_t)v->layers;
	case TQ_NUM_MIPMAP_LEVELS: return v->levels > 1 ? v->levels : 1;
	case TQ_NUM_SAMPLES: return 1;
	case TQ_MEMORY_LAYOUT: return v->linear ? 1 : 0;   /* 1: pitch-linear, 0: block-linear */
	default: return 0;
	}
}

int ptx_tex_exec(const struct ptx_insn *in, uint64_t *r, const struct ptx_env *env,
                 ptx_tex_mem_fn mem, void *mctx, char *what, size_t whatlen, uint64_t *addr)
{
	struct tctx c = {.in = in, .handle = r[in->o[4]], .mem = mem, .mctx = mctx, .what = what,
	                 .whatlen = whatlen, .addr = addr};
	int op = in->op >> 4;
	int surface = op == OP_SULD || op == OP_SUST || (op == OP_TXQ && (in->mod2 & 1));
	int rc = view_get(&c, env, surface);
	if (rc)
		return rc;
	switch (op) {
	case OP_TEX:
		return do_tex(&c, r);
	case OP_SULD:
		return do_surf(&c, r, 0);
	case OP_SUST:
		return do_surf(&c, r, 1);
	default:
		if (in->mod2 & TXQ_LEVEL) {
			/* one level's extent; 0 for a level the texture does not have */
			struct ptx_tex lv;
			int32_t l = (int32_t)r[in->o[1]];
			r[in->o[0]] = l >= 0 && !ptx_tex_level(&c.v, (unsigned)l, &lv) ? query(&lv, in->mod) : 0;
			return 0;
		}
		r[in->o[0]] = query(&c.v, in->mod);
		return 0;
	}
}
