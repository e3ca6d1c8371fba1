/* SPDX-License-Identifier: MIT */
/* codec.c — the generic call codec: msgpack-c encoder on the client, a strict bounded msgpack reader on both sides. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sanitizer/asan_interface.h>   /* the poisoning macros; no-ops without AddressSanitizer */

#include "codec.h"

/* Slots keep C values at offset 0 with the parameter's width, which is how the thunks read them. */
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the codec stores scalars little-endian");
static_assert(VGPU_MAX_ARGS <= 255, "argument indexes are 8-bit");

/*
 * Proxy-side storage of one decoded parameter. argv[i] points at .v (the first member),
 * so the thunk reads `*(T *)argv[i]` for by-value parameters and `*(T **)argv[i]` for
 * pointers; vgpu_encode_reply recovers the slot from argv[i] (argv must be passed back
 * unchanged).
 */
struct slot {
	union {
		uint64_t u;
		void *p;
	} v;
	uint64_t wire;   /* HANDLE: the zone's id (for handle_drop) */
	uint64_t len;    /* buffers/out strings: length the client announced */
	uint8_t wanted;  /* OUT_*: the client wants the value back */
	uint8_t present; /* pointer parameters: the client passed non-NULL */
};

/* ------------------------------------------------------------------ buffers and arena */

void vgpu_wbuf_reset(struct vgpu_wbuf *w)
{
	w->len = 0;
}

void vgpu_wbuf_free(struct vgpu_wbuf *w)
{
	free(w->data);
	w->data = NULL;
	w->len = w->cap = 0;
}

/* Makes room for n more bytes; -ENOMEM, or -E2BIG past VGPU_MSG_MAX. */
static int wbuf_reserve(struct vgpu_wbuf *w, size_t n)
{
	size_t cap;
	uint8_t *d;

	if (w->len + n <= w->cap)
		return 0;
	if (w->len + n > VGPU_MSG_MAX)
		return -E2BIG;
	cap = w->cap ? w->cap : 1024;
	while (cap < w->len + n)
		cap *= 2;
	d = realloc(w->data, cap);
	if (!d)
		return -ENOMEM;
	w->data = d;
	w->cap = cap;
	return 0;
}

/* msgpack-c write callback. */
static int wbuf_write(void *data, const char *buf, size_t len)
{
	struct vgpu_wbuf *w = data;

	/* the encoders reserve their worst case up front; growing here is the rare path */
	if (__builtin_expect(w->cap - w->len < len, 0) && wbuf_reserve(w, len))
		return -1;
	memcpy(w->data + w->len, buf, len);
	w->len += len;
	return 0;
}

/*
 * Under AddressSanitizer only the pieces handed out since the last reset are addressable:
 * the rest of the block stays poisoned, so a read past a decoded piece (into the next one's
 * padding or the unused tail) or through a pointer kept from an earlier call is a report,
 * and the bookkeeping costs what a call used, not the block's size. Invariant: outside
 * [base, base + used) the block is poisoned.
 */
int vgpu_arena_init(struct vgpu_arena *a, size_t size)
{
	a->base = aligned_alloc(16, (size + 15) & ~(size_t)15);
	a->size = a->base ? size : 0;
	a->used = 0;
	if (!a->base)
		return -ENOMEM;
	ASAN_POISON_MEMORY_REGION(a->base, a->size);
	return 0;
}

void vgpu_arena_reset(struct vgpu_arena *a)
{
	ASAN_POISON_MEMORY_REGION(a->base, a->used);
	a->used = 0;
}

void vgpu_arena_fini(struct vgpu_arena *a)
{
	free(a->base);
	a->base = NULL;
	a->size = a->used = 0;
}

/* n bytes at the arena's top (16-byte aligned), addressable, not zeroed; NULL when full. */
static inline void *arena_take(struct vgpu_arena *a, size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (n > a->size || need > a->size - a->used)
		return NULL;
	p = a->base + a->used;
	a->used += need;
	ASAN_UNPOISON_MEMORY_REGION(p, n);
	return p;
}

void *vgpu_arena_alloc(struct vgpu_arena *a, size_t n)
{
	void *p = arena_take(a, n);

	if (p)
		memset(p, 0, n);
	return p;
}

/* ------------------------------------------------------------------ descriptor helpers */

static bool is_out(unsigned kind)
{
	switch (kind) {
	case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR: case VGPU_ARG_INOUT_SCALAR:
	case VGPU_ARG_OUT_BUF: case VGPU_ARG_INOUT_BUF: case VGPU_ARG_OUT_STRING: case VGPU_ARG_OUT_STRUCT:
	case VGPU_ARG_INOUT_STRUCT: case VGPU_ARG_OUT_HANDLE_ARRAY:
		return true;
	}
	return false;
}

