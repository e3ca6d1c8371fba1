/* SPDX-License-Identifier: MIT */
/* CUDA arrays, texture objects and surface objects of the simulator (a CPU test double): an
 * array is dense device memory of its own kind (ALLOC_ARRAY), an object a view of an array or
 * of linear memory that kernels' tex/suld/sust instructions read through ptx_env.tex. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Handles. Arrays (CUarray, a pointer type), texture objects and surface objects are all
 * slots of one table, named by (generation << 32 | (index + 1)): never dereferenced, so a
 * forged value is only a miss, and a slot's generation moves on at each destroy, so a stale
 * handle misses too (until 2^32 reuses of that one slot). The kind stored in the slot keeps a
 * texture handle from passing as a surface or an array handle and the other way round.
 *
 * Kernels look objects up at every tex/suld/sust instruction, from the pool's threads, while
 * other threads may create and destroy: lookups take tex_lock for reading (a copy of the slot's
 * view, nothing else), creation and destruction for writing. Lock order: tex_lock, then the
 * memory table's lock (sim_mem_free); never g_lock under tex_lock (contexts are synchronised
 * before it is taken).
 *
 * A mipmapped array (CUmipmappedArray, a slot of its own kind) is one storage holding its
 * levels one after another, each dense; each level is also an array slot over its part of
 * that storage, made with the mipmapped array and owned by it (the handle cuMipmappedArrayGetLevel
 * gives every time, destroyed with it, not by cuArrayDestroy).
 *
 * An object keeps the storage of the array it names alive: the storage is reference-counted
 * (the array handle plus each object), so destroying an array under a live object leaves the
 * object reading the texels it had, never memory given to a later allocation. Objects over
 * linear or pitched memory do not own it: when the program frees that memory, the object's
 * texel accesses fault through sim_mem_resolve like any load of freed memory.
 */

enum { SLOT_FREE, SLOT_ARRAY, SLOT_TEX, SLOT_SURF, SLOT_MIPMAP };

#define TEX_MAX_SLOTS (1u << 24)          /* live arrays and objects, all contexts */

struct tex_store {                        /* an array's texels */
	uint64_t base, bytes;
	int refs;                         /* under tex_lock (written) */
};

struct tex_slot {
	uint32_t gen;                     /* never 0 */
	uint8_t kind;
	uint32_t next_free;               /* free list, index + 1 (0: end) */
	struct sim_ctx *ctx;              /* the owner; compared, never dereferenced here */
	struct tex_store *store;          /* arrays and objects over arrays */
	CUDA_ARRAY3D_DESCRIPTOR ad;       /* arrays */
	CUDA_RESOURCE_DESC rd;            /* objects, as given */
	CUDA_TEXTURE_DESC td;             /* texture objects, as given */
	struct ptx_tex view;              /* arrays and objects: what kernels see */
	uint64_t *level;                  /* mipmapped arrays: their levels' array handles (malloc'd) */
	uint64_t owner;                   /* a mipmapped array's level: the mipmapped array (0: none) */
};

static pthread_rwlock_t tex_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct tex_slot *slots;
static uint32_t nslots, capslots, free_head;

/* Limits of a compute capability 7.5 part (also cuDeviceGetAttribute's, sim/driver.c). */
enum {
	LIM_TEX1D = 131072, LIM_TEX2D_W = 131072, LIM_TEX2D_H = 65536, LIM_TEX3D = 16384,
	LIM_LAYERED_W = 32768, LIM_LAYERS = 2048, LIM_GATHER = 32768, LIM_CUBEMAP = 32768, LIM_CUBEMAP_LAYERS = 2046,
	LIM_SURF1D = 32768, LIM_SURF2D_W = 131072, LIM_SURF2D_H = 65536, LIM_SURF3D = 16384,
	LIM_LIN2D_W = 131072, LIM_LIN2D_H = 65000, LIM_LIN2D_PITCH = 2097120,
	LIM_MIP1D = 32768, LIM_MIP2D = 32768,
	TEX_ALIGN = 512, TEX_PITCH_ALIGN = 32,
};
#define LIM_TEX1D_LINEAR (1ull << 27)

static uint64_t handle_of(uint32_t i) { return (uint64_t)slots[i].gen << 32 | (i + 1); }

/* tex_lock held: the slot h names if it is live and of kind, else NULL. */
static struct tex_slot *slot_get(uint64_t h, int kind)
{
	uint64_t i = (h & 0xffffffffu) - 1;
	if (!h || i >= nslots)
		return NULL;
	struct tex_slot *s = &slots[i];
	return s->kind == kind && s->gen == (uint32_t)(h >> 32) ? s : NULL;
}

