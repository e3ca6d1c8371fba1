/* SPDX-License-Identifier: MIT */
/* The interpreter's texture and surface instructions against a CPU reference written from
 * the CUDA Programming Guide's "Texture Fetching" appendix: every format and channel count,
 * read modes, point and linear filtering with 8-bit fractional weights, address modes with
 * normalised and unnormalised coordinates, 1D/2D/3D/layered, tld4, txq/suq, suld/sust with
 * their out-of-range modes, and faults for forged handles and views too small for their
 * dimensions. Links the parser and executor directly, with its own ptx_env. */
#include "../../sim/ptx.h"
#include "simtest.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>

/* ---- a device over a host buffer ------------------------------------------------------ */

#define DBASE 0x100000000ull
static uint8_t heap[1 << 22];
static struct { uint64_t lo, len; } allocs[64];
static int nallocs;
static uint64_t heap_top;

static uint64_t dalloc(uint64_t n)
{
	uint64_t a = DBASE + heap_top;
	heap_top += (n + 255) / 256 * 256 + 256;     /* a gap: nothing between allocations is live */
	if (heap_top > sizeof(heap) || nallocs == 64) {
		fprintf(stderr, "test heap exhausted\n");
		exit(1);
	}
	allocs[nallocs].lo = a;
	allocs[nallocs++].len = n;
	memset(heap + (a - DBASE), 0, n);
	return a;
}
static uint8_t *hptr(uint64_t a) { return heap + (a - DBASE); }

/* Allocations made after a mark are dropped at its release (the sweeps make many). */
struct mark { int n; uint64_t top; };
static struct mark heap_mark(void) { return (struct mark){nallocs, heap_top}; }
static void heap_release(struct mark m) { nallocs = m.n; heap_top = m.top; }

static int resolve(void *ctx, uint64_t addr, uint64_t len, struct ptx_range *out)
{
	(void)ctx;
	for (int i = 0; i < nallocs; i++)
		if (addr >= allocs[i].lo && addr - allocs[i].lo < allocs[i].len &&
		    len <= allocs[i].len - (addr - allocs[i].lo)) {
			out->lo = allocs[i].lo;
			out->len = allocs[i].len;
			out->delta = (int64_t)((uintptr_t)heap - DBASE);
			return 0;
		}
	return -EFAULT;
}

/* handles: HBASE + index; views[i] is a texture or (surf[i]) a surface */
#define HBASE 0x7e57000000ull
static struct ptx_tex views[64];
static int surf[64], nviews;

static int tex_cb(void *ctx, uint64_t h, int surface, struct ptx_tex *out)
{
	(void)ctx;
	if (h < HBASE || h >= HBASE + (uint64_t)nviews || surf[h - HBASE] != surface)
		return -EFAULT;
	*out = views[h - HBASE];
	return 0;
}

static uint64_t add_view(const struct ptx_tex *v, int surface)
{
	views[nviews] = *v;
	surf[nviews] = surface;
	return HBASE + (uint64_t)nviews++;
}

static struct ptx_env env = {.resolve = resolve, .tex = tex_cb, .shared_win = 1ull << 60,
                             .local_win = 2ull << 60, .max_insns = 1000000};
static char err[512];

static struct ptx_module *loaded[256];
static int nloaded;

static struct ptx_module *load(const char *text)
{
	struct ptx_module *m;
	char e[512];
	int rc = ptx_module_parse(text, &m, e, sizeof(e));
	if (rc) {
		fprintf(stderr, "parse failed (%d): %s\n%s\n", rc, e, text);
		exit(1);
	}
	ptx_module_bind(m);
	if (nloaded == 256) {
		fprintf(stderr, "too many modules\n");
		exit(1);
	}
	return loaded[nloaded++] = m;
}

/* Runs entry name of m as one block of nthreads threads over params; returns its rc. */
static int run(const struct ptx_module *m, const char *name, const void *params, uint32_t nthreads,
               uint32_t nblocks)
{
	const struct ptx_func *f = ptx_module_entry(m, name);
	EXPECT(f);
	struct ptx_launch l = {.mod = m, .fn = f, .grid = {nblocks, 1, 1}, .block = {nthreads, 1, 1},
	                       .params = params};
	err[0] = 0;
	for (uint32_t b = 0; b < nblocks; b++) {
		int rc = ptx_block_run(&l, &env, b, 0, 0, NULL, err, sizeof(err));
		if (rc)
			return rc;
	}
	return 0;
}

static int fails;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); if (++fails > 20) exit(1); } } while (0)

static inline float f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

/* ---- the reference ------------------------------------------------------------------- */

static unsigned fsize(unsigned f)
{
	return f == CU_AD_FORMAT_UNSIGNED_INT8 || f == CU_AD_FORMAT_SIGNED_INT8 ? 1 :
	       f == CU_AD_FORMAT_UNSIGNED_INT16 || f == CU_AD_FORMAT_SIGNED_INT16 || f == CU_AD_FORMAT_HALF ? 2 : 4;
}

static int ref_intread(const struct ptx_tex *v)
{
	if (v->format == CU_AD_FORMAT_UNSIGNED_INT32 || v->format == CU_AD_FORMAT_SIGNED_INT32)
		return 1;
	if (v->format == CU_AD_FORMAT_HALF || v->format == CU_AD_FORMAT_FLOAT)
		return 0;
	return v->flags & CU_TRSF_READ_AS_INTEGER;
}

static float half(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	float r = e ? ldexpf(1.0f + m / 1024.0f, e - 15) : ldexpf((float)m, -24);
	return h & 0x8000 ? -r : r;
}

/* component c of the texel at p as the fetch returns it */
static uint32_t ref_comp(const struct ptx_tex *v, const uint8_t *p, unsigned c, int ir)
{
	if (c >= v->channels)
		return c < 3 ? 0 : ir ? 1 : bits(1.0f);
	p += c * fsize(v->format);
	switch (v->format) {
	case CU_AD_FORMAT_UNSIGNED_INT8: return ir ? p[0] : bits(p[0] / 255.0f);
	case CU_AD_FORMAT_SIGNED_INT8: {
		int s = (int8_t)p[0];
		return ir ? (uint32_t)s : bits(s / 127.0f < -1.0f ? -1.0f : s / 127.0f);
	}
	case CU_AD_FORMAT_UNSIGNED_INT16: { uint16_t u; memcpy(&u, p, 2); return ir ? u : bits(u / 65535.0f); }
	case CU_AD_FORMAT_SIGNED_INT16: {
		int16_t s; memcpy(&s, p, 2);
		return ir ? (uint32_t)(int32_t)s : bits(s / 32767.0f < -1.0f ? -1.0f : s / 32767.0f);
	}
	case CU_AD_FORMAT_HALF: { uint16_t u; memcpy(&u, p, 2); return bits(half(u)); }
	default: { uint32_t u; memcpy(&u, p, 4); return u; }
	}
}

/* the Programming Guide's addressing of texel index i in [0, n): -1 for the border */
static int64_t ref_index(int64_t i, int64_t n, unsigned mode, int norm)
{
	if (norm && mode == CU_TR_ADDRESS_MODE_WRAP)
		return ((i % n) + n) % n;
	if (norm && mode == CU_TR_ADDRESS_MODE_MIRROR) {
		int64_t p = ((i % (2 * n)) + 2 * n) % (2 * n);
		return p < n ? p : 2 * n - 1 - p;
	}
	if (i >= 0 && i < n)
		return i;
	if (mode == CU_TR_ADDRESS_MODE_BORDER)
		return -1;
	return i < 0 ? 0 : n - 1;
}