/* Reads an integer of the given width/signedness from p. */
static uint64_t load_uint(const void *p, unsigned size, bool is_signed, bool *negative)
{
	*negative = false;
	switch (size) {
	case 1: if (is_signed) { int8_t v; memcpy(&v, p, 1); *negative = v < 0; return (uint64_t)(int64_t)v; }
		{ uint8_t v; memcpy(&v, p, 1); return v; }
	case 2: if (is_signed) { int16_t v; memcpy(&v, p, 2); *negative = v < 0; return (uint64_t)(int64_t)v; }
		{ uint16_t v; memcpy(&v, p, 2); return v; }
	case 4: if (is_signed) { int32_t v; memcpy(&v, p, 4); *negative = v < 0; return (uint64_t)(int64_t)v; }
		{ uint32_t v; memcpy(&v, p, 4); return v; }
	default: if (is_signed) { int64_t v; memcpy(&v, p, 8); *negative = v < 0; return (uint64_t)v; }
		{ uint64_t v; memcpy(&v, p, 8); return v; }
	}
}

/* Value of length parameter k as an unsigned count; -ERANGE if negative. */
static int len_value(const struct vgpu_call_desc *d, unsigned k, void *const *argv, uint64_t *v)
{
	const struct vgpu_arg_desc *a = &d->args[k];
	const void *p = argv[k];
	bool neg;

	if (a->kind == VGPU_ARG_OUT_SCALAR || a->kind == VGPU_ARG_INOUT_SCALAR) {
		p = *(void *const *)p;
		if (!p) {
			*v = 0;
			return 0;
		}
	} else if (a->kind != VGPU_ARG_SCALAR) {
		return -EINVAL;
	}
	*v = load_uint(p, a->size, a->flags & VGPU_ARGF_SIGNED, &neg);
	return neg ? -ERANGE : 0;
}

int vgpu_arg_length(const struct vgpu_call_desc *d, unsigned i, void *const *argv, uint64_t *len)
{
	const struct vgpu_arg_desc *a = &d->args[i];
	uint64_t v, w, r;
	int rc;

	if (a->len_arg == VGPU_LEN_NONE) {
		*len = a->len_mul;
		return 0;
	}
	if (a->len_arg >= d->nargs)
		return -EINVAL;
	if ((rc = len_value(d, a->len_arg, argv, &v)))
		return rc;
	if (a->len_arg2 != VGPU_LEN_NONE) {
		if (a->len_arg2 >= d->nargs)
			return -EINVAL;
		if ((rc = len_value(d, a->len_arg2, argv, &w)))
			return rc;
		if (__builtin_mul_overflow(v, w, &v))
			return -ERANGE;
	}
	if (__builtin_mul_overflow(v, a->len_mul, &r))
		return -ERANGE;
	*len = r;
	return 0;
}

/* ------------------------------------------------------------------ client: request encoder (msgpack-c) */

static int pack_scalar(msgpack_packer *pk, const struct vgpu_arg_desc *a, const void *p)
{
	bool neg;

	if (a->flags & VGPU_ARGF_FLOAT) {
		if (a->size == 4) {
			float f;
			memcpy(&f, p, 4);
			return msgpack_pack_float(pk, f);
		}
		double x;
		memcpy(&x, p, 8);
		return msgpack_pack_double(pk, x);
	}
	uint64_t v = load_uint(p, a->size, a->flags & VGPU_ARGF_SIGNED, &neg);
	return neg ? msgpack_pack_int64(pk, (int64_t)v) : msgpack_pack_uint64(pk, v);
}

static int bulk_add(struct vgpu_bulk_list *bulk, void *ptr, uint64_t len, void **slot, unsigned arg, int in, int out)
{
	struct vgpu_bulk_seg *s;

	if (bulk->n >= VGPU_MAX_BULK)
		return -E2BIG;
	s = &bulk->seg[bulk->n++];
	s->ptr = ptr;
	s->len = len;
	s->slot = slot;
	s->arg = (uint8_t)arg;
	s->in = (uint8_t)in;
	s->out = (uint8_t)out;
	return 0;
}

int vgpu_encode_request(const struct vgpu_call_desc *d, void *const *argv, struct vgpu_wbuf *out,
			struct vgpu_bulk_list *bulk)
{
	msgpack_packer pk;
	int rc;

	bulk->n = 0;
	out->len = 0;
	if ((rc = wbuf_reserve(out, 16u + 10u * d->nargs)))
		return rc;
	msgpack_packer_init(&pk, out, wbuf_write);
	if (msgpack_pack_array(&pk, d->nargs))
		return -E2BIG;
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		const void *ap = argv[i];
		void *p = NULL;
		uint64_t len = 0;
		int e = 0;