/* tex_lock held for writing: a fresh slot (its index in *idx), or NULL. */
static struct tex_slot *slot_new(uint32_t *idx)
{
	uint32_t i;
	if (free_head) {
		i = free_head - 1;
		free_head = slots[i].next_free;
	} else {
		if (nslots == capslots) {
			if (capslots >= TEX_MAX_SLOTS)
				return NULL;
			uint32_t nc = capslots ? capslots * 2 : 64;
			struct tex_slot *t = realloc(slots, (size_t)nc * sizeof(*t));
			if (!t)
				return NULL;
			slots = t;
			capslots = nc;
		}
		i = nslots++;
		slots[i].gen = 0;
	}
	uint32_t gen = slots[i].gen + 1;
	memset(&slots[i], 0, sizeof(slots[i]));
	slots[i].gen = gen ? gen : 1;
	*idx = i;
	return &slots[i];
}

/* tex_lock held for writing: one reference to st fewer; the last frees the texels. */
static void store_put(struct tex_store *st)
{
	if (!st || --st->refs > 0)
		return;
	if (sim_mem_free(st->base, ALLOC_ARRAY))
		sim_log("array storage at 0x%llx was already gone", (unsigned long long)st->base);
	free(st);
}

/* tex_lock held for writing: the slot goes back to the free list, its generation moves on. */
static void slot_free(struct tex_slot *s)
{
	uint32_t i = (uint32_t)(s - slots);
	store_put(s->store);
	free(s->level);
	uint32_t gen = s->gen + 1;
	memset(s, 0, sizeof(*s));
	s->gen = gen ? gen : 1;
	s->next_free = free_head;
	free_head = i + 1;
}

/* ---- formats ---- */

/* Bytes of one channel of fmt, 0 for a format the simulator does not hold in arrays and
 * objects (*known then says whether cuda.h names it: refused as unsupported, not invalid). */
static unsigned fmt_size(CUarray_format fmt, int *known)
{
	*known = 1;
	switch (fmt) {
	case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 1;
	case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 2;
	case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 4;
	default:
		/* NV12 and the other YUV formats, UNORM/SNORM_INTnXm, the BC block formats, 10-10-10-2 */
		*known = (fmt >= 0x91 && fmt <= 0x9f) || (fmt >= 0xa1 && fmt <= 0xa9) || (fmt >= 0xb0 && fmt <= 0xb5) ||
		         (fmt >= 0xc0 && fmt <= 0xcb) || fmt == 0x50;
		return 0;
	}
}

/* Checks a format and channel count; *texel the bytes of one element. */
static CUresult fmt_check(const char *call, CUarray_format fmt, unsigned channels, unsigned *texel)
{
	int known;
	unsigned sz = fmt_size(fmt, &known);
	if (!sz) {
		if (!known) {
			sim_log("%s: format 0x%x is not a CUarray_format", call, (unsigned)fmt);
			return CUDA_ERROR_INVALID_VALUE;
		}
		sim_log("%s: format 0x%x (normalized, block-compressed or YUV) is not simulated; "
		        "returning CUDA_ERROR_NOT_SUPPORTED", call, (unsigned)fmt);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (channels != 1 && channels != 2 && channels != 4) {
		sim_log("%s: %u channels (1, 2 or 4)", call, channels);
		return CUDA_ERROR_INVALID_VALUE;
	}
	*texel = sz * channels;
	return CUDA_SUCCESS;
}

/* ---- arrays ---- */

#define ARRAY_FLAGS_KNOWN (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_CUBEMAP | \
			   CUDA_ARRAY3D_TEXTURE_GATHER | CUDA_ARRAY3D_DEPTH_TEXTURE | \
			   CUDA_ARRAY3D_COLOR_ATTACHMENT | CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING | \
			   CUDA_ARRAY3D_VIDEO_ENCODE_DECODE)
#define ARRAY_FLAGS_SIM (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_TEXTURE_GATHER | \
			 CUDA_ARRAY3D_CUBEMAP)

/* Checks a descriptor against the driver's rules and the device's limits (mip: of a
 * mipmapped array, whose 1D and 2D ones are lower). */