static void ref_texel(const struct ptx_tex *v, const int64_t *idx, int nd, uint64_t layer, int norm,
                      int ir, uint32_t out[4])
{
	int64_t n[3] = {(int64_t)v->width, (int64_t)v->height, (int64_t)v->depth}, x[3] = {0, 0, 0};
	for (int d = 0; d < nd; d++)
		if ((x[d] = ref_index(idx[d], n[d], v->addr_mode[d], norm)) < 0) {
			for (int c = 0; c < 4; c++)
				out[c] = ir ? (uint32_t)(int32_t)v->border[c] : bits(v->border[c]);
			return;
		}
	const uint8_t *p = hptr(v->addr) + x[0] * v->texel + x[1] * v->pitch + (x[2] + layer) * v->slice;
	for (unsigned c = 0; c < 4; c++)
		out[c] = ref_comp(v, p, c, ir);
}

/* tex (comp < 0) or tld4 of component comp */
static void ref_tex(const struct ptx_tex *v, int geom, int icoord, const uint32_t craw[3],
                    uint32_t layer, int comp, uint32_t out[4])
{
	int nd = geom == 2 ? 3 : geom == 1 || geom == 4 ? 2 : 1;
	int ir = ref_intread(v), norm = !icoord && (v->flags & CU_TRSF_NORMALIZED_COORDINATES);
	int lin = !icoord && !ir && comp < 0 && v->filter == CU_TR_FILTER_MODE_LINEAR;
	float dim[3] = {(float)v->width, (float)v->height, (float)v->depth}, a[3];
	int64_t i[3];
	if (geom < 3)
		layer = 0;
	else if (layer >= (v->layers ? v->layers : 1))
		layer = v->layers ? (uint32_t)v->layers - 1 : 0;
	for (int d = 0; d < nd; d++) {
		if (icoord) {
			i[d] = (int32_t)craw[d];
			continue;
		}
		float x = f32(craw[d]) * (norm ? dim[d] : 1.0f);
		if (lin || comp >= 0)
			x -= 0.5f;
		i[d] = (int64_t)floorf(x);
		a[d] = roundf((x - floorf(x)) * 256.0f) / 256.0f;
	}
	if (comp >= 0) {
		int64_t q[4][3] = {{i[0], i[1] + 1}, {i[0] + 1, i[1] + 1}, {i[0] + 1, i[1]}, {i[0], i[1]}};
		for (int k = 0; k < 4; k++) {
			uint32_t t[4];
			ref_texel(v, q[k], nd, layer, norm, ir, t);
			out[k] = t[comp];
		}
	} else if (!lin) {
		ref_texel(v, i, nd, layer, norm, ir, out);
	} else {
		float s[4] = {0, 0, 0, 0};
		for (int k = 0; k < 1 << nd; k++) {
			int64_t q[3];
			float w = 1;
			for (int d = 0; d < nd; d++) {
				q[d] = i[d] + ((k >> d) & 1);
				w *= (k >> d) & 1 ? a[d] : 1 - a[d];
			}
			uint32_t t[4];
			ref_texel(v, q, nd, layer, norm, 0, t);
			for (int c = 0; c < 4; c++)
				s[c] += w * f32(t[c]);
		}
		for (int c = 0; c < 4; c++)
			out[c] = bits(s[c]);
	}
}

/* ---- kernels ------------------------------------------------------------------------- */

static const char *gname[] = {"1d", "2d", "3d", "a1d", "a2d"};

/* A kernel "k" doing insn (e.g. "tex.2d.v4.f32.f32") from params (handle, out, c0..c3 as raw
 * 32-bit words; the layer in c0 for a1d/a2d) and storing the four results to out. */
static struct ptx_module *tex_kernel(const char *insn, int geom, int icoord, int fdest, const char *extra)
{
	static char text[4096];
	const char *c = icoord ? "%r" : "%f";
	char coords[96];
	switch (geom) {
	case 0: snprintf(coords, sizeof(coords), "{%s2}", c); break;
	case 1: snprintf(coords, sizeof(coords), "{%s2, %s3}", c, c); break;
	case 2: snprintf(coords, sizeof(coords), "{%s2, %s3, %s4, %s4}", c, c, c, c); break;
	case 3: snprintf(coords, sizeof(coords), "{%%r1, %s2}", c); break;
	default: snprintf(coords, sizeof(coords), "{%%r1, %s2, %s3, %s3}", c, c, c); break;
	}
	const char *d = fdest ? "%f" : "%r";
	snprintf(text, sizeof(text),
	         ".version 7.5\n.target sm_75\n.address_size 64\n"
	         ".visible .entry k(.param .u64 h, .param .u64 out, .param .b32 c0, .param .b32 c1,"
	         " .param .b32 c2, .param .b32 c3)\n{\n"
	         ".reg .b32 %%r<12>;\n.reg .f32 %%f<12>;\n.reg .b64 %%rd<4>;\n"
	         " ld.param.u64 %%rd1, [h];\n ld.param.u64 %%rd2, [out];\n"
	         " ld.param.b32 %%r1, [c0];\n ld.param.b32 %%r2, [c1];\n ld.param.b32 %%r3, [c2];\n"
	         " ld.param.b32 %%r4, [c3];\n mov.b32 %%f2, %%r2;\n mov.b32 %%f3, %%r3;\n mov.b32 %%f4, %%r4;\n"
	         " mov.b32 %%f9, 0f00000000;\n"
	         " %s {%s5, %s6, %s7, %s8}, [%%rd1, %s]%s;\n"
	         " st.global.b32 [%%rd2], %s5;\n st.global.b32 [%%rd2+4], %s6;\n"
	         " st.global.b32 [%%rd2+8], %s7;\n st.global.b32 [%%rd2+12], %s8;\n ret;\n}\n",
	         insn, d, d, d, d, coords, extra, d, d, d, d);
	return load(text);
}

struct tparams { uint64_t h, out; uint32_t c[4]; };

static uint64_t outbuf;

/* Runs a tex kernel at coordinates c (layer first for layered), returns rc; results in out. */
static int tex_run(struct ptx_module *m, uint64_t h, const uint32_t c[4], uint32_t out[4])
{
	struct tparams p = {h, outbuf, {c[0], c[1], c[2], c[3]}};
	memset(hptr(outbuf), 0xcd, 16);
	int rc = run(m, "k", &p, 1, 1);
	memcpy(out, hptr(outbuf), 16);
	return rc;
}

/* ---- texture data -------------------------------------------------------------------- */