		if (a->kind != VGPU_ARG_SCALAR && a->kind != VGPU_ARG_HANDLE && a->kind != VGPU_ARG_DPTR)
			p = *(void *const *)ap; /* every other kind is a pointer parameter */
		switch (a->kind) {
		case VGPU_ARG_SCALAR:
			e = pack_scalar(&pk, a, ap);
			break;
		case VGPU_ARG_HANDLE:
			e = msgpack_pack_uint64(&pk, (uint64_t)(uintptr_t)*(void *const *)ap);
			break;
		case VGPU_ARG_DPTR:
			e = msgpack_pack_uint64(&pk, *(const uint64_t *)ap);
			break;
		case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR: case VGPU_ARG_OUT_STRUCT:
			e = p ? msgpack_pack_true(&pk) : msgpack_pack_nil(&pk);
			break;
		case VGPU_ARG_INOUT_SCALAR:
			e = p ? pack_scalar(&pk, a, p) : msgpack_pack_nil(&pk);
			break;
		case VGPU_ARG_IN_STRUCT: case VGPU_ARG_INOUT_STRUCT:
			if (!p) {
				e = msgpack_pack_nil(&pk);
				break;
			}
			e = msgpack_pack_bin(&pk, a->struct_size) || msgpack_pack_bin_body(&pk, p, a->struct_size);
			break;
		case VGPU_ARG_IN_BUF: case VGPU_ARG_INOUT_BUF: case VGPU_ARG_OUT_BUF:
			if (!p) {
				e = msgpack_pack_nil(&pk);
				break;
			}
			if ((rc = vgpu_arg_length(d, i, argv, &len)))
				return -EINVAL;
			if (len > a->max_len || len > VGPU_BULK_LEN_MAX)
				return -EINVAL;
			if (a->kind == VGPU_ARG_OUT_BUF) {
				e = msgpack_pack_uint64(&pk, len);
			} else if (len <= VGPU_INLINE_MAX) {
				e = msgpack_pack_bin(&pk, (size_t)len) || msgpack_pack_bin_body(&pk, p, (size_t)len);
			} else {
				if ((rc = bulk_add(bulk, p, len, NULL, i, 1, 0)))
					return rc;
				e = msgpack_pack_uint64(&pk, len);
			}
			break;
		case VGPU_ARG_STRING: {
			size_t max = a->max_len && a->max_len < VGPU_STRING_MAX ? a->max_len : VGPU_STRING_MAX;
			if (!p) {
				e = msgpack_pack_nil(&pk);
				break;
			}
			len = strnlen(p, max + 1);
			if (len > max)
				return -EINVAL;
			e = msgpack_pack_str(&pk, (size_t)len) || msgpack_pack_str_body(&pk, p, (size_t)len);
			break;
		}
		case VGPU_ARG_OUT_STRING:
			if (!p) {
				e = msgpack_pack_nil(&pk);
				break;
			}
			if ((rc = vgpu_arg_length(d, i, argv, &len)) || !len)
				return -EINVAL;
			e = msgpack_pack_uint64(&pk, len < a->max_len ? len : a->max_len);
			break;
		case VGPU_ARG_IN_HANDLE_ARRAY: case VGPU_ARG_OUT_HANDLE_ARRAY:
			if (!p) {
				e = msgpack_pack_nil(&pk);
				break;
			}
			if (vgpu_arg_length(d, i, argv, &len) || len > a->max_len || len > VGPU_HANDLE_ARRAY_MAX)
				return -EINVAL;
			if (a->kind == VGPU_ARG_OUT_HANDLE_ARRAY) {
				e = msgpack_pack_uint64(&pk, len);
				break;
			}
			e = msgpack_pack_array(&pk, (size_t)len);
			for (uint64_t k = 0; k < len && !e; k++)
				e = msgpack_pack_uint64(&pk, (uint64_t)(uintptr_t)((void *const *)p)[k]);
			break;
		default:
			return -ENOTSUP; /* VGPU_ARG_OPAQUE: hand-written code carries this call */
		}
		if (e)
			return out->len + 64 > VGPU_MSG_MAX ? -E2BIG : -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------------ bounded msgpack reader */

/* A strict reader over untrusted bytes: every read is bounds-checked; the first error sticks. */
struct rd {
	const uint8_t *p, *end;
	int err;
};

static inline int rd_fail(struct rd *r, int e)
{
	if (!r->err)
		r->err = e;
	return r->err;
}

/* Big-endian unsigned of n = 1, 2, 4 or 8 bytes (msgpack's byte order). */
static inline __attribute__((always_inline)) uint64_t be(const uint8_t *p, unsigned n)
{
	uint16_t v2;
	uint32_t v4;
	uint64_t v8;

	switch (n) {
	case 1: return p[0];
	case 2: memcpy(&v2, p, 2); return __builtin_bswap16(v2);
	case 4: memcpy(&v4, p, 4); return __builtin_bswap32(v4);
	default: memcpy(&v8, p, 8); return __builtin_bswap64(v8);
	}
}

/* Takes n bytes (after bounds check) and returns them, or NULL with the error set. */
static inline const uint8_t *rd_take(struct rd *r, uint64_t n)
{
	const uint8_t *p = r->p;

	if (r->err)
		return NULL;
	if (n > (uint64_t)(r->end - r->p)) {
		rd_fail(r, -EBADMSG);
		return NULL;
	}
	r->p += n;
	return p;
}

/* Next type byte without consuming it; -1 at the end or after an error. */
static inline int rd_peek(const struct rd *r)
{
	return !r->err && r->p < r->end ? *r->p : -1;
}

static inline bool rd_nil(struct rd *r)
{
	if (rd_peek(r) == 0xc0) {
		r->p++;
		return true;
	}
	return false;
}

static int rd_array(struct rd *r, uint32_t *n)
{
	const uint8_t *t = rd_take(r, 1), *b;

	*n = 0;
	if (!t)
		return r->err;
	if ((*t & 0xf0) == 0x90) {
		*n = *t & 0x0f;
		return 0;
	}
	if (*t == 0xdc && (b = rd_take(r, 2))) {
		*n = (uint32_t)be(b, 2);
		return 0;
	}
	if (*t == 0xdd && (b = rd_take(r, 4))) {
		*n = (uint32_t)be(b, 4);
		return 0;
	}
	return rd_fail(r, -EBADMSG);
}

/* Any msgpack integer: *u = value as two's complement, *neg = negative. */
static inline __attribute__((always_inline)) int rd_int(struct rd *r, uint64_t *u, bool *neg)
{
	const uint8_t *t = rd_take(r, 1), *b;
	unsigned n;

	*u = 0;
	*neg = false;
	if (!t)
		return r->err;
	if (*t <= 0x7f) {
		*u = *t;
		return 0;
	}
	if (*t >= 0xe0) {
		*u = (uint64_t)(int64_t)(int8_t)*t;
		*neg = true;
		return 0;
	}
	switch (*t) {
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		n = 1u << (*t - 0xcc);
		if (!(b = rd_take(r, n)))
			return r->err;
		*u = be(b, n);
		return 0;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
		n = 1u << (*t - 0xd0);
		if (!(b = rd_take(r, n)))
			return r->err;
		uint64_t v = be(b, n);
		if (n < 8 && (v >> (8 * n - 1)))
			v |= ~0ull << (8 * n); /* sign-extend */
		*u = v;
		*neg = (int64_t)v < 0;
		return 0;
	}
	}
	return rd_fail(r, -EBADMSG);
}