static CUresult array_check(const char *call, const CUDA_ARRAY3D_DESCRIPTOR *d, int mip, unsigned *texel)
{
	CUresult rc = fmt_check(call, d->Format, d->NumChannels, texel);
	if (rc)
		return rc;
	unsigned f = d->Flags;
	if (f & ~(unsigned)ARRAY_FLAGS_KNOWN) {
		sim_log("%s: unknown flags 0x%x", call, f & ~(unsigned)ARRAY_FLAGS_KNOWN);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (f & ~(unsigned)ARRAY_FLAGS_SIM) {
		sim_log("%s: flags 0x%x (sparse, deferred mapping, depth, colour attachment or video) "
		        "are not simulated; returning CUDA_ERROR_NOT_SUPPORTED", call, f & ~(unsigned)ARRAY_FLAGS_SIM);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	size_t w = d->Width, h = d->Height, dd = d->Depth;
	int layered = !!(f & CUDA_ARRAY3D_LAYERED), surf = !!(f & CUDA_ARRAY3D_SURFACE_LDST);
	int cube = !!(f & CUDA_ARRAY3D_CUBEMAP);
	const char *why = NULL;
	if (!w)
		why = "zero width";
	else if (cube && (w != h || (layered ? !dd || dd % 6 : dd != 6)))
		why = "a cubemap that is not square with six faces (six per cubemap when layered)";
	else if (cube && (f & CUDA_ARRAY3D_TEXTURE_GATHER))
		why = "texture gather on a cubemap";
	else if (cube && (w > LIM_CUBEMAP || (layered && dd / 6 > LIM_CUBEMAP_LAYERS)))
		why = "beyond the cubemap limits";
	else if (!h && dd && !layered)
		why = "a depth without a height";
	else if (layered && !dd)
		why = "a layered array without layers (Depth 0)";
	else if ((f & CUDA_ARRAY3D_TEXTURE_GATHER) && (!h || dd || layered))
		why = "texture gather on an array that is not 2D";
	else if ((f & CUDA_ARRAY3D_TEXTURE_GATHER) && (w > LIM_GATHER || h > LIM_GATHER))
		why = "beyond the 2D gather limits";
	else if (layered && !cube && (w > LIM_LAYERED_W || h > LIM_LAYERED_W || dd > LIM_LAYERS))
		why = "beyond the layered limits";
	else if (!layered && !h && w > (mip ? LIM_MIP1D : surf ? LIM_SURF1D : LIM_TEX1D))
		why = "beyond the 1D width limit";
	else if (!layered && h && !dd && (w > LIM_TEX2D_W || h > LIM_TEX2D_H))
		why = "beyond the 2D limits";
	else if (mip && !layered && h && !dd && (w > LIM_MIP2D || h > LIM_MIP2D))
		why = "beyond the mipmapped 2D limits";
	else if (!layered && !cube && dd && (w > LIM_TEX3D || h > LIM_TEX3D || dd > LIM_TEX3D))
		why = "beyond the 3D limits";
	if (why) {
		sim_log("%s: %zux%zux%zu flags 0x%x: %s", call, w, h, dd, f, why);
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

/* The view of a whole array (what surfaces and textures over it see). */
static void array_view(const CUDA_ARRAY3D_DESCRIPTOR *d, const struct tex_store *st, unsigned texel,
		       struct ptx_tex *v)
{
	/* a cubemap is a layered 2D array of its faces */
	int layered = !!(d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP));
	memset(v, 0, sizeof(*v));
	v->cube = !!(d->Flags & CUDA_ARRAY3D_CUBEMAP);
	v->addr = st->base;
	v->bytes = st->bytes;
	v->width = d->Width;
	v->height = d->Height ? d->Height : 1;
	v->depth = !layered && d->Depth ? d->Depth : 1;
	v->layers = layered ? d->Depth : 0;
	v->pitch = (uint64_t)d->Width * texel;
	v->slice = v->pitch * v->height;
	v->dims = !d->Height ? 1 : (!d->Depth || layered) ? 2 : 3;
	v->format = d->Format;
	v->channels = d->NumChannels;
	v->texel = texel;
}

/* What creating an array or a mipmapped array (mip) checks first: the context it will belong
 * to (a green context's are its primary's), the arguments and the descriptor. */
static CUresult array_begin(const char *call, const void *out, const CUDA_ARRAY3D_DESCRIPTOR *d, int mip,
			    struct sim_ctx **ctx, unsigned *texel)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_res(sim_ctx_current(&rc));
	if (!c)
		return rc;
	if (c->sticky)
		return c->sticky;
	if (!out || !d)
		return CUDA_ERROR_INVALID_VALUE;
	*ctx = c;
	return array_check(call, d, mip, texel);
}

static CUresult array_create(const char *call, CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
	struct sim_ctx *c = NULL;
	unsigned texel;
	CUresult rc = array_begin(call, out, d, 0, &c, &texel);
	if (rc != CUDA_SUCCESS)
		return rc;
	/* dense, row-major: pitch = width x texel, slice = pitch x height; the limits keep the
	 * product far from overflow (2^46 at most) */
	uint64_t bytes = (uint64_t)d->Width * (d->Height ? d->Height : 1) * (d->Depth ? d->Depth : 1) * texel;
	struct tex_store *st = calloc(1, sizeof(*st));
	if (!st)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (sim_mem_alloc_kind(c, c->dev, bytes, ALLOC_ARRAY, &st->base)) {
		free(st);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	st->bytes = bytes;
	st->refs = 1;
	pthread_rwlock_wrlock(&tex_lock);
	uint32_t i;
	struct tex_slot *s = slot_new(&i);
	if (s) {
		s->kind = SLOT_ARRAY;
		s->ctx = c;
		s->store = st;
		s->ad = *d;
		array_view(d, st, texel, &s->view);
		*out = (CUarray)(uintptr_t)handle_of(i);
	}
	pthread_rwlock_unlock(&tex_lock);
	if (!s) {
		sim_mem_free(st->base, ALLOC_ARRAY);
		free(st);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

CUresult cuArray3DCreate(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
	return array_create("cuArray3DCreate", out, d);
}

CUresult cuArrayCreate(CUarray *out, const CUDA_ARRAY_DESCRIPTOR *d)
{
	if (!d)
		return array_create("cuArrayCreate", out, NULL);
	CUDA_ARRAY3D_DESCRIPTOR d3 = {.Width = d->Width, .Height = d->Height, .Format = d->Format,
	                              .NumChannels = d->NumChannels};
	return array_create("cuArrayCreate", out, &d3);
}

/* A live array's descriptor, or CUDA_ERROR_INVALID_HANDLE. */
static CUresult array_desc(CUarray h, CUDA_ARRAY3D_DESCRIPTOR *out)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_rwlock_rdlock(&tex_lock);
	struct tex_slot *s = slot_get((uint64_t)(uintptr_t)h, SLOT_ARRAY);
	if (s)
		*out = s->ad;
	pthread_rwlock_unlock(&tex_lock);
	return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuArray3DGetDescriptor(CUDA_ARRAY3D_DESCRIPTOR *out, CUarray h)
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	return array_desc(h, out);
}

/* Any array's width, height, format and channels (of a 3D or layered one too). */
CUresult cuArrayGetDescriptor(CUDA_ARRAY_DESCRIPTOR *out, CUarray h)
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_ARRAY3D_DESCRIPTOR d;
	CUresult rc = array_desc(h, &d);
	if (rc == CUDA_SUCCESS)
		*out = (CUDA_ARRAY_DESCRIPTOR){.Width = d.Width, .Height = d.Height, .Format = d.Format,
		                               .NumChannels = d.NumChannels};
	return rc;
}

/* Destroys a live slot of kind named by h after the work queued in its context, which may
 * still use it, has finished (as cuMemFree waits). */
static CUresult slot_destroy(uint64_t h, int kind)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_rwlock_rdlock(&tex_lock);
	struct tex_slot *s = slot_get(h, kind);
	struct sim_ctx *c = s ? s->ctx : NULL;
	pthread_rwlock_unlock(&tex_lock);
	if (!s)
		return CUDA_ERROR_INVALID_HANDLE;
	if (s->owner) {
		/* cuda.h is silent; a level belongs to its mipmapped array, which frees it */
		sim_log("cuArrayDestroy: %p is a level of a mipmapped array (cuMipmappedArrayDestroy frees it)",
		        (void *)(uintptr_t)h);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (sim_ctx_valid(c))
		sim_ctx_sync(c);
	pthread_rwlock_wrlock(&tex_lock);
	s = slot_get(h, kind);      /* another thread may have destroyed it meanwhile */
	if (s && kind == SLOT_MIPMAP) {
		/* its levels first; each holds a reference to the storage as the object does */
		for (uint32_t k = 0; k < s->view.levels; k++) {
			struct tex_slot *l = slot_get(s->level[k], SLOT_ARRAY);
			if (l && l->owner == h)
				slot_free(l);
		}
		s = slot_get(h, kind);
	}
	if (s)
		slot_free(s);
	pthread_rwlock_unlock(&tex_lock);
	return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuArrayDestroy(CUarray h) { return slot_destroy((uint64_t)(uintptr_t)h, SLOT_ARRAY); }

/* ---- mipmapped arrays ---- */

CUresult cuMipmappedArrayCreate(CUmipmappedArray *out, const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned nlevels)
{
	static const char call[] = "cuMipmappedArrayCreate";
	struct sim_ctx *c = NULL;
	unsigned texel;
	CUresult rc = array_begin(call, out, d, 1, &c, &texel);
	if (rc != CUDA_SUCCESS)
		return rc;
	/* every level keeps at least one texel: as many levels as halvings of the largest extent
	 * that shrinks (a layered array's layers and a cubemap's faces do not) */
	int layered = !!(d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP));
	size_t big = d->Width;
	if (d->Height > big)
		big = d->Height;
	if (!layered && d->Depth > big)
		big = d->Depth;
	unsigned most = 1;
	while (big >> most)
		most++;
	if (nlevels < 1 || nlevels > most) {
		sim_log("%s: %u levels for %zux%zux%zu (1 to %u)", call, nlevels, d->Width, d->Height, d->Depth, most);
		return CUDA_ERROR_INVALID_VALUE;
	}
	struct tex_store *st = calloc(1, sizeof(*st));
	uint64_t *lh = calloc(nlevels, sizeof(*lh));
	if (!st || !lh) {
		free(st);
		free(lh);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	/* level 0's view, then the levels' layout from it (the same the interpreter computes) */
	struct ptx_tex v, lv;
	array_view(d, st, texel, &v);
	v.levels = nlevels;
	v.bytes = v.slice * (v.layers ? v.layers : v.depth);      /* level 0's */
	uint64_t bytes = 0;
	for (unsigned k = 0; k < nlevels; k++) {
		if (ptx_tex_level(&v, k, &lv)) {        /* the limits keep this from happening */
			free(st);
			free(lh);
			return CUDA_ERROR_INVALID_VALUE;
		}
		bytes += lv.bytes;
	}
	if (sim_mem_alloc_kind(c, c->dev, bytes, ALLOC_ARRAY, &st->base)) {
		free(st);
		free(lh);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	st->bytes = bytes;
	v.addr = st->base;
	pthread_rwlock_wrlock(&tex_lock);
	uint32_t i;
	struct tex_slot *s = slot_new(&i);
	if (!s) {
		pthread_rwlock_unlock(&tex_lock);
		sim_mem_free(st->base, ALLOC_ARRAY);
		free(st);
		free(lh);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	uint64_t mh = handle_of(i);
	s->kind = SLOT_MIPMAP;
	s->ctx = c;
	s->store = st;
	s->ad = *d;
	s->view = v;
	s->level = lh;
	st->refs = 1;
	for (unsigned k = 0; k < nlevels; k++) {
		uint32_t j;
		struct tex_slot *l = slot_new(&j);
		s = &slots[i];          /* slot_new may have moved the table */
		if (!l) {
			for (unsigned q = 0; q < k; q++)
				slot_free(slot_get(lh[q], SLOT_ARRAY));
			slot_free(s);   /* frees lh, and the storage with its last reference */
			pthread_rwlock_unlock(&tex_lock);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		ptx_tex_level(&v, k, &lv);
		lv.levels = 0;
		l->kind = SLOT_ARRAY;
		l->ctx = c;
		l->store = st;
		st->refs++;
		l->owner = mh;
		l->ad = *d;
		l->ad.Width = lv.width;
		if (d->Height)
			l->ad.Height = lv.height;
		if (d->Depth && !layered)
			l->ad.Depth = lv.depth;
		l->view = lv;
		lh[k] = handle_of(j);
	}
	*out = (CUmipmappedArray)(uintptr_t)mh;
	pthread_rwlock_unlock(&tex_lock);
	return CUDA_SUCCESS;
}

CUresult cuMipmappedArrayGetLevel(CUarray *out, CUmipmappedArray h, unsigned level)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_rdlock(&tex_lock);
	struct tex_slot *s = slot_get((uint64_t)(uintptr_t)h, SLOT_MIPMAP);
	CUresult rc = !s ? CUDA_ERROR_INVALID_HANDLE : level >= s->view.levels ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	if (!rc)
		*out = (CUarray)(uintptr_t)s->level[level];
	pthread_rwlock_unlock(&tex_lock);
	return rc;
}

/* Frees the levels too, after the work queued in its context; a texture object over it keeps
 * reading the storage it had (as over a destroyed array). */
CUresult cuMipmappedArrayDestroy(CUmipmappedArray h) { return slot_destroy((uint64_t)(uintptr_t)h, SLOT_MIPMAP); }

/* Both describe arrays made with CUDA_ARRAY3D_DEFERRED_MAPPING or CUDA_ARRAY3D_SPARSE, which
 * the simulator does not make: CUDA_ERROR_INVALID_VALUE for every live one, as cuda.h says
 * for the others. */
static CUresult mipmap_flagged(const char *call, CUmipmappedArray h, const void *out, const char *flag)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_rwlock_rdlock(&tex_lock);
	struct tex_slot *s = slot_get((uint64_t)(uintptr_t)h, SLOT_MIPMAP);
	pthread_rwlock_unlock(&tex_lock);
	if (!s)
		return CUDA_ERROR_INVALID_HANDLE;
	if (out)
		sim_log("%s: the mipmapped array was not made with %s (not simulated)", call, flag);
	return CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMipmappedArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *out, CUmipmappedArray h, CUdevice dev)
{
	if (g_inited && (dev < 0 || dev >= g_ndev))
		return CUDA_ERROR_INVALID_DEVICE;
	return mipmap_flagged("cuMipmappedArrayGetMemoryRequirements", h, out, "CUDA_ARRAY3D_DEFERRED_MAPPING");
}

CUresult cuMipmappedArrayGetSparseProperties(CUDA_ARRAY_SPARSE_PROPERTIES *out, CUmipmappedArray h)
{
	return mipmap_flagged("cuMipmappedArrayGetSparseProperties", h, out, "CUDA_ARRAY3D_SPARSE");
}

int sim_array_info(CUarray h, struct sim_array_info *out)
{
	pthread_rwlock_rdlock(&tex_lock);
	struct tex_slot *s = slot_get((uint64_t)(uintptr_t)h, SLOT_ARRAY);
	if (s) {
		const struct ptx_tex *v = &s->view;
		*out = (struct sim_array_info){.base = v->addr, .bytes = v->bytes, .pitch = v->pitch,
		                               .rows = v->height, .slices = v->layers ? v->layers : v->depth,
		                               .texel = v->texel};
	}
	pthread_rwlock_unlock(&tex_lock);
	return s ? 0 : -EINVAL;
}

/* ---- texture and surface objects ---- */

/* The view of a resource and the array storage it holds a reference to (NULL for memory). The
 * caller holds tex_lock for writing (the reference is taken here). */
static CUresult resource_view(const char *call, struct sim_ctx *c, const CUDA_RESOURCE_DESC *rd, int surface,
			      struct ptx_tex *v, struct tex_store **st)
{
	*st = NULL;
	memset(v, 0, sizeof(*v));
	if (rd->flags) {
		sim_log("%s: resource flags 0x%x (must be 0)", call, rd->flags);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (surface && rd->resType != CU_RESOURCE_TYPE_ARRAY) {
		sim_log("%s: a surface is made over an array (resType %d)", call, (int)rd->resType);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (rd->resType == CU_RESOURCE_TYPE_ARRAY) {
		struct tex_slot *a = slot_get((uint64_t)(uintptr_t)rd->res.array.hArray, SLOT_ARRAY);
		if (!a || a->ctx != c) {
			sim_log("%s: %p is not a live array of the current context", call, (void *)rd->res.array.hArray);
			return CUDA_ERROR_INVALID_HANDLE;
		}
		if (surface && !(a->ad.Flags & CUDA_ARRAY3D_SURFACE_LDST)) {
			sim_log("%s: the array was made without CUDA_ARRAY3D_SURFACE_LDST", call);
			return CUDA_ERROR_INVALID_VALUE;
		}
		*v = a->view;
		*st = a->store;
		a->store->refs++;
		return CUDA_SUCCESS;
	}
	if (rd->resType == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY) {
		struct tex_slot *a = slot_get((uint64_t)(uintptr_t)rd->res.mipmap.hMipmappedArray, SLOT_MIPMAP);
		if (!a || a->ctx != c) {
			sim_log("%s: %p is not a live mipmapped array of the current context", call,
			        (void *)rd->res.mipmap.hMipmappedArray);
			return CUDA_ERROR_INVALID_HANDLE;
		}
		*v = a->view;
		*st = a->store;
		a->store->refs++;
		return CUDA_SUCCESS;
	}
	if (rd->resType != CU_RESOURCE_TYPE_LINEAR && rd->resType != CU_RESOURCE_TYPE_PITCH2D) {
		sim_log("%s: resource type %d", call, (int)rd->resType);
		return CUDA_ERROR_INVALID_VALUE;
	}
	int lin = rd->resType == CU_RESOURCE_TYPE_LINEAR;
	CUdeviceptr p = lin ? rd->res.linear.devPtr : rd->res.pitch2D.devPtr;
	CUarray_format fmt = lin ? rd->res.linear.format : rd->res.pitch2D.format;
	unsigned ch = lin ? rd->res.linear.numChannels : rd->res.pitch2D.numChannels, texel;
	CUresult rc = fmt_check(call, fmt, ch, &texel);
	if (rc)
		return rc;
	uint64_t w, h = 1, pitch, span;
	const char *why = NULL;
	if (lin) {
		w = rd->res.linear.sizeInBytes / texel;
		pitch = span = rd->res.linear.sizeInBytes;
		if (!w)
			why = "fewer bytes than one element";
		else if (w > LIM_TEX1D_LINEAR)
			why = "more elements than the 1D linear limit";
	} else {
		w = rd->res.pitch2D.width;
		h = rd->res.pitch2D.height;
		pitch = rd->res.pitch2D.pitchInBytes;
		span = 0;
		if (!w || !h || w > LIM_LIN2D_W || h > LIM_LIN2D_H)
			why = "width or height outside the 2D linear limits";
		else if (pitch % TEX_PITCH_ALIGN || pitch < w * texel || pitch > LIM_LIN2D_PITCH)
			why = "a pitch not a multiple of 32, below a row or beyond the limit";
		else
			span = pitch * h;
	}
	if (!why && p % TEX_ALIGN)
		why = "an address not aligned to the texture alignment (512)";
	struct sim_alloc al;
	if (!why && (sim_mem_find(p, span, &al) < 0 || al.kind == ALLOC_ARRAY ||
		     ((al.kind == ALLOC_DEVICE || al.kind == ALLOC_VMM || al.kind == ALLOC_IPC) && al.dev != c->dev) ||
		     (al.kind != ALLOC_DEVICE && al.kind != ALLOC_VMM && al.kind != ALLOC_MANAGED && al.kind != ALLOC_IPC)))
		why = "a range not inside one live device allocation of the current device";
	if (why) {
		sim_log("%s: %s memory at 0x%llx: %s", call, lin ? "linear" : "pitch2D", (unsigned long long)p, why);
		return CUDA_ERROR_INVALID_VALUE;
	}
	v->addr = p;
	v->bytes = span;
	v->width = w;
	v->height = h;
	v->depth = 1;
	v->pitch = pitch;
	v->slice = lin ? pitch : pitch * h;
	v->dims = lin ? 1 : 2;
	v->format = fmt;
	v->channels = ch;
	v->texel = texel;
	v->linear = lin;
	return CUDA_SUCCESS;
}

#define TRSF_KNOWN (CU_TRSF_READ_AS_INTEGER | CU_TRSF_NORMALIZED_COORDINATES | CU_TRSF_SRGB | \
		    CU_TRSF_DISABLE_TRILINEAR_OPTIMIZATION | CU_TRSF_SEAMLESS_CUBEMAP)

static CUresult texdesc_check(const char *call, const CUDA_TEXTURE_DESC *td)
{
	const char *why = NULL;
	for (int i = 0; i < 3; i++)
		if ((unsigned)td->addressMode[i] > CU_TR_ADDRESS_MODE_BORDER)
			why = "an address mode outside 0-3";
	if ((unsigned)td->filterMode > CU_TR_FILTER_MODE_LINEAR || (unsigned)td->mipmapFilterMode > CU_TR_FILTER_MODE_LINEAR)
		why = "a filter mode outside 0-1";
	else if (td->flags & ~(unsigned)TRSF_KNOWN)
		why = "unknown flags";
	/* A linear filter over texels read as integers (32-bit integers always are) is taken, as
	 * the driver takes it: FFmpeg's thumbnail_cuda makes such objects over 8- and 16-bit
	 * planes. Filtering returns floats, so such a fetch samples the nearest texel
	 * (ptx_tex.c). */
	if (why) {
		sim_log("%s: texture descriptor with %s", call, why);
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

/* A resource view is not simulated: NULL or an all-zero one (no view) only. */
static int view_absent(const CUDA_RESOURCE_VIEW_DESC *vd)
{
	static const CUDA_RESOURCE_VIEW_DESC zero;
	return !vd || !memcmp(vd, &zero, sizeof(zero));
}

static CUresult object_create(const char *call, uint64_t *out, const CUDA_RESOURCE_DESC *rd,
			      const CUDA_TEXTURE_DESC *td, int surface)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_res(sim_ctx_current(&rc));   /* a green context's are its primary's */
	if (!c)
		return rc;
	if (c->sticky)
		return c->sticky;
	if (!out || !rd || (!surface && !td))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_wrlock(&tex_lock);
	struct ptx_tex v;
	struct tex_store *st;
	rc = resource_view(call, c, rd, surface, &v, &st);
	if (!rc && !surface)
		rc = texdesc_check(call, td);
	uint32_t i;
	struct tex_slot *s = NULL;
	if (!rc && !(s = slot_new(&i)))
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (rc) {
		store_put(st);
		pthread_rwlock_unlock(&tex_lock);
		return rc;
	}
	s->kind = surface ? SLOT_SURF : SLOT_TEX;
	s->ctx = c;
	s->store = st;
	s->rd = *rd;
	if (!surface) {
		s->td = *td;
		for (int k = 0; k < 3; k++)
			v.addr_mode[k] = td->addressMode[k];
		v.filter = td->filterMode;
		v.flags = td->flags;
		/* used by tex.level and tex.grad only; maxAnisotropy is not simulated (isotropic) */
		v.mip_filter = td->mipmapFilterMode;
		v.lod_bias = td->mipmapLevelBias;
		v.lod_min = td->minMipmapLevelClamp;
		v.lod_max = td->maxMipmapLevelClamp;
		memcpy(v.border, td->borderColor, sizeof(v.border));
	}
	s->view = v;
	*out = handle_of(i);
	pthread_rwlock_unlock(&tex_lock);
	return CUDA_SUCCESS;
}

CUresult cuTexObjectCreate(CUtexObject *out, const CUDA_RESOURCE_DESC *rd, const CUDA_TEXTURE_DESC *td,
			   const CUDA_RESOURCE_VIEW_DESC *vd)
{
	if (!view_absent(vd)) {
		if (!g_inited)
			return CUDA_ERROR_NOT_INITIALIZED;
		sim_log("cuTexObjectCreate: resource views are not simulated; returning CUDA_ERROR_NOT_SUPPORTED");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	uint64_t h;
	CUresult rc = object_create("cuTexObjectCreate", out ? &h : NULL, rd, td, 0);
	if (rc == CUDA_SUCCESS)
		*out = (CUtexObject)h;
	return rc;
}

CUresult cuSurfObjectCreate(CUsurfObject *out, const CUDA_RESOURCE_DESC *rd)
{
	uint64_t h;
	CUresult rc = object_create("cuSurfObjectCreate", out ? &h : NULL, rd, NULL, 1);
	if (rc == CUDA_SUCCESS)
		*out = (CUsurfObject)h;
	return rc;
}

CUresult cuTexObjectDestroy(CUtexObject h) { return slot_destroy(h, SLOT_TEX); }
CUresult cuSurfObjectDestroy(CUsurfObject h) { return slot_destroy(h, SLOT_SURF); }

/* Reads a live object's descriptors (rd, td: either may be NULL). */
static CUresult object_get(uint64_t h, int kind, CUDA_RESOURCE_DESC *rd, CUDA_TEXTURE_DESC *td)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_rwlock_rdlock(&tex_lock);
	struct tex_slot *s = slot_get(h, kind);
	if (s && rd)
		*rd = s->rd;
	if (s && td)
		*td = s->td;
	pthread_rwlock_unlock(&tex_lock);
	return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuTexObjectGetResourceDesc(CUDA_RESOURCE_DESC *out, CUtexObject h)
{
	return out ? object_get(h, SLOT_TEX, out, NULL) : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuTexObjectGetTextureDesc(CUDA_TEXTURE_DESC *out, CUtexObject h)
{
	return out ? object_get(h, SLOT_TEX, NULL, out) : CUDA_ERROR_INVALID_VALUE;
}

/* No object has a resource view here; the driver answers CUDA_ERROR_INVALID_VALUE for an
 * object made without one. */
CUresult cuTexObjectGetResourceViewDesc(CUDA_RESOURCE_VIEW_DESC *out, CUtexObject h)
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = object_get(h, SLOT_TEX, NULL, NULL);
	return rc ? rc : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuSurfObjectGetResourceDesc(CUDA_RESOURCE_DESC *out, CUsurfObject h)
{
	return out ? object_get(h, SLOT_SURF, out, NULL) : CUDA_ERROR_INVALID_VALUE;
}

/* Kernels' lookup (ptx_env.tex): a copy of the view under the read lock, nothing more. */
int sim_tex_lookup(void *ctx, uint64_t handle, int surface, struct ptx_tex *out)
{
	pthread_rwlock_rdlock(&tex_lock);
	struct tex_slot *s = slot_get(handle, surface ? SLOT_SURF : SLOT_TEX);
	int ok = s && s->ctx == (struct sim_ctx *)ctx;
	if (ok)
		*out = s->view;
	pthread_rwlock_unlock(&tex_lock);
	return ok ? 0 : -EFAULT;
}

void sim_tex_destroy_ctx(struct sim_ctx *c)
{
	pthread_rwlock_wrlock(&tex_lock);
	/* objects first: then each array's storage goes with its handle */
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < nslots; i++) {
			struct tex_slot *s = &slots[i];
			if (s->ctx == c && (pass ? s->kind == SLOT_ARRAY || s->kind == SLOT_MIPMAP :
			                           s->kind == SLOT_TEX || s->kind == SLOT_SURF))
				slot_free(s);
		}
	pthread_rwlock_unlock(&tex_lock);
}

CUresult cuDeviceGetTexture1DLinearMaxWidth(size_t *max, CUarray_format fmt, unsigned channels, CUdevice dev)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!max)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0 || dev >= g_ndev)
		return CUDA_ERROR_INVALID_DEVICE;
	unsigned texel;
	CUresult rc = fmt_check("cuDeviceGetTexture1DLinearMaxWidth", fmt, channels, &texel);
	if (rc == CUDA_SUCCESS)
		*max = (size_t)LIM_TEX1D_LINEAR;
	return rc;
}