static uint32_t rng = 12345;
static uint32_t rnd(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

static struct ptx_tex make_tex(unsigned fmt, unsigned ch, uint64_t w, uint64_t h, uint64_t d,
                               uint64_t layers, int dims)
{
	struct ptx_tex v = {0};
	v.format = fmt;
	v.channels = ch;
	v.texel = fsize(fmt) * ch;
	v.width = w;
	v.height = h;
	v.depth = d;
	v.layers = layers;
	v.dims = (uint32_t)dims;
	v.pitch = (w * v.texel + 31) / 32 * 32;         /* padded rows, as a pitched allocation */
	v.slice = v.pitch * h;
	v.bytes = v.slice * (layers ? layers : d);
	v.addr = dalloc(v.bytes);
	uint8_t *p = hptr(v.addr);
	for (uint64_t i = 0; i < v.bytes; i += fsize(fmt)) {
		if (fmt == CU_AD_FORMAT_HALF) {
			uint16_t hv = (uint16_t)((rnd() & 0x83ff) | (rnd() % 30) << 10);   /* finite */
			memcpy(p + i, &hv, 2);
		} else if (fmt == CU_AD_FORMAT_FLOAT) {
			float f = (float)(int)(rnd() % 2001 - 1000) / 250.0f;
			memcpy(p + i, &f, 4);
		} else {
			for (unsigned k = 0; k < fsize(fmt); k++)
				p[i + k] = (uint8_t)rnd();
		}
	}
	return v;
}

/* ---- tests --------------------------------------------------------------------------- */

static const unsigned formats[] = {CU_AD_FORMAT_UNSIGNED_INT8, CU_AD_FORMAT_SIGNED_INT8,
	CU_AD_FORMAT_UNSIGNED_INT16, CU_AD_FORMAT_SIGNED_INT16, CU_AD_FORMAT_UNSIGNED_INT32,
	CU_AD_FORMAT_SIGNED_INT32, CU_AD_FORMAT_HALF, CU_AD_FORMAT_FLOAT};

/* Every format x channels x read mode x filter x coordinate mode x address mode x geometry,
 * at coordinates around and beyond the edges, against the reference. */
static void test_sampling(void)
{
	struct ptx_module *mods[5][2][3];      /* geometry, int coordinates, dest f32/s32/u32 */
	static const char *dt[] = {"f32", "s32", "u32"};
	for (int g = 0; g < 5; g++)
		for (int ic = 0; ic < 2; ic++)
			for (int d = 0; d < 3; d++) {
				char insn[64];
				snprintf(insn, sizeof(insn), "tex.%s.v4.%s.%s", gname[g], dt[d], ic ? "s32" : "f32");
				mods[g][ic][d] = tex_kernel(insn, g, ic, d == 0, "");
			}
	long n = 0;
	for (size_t fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++)
	for (unsigned ch = 1; ch <= 4; ch *= 2)
	for (int g = 0; g < 5; g++) {
		int dims = g == 2 ? 3 : g == 1 || g == 4 ? 2 : 1;
		struct mark mk = heap_mark();
		struct ptx_tex base = make_tex(formats[fi], ch, 5, dims >= 2 ? 4 : 1, dims == 3 ? 3 : 1,
		                               g >= 3 ? 3 : 0, dims);
		for (int rm = 0; rm < 2; rm++)
		for (int filt = 0; filt < 2; filt++)
		for (int norm = 0; norm < 2; norm++)
		for (unsigned am = 0; am < 4; am++) {
			struct ptx_tex v = base;
			v.flags = (rm ? CU_TRSF_READ_AS_INTEGER : 0) | (norm ? CU_TRSF_NORMALIZED_COORDINATES : 0);
			v.filter = (uint32_t)filt;
			v.addr_mode[0] = v.addr_mode[1] = v.addr_mode[2] = am;
			v.border[0] = 0.25f; v.border[1] = -3.0f; v.border[2] = 7.5f; v.border[3] = 0.5f;
			uint64_t h = add_view(&v, 0);
			int ir = ref_intread(&v);
			for (int ic = 0; ic < 2; ic++)
			for (int k = 0; k < 12; k++) {
				uint32_t c[4] = {0}, cr[3], out[4], want[4];
				uint32_t layer = rnd() % 5;    /* 3 and 4 beyond the layers: clamped */
				for (int d = 0; d < 3; d++) {
					if (ic)
						cr[d] = (uint32_t)((int)(rnd() % 11) - 3);
					else if (norm)
						cr[d] = bits((float)((int)(rnd() % 801) - 300) / 200.0f);
					else
						cr[d] = bits((float)((int)(rnd() % 1101) - 300) / 100.0f);
				}
				if (g >= 3) {
					c[0] = layer;
					c[1] = cr[0];
					c[2] = cr[1];
				} else {
					c[1] = cr[0];
					c[2] = cr[1];
					c[3] = cr[2];
				}
				int dsel = ir ? 1 + (k & 1) : 0;
				int rc = tex_run(mods[g][ic][dsel], h, c, out);
				CHECK(rc == 0, "rc %d: %s", rc, err);
				ref_tex(&v, g, ic, cr, layer, -1, want);
				CHECK(!memcmp(out, want, 16), "fmt 0x%x ch %u %s rm %d filt %d norm %d am %u ic %d "
				      "(%g %g %g / %d %d %d) layer %u: got %08x %08x %08x %08x want %08x %08x %08x %08x",
				      formats[fi], ch, gname[g], rm, filt, norm, am, ic, f32(cr[0]), f32(cr[1]),
				      f32(cr[2]), (int)cr[0], (int)cr[1], (int)cr[2], layer, out[0], out[1], out[2],
				      out[3], want[0], want[1], want[2], want[3]);
				n++;
			}
		}
		nviews = 0;   /* handles are reused per texture: keep the table small */
		heap_release(mk);
	}
	printf("sampling: %ld fetches\n", n);
}

/* Hand-computed values the reference could share a mistake with. */
static void test_known_values(void)
{
	struct ptx_module *t1 = tex_kernel("tex.1d.v4.f32.f32", 0, 0, 1, "");
	struct ptx_module *t1i = tex_kernel("tex.1d.v4.s32.s32", 0, 1, 0, "");
	/* a 1D float texture of 4 texels 0, 1, 2, 3 */
	struct ptx_tex v = make_tex(CU_AD_FORMAT_FLOAT, 1, 4, 1, 1, 0, 1);
	for (int i = 0; i < 4; i++) {
		float f = (float)i;
		memcpy(hptr(v.addr) + 4 * i, &f, 4);
	}
	uint32_t out[4];
	/* linear: x = 1.3 → xB = 0.8, weight 205/256 (full precision would give 0.8) */
	v.filter = CU_TR_FILTER_MODE_LINEAR;
	uint64_t h = add_view(&v, 0);
	uint32_t c[4] = {0, bits(1.3f), 0, 0};
	EXPECT(tex_run(t1, h, c, out) == 0);
	CHECK(f32(out[0]) == 205.0f / 256.0f && f32(out[0]) != 0.8f, "linear weight %.9g", f32(out[0]));
	CHECK(out[1] == 0 && out[2] == 0 && f32(out[3]) == 1.0f, "missing components");
	/* x = 2.0 + 1/1024: xB = 1.5009765625, weight rounds to 128/256 */
	c[1] = bits(2.0f + 1.0f / 1024);
	EXPECT(tex_run(t1, h, c, out) == 0);
	CHECK(f32(out[0]) == 1.5f, "weight rounding %.9g", f32(out[0]));
	/* normalised, point: x = 1.125 → 4.5 → texel 4: wrap 0, mirror 3, clamp 3, border */
	v.filter = CU_TR_FILTER_MODE_POINT;
	v.flags = CU_TRSF_NORMALIZED_COORDINATES;
	static const float want_n[4] = {0.0f, 3.0f, 3.0f, 9.0f};
	for (unsigned am = 0; am < 4; am++) {
		v.addr_mode[0] = am;
		v.border[0] = 9.0f;
		h = add_view(&v, 0);
		c[1] = bits(1.125f);
		EXPECT(tex_run(t1, h, c, out) == 0);
		CHECK(f32(out[0]) == want_n[am], "normalised mode %u: %g", am, f32(out[0]));
		c[1] = bits(-0.125f);   /* -0.5 → texel -1: wrap 3, clamp 0, mirror 0, border */
		EXPECT(tex_run(t1, h, c, out) == 0);
		CHECK(f32(out[0]) == (am == 0 ? 3.0f : am == 3 ? 9.0f : 0.0f), "normalised mode %u at -0.125: %g",
		      am, f32(out[0]));
	}
	/* unnormalised: wrap and mirror clamp */
	v.flags = 0;
	v.addr_mode[0] = CU_TR_ADDRESS_MODE_WRAP;
	h = add_view(&v, 0);
	c[1] = bits(6.0f);
	EXPECT(tex_run(t1, h, c, out) == 0);
	CHECK(f32(out[0]) == 3.0f, "unnormalised wrap clamps: %g", f32(out[0]));
	/* integer coordinates on a normalised, filtered texture: texel indices, never filtered */
	v.flags = CU_TRSF_NORMALIZED_COORDINATES;
	v.filter = CU_TR_FILTER_MODE_LINEAR;
	v.format = CU_AD_FORMAT_SIGNED_INT32;
	h = add_view(&v, 0);
	c[1] = 2;
	EXPECT(tex_run(t1i, h, c, out) == 0);
	CHECK(out[0] == bits(2.0f) && out[3] == 1, "int coordinates: %08x %u", out[0], out[3]);
	/* uchar normalised read and read-as-integer */
	struct ptx_tex u = make_tex(CU_AD_FORMAT_UNSIGNED_INT8, 2, 2, 1, 1, 0, 1);
	uint8_t bytes[4] = {255, 51, 0, 128};
	memcpy(hptr(u.addr), bytes, 4);
	h = add_view(&u, 0);
	c[1] = bits(0.5f);
	EXPECT(tex_run(t1, h, c, out) == 0);
	CHECK(f32(out[0]) == 1.0f && f32(out[1]) == 0.2f && out[2] == 0 && f32(out[3]) == 1.0f,
	      "uchar2 normalised: %g %g", f32(out[0]), f32(out[1]));
	u.flags = CU_TRSF_READ_AS_INTEGER;
	h = add_view(&u, 0);
	EXPECT(tex_run(t1, h, c, out) == 0);
	CHECK(out[0] == 255 && out[1] == 51 && out[3] == 1, "uchar2 as integer: %u %u", out[0], out[1]);
	/* signed: -128 reads -1 */
	struct ptx_tex s8 = make_tex(CU_AD_FORMAT_SIGNED_INT8, 1, 1, 1, 1, 0, 1);
	hptr(s8.addr)[0] = 0x80;
	h = add_view(&s8, 0);
	EXPECT(tex_run(t1, h, c, out) == 0);
	CHECK(f32(out[0]) == -1.0f, "char -128: %g", f32(out[0]));
	/* 1D fetch from linear memory: tex.1d.v4.s32.s32 */
	struct ptx_tex lin = make_tex(CU_AD_FORMAT_SIGNED_INT32, 1, 100, 1, 1, 0, 1);
	lin.linear = 1;
	for (int i = 0; i < 100; i++) {
		int32_t x = i * 7 - 50;
		memcpy(hptr(lin.addr) + 4 * i, &x, 4);
	}
	h = add_view(&lin, 0);
	for (int i = 0; i < 100; i += 9) {
		c[1] = (uint32_t)i;
		EXPECT(tex_run(t1i, h, c, out) == 0);
		CHECK((int32_t)out[0] == i * 7 - 50, "fetch %d: %d", i, (int32_t)out[0]);
	}
	/* tex.level and tex.grad sample level 0 */
	struct ptx_module *lv = tex_kernel("tex.level.1d.v4.f32.f32", 0, 0, 1, ", %f9");
	struct ptx_module *gr = tex_kernel("tex.grad.1d.v4.f32.f32", 0, 0, 1, ", {%f9}, {%f9}");
	v.format = CU_AD_FORMAT_FLOAT;
	v.flags = 0;
	v.filter = CU_TR_FILTER_MODE_POINT;
	h = add_view(&v, 0);
	c[1] = bits(2.5f);
	EXPECT(tex_run(lv, h, c, out) == 0 && f32(out[0]) == 2.0f);
	EXPECT(tex_run(gr, h, c, out) == 0 && f32(out[0]) == 2.0f);
	nviews = 0;
}

static void test_tld4(void)
{
	struct ptx_module *m[4];
	for (int k = 0; k < 4; k++) {
		char insn[64];
		snprintf(insn, sizeof(insn), "tld4.%c.2d.v4.%s.f32", "rgba"[k], k == 3 ? "s32" : "f32");
		m[k] = tex_kernel(insn, 1, 0, k != 3, "");
	}
	struct ptx_module *ma = tex_kernel("tld4.g.a2d.v4.f32.f32", 4, 0, 1, "");
	/* hand check: a 3x3 float texture of 10*y + x; at (1.5, 1.5) the footprint is (1,1)..(2,2) */
	struct ptx_tex v = make_tex(CU_AD_FORMAT_FLOAT, 1, 3, 3, 1, 0, 2);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 3; x++) {
			float f = (float)(10 * y + x);
			memcpy(hptr(v.addr) + y * v.pitch + 4 * x, &f, 4);
		}
	uint64_t h = add_view(&v, 0);
	uint32_t c[4] = {0, bits(1.5f), bits(1.5f), 0}, out[4];
	EXPECT(tex_run(m[0], h, c, out) == 0);
	CHECK(f32(out[0]) == 21 && f32(out[1]) == 22 && f32(out[2]) == 12 && f32(out[3]) == 11,
	      "tld4 order: %g %g %g %g", f32(out[0]), f32(out[1]), f32(out[2]), f32(out[3]));
	/* sweep against the reference: formats, components, address modes */
	for (size_t fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++)
	for (unsigned ch = 1; ch <= 4; ch *= 2)
	for (unsigned am = 0; am < 4; am++)
	for (int norm = 0; norm < 2; norm++) {
		struct mark mk = heap_mark();
		struct ptx_tex t = make_tex(formats[fi], ch, 4, 3, 1, 2, 2);
		t.addr_mode[0] = t.addr_mode[1] = am;
		t.flags = norm ? CU_TRSF_NORMALIZED_COORDINATES : 0;
		t.border[0] = 1.5f; t.border[1] = 2.5f; t.border[2] = -1; t.border[3] = 4;
		uint64_t th = add_view(&t, 0);
		for (int k = 0; k < 6; k++) {
			uint32_t cr[3], want[4];
			for (int d = 0; d < 2; d++)
				cr[d] = bits(norm ? (float)((int)(rnd() % 401) - 100) / 200.0f
				                  : (float)((int)(rnd() % 801) - 200) / 100.0f);
			int comp = (int)(rnd() % 4);
			c[1] = cr[0];
			c[2] = cr[1];
			int iread = ref_intread(&t);
			if ((comp == 3) != iread)   /* the kernels: .a returns .s32, the others .f32 */
				comp = iread ? 3 : comp % 3;
			EXPECT(tex_run(m[comp], th, c, out) == 0);
			ref_tex(&t, 1, 0, cr, 0, comp, want);
			CHECK(!memcmp(out, want, 16), "tld4 fmt 0x%x ch %u am %u norm %d comp %d: %08x %08x %08x %08x"
			      " want %08x %08x %08x %08x", formats[fi], ch, am, norm, comp, out[0], out[1], out[2],
			      out[3], want[0], want[1], want[2], want[3]);
			uint32_t ca[4] = {1, cr[0], cr[1], 0};
			EXPECT(tex_run(ma, th, ca, out) == 0);
			ref_tex(&t, 4, 0, cr, 1, 1, want);
			CHECK(!memcmp(out, want, 16), "tld4.a2d fmt 0x%x", formats[fi]);
		}
		nviews = 0;
		h = 0;
		heap_release(mk);
	}
	(void)h;
}