static inline __attribute__((always_inline)) int rd_uint(struct rd *r, uint64_t *u)
{
	bool neg;

	if (rd_int(r, u, &neg))
		return r->err;
	return neg ? rd_fail(r, -EBADMSG) : 0;
}

/* bin (want_str = 0) or str (1) header: *n = payload length, bounded by bytes remaining. */
static const uint8_t *rd_bytes(struct rd *r, int want_str, uint32_t *n)
{
	const uint8_t *t = rd_take(r, 1), *b;
	unsigned w = 0;

	*n = 0;
	if (!t)
		return NULL;
	if (want_str && (*t & 0xe0) == 0xa0) {
		*n = *t & 0x1f;
		return rd_take(r, *n);
	}
	if (want_str ? (*t >= 0xd9 && *t <= 0xdb) : (*t >= 0xc4 && *t <= 0xc6))
		w = 1u << (*t - (want_str ? 0xd9 : 0xc4));
	if (!w || !(b = rd_take(r, w))) {
		rd_fail(r, -EBADMSG);
		return NULL;
	}
	*n = (uint32_t)be(b, w);
	return rd_take(r, *n);
}

/* A scalar as the descriptor says, range-checked for its width; stored little-endian in *dst. */
static inline __attribute__((always_inline)) int rd_scalar(struct rd *r, const struct vgpu_arg_desc *a, void *dst)
{
	const uint8_t *t, *b;
	uint64_t u;
	bool neg;

	if (a->flags & VGPU_ARGF_FLOAT) {
		if (!(t = rd_take(r, 1)))
			return r->err;
		if ((a->size == 4 && *t != 0xca) || (a->size == 8 && *t != 0xcb) || (a->size != 4 && a->size != 8))
			return rd_fail(r, -EBADMSG);
		if (!(b = rd_take(r, a->size)))
			return r->err;
		u = be(b, a->size);
		if (a->size == 4) {
			uint32_t v = (uint32_t)u;
			memcpy(dst, &v, 4);
		} else {
			memcpy(dst, &u, 8);
		}
		return 0;
	}
	if (rd_int(r, &u, &neg))
		return r->err;
	if (a->size < 8) {
		unsigned bits = 8u * a->size;
		if (a->flags & VGPU_ARGF_SIGNED) {
			int64_t s = (int64_t)u, lo = -(1ll << (bits - 1)), hi = (1ll << (bits - 1)) - 1;
			if ((!neg && u > (uint64_t)hi) || (neg && s < lo))
				return rd_fail(r, -EBADMSG);
		} else if (neg || u >> bits) {
			return rd_fail(r, -EBADMSG);
		}
	} else if (!(a->flags & VGPU_ARGF_SIGNED) && neg) {
		return rd_fail(r, -EBADMSG);
	} else if ((a->flags & VGPU_ARGF_SIGNED) && !neg && u > INT64_MAX) {
		return rd_fail(r, -EBADMSG);
	}
	memcpy(dst, &u, a->size); /* little-endian: the low bytes */
	return 0;
}

/* ------------------------------------------------------------------ proxy: request decoder */

static CUresult errno_to_cu(int e)
{
	switch (e) {
	case -ENOMEM: return CUDA_ERROR_OUT_OF_MEMORY;
	case -EBADF: return CUDA_ERROR_INVALID_HANDLE;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
}

/* Arena storage of n bytes for an OUT/INOUT value; slot->v.p points at it. */
static int out_storage(struct vgpu_arena *ar, struct slot *s, size_t n)
{
	s->v.p = vgpu_arena_alloc(ar, n ? n : 1);
	return s->v.p ? 0 : -ENOMEM;
}

/* 1 if parameter k is the length of an ALLOC parameter (needs storage even if the client passed NULL). */
static bool feeds_alloc(const struct vgpu_call_desc *d, unsigned k)
{
	for (unsigned i = 0; i < d->nargs; i++)
		if ((d->args[i].flags & VGPU_ARGF_ALLOC) && (d->args[i].len_arg == k || d->args[i].len_arg2 == k))
			return true;
	return false;
}

static int decode_arg(const struct vgpu_call_desc *d, unsigned i, struct rd *r, struct vgpu_arena *ar,
		      const struct vgpu_codec_hooks *h, void *hctx, struct slot *s, struct vgpu_bulk_list *bulk)
{
	const struct vgpu_arg_desc *a = &d->args[i];
	const uint8_t *b;
	uint32_t n;
	uint64_t u;
	int rc;

	switch (a->kind) {
	case VGPU_ARG_SCALAR:
		return rd_scalar(r, a, &s->v);
	case VGPU_ARG_HANDLE:
		if (rd_uint(r, &s->wire))
			return r->err;
		if (!s->wire)
			s->v.p = NULL;
		else if (h && h->handle_in) {
			if ((rc = h->handle_in(hctx, a->htype, s->wire, &s->v.p)))
				return rd_fail(r, rc < 0 ? rc : -EBADF);
		} else
			s->v.p = (void *)(uintptr_t)s->wire;
		return 0;
	case VGPU_ARG_DPTR:
		return rd_uint(r, &s->v.u);
	case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR: case VGPU_ARG_OUT_STRUCT: {
		size_t sz = a->kind == VGPU_ARG_OUT_STRUCT ? a->struct_size : a->kind == VGPU_ARG_OUT_SCALAR ? a->size : 8;
		if (rd_nil(r)) {
			/* the proxy still needs the value to record the allocation's size */
			if (feeds_alloc(d, i) && (rc = out_storage(ar, s, sz)))
				return rd_fail(r, rc);
			return 0;
		}
		if (!(b = rd_take(r, 1)))
			return r->err;
		if (*b != 0xc3)
			return rd_fail(r, -EBADMSG);
		s->wanted = 1;
		return (rc = out_storage(ar, s, sz)) ? rd_fail(r, rc) : 0;
	}
	case VGPU_ARG_INOUT_SCALAR:
		if (rd_nil(r))
			return 0;
		if ((rc = out_storage(ar, s, 8)))
			return rd_fail(r, rc);
		s->wanted = 1;
		return rd_scalar(r, a, s->v.p);
	case VGPU_ARG_IN_STRUCT: case VGPU_ARG_INOUT_STRUCT:
		if (rd_nil(r))
			return 0;
		if (!(b = rd_bytes(r, 0, &n)))
			return r->err;
		if (n != a->struct_size)
			return rd_fail(r, -EBADMSG);
		if ((rc = out_storage(ar, s, n)))
			return rd_fail(r, rc);
		memcpy(s->v.p, b, n);
		s->wanted = a->kind == VGPU_ARG_INOUT_STRUCT;
		return 0;
	case VGPU_ARG_IN_BUF: case VGPU_ARG_INOUT_BUF: case VGPU_ARG_OUT_BUF: {
		int fin = rd_peek(r);
		if (rd_nil(r))
			return 0;
		s->present = 1;
		s->wanted = a->kind != VGPU_ARG_IN_BUF;
		if (a->kind != VGPU_ARG_OUT_BUF && ((fin >= 0xc4 && fin <= 0xc6))) {
			if (!(b = rd_bytes(r, 0, &n)))
				return r->err;
			if (n > VGPU_INLINE_MAX)
				return rd_fail(r, -EBADMSG); /* longer buffers must use the bulk stream */
			if (!(s->v.p = arena_take(ar, n ? n : 1)))
				return rd_fail(r, -ENOMEM);
			memcpy(s->v.p, b, n);
			s->len = n;
			return 0;
		}
		if (rd_uint(r, &u))
			return r->err;
		if (u > a->max_len || u > VGPU_BULK_LEN_MAX)
			return rd_fail(r, -E2BIG);
		s->len = u;
		if (a->kind == VGPU_ARG_OUT_BUF && u <= VGPU_INLINE_MAX)
			return (rc = out_storage(ar, s, (size_t)u)) ? rd_fail(r, rc) : 0;
		if (u <= VGPU_INLINE_MAX)
			return rd_fail(r, -EBADMSG); /* short input buffers travel inline */
		if ((rc = bulk_add(bulk, NULL, u, &s->v.p, i, a->kind != VGPU_ARG_OUT_BUF, a->kind != VGPU_ARG_IN_BUF)))
			return rd_fail(r, rc);
		return 0;
	}
	case VGPU_ARG_STRING: {
		size_t max = a->max_len && a->max_len < VGPU_STRING_MAX ? a->max_len : VGPU_STRING_MAX;
		if (rd_nil(r))
			return 0;
		if (!(b = rd_bytes(r, 1, &n)))
			return r->err;
		if (n > max)
			return rd_fail(r, -E2BIG);
		if (memchr(b, 0, n))
			return rd_fail(r, -EBADMSG);
		if ((rc = out_storage(ar, s, (size_t)n + 1)))
			return rd_fail(r, rc);
		memcpy(s->v.p, b, n); /* the arena zeroed the terminator */
		return 0;
	}
	case VGPU_ARG_IN_HANDLE_ARRAY: {
		void **h_arr;
		if (rd_nil(r))
			return 0;
		if (rd_array(r, &n))
			return r->err;
		/* bound the count before allocating: each id takes at least one byte */
		if (n > a->max_len || n > VGPU_HANDLE_ARRAY_MAX || n > (uint64_t)(r->end - r->p))
			return rd_fail(r, -E2BIG);
		if (!(h_arr = arena_take(ar, sizeof(void *) * (n ? n : 1))))
			return rd_fail(r, -ENOMEM);
		for (uint32_t k = 0; k < n; k++) {
			if (rd_uint(r, &u))
				return r->err;
			h_arr[k] = (void *)(uintptr_t)u;
			if (u && h && h->handle_in && (rc = h->handle_in(hctx, a->htype, u, &h_arr[k])))
				return rd_fail(r, rc < 0 ? rc : -EBADF);
		}
		s->v.p = h_arr;
		s->len = n;
		s->present = 1;
		return 0;
	}
	case VGPU_ARG_OUT_HANDLE_ARRAY:
		if (rd_nil(r))
			return 0;
		if (rd_uint(r, &u))
			return r->err;
		if (u > a->max_len || u > VGPU_HANDLE_ARRAY_MAX)
			return rd_fail(r, -E2BIG);
		s->present = s->wanted = 1;
		s->len = u;
		return (rc = out_storage(ar, s, sizeof(void *) * (size_t)u)) ? rd_fail(r, rc) : 0;
	case VGPU_ARG_OUT_STRING:
		if (rd_nil(r))
			return 0;
		if (rd_uint(r, &u))
			return r->err;
		if (!u || u > a->max_len || u > VGPU_STRING_MAX)
			return rd_fail(r, -E2BIG);
		s->present = 1;
		s->len = u;
		s->wanted = 1;
		return (rc = out_storage(ar, s, (size_t)u)) ? rd_fail(r, rc) : 0;
	}
	return rd_fail(r, -ENOTSUP);
}

/* After all parameters are decoded: lengths announced must equal the length expressions; device ranges checked. */
static int check_lengths(const struct vgpu_call_desc *d, void **argv, const struct vgpu_codec_hooks *h, void *hctx)
{
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		struct slot *s = (struct slot *)argv[i];
		uint64_t len;

		switch (a->kind) {
		case VGPU_ARG_IN_BUF: case VGPU_ARG_INOUT_BUF: case VGPU_ARG_OUT_BUF: case VGPU_ARG_OUT_STRING:
		case VGPU_ARG_IN_HANDLE_ARRAY: case VGPU_ARG_OUT_HANDLE_ARRAY:
			if (!s->present)
				continue; /* NULL pointer */
			if (vgpu_arg_length(d, i, argv, &len))
				return -EBADMSG;
			if (a->kind == VGPU_ARG_OUT_STRING && len > a->max_len)
				len = a->max_len;
			if (len != s->len)
				return -EBADMSG;
			break;
		case VGPU_ARG_DPTR:
			if (!s->v.u || !h || !h->dptr_check)
				continue;
			len = 0;
			if ((a->flags & VGPU_ARGF_RANGE) && vgpu_arg_length(d, i, argv, &len))
				return -EFAULT;
			if (len > a->max_len || h->dptr_check(hctx, &s->v.u, len))
				return -EFAULT;
			break;
		}
	}
	return 0;
}