static void test_queries(void)
{
	static const char *tq[] = {"width", "height", "depth", "channel_data_type", "channel_order",
		"normalized_coords", "filter_mode", "addr_mode_0", "addr_mode_1", "addr_mode_2", "array_size",
		"num_mipmap_levels", "num_samples"};
	static const char *sq[] = {"width", "height", "depth", "channel_data_type", "channel_order",
		"array_size", "memory_layout"};
	char text[8192];
	int o = snprintf(text, sizeof(text), ".version 7.5\n.target sm_75\n.address_size 64\n"
	                 ".visible .entry q(.param .u64 h, .param .u64 s, .param .u64 out)\n{\n"
	                 ".reg .b32 %%r<40>;\n.reg .b64 %%rd<4>;\n ld.param.u64 %%rd1, [h];\n"
	                 " ld.param.u64 %%rd2, [s];\n ld.param.u64 %%rd3, [out];\n");
	for (int i = 0; i < 13; i++)
		o += snprintf(text + o, sizeof(text) - (size_t)o, " txq.%s.b32 %%r%d, [%%rd1];\n"
		              " st.global.b32 [%%rd3+%d], %%r%d;\n", tq[i], i, 4 * i, i);
	for (int i = 0; i < 7; i++)
		o += snprintf(text + o, sizeof(text) - (size_t)o, " suq.%s.b32 %%r%d, [%%rd2];\n"
		              " st.global.b32 [%%rd3+%d], %%r%d;\n", sq[i], 20 + i, 4 * (20 + i), 20 + i);
	snprintf(text + o, sizeof(text) - (size_t)o, " ret;\n}\n");
	struct ptx_module *m = load(text);
	struct ptx_tex v = make_tex(CU_AD_FORMAT_HALF, 2, 7, 5, 1, 3, 2);
	v.flags = CU_TRSF_NORMALIZED_COORDINATES;
	v.filter = CU_TR_FILTER_MODE_LINEAR;
	v.addr_mode[0] = CU_TR_ADDRESS_MODE_WRAP;
	v.addr_mode[1] = CU_TR_ADDRESS_MODE_MIRROR;
	v.addr_mode[2] = CU_TR_ADDRESS_MODE_BORDER;
	struct ptx_tex s = make_tex(CU_AD_FORMAT_UNSIGNED_INT8, 4, 9, 2, 6, 0, 3);
	s.linear = 1;
	struct { uint64_t h, s, out; } p = {add_view(&v, 0), add_view(&s, 1), outbuf};
	EXPECT(run(m, "q", &p, 1, 1) == 0);
	uint32_t r[27];
	memcpy(r, hptr(outbuf), sizeof(r));
	uint32_t want_t[13] = {7, 5, 1, CU_AD_FORMAT_HALF, 2, 1, 1, 0, 1, 4, 3, 1, 1};
	uint32_t want_s[7] = {9, 2, 6, CU_AD_FORMAT_UNSIGNED_INT8, 4, 0, 1};
	for (int i = 0; i < 13; i++)
		CHECK(r[i] == want_t[i], "txq.%s: %u, want %u", tq[i], r[i], want_t[i]);
	for (int i = 0; i < 7; i++)
		CHECK(r[20 + i] == want_s[i], "suq.%s: %u, want %u", sq[i], r[20 + i], want_s[i]);
	/* a texture handle is no surface, and the other way round */
	struct { uint64_t h, s, out; } sw = {p.s, p.h, outbuf};
	EXPECT(run(m, "q", &sw, 1, 1) == -EFAULT);
	CHECK(strstr(err, "txq.width") && strstr(err, "no live texture"), "%s", err);
	nviews = 0;
}