int vgpu_decode_request(const struct vgpu_call_desc *d, const void *msg, uint32_t len, struct vgpu_arena *a,
			const struct vgpu_codec_hooks *h, void *hctx, void **argv, struct vgpu_bulk_list *bulk,
			CUresult *err)
{
	struct rd r = { msg, (const uint8_t *)msg + len, 0 };
	struct slot *slots;
	uint32_t n;
	int rc;

	bulk->n = 0;
	*err = CUDA_SUCCESS;
	if (d->nargs > VGPU_MAX_ARGS || len > VGPU_MSG_MAX) {
		rc = len > VGPU_MSG_MAX ? -E2BIG : -EINVAL;
		goto fail;
	}
	if (rd_array(&r, &n) || n != d->nargs) {
		rc = -EBADMSG;
		goto fail;
	}
	slots = arena_take(a, sizeof(*slots) * (d->nargs ? d->nargs : 1));
	if (!slots) {
		rc = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < d->nargs; i++) {
		slots[i] = (struct slot){ .v.u = 0 };
		argv[i] = &slots[i].v;
		if (decode_arg(d, i, &r, a, h, hctx, &slots[i], bulk)) {
			rc = r.err;
			goto fail;
		}
	}
	if (r.p != r.end) {
		rc = -EBADMSG; /* trailing bytes */
		goto fail;
	}
	if ((rc = check_lengths(d, argv, h, hctx)))
		goto fail;
	return 0;
fail:
	bulk->n = 0;
	*err = errno_to_cu(rc);
	return rc;
}

/* ------------------------------------------------------------------ proxy: reply encoder */