/* suld/sust kernel: mode, geometry, vector, element bits; coordinates c0..c3 (layer first),
 * values v0..v3; loads store their results to out */
static struct ptx_module *surf_kernel(int store, int geom, int vec, int ebits, const char *mode)
{
	static char text[4096];
	char coords[64], vals[64], vs[8];
	switch (geom) {
	case 0: snprintf(coords, sizeof(coords), "{%%r1}"); break;
	case 1: snprintf(coords, sizeof(coords), "{%%r1, %%r2}"); break;
	case 2: snprintf(coords, sizeof(coords), "{%%r1, %%r2, %%r3, %%r3}"); break;
	case 3: snprintf(coords, sizeof(coords), "{%%r1, %%r2}"); break;
	default: snprintf(coords, sizeof(coords), "{%%r1, %%r2, %%r3, %%r3}"); break;
	}
	const char *reg = ebits == 64 ? "%rd" : "%r";
	int n = 0;
	n += snprintf(vals + n, sizeof(vals) - (size_t)n, "{");
	for (int i = 0; i < vec; i++)
		n += snprintf(vals + n, sizeof(vals) - (size_t)n, "%s%s%d", i ? ", " : "", reg, 10 + i);
	snprintf(vals + n, sizeof(vals) - (size_t)n, "}");
	snprintf(vs, sizeof(vs), vec == 1 ? "" : ".v%d", vec);
	char insn[256];
	if (store)
		snprintf(insn, sizeof(insn), "sust.b.%s%s.b%d.%s [%%rd1, %s], %s", gname[geom], vs, ebits, mode,
		         coords, vals);
	else
		snprintf(insn, sizeof(insn), "suld.b.%s%s.b%d.%s %s, [%%rd1, %s]", gname[geom], vs, ebits, mode,
		         vals, coords);
	char stores[512] = "";
	if (!store)
		for (int i = 0, k = 0; i < vec; i++)
			k += snprintf(stores + k, sizeof(stores) - (size_t)k, " st.global.b64 [%%rd2+%d], %s%d;\n",
			              8 * i, "%rd", 20 + i);
	char widen[512] = "";
	if (!store)
		for (int i = 0, k = 0; i < vec; i++)
			k += ebits == 64 ? snprintf(widen + k, sizeof(widen) - (size_t)k, " mov.b64 %%rd%d, %%rd%d;\n", 20 + i, 10 + i)
			                 : snprintf(widen + k, sizeof(widen) - (size_t)k, " cvt.u64.u32 %%rd%d, %%r%d;\n", 20 + i, 10 + i);
	snprintf(text, sizeof(text),
	         ".version 7.5\n.target sm_75\n.address_size 64\n"
	         ".visible .entry k(.param .u64 h, .param .u64 out, .param .b32 c0, .param .b32 c1,"
	         " .param .b32 c2, .param .b32 c3, .param .b64 v0, .param .b64 v1, .param .b64 v2, .param .b64 v3)\n{\n"
	         ".reg .b32 %%r<30>;\n.reg .b64 %%rd<30>;\n"
	         " ld.param.u64 %%rd1, [h];\n ld.param.u64 %%rd2, [out];\n"
	         " ld.param.b32 %%r1, [c0];\n ld.param.b32 %%r2, [c1];\n ld.param.b32 %%r3, [c2];\n"
	         " ld.param.b64 %%rd10, [v0];\n ld.param.b64 %%rd11, [v1];\n ld.param.b64 %%rd12, [v2];\n"
	         " ld.param.b64 %%rd13, [v3];\n cvt.u32.u64 %%r10, %%rd10;\n cvt.u32.u64 %%r11, %%rd11;\n"
	         " cvt.u32.u64 %%r12, %%rd12;\n cvt.u32.u64 %%r13, %%rd13;\n"
	         " %s;\n%s%s ret;\n}\n", insn, widen, stores);
	return load(text);
}

struct sparams { uint64_t h, out; int32_t c[4]; uint64_t v[4]; };

static void test_surfaces(void)
{
	/* a 2D surface of 8x4 uint32 texels: write each texel, read it back */
	struct ptx_tex s = make_tex(CU_AD_FORMAT_UNSIGNED_INT32, 1, 8, 4, 1, 0, 2);
	memset(hptr(s.addr), 0, s.bytes);
	uint64_t h = add_view(&s, 1);
	struct ptx_module *st = surf_kernel(1, 1, 1, 32, "trap"), *ld = surf_kernel(0, 1, 1, 32, "trap");
	struct ptx_module *ldc = surf_kernel(0, 1, 1, 32, "clamp"), *ldz = surf_kernel(0, 1, 1, 32, "zero");
	struct ptx_module *stc = surf_kernel(1, 1, 1, 32, "clamp"), *stz = surf_kernel(1, 1, 1, 32, "zero");
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 8; x++) {
			struct sparams p = {h, outbuf, {4 * x, y}, {(uint64_t)(100 * y + x)}};
			EXPECT(run(st, "k", &p, 1, 1) == 0);
		}
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 8; x++) {
			uint32_t got;
			memcpy(&got, hptr(s.addr) + y * s.pitch + 4 * x, 4);
			CHECK(got == (uint32_t)(100 * y + x), "sust at (%d,%d): %u", x, y, got);
			struct sparams p = {h, outbuf, {4 * x, y}, {0}};
			EXPECT(run(ld, "k", &p, 1, 1) == 0);
			uint64_t v;
			memcpy(&v, hptr(outbuf), 8);
			CHECK(v == (uint64_t)(100 * y + x), "suld at (%d,%d): %llu", x, y, (unsigned long long)v);
		}
	/* out of range: trap faults naming the instruction and coordinates */
	struct sparams p = {h, outbuf, {32, 1}, {5}};
	EXPECT(run(ld, "k", &p, 1, 1) == -EFAULT);
	CHECK(strstr(err, "suld.b.2d.trap") && strstr(err, "x 32 bytes") && strstr(err, "line "), "%s", err);
	p.c[0] = -4;
	EXPECT(run(st, "k", &p, 1, 1) == -EFAULT);
	CHECK(strstr(err, "sust.b.2d.trap"), "%s", err);
	/* clamp: the nearest texel */
	int32_t cc[][2] = {{-4, 2}, {40, 1}, {8, -3}, {12, 9}, {31, 0}};
	int32_t want[][2] = {{0, 2}, {7, 1}, {2, 0}, {3, 3}, {7, 0}};
	for (int i = 0; i < 5; i++) {
		struct sparams q = {h, outbuf, {cc[i][0], cc[i][1]}, {0}};
		EXPECT(run(ldc, "k", &q, 1, 1) == 0);
		uint64_t v;
		memcpy(&v, hptr(outbuf), 8);
		CHECK(v == (uint64_t)(100 * want[i][1] + want[i][0]), "clamp (%d,%d): %llu", cc[i][0], cc[i][1],
		      (unsigned long long)v);
	}
	/* zero: loads read 0, stores are dropped */
	memset(hptr(outbuf), 0xff, 8);
	struct sparams z = {h, outbuf, {4, 4}, {0}};
	EXPECT(run(ldz, "k", &z, 1, 1) == 0);
	uint64_t v;
	memcpy(&v, hptr(outbuf), 8);
	CHECK(v == 0, "zero load: %llx", (unsigned long long)v);
	uint8_t before[256];
	memcpy(before, hptr(s.addr), s.bytes);
	z.v[0] = 0xdead;
	z.c[0] = -4;
	EXPECT(run(stz, "k", &z, 1, 1) == 0);
	CHECK(!memcmp(before, hptr(s.addr), s.bytes), "zero store wrote");
	/* clamped store lands on the nearest texel */
	struct sparams sc = {h, outbuf, {400, -1}, {0xbeef}};
	EXPECT(run(stc, "k", &sc, 1, 1) == 0);
	memcpy(&v, hptr(s.addr) + 4 * 7, 4);
	CHECK((uint32_t)v == 0xbeef, "clamp store: %x", (unsigned)v);

	/* vectors: uchar4 surface with v4.b8; a 2-channel int surface with v2.b32; b64 on int2 */
	struct ptx_tex s4 = make_tex(CU_AD_FORMAT_UNSIGNED_INT8, 4, 4, 2, 1, 0, 2);
	uint64_t h4 = add_view(&s4, 1);
	struct ptx_module *st4 = surf_kernel(1, 1, 4, 8, "trap"), *ld4 = surf_kernel(0, 1, 4, 8, "trap");
	struct sparams p4 = {h4, outbuf, {8, 1}, {0x11, 0x22, 0x133, 0x44}};
	EXPECT(run(st4, "k", &p4, 1, 1) == 0);
	uint8_t *tx = hptr(s4.addr) + s4.pitch + 8;
	CHECK(tx[0] == 0x11 && tx[1] == 0x22 && tx[2] == 0x33 && tx[3] == 0x44, "v4.b8 store");
	EXPECT(run(ld4, "k", &p4, 1, 1) == 0);
	uint64_t r4[4];
	memcpy(r4, hptr(outbuf), 32);
	CHECK(r4[0] == 0x11 && r4[1] == 0x22 && r4[2] == 0x33 && r4[3] == 0x44, "v4.b8 load");
	struct ptx_tex s2 = make_tex(CU_AD_FORMAT_SIGNED_INT32, 2, 3, 1, 1, 0, 1);
	uint64_t h2 = add_view(&s2, 1);
	struct ptx_module *st2 = surf_kernel(1, 0, 2, 32, "trap"), *ld64 = surf_kernel(0, 0, 1, 64, "trap");
	struct sparams p2 = {h2, outbuf, {16}, {0x01020304, 0x05060708}};
	EXPECT(run(st2, "k", &p2, 1, 1) == 0);
	EXPECT(run(ld64, "k", &p2, 1, 1) == 0);
	memcpy(&v, hptr(outbuf), 8);
	CHECK(v == 0x0506070801020304ull, "v2.b32 then b64: %llx", (unsigned long long)v);
	p2.c[0] = 24;     /* one past the row */
	EXPECT(run(ld64, "k", &p2, 1, 1) == -EFAULT);
	/* a 16-byte access on an 8-byte-texel row of 3: the clamp lands on texel 1 */
	struct ptx_module *ld4c = surf_kernel(0, 0, 4, 32, "clamp");
	p2.c[0] = 20;
	EXPECT(run(ld4c, "k", &p2, 1, 1) == 0);
	memcpy(r4, hptr(outbuf), 32);
	uint32_t *sw = (uint32_t *)(void *)(hptr(s2.addr) + 8);
	CHECK(r4[0] == sw[0] && r4[1] == sw[1] && r4[2] == 0x01020304 && r4[3] == 0x05060708,
	      "wide clamp: %llx %llx", (unsigned long long)r4[2], (unsigned long long)r4[3]);

	/* 3D and layered: texel (x, y, z) / layer l at its place */
	struct ptx_tex s3 = make_tex(CU_AD_FORMAT_UNSIGNED_INT16, 1, 3, 2, 4, 0, 3);
	struct ptx_tex sl1 = make_tex(CU_AD_FORMAT_UNSIGNED_INT16, 1, 5, 1, 1, 3, 1);
	struct ptx_tex sl2 = make_tex(CU_AD_FORMAT_UNSIGNED_INT16, 1, 3, 2, 1, 4, 2);
	struct { struct ptx_tex *v; int geom; int32_t c[4]; uint64_t off; } cases[] = {
		{&s3, 2, {4, 1, 3}, 4 + s3.pitch + 3 * s3.slice},
		{&sl1, 3, {2, 6}, 6 + 2 * sl1.slice},
		{&sl2, 4, {3, 2, 1}, 2 + sl2.pitch + 3 * sl2.slice},
	};
	for (int i = 0; i < 3; i++) {
		uint64_t hh = add_view(cases[i].v, 1);
		struct ptx_module *a = surf_kernel(1, cases[i].geom, 1, 16, "trap");
		struct ptx_module *b = surf_kernel(0, cases[i].geom, 1, 16, "zero");
		struct sparams q = {hh, outbuf, {cases[i].c[0], cases[i].c[1], cases[i].c[2]}, {0x4321}};
		EXPECT(run(a, "k", &q, 1, 1) == 0);
		uint16_t got;
		memcpy(&got, hptr(cases[i].v->addr) + cases[i].off, 2);
		CHECK(got == 0x4321, "%s store at its place: %x", gname[cases[i].geom], got);
		EXPECT(run(b, "k", &q, 1, 1) == 0);
		memcpy(&v, hptr(outbuf), 8);
		CHECK(v == 0x4321, "%s load: %llx", gname[cases[i].geom], (unsigned long long)v);
		q.c[0] = cases[i].geom >= 3 ? 9 : 100;    /* the layer (or x) out of range: zero */
		EXPECT(run(b, "k", &q, 1, 1) == 0);
		memcpy(&v, hptr(outbuf), 8);
		CHECK(v == 0, "%s out of range: %llx", gname[cases[i].geom], (unsigned long long)v);
	}
	nviews = 0;
}