int vgpu_encode_error(const struct vgpu_call_desc *d, CUresult res, struct vgpu_wbuf *out)
{
	msgpack_packer pk;
	int rc;

	out->len = 0;
	if ((rc = wbuf_reserve(out, 16u + d->nargs)))
		return rc;
	msgpack_packer_init(&pk, out, wbuf_write);
	msgpack_pack_array(&pk, (size_t)d->nargs + 1);
	msgpack_pack_int64(&pk, (int64_t)res);
	for (unsigned i = 0; i < d->nargs; i++)
		msgpack_pack_nil(&pk);
	return 0;
}

int vgpu_encode_reply(const struct vgpu_call_desc *d, void *const *argv, CUresult res,
		      const struct vgpu_codec_hooks *h, void *hctx, struct vgpu_wbuf *out, struct vgpu_bulk_list *bulk)
{
	msgpack_packer pk;
	int rc;

	bulk->n = 0;
	if (res != CUDA_SUCCESS)
		return vgpu_encode_error(d, res, out);
	out->len = 0;
	if ((rc = wbuf_reserve(out, 16u + 10u * d->nargs)))
		return rc;
	msgpack_packer_init(&pk, out, wbuf_write);
	msgpack_pack_array(&pk, (size_t)d->nargs + 1);
	msgpack_pack_int64(&pk, (int64_t)res);
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		const struct slot *s = (const struct slot *)argv[i];
		const void *p = s->v.p;
		int e = 0;

		if (!is_out(a->kind) || !s->wanted || !p) {
			e = msgpack_pack_nil(&pk);
		} else {
			switch (a->kind) {
			case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_INOUT_SCALAR:
				e = pack_scalar(&pk, a, p);
				break;
			case VGPU_ARG_OUT_HANDLE: {
				void *real = *(void *const *)p;
				uint64_t id = (uint64_t)(uintptr_t)real;
				if (real && h && h->handle_new && (rc = h->handle_new(hctx, a->htype, real, &id)))
					return rc < 0 ? rc : -ENOMEM;
				e = msgpack_pack_uint64(&pk, id);
				break;
			}
			case VGPU_ARG_OUT_DPTR: {
				uint64_t v = *(const uint64_t *)p;
				e = msgpack_pack_uint64(&pk, h && h->dptr_zone ? h->dptr_zone(hctx, v) : v);
				break;
			}
			case VGPU_ARG_OUT_STRUCT: case VGPU_ARG_INOUT_STRUCT:
				e = msgpack_pack_bin(&pk, a->struct_size) || msgpack_pack_bin_body(&pk, p, a->struct_size);
				break;
			case VGPU_ARG_OUT_BUF: case VGPU_ARG_INOUT_BUF:
				if (s->len <= VGPU_INLINE_MAX) {
					e = msgpack_pack_bin(&pk, (size_t)s->len) || msgpack_pack_bin_body(&pk, p, (size_t)s->len);
				} else {
					if ((rc = bulk_add(bulk, (void *)p, s->len, NULL, i, 0, 1)))
						return rc;
					e = msgpack_pack_uint64(&pk, s->len);
				}
				break;
			case VGPU_ARG_OUT_HANDLE_ARRAY:
				e = msgpack_pack_array(&pk, (size_t)s->len);
				for (uint64_t k = 0; k < s->len && !e; k++) {
					void *real = ((void *const *)p)[k];
					uint64_t id = (uint64_t)(uintptr_t)real;
					if (real && h && h->handle_new && (rc = h->handle_new(hctx, a->htype, real, &id)))
						return rc < 0 ? rc : -ENOMEM;
					e = msgpack_pack_uint64(&pk, id);
				}
				break;
			case VGPU_ARG_OUT_STRING: {
				size_t n = strnlen(p, (size_t)s->len - 1);
				e = msgpack_pack_str(&pk, n) || msgpack_pack_str_body(&pk, p, n);
				break;
			}
			}
		}
		if (e)
			return -ENOMEM;
	}
	/* Lifecycle hooks only once the whole reply is encoded, so a failure above leaves none applied. */
	for (unsigned i = 0; i < d->nargs && h; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		const struct slot *s = (const struct slot *)argv[i];
		uint64_t len;

		if ((a->flags & VGPU_ARGF_DESTROYS) && s->wire && h->handle_drop)
			h->handle_drop(hctx, a->htype, s->wire);
		if ((a->flags & VGPU_ARGF_FREES) && s->v.u && h->dptr_free)
			h->dptr_free(hctx, s->v.u);
		if ((a->flags & VGPU_ARGF_ALLOC) && s->v.p && h->dptr_alloc && !vgpu_arg_length(d, i, argv, &len))
			h->dptr_alloc(hctx, *(const uint64_t *)s->v.p, len);
	}
	return 0;
}

/* ------------------------------------------------------------------ client: reply decoder */

static int reply_arg(const struct vgpu_call_desc *d, unsigned i, void *const *argv, struct rd *r,
		     struct vgpu_bulk_list *bulk)
{
	const struct vgpu_arg_desc *a = &d->args[i];
	void *p;
	const uint8_t *b;
	uint32_t n;
	uint64_t u, len;
	int rc;