/* Handles and views that must fault cleanly, never read outside. */
static void test_faults(void)
{
	struct ptx_module *t2 = tex_kernel("tex.2d.v4.f32.f32", 1, 0, 1, "");
	struct ptx_module *t1i = tex_kernel("tex.1d.v4.s32.s32", 0, 1, 0, "");
	uint32_t c[4] = {0, bits(0.5f), bits(0.5f), 0}, out[4];
	struct ptx_tex v = make_tex(CU_AD_FORMAT_FLOAT, 4, 8, 8, 1, 0, 2);
	uint64_t h = add_view(&v, 0);
	EXPECT(tex_run(t2, h, c, out) == 0);
	/* forged handles, a surface handle, no tex callback */
	EXPECT(tex_run(t2, 0xdeadbeefull, c, out) == -EFAULT);
	CHECK(strstr(err, "tex.2d") && strstr(err, "0xdeadbeef") && strstr(err, "PTX line"), "%s", err);
	uint64_t hs = add_view(&v, 1);
	EXPECT(tex_run(t2, hs, c, out) == -EFAULT);
	int (*cb)(void *, uint64_t, int, struct ptx_tex *) = env.tex;
	env.tex = NULL;
	EXPECT(tex_run(t2, h, c, out) == -EFAULT);
	env.tex = cb;
	/* bytes too small for the claimed dimensions: in-range texels read, the rest fault */
	struct ptx_tex small = v;
	small.bytes = v.pitch * 2;     /* two rows of eight */
	h = add_view(&small, 0);
	c[2] = bits(1.5f);
	EXPECT(tex_run(t2, h, c, out) == 0);
	c[2] = bits(5.5f);
	EXPECT(tex_run(t2, h, c, out) == -EFAULT);
	CHECK(strstr(err, "beyond the") && strstr(err, "bytes of the resource"), "%s", err);
	/* a view over memory that is not live (freed): the texel read faults */
	struct ptx_tex gone = v;
	gone.addr = DBASE + sizeof(heap) + 4096;
	h = add_view(&gone, 0);
	EXPECT(tex_run(t2, h, c, out) == -EFAULT);
	CHECK(strstr(err, "illegal address") && strstr(err, "texel read"), "%s", err);
	/* a view spanning past its allocation: the texels beyond it fault */
	struct ptx_tex lin = make_tex(CU_AD_FORMAT_SIGNED_INT32, 1, 16, 1, 1, 0, 1);
	lin.width = 1u << 20;
	lin.bytes = 4u << 20;
	h = add_view(&lin, 0);
	c[1] = 15;
	EXPECT(tex_run(t1i, h, c, out) == 0);
	c[1] = 100000;
	EXPECT(tex_run(t1i, h, c, out) == -EFAULT);
	/* malformed views: zero width, wrong texel size, unknown format */
	struct ptx_tex bad = v;
	bad.width = 0;
	h = add_view(&bad, 0);
	EXPECT(tex_run(t2, h, c, out) == -EFAULT);
	CHECK(strstr(err, "malformed"), "%s", err);
	bad = v;
	bad.texel = 3;
	h = add_view(&bad, 0);
	EXPECT(tex_run(t2, h, c, out) == -EFAULT);
	bad = v;
	bad.format = 0x77;
	h = add_view(&bad, 0);
	EXPECT(tex_run(t2, h, c, out) == -EFAULT);
	/* a cubemap fetch: from a cubemap view, the face and texel its direction picks (-x: face
	 * 1, s = z, t = -y); from a view that is not a cubemap, or a malformed one, a fault */
	struct ptx_module *tc = tex_kernel("tex.cube.v4.f32.f32", 2, 0, 1, "");
	struct ptx_tex cv = make_tex(CU_AD_FORMAT_FLOAT, 1, 4, 4, 1, 6, 2);
	cv.cube = 1;
	uint32_t cc[4] = {0, bits(-2.0f), bits(0.5f), bits(0.2f)};   /* u = (0.1 + 1) / 2 * 4, v = (-0.25 + 1) / 2 * 4 */
	h = add_view(&cv, 0);
	EXPECT(tex_run(tc, h, cc, out) == 0);
	CHECK(!memcmp(&out[0], hptr(cv.addr) + cv.slice + cv.pitch + 2 * 4, 4), "cube texel %x", out[0]);
	EXPECT(tex_run(tc, add_view(&v, 0), cc, out) == -EFAULT);
	CHECK(strstr(err, "tex.cube") && strstr(err, "not a cubemap"), "%s", err);
	bad = cv;
	bad.layers = 5;
	EXPECT(tex_run(tc, add_view(&bad, 0), cc, out) == -EFAULT);
	CHECK(strstr(err, "malformed"), "%s", err);
	/* NaN and huge coordinates read a texel, never crash */
	h = add_view(&v, 0);
	EXPECT(tex_run(tc, add_view(&cv, 0), (uint32_t[4]){0, bits(NAN), bits(NAN), bits(NAN)}, out) == 0);
	c[1] = bits(NAN);
	c[2] = bits(3e38f);
	EXPECT(tex_run(t2, h, c, out) == 0);
	c[1] = bits(-INFINITY);
	EXPECT(tex_run(t2, h, c, out) == 0);
	nviews = 0;
}

/* What the parser refuses, and with which message. */
static void test_refused(void)
{
	static const struct { const char *insn, *want; int rc; } cases[] = {
		{"tld4.r.cube.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f1, %f2, %f3, %f3}]", "cube", -ENOTSUP},
		{"tex.cube.v4.f32.s32 {%f1, %f2, %f3, %f4}, [%rd1, {%r1, %r2, %r3, %r3}]", "malformed", -EINVAL},
		{"tex.acube.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f1, %f2, %f3}]", "3 coordinates", -EINVAL},
		{"tex.2d.v2.f16x2.f32 {%r1, %r2}, [%rd1, {%f1, %f2}]", "half-precision", -ENOTSUP},
		{"sust.p.2d.b32.trap [%rd1, {%r1, %r2}], {%r3}", "formatted", -ENOTSUP},
		{"tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, %rd2, {%f1, %f2}]", "explicit sampler", -ENOTSUP},
		{"tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f1, %f2}], {%r1, %r2}", "offset", -ENOTSUP},
		{"tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}|%p1, [%rd1, {%f1, %f2}]", "residency", -ENOTSUP},
		{"tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%r1, {%f1, %f2}]", "64-bit", -EINVAL},
		{"tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f1}]", "1 coordinates", -EINVAL},
		{"txq.level.filter_mode.b32 %r1, [%rd1], %r2", "txq.level.filter_mode", -ENOTSUP},
		{"txq.level.width.b32 %r1, [%rd1]", "level", -EINVAL},
		{"tex.level.grad.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f1, %f2}], %f3", "malformed", -EINVAL},
		{"tex.grad.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f1, %f2}], {%f1}, {%f2}", "gradient", -EINVAL},
		{"suq.filter_mode.b32 %r1, [%rd1]", "suq.filter_mode", -ENOTSUP},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024], e[256];
		snprintf(text, sizeof(text), ".version 7.5\n.target sm_75\n.address_size 64\n"
		         ".visible .entry k()\n{\n.reg .b32 %%r<5>;\n.reg .f32 %%f<5>;\n.reg .b64 %%rd<3>;\n"
		         ".reg .pred %%p<2>;\n %s;\n ret;\n}\n", cases[i].insn);
		struct ptx_module *m = NULL;
		int rc = ptx_module_parse(text, &m, e, sizeof(e));
		CHECK(rc == cases[i].rc && strstr(e, cases[i].want) && strstr(e, "line 10"),
		      "'%s': rc %d '%s'", cases[i].insn, rc, e);
		if (!rc)
			ptx_module_free(m);
	}
}

/* The kernels nvcc makes of tests/kernels/tex.cu: tex2D, tex1Dfetch, tex3D, tex2DLayered,
 * tex1DLayered, tex2Dgather, surf2Dread/surf2Dwrite, tex2DLod/tex2DGrad. */
static void test_nvcc(void)
{
	char *text = st_read(st_path("tests/kernels/tex.ptx"), NULL);
	struct ptx_module *m = load(text);
	free(text);
	uint64_t out = dalloc(4096);
	/* tex2D<float>: 16x4 floats, unnormalised point sampling at texel centres */
	struct ptx_tex v = make_tex(CU_AD_FORMAT_FLOAT, 1, 16, 4, 1, 0, 2);
	struct { uint64_t t, out; int32_t w, h; } p2 = {add_view(&v, 0), out, 16, 4};
	EXPECT(run(m, "k_tex2d", &p2, 16, 4) == 0);
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 16; x++)
			CHECK(!memcmp(hptr(out) + 4 * (16 * y + x), hptr(v.addr) + y * v.pitch + 4 * x, 4),
			      "k_tex2d (%d,%d)", x, y);
	/* tex1Dfetch<int> on linear memory, and tex1Dfetch<float> */
	struct ptx_tex li = make_tex(CU_AD_FORMAT_SIGNED_INT32, 1, 32, 1, 1, 0, 1);
	li.linear = 1;
	struct { uint64_t t, out; } pf = {add_view(&li, 0), out};
	EXPECT(run(m, "k_fetch", &pf, 32, 1) == 0);
	CHECK(!memcmp(hptr(out), hptr(li.addr), 128), "k_fetch");
	struct ptx_tex lf = make_tex(CU_AD_FORMAT_FLOAT, 1, 32, 1, 1, 0, 1);
	pf.t = add_view(&lf, 0);
	EXPECT(run(m, "k_fetchf", &pf, 32, 1) == 0);
	CHECK(!memcmp(hptr(out), hptr(lf.addr), 128), "k_fetchf");
	/* tex3D<float4> at integer-valued coordinates (texel corners) with linear filtering */
	struct ptx_tex v3 = make_tex(CU_AD_FORMAT_UNSIGNED_INT8, 4, 8, 3, 2, 0, 3);
	v3.filter = CU_TR_FILTER_MODE_LINEAR;
	struct { uint64_t t, out; float z; } p3 = {add_view(&v3, 0), out, 1.25f};
	EXPECT(run(m, "k_tex3d", &p3, 8, 3) == 0);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 8; x++) {
			uint32_t want[4], cr[3] = {bits((float)x), bits((float)y), bits(1.25f)};
			ref_tex(&v3, 2, 0, cr, 0, -1, want);
			CHECK(!memcmp(hptr(out) + 16 * (8 * y + x), want, 16), "k_tex3d (%d,%d)", x, y);
		}
	/* tex2DLayered<float>, tex1DLayered<uint2> */
	struct ptx_tex vl = make_tex(CU_AD_FORMAT_FLOAT, 1, 8, 2, 1, 3, 2);
	struct { uint64_t t, out; int32_t layer; } pl = {add_view(&vl, 0), out, 2};
	EXPECT(run(m, "k_layered", &pl, 8, 2) == 0);
	for (int y = 0; y < 2; y++)
		for (int x = 0; x < 8; x++) {
			uint32_t want[4], cr[3] = {bits((float)x), bits((float)y), 0};
			ref_tex(&vl, 4, 0, cr, 2, -1, want);
			CHECK(!memcmp(hptr(out) + 4 * (8 * y + x), want, 4), "k_layered (%d,%d)", x, y);
		}
	struct ptx_tex v1 = make_tex(CU_AD_FORMAT_UNSIGNED_INT32, 2, 8, 1, 1, 4, 1);
	pl.t = add_view(&v1, 0);
	pl.layer = 3;
	EXPECT(run(m, "k_layered1", &pl, 8, 1) == 0);
	for (int x = 0; x < 8; x++)
		CHECK(!memcmp(hptr(out) + 8 * x, hptr(v1.addr) + 3 * v1.slice + 8 * x, 8), "k_layered1 %d", x);
	/* tex2Dgather<float4>(t, x, y, 1): the .g component */
	struct ptx_tex vg = make_tex(CU_AD_FORMAT_HALF, 4, 6, 3, 1, 0, 2);
	struct { uint64_t t, out; } pg = {add_view(&vg, 0), out};
	EXPECT(run(m, "k_gather", &pg, 6, 3) == 0);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 6; x++) {
			uint32_t want[4], cr[3] = {bits((float)x), bits((float)y), 0};
			ref_tex(&vg, 1, 0, cr, 0, 1, want);
			CHECK(!memcmp(hptr(out) + 16 * (6 * y + x), want, 16), "k_gather (%d,%d)", x, y);
		}
	/* surf2Dread/surf2Dwrite: v = 2v + 1 in place, then the uchar4 clamp read and zero write */
	struct ptx_tex sf = make_tex(CU_AD_FORMAT_FLOAT, 1, 8, 2, 1, 0, 2);
	uint8_t before[512];
	memcpy(before, hptr(sf.addr), sf.bytes);
	struct { uint64_t s; int32_t w; } ps = {add_view(&sf, 1), 8};
	EXPECT(run(m, "k_surf", &ps, 8, 2) == 0);
	for (int y = 0; y < 2; y++)
		for (int x = 0; x < 8; x++) {
			float a, b;
			memcpy(&a, before + y * sf.pitch + 4 * x, 4);
			memcpy(&b, hptr(sf.addr) + y * sf.pitch + 4 * x, 4);
			CHECK(b == a * 2.0f + 1.0f, "k_surf (%d,%d): %g from %g", x, y, b, a);
		}
	/* tex2DLod + tex2DGrad: level 0 twice */
	struct ptx_tex vd = make_tex(CU_AD_FORMAT_FLOAT, 1, 4, 2, 1, 0, 2);
	pg.t = add_view(&vd, 0);
	EXPECT(run(m, "k_lod", &pg, 4, 1) == 0);
	for (int x = 0; x < 4; x++) {
		float t, got;
		memcpy(&t, hptr(vd.addr) + 4 * x, 4);
		memcpy(&got, hptr(out) + 4 * x, 4);
		CHECK(got == t + t, "k_lod %d: %g", x, got);
	}
	nviews = 0;
}

int main(void)
{
	outbuf = dalloc(256);
	test_known_values();
	test_tld4();
	test_queries();
	test_surfaces();
	test_faults();
	test_refused();
	test_nvcc();
	test_sampling();
	for (int i = 0; i < nloaded; i++)
		ptx_module_free(loaded[i]);
	if (fails) {
		fprintf(stderr, "%d failures\n", fails);
		return 1;
	}
	printf("ok\n");
	return 0;
}