	if (rd_nil(r))
		return 0;
	if (!is_out(a->kind) || !(p = *(void *const *)argv[i]))
		return rd_fail(r, -EBADMSG); /* a value the client did not ask for */
	switch (a->kind) {
	case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_INOUT_SCALAR:
		return rd_scalar(r, a, p);
	case VGPU_ARG_OUT_HANDLE:
		if (rd_uint(r, &u))
			return r->err;
		*(void **)p = (void *)(uintptr_t)u;
		return 0;
	case VGPU_ARG_OUT_DPTR:
		if (rd_uint(r, &u))
			return r->err;
		memcpy(p, &u, 8);
		return 0;
	case VGPU_ARG_OUT_STRUCT: case VGPU_ARG_INOUT_STRUCT:
		if (!(b = rd_bytes(r, 0, &n)))
			return r->err;
		if (n != a->struct_size)
			return rd_fail(r, -EBADMSG);
		memcpy(p, b, n);
		return 0;
	case VGPU_ARG_OUT_BUF: case VGPU_ARG_INOUT_BUF:
		if (vgpu_arg_length(d, i, argv, &len))
			return rd_fail(r, -EBADMSG);
		if (len <= VGPU_INLINE_MAX) {
			if (!(b = rd_bytes(r, 0, &n)))
				return r->err;
			if (n != len)
				return rd_fail(r, -EBADMSG);
			memcpy(p, b, n);
			return 0;
		}
		if (rd_uint(r, &u))
			return r->err;
		if (u != len)
			return rd_fail(r, -EBADMSG);
		if ((rc = bulk_add(bulk, p, len, NULL, i, 0, 1)))
			return rd_fail(r, rc);
		return 0;
	case VGPU_ARG_OUT_HANDLE_ARRAY:
		if (vgpu_arg_length(d, i, argv, &len) || rd_array(r, &n))
			return rd_fail(r, -EBADMSG);
		if (n != len)
			return rd_fail(r, -EBADMSG);
		for (uint32_t k = 0; k < n; k++) {
			if (rd_uint(r, &u))
				return r->err;
			((void **)p)[k] = (void *)(uintptr_t)u;
		}
		return 0;
	case VGPU_ARG_OUT_STRING:
		if (vgpu_arg_length(d, i, argv, &len) || !len)
			return rd_fail(r, -EBADMSG);
		if (!(b = rd_bytes(r, 1, &n)))
			return r->err;
		if (n >= len || n >= a->max_len)
			return rd_fail(r, -EBADMSG);
		memcpy(p, b, n);
		((char *)p)[n] = 0;
		return 0;
	}
	return rd_fail(r, -EBADMSG);
}

int vgpu_decode_reply(const struct vgpu_call_desc *d, void *const *argv, const void *msg, uint32_t len,
		      CUresult *res, struct vgpu_bulk_list *bulk)
{
	struct rd r = { msg, (const uint8_t *)msg + len, 0 };
	uint32_t n;
	uint64_t u;
	bool neg;

	bulk->n = 0;
	if (rd_array(&r, &n) || n != (uint32_t)d->nargs + 1u)
		goto bad;
	if (rd_int(&r, &u, &neg) || neg || u > INT32_MAX)
		goto bad;
	*res = (CUresult)u;
	for (unsigned i = 0; i < d->nargs; i++)
		if (reply_arg(d, i, argv, &r, bulk))
			goto bad;
	if (r.p != r.end)
		goto bad;
	return 0;
bad:
	bulk->n = 0;
	return -EBADMSG;
}

int vgpu_copy_shape(const struct vgpu_call_desc *d, int out, struct vgpu_copy_shape *s /* out */)
{
	if ((d->flags & VGPU_CALLF_CUSTOM) || d->nout != (out ? 1 : 0) || d->nargs < 3 || d->nargs > 4)
		return -1;
	s->dptr = s->buf = s->len = s->stream = -1;
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		if (a->kind == (out ? VGPU_ARG_OUT_BUF : VGPU_ARG_IN_BUF) && a->len_mul == 1 &&
		    a->len_arg2 == VGPU_LEN_NONE)
			s->buf = (int)i;
		else if (a->kind == VGPU_ARG_DPTR && (a->flags & VGPU_ARGF_RANGE) && a->len_mul == 1 &&
			 a->len_arg2 == VGPU_LEN_NONE && a->size == 8)
			s->dptr = (int)i;
		else if (a->kind == VGPU_ARG_SCALAR && a->size == 8 && !(a->flags & (VGPU_ARGF_SIGNED | VGPU_ARGF_FLOAT)))
			s->len = (int)i;
		else if (a->kind == VGPU_ARG_HANDLE && a->htype == VGPU_H_STREAM && s->stream < 0)
			s->stream = (int)i;
	}
	if (s->buf < 0 || s->dptr < 0 || s->len < 0 || d->args[s->buf].len_arg != s->len ||
	    d->args[s->dptr].len_arg != s->len || (d->nargs == 4) != (s->stream >= 0))
		return -1;
	/* a posted call is only ever a host-to-device copy (its bytes go with the request) */
	if ((d->flags & VGPU_CALLF_ASYNC) && out)
		return -1;
	return 0;
}
