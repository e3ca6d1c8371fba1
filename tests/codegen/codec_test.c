/* SPDX-License-Identifier: MIT */
/* codec_test.c — round trips of random arguments through every generated descriptor, and hostile-input cases for the decoders. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "vgpu_calls.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#ifdef NDEBUG
#error "tests keep their assertions"
#endif

static int failures;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			failures++;                                             \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* Client-side storage of one parameter: the parameter variable and what it points at. */
struct cval {
	union {
		uint64_t u;
		void *p;
		float f;
		double x;
	} v;                /* the parameter itself (argv[i] = &v) */
	uint8_t *buf;       /* pointee storage for pointer parameters */
	size_t buflen;
};

static bool is_len_of_something(const struct vgpu_call_desc *d, unsigned k)
{
	for (unsigned i = 0; i < d->nargs; i++)
		if (d->args[i].len_arg == k || d->args[i].len_arg2 == k)
			return true;
	return false;
}

static bool feeds_handle_array(const struct vgpu_call_desc *d, unsigned k)
{
	for (unsigned i = 0; i < d->nargs; i++)
		if ((d->args[i].len_arg == k || d->args[i].len_arg2 == k) &&
		    (d->args[i].kind == VGPU_ARG_IN_HANDLE_ARRAY || d->args[i].kind == VGPU_ARG_OUT_HANDLE_ARRAY))
			return true;
	return false;
}

static void store(void *dst, uint64_t v, unsigned size)
{
	memcpy(dst, &v, size);
}

/* A random scalar that fits the descriptor (small when it is a length). */
static uint64_t rnd_scalar(const struct vgpu_arg_desc *a, bool small, unsigned limit)
{
	if (a->flags & VGPU_ARGF_FLOAT) {
		if (a->size == 4) {
			float f = (float)(int64_t)rnd_below(1000000) / 7.0f;
			uint32_t u;
			memcpy(&u, &f, 4);
			return u;
		}
		double x = (double)(int64_t)rnd() / 3.0;
		uint64_t u;
		memcpy(&u, &x, 8);
		return u;
	}
	if (small)
		return rnd_below(limit);
	uint64_t v = rnd();
	if (a->size < 8)
		v &= (1ull << (8 * a->size)) - 1;
	return v;
}

/* Fills client parameters with random valid values. */
static void make_args(const struct vgpu_call_desc *d, struct cval *cv, void **argv)
{
	memset(cv, 0, sizeof(*cv) * VGPU_MAX_ARGS);
	/* first lengths, then everything that depends on them */
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		argv[i] = &cv[i].v;
		if (a->kind == VGPU_ARG_SCALAR) {
			bool small = is_len_of_something(d, i);
			uint64_t v = rnd_scalar(a, small, feeds_handle_array(d, i) ? 40 :
							  rnd_below(4) == 0 ? 3 * VGPU_INLINE_MAX : 300);
			if (small && a->size < 8)
				v &= (1ull << (8 * a->size - 1)) - 1; /* non-negative */
			if (small && !v)
				v = 1;
			store(&cv[i].v, v, a->size);
		} else if (a->kind == VGPU_ARG_INOUT_SCALAR && is_len_of_something(d, i)) {
			/* a length passed by pointer (capacity in, count out): small, never NULL */
			cv[i].buflen = 8;
			cv[i].buf = calloc(1, 8);
			store(cv[i].buf, 1 + rnd_below(feeds_handle_array(d, i) ? 40 : 300), a->size);
			cv[i].v.p = cv[i].buf;
		}
	}
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		uint64_t len = 0;
		bool null = rnd_below(8) == 0;
		switch (a->kind) {
		case VGPU_ARG_HANDLE:
			cv[i].v.p = (void *)(uintptr_t)(rnd_below(4) ? rnd() : 0);
			break;
		case VGPU_ARG_DPTR:
			cv[i].v.u = rnd();
			break;
		case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR: case VGPU_ARG_INOUT_SCALAR:
		case VGPU_ARG_OUT_STRUCT: case VGPU_ARG_IN_STRUCT: case VGPU_ARG_INOUT_STRUCT:
			if (null || cv[i].buf)   /* (a length by pointer was made above) */
				break;
			cv[i].buflen = a->struct_size ? a->struct_size : 8;
			cv[i].buf = calloc(1, cv[i].buflen);
			if (a->kind == VGPU_ARG_INOUT_SCALAR)
				store(cv[i].buf, rnd_scalar(a, false, 0), a->size);
			if (a->kind == VGPU_ARG_IN_STRUCT || a->kind == VGPU_ARG_INOUT_STRUCT)
				for (size_t k = 0; k < cv[i].buflen; k++)
					cv[i].buf[k] = (uint8_t)rnd();
			cv[i].v.p = cv[i].buf;
			break;
		case VGPU_ARG_IN_BUF: case VGPU_ARG_OUT_BUF: case VGPU_ARG_INOUT_BUF: case VGPU_ARG_OUT_STRING:
			if (null)
				break;
			if (vgpu_arg_length(d, i, argv, &len))
				break;
			cv[i].buflen = len;
			cv[i].buf = calloc(1, len + 1);
			if (a->kind != VGPU_ARG_OUT_BUF && a->kind != VGPU_ARG_OUT_STRING)
				for (size_t k = 0; k < len; k++)
					cv[i].buf[k] = (uint8_t)rnd();
			cv[i].v.p = cv[i].buf;
			break;
		case VGPU_ARG_IN_HANDLE_ARRAY: case VGPU_ARG_OUT_HANDLE_ARRAY:
			if (null || vgpu_arg_length(d, i, argv, &len))
				break;
			cv[i].buflen = len * sizeof(void *);
			cv[i].buf = calloc(1, cv[i].buflen + 1);
			if (a->kind == VGPU_ARG_IN_HANDLE_ARRAY)
				for (size_t k = 0; k < len; k++)
					((void **)cv[i].buf)[k] = (void *)(uintptr_t)(rnd_below(5) ? rnd() : 0);
			cv[i].v.p = cv[i].buf;
			break;
		case VGPU_ARG_STRING: {
			if (null)
				break;
			size_t n = rnd_below(200);
			cv[i].buf = calloc(1, n + 1);
			for (size_t k = 0; k < n; k++)
				cv[i].buf[k] = (uint8_t)(' ' + rnd_below(90));
			cv[i].v.p = cv[i].buf;
			break;
		}
		}
	}
}

static void free_args(const struct vgpu_call_desc *d, struct cval *cv)
{
	for (unsigned i = 0; i < d->nargs; i++)
		free(cv[i].buf);
}

static bool has_opaque(const struct vgpu_call_desc *d)
{
	for (unsigned i = 0; i < d->nargs; i++)
		if (d->args[i].kind == VGPU_ARG_OPAQUE)
			return true;
	return false;
}

/* What the "driver" wrote into one proxy-side output (kept to compare on the client). */
struct expect {
	uint8_t bytes[VGPU_STRING_MAX + 16];
	size_t n;
	bool set;
};

/* One full round trip: encode, decode, compare, fake the driver, reply, decode, compare. */
static void round_trip(const struct vgpu_call_desc *d, struct vgpu_arena *ar)
{
	struct cval cv[VGPU_MAX_ARGS];
	void *cargv[VGPU_MAX_ARGS], *pargv[VGPU_MAX_ARGS];
	struct vgpu_wbuf req = { 0 }, rep = { 0 };
	struct vgpu_bulk_list cb, pb, rb, cbr;
	struct expect *ex = calloc(VGPU_MAX_ARGS, sizeof(*ex));
	void *bulkbufs[VGPU_MAX_BULK] = { 0 };
	CUresult err, res;
	int rc;

	make_args(d, cv, cargv);
	rc = vgpu_encode_request(d, cargv, &req, &cb);
	CHECK(rc == 0, "%s: encode_request = %d", d->name, rc);
	if (rc)
		goto out;
	vgpu_arena_reset(ar);
	rc = vgpu_decode_request(d, req.data, (uint32_t)req.len, ar, NULL, NULL, pargv, &pb, &err);
	CHECK(rc == 0, "%s: decode_request = %d (err %d)", d->name, rc, (int)err);
	if (rc)
		goto out;
	CHECK(pb.n == cb.n || pb.n >= cb.n, "%s: bulk lists %u vs %u", d->name, pb.n, cb.n);
	/* the bulk stream: the proxy supplies storage, inputs are copied from the client's buffers */
	for (unsigned k = 0, ci = 0; k < pb.n; k++) {
		bulkbufs[k] = calloc(1, pb.seg[k].len);
		*pb.seg[k].slot = bulkbufs[k];
		if (pb.seg[k].in) {
			CHECK(ci < cb.n && cb.seg[ci].len == pb.seg[k].len && cb.seg[ci].arg == pb.seg[k].arg,
			      "%s: bulk input %u does not match", d->name, k);
			if (ci < cb.n)
				memcpy(bulkbufs[k], cb.seg[ci].ptr, pb.seg[k].len);
			ci++;
		}
	}
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		void *pp = *(void **)pargv[i];
		switch (a->kind) {
		case VGPU_ARG_SCALAR:
			CHECK(!memcmp(pargv[i], &cv[i].v, a->size), "%s: scalar %s differs", d->name, a->name);
			break;
		case VGPU_ARG_HANDLE: case VGPU_ARG_DPTR:
			CHECK(!memcmp(pargv[i], &cv[i].v, 8), "%s: %s differs", d->name, a->name);
			break;
		case VGPU_ARG_STRING:
			CHECK(!cv[i].buf == !pp, "%s: string %s NULL-ness differs", d->name, a->name);
			if (cv[i].buf && pp)
				CHECK(!strcmp(pp, (char *)cv[i].buf), "%s: string %s differs", d->name, a->name);
			break;
		case VGPU_ARG_IN_BUF: case VGPU_ARG_INOUT_BUF: case VGPU_ARG_IN_STRUCT: case VGPU_ARG_INOUT_STRUCT:
		case VGPU_ARG_INOUT_SCALAR: case VGPU_ARG_IN_HANDLE_ARRAY:
			CHECK(!cv[i].buf == !pp, "%s: %s NULL-ness differs", d->name, a->name);
			if (cv[i].buf && pp)
				CHECK(!memcmp(pp, cv[i].buf, a->kind == VGPU_ARG_INOUT_SCALAR ? a->size : cv[i].buflen),
				      "%s: %s bytes differ", d->name, a->name);
			break;
		case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR: case VGPU_ARG_OUT_STRUCT:
		case VGPU_ARG_OUT_BUF: case VGPU_ARG_OUT_STRING: case VGPU_ARG_OUT_HANDLE_ARRAY:
			if (cv[i].buf)
				CHECK(pp != NULL, "%s: out %s lost", d->name, a->name);
			break;
		}
	}
	/* the "driver": write random outputs */
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		uint8_t *pp = *(void **)pargv[i];
		size_t n = 0;
		if (!pp || !cv[i].buf)
			continue;
		switch (a->kind) {
		case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_INOUT_SCALAR: {
			uint64_t v = rnd_scalar(a, false, 0);
			n = a->size;
			memcpy(pp, &v, n);
			break;
		}
		case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR: {
			uint64_t v = rnd();
			n = 8;
			memcpy(pp, &v, 8);
			break;
		}
		case VGPU_ARG_OUT_STRUCT: case VGPU_ARG_INOUT_STRUCT: case VGPU_ARG_OUT_BUF: case VGPU_ARG_INOUT_BUF:
		case VGPU_ARG_OUT_HANDLE_ARRAY:
			n = cv[i].buflen;
			for (size_t k = 0; k < n; k++)
				pp[k] = (uint8_t)rnd();
			break;
		case VGPU_ARG_OUT_STRING: {
			size_t cap = cv[i].buflen < a->max_len ? cv[i].buflen : a->max_len;
			n = rnd_below(cap);
			for (size_t k = 0; k < n; k++)
				pp[k] = (uint8_t)('a' + rnd_below(26));
			pp[n] = 0;
			n++;
			break;
		}
		default:
			continue;
		}
		if (n <= sizeof(ex[i].bytes)) {
			memcpy(ex[i].bytes, pp, n);
			ex[i].n = n;
			ex[i].set = true;
		}
	}
	rc = vgpu_encode_reply(d, pargv, CUDA_SUCCESS, NULL, NULL, &rep, &rb);
	CHECK(rc == 0, "%s: encode_reply = %d", d->name, rc);
	if (rc)
		goto out;
	rc = vgpu_decode_reply(d, cargv, rep.data, (uint32_t)rep.len, &res, &cbr);
	CHECK(rc == 0 && res == CUDA_SUCCESS, "%s: decode_reply = %d res %d", d->name, rc, (int)res);
	CHECK(rb.n == cbr.n, "%s: reply bulk %u vs %u", d->name, rb.n, cbr.n);
	for (unsigned k = 0; k < rb.n && k < cbr.n; k++) {
		CHECK(rb.seg[k].len == cbr.seg[k].len, "%s: reply bulk length", d->name);
		if (rb.seg[k].len == cbr.seg[k].len)
			memcpy(cbr.seg[k].ptr, rb.seg[k].ptr, rb.seg[k].len);
	}
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		if (!cv[i].buf || !ex[i].set)
			continue;
		if (a->kind == VGPU_ARG_OUT_STRING) {
			CHECK(!strcmp((char *)cv[i].buf, (char *)ex[i].bytes), "%s: out string %s differs", d->name, a->name);
			continue;
		}
		if (a->kind == VGPU_ARG_OUT_BUF || a->kind == VGPU_ARG_INOUT_BUF) {
			/* big buffers came over the "bulk stream" above */
			CHECK(!memcmp(cv[i].buf, *(void **)pargv[i], cv[i].buflen), "%s: out buffer %s differs", d->name, a->name);
			continue;
		}
		CHECK(!memcmp(cv[i].buf, ex[i].bytes, ex[i].n), "%s: out %s differs", d->name, a->name);
	}
	/* an error reply leaves the outputs alone */
	for (unsigned i = 0; i < d->nargs; i++)
		if (cv[i].buf)
			memset(cv[i].buf, 0x5a, cv[i].buflen ? cv[i].buflen : 1);
	rc = vgpu_encode_reply(d, pargv, CUDA_ERROR_INVALID_VALUE, NULL, NULL, &rep, &rb);
	CHECK(rc == 0 && rb.n == 0, "%s: error reply", d->name);
	rc = vgpu_decode_reply(d, cargv, rep.data, (uint32_t)rep.len, &res, &cbr);
	CHECK(rc == 0 && res == CUDA_ERROR_INVALID_VALUE && cbr.n == 0, "%s: error reply decode", d->name);
	for (unsigned i = 0; i < d->nargs; i++)
		if (cv[i].buf && cv[i].buflen)
			CHECK(cv[i].buf[0] == 0x5a, "%s: error reply wrote %s", d->name, d->args[i].name);
out:
	for (unsigned k = 0; k < VGPU_MAX_BULK; k++)
		free(bulkbufs[k]);
	free(ex);
	free_args(d, cv);
	vgpu_wbuf_free(&req);
	vgpu_wbuf_free(&rep);
}

/* Random mutations of valid requests: the decoder must fail cleanly or succeed, never crash. */
static void mutate(const struct vgpu_call_desc *d, struct vgpu_arena *ar, int rounds)
{
	struct cval cv[VGPU_MAX_ARGS];
	void *cargv[VGPU_MAX_ARGS], *pargv[VGPU_MAX_ARGS];
	struct vgpu_wbuf req = { 0 };
	struct vgpu_bulk_list cb, pb;
	CUresult err;

	make_args(d, cv, cargv);
	if (vgpu_encode_request(d, cargv, &req, &cb))
		goto out;
	/* replies too: the client decoder must stay inside the caller's buffers */
	vgpu_arena_reset(ar);
	if (vgpu_decode_request(d, req.data, (uint32_t)req.len, ar, NULL, NULL, pargv, &pb, &err) == 0) {
		struct vgpu_wbuf rep = { 0 };
		struct vgpu_bulk_list rb;
		for (unsigned k = 0; k < pb.n; k++)
			*pb.seg[k].slot = NULL; /* bulk storage is not needed to encode the reply */
		if (pb.n == 0 && vgpu_encode_reply(d, pargv, CUDA_SUCCESS, NULL, NULL, &rep, &rb) == 0) {
			for (int k = 0; k < rounds; k++) {
				uint8_t m[VGPU_MSG_MAX];
				size_t n = rep.len;
				CUresult res;
				memcpy(m, rep.data, n);
				for (int flips = 1 + (int)rnd_below(4); flips; flips--)
					m[rnd_below(n)] = (uint8_t)rnd();
				int rc = vgpu_decode_reply(d, cargv, m, (uint32_t)n, &res, &rb);
				CHECK(rc == 0 || rc == -EBADMSG, "%s: decode_reply returned %d", d->name, rc);
			}
		}
		vgpu_wbuf_free(&rep);
	}
	for (int k = 0; k < rounds; k++) {
		uint8_t m[VGPU_MSG_MAX];
		size_t n = req.len;
		memcpy(m, req.data, n);
		for (int flips = 1 + (int)rnd_below(4); flips; flips--)
			m[rnd_below(n)] = (uint8_t)rnd();
		if (rnd_below(4) == 0)
			n = rnd_below(n + 1);
		vgpu_arena_reset(ar);
		int rc = vgpu_decode_request(d, m, (uint32_t)n, ar, NULL, NULL, pargv, &pb, &err);
		CHECK(rc <= 0, "%s: decode returned %d", d->name, rc);
		if (rc)
			CHECK(err != CUDA_SUCCESS && pb.n == 0, "%s: failed decode must set err and clear bulk", d->name);
		CHECK(ar->used <= ar->size, "%s: arena overrun", d->name);
	}
out:
	free_args(d, cv);
	vgpu_wbuf_free(&req);
}

/* Decodes raw bytes as a request for d; returns the rc and sets *err. */
static int dec(const struct vgpu_call_desc *d, const void *m, size_t n, struct vgpu_arena *ar, CUresult *err)
{
	void *argv[VGPU_MAX_ARGS];
	struct vgpu_bulk_list b;

	vgpu_arena_reset(ar);
	return vgpu_decode_request(d, m, (uint32_t)n, ar, NULL, NULL, argv, &b, err);
}

static void negative_cases(struct vgpu_arena *ar)
{
	const struct vgpu_call_desc *d = &vgpu_call_cuMemcpyHtoD_v2; /* (dptr, const void *, size_t) */
	CUresult err;
	uint8_t data[64];
	void *src = data;
	unsigned long long dst = 0x7000;
	size_t cnt = 16;
	void *argv[] = { &dst, &src, &cnt };
	struct vgpu_wbuf w = { 0 };
	struct vgpu_bulk_list b;

	memset(data, 7, sizeof(data));
	CHECK(vgpu_encode_request(d, argv, &w, &b) == 0 && b.n == 0, "encode HtoD");
	CHECK(dec(d, w.data, w.len, ar, &err) == 0, "valid HtoD decodes");
	/* every truncation fails */
	for (size_t n = 0; n < w.len; n++)
		CHECK(dec(d, w.data, n, ar, &err) == -EBADMSG && err == CUDA_ERROR_INVALID_VALUE, "truncated at %zu", n);
	/* trailing garbage */
	{
		uint8_t m[256];
		memcpy(m, w.data, w.len);
		m[w.len] = 0xc0;
		CHECK(dec(d, m, w.len + 1, ar, &err) == -EBADMSG, "trailing byte accepted");
	}
	/* wrong counts */
	{
		uint8_t m2[] = { 0x92, 0xcd, 0x70, 0x00, 0xc0 };
		CHECK(dec(d, m2, sizeof(m2), ar, &err) == -EBADMSG, "2 of 3 args accepted");
		uint8_t m4[] = { 0x94, 0x01, 0xc0, 0x00, 0x00 };
		CHECK(dec(d, m4, sizeof(m4), ar, &err) == -EBADMSG, "4 of 3 args accepted");
		uint8_t big[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
		CHECK(dec(d, big, sizeof(big), ar, &err) == -EBADMSG, "array32 bomb accepted");
	}
	/* wrong types */
	{
		uint8_t s1[] = { 0x93, 0xa1, 'x', 0xc0, 0x00 };           /* string for a device pointer */
		CHECK(dec(d, s1, sizeof(s1), ar, &err) == -EBADMSG, "str as dptr");
		uint8_t s2[] = { 0x93, 0xff, 0xc0, 0x00 };                /* negative device pointer */
		CHECK(dec(d, s2, sizeof(s2), ar, &err) == -EBADMSG, "negative dptr");
		uint8_t s3[] = { 0x93, 0x01, 0xa1, 'x', 0x01 };           /* str for a bin buffer */
		CHECK(dec(d, s3, sizeof(s3), ar, &err) == -EBADMSG, "str as buffer");
		uint8_t s4[] = { 0x93, 0x01, 0xc0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0 }; /* double for size_t */
		CHECK(dec(d, s4, sizeof(s4), ar, &err) == -EBADMSG, "double as size_t");
		uint8_t nest[] = { 0x93, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91 };
		CHECK(dec(d, nest, sizeof(nest), ar, &err) == -EBADMSG, "nested arrays accepted");
	}
	/* lengths near 2^32 and 2^64, length mismatches */
	{
		uint8_t b32[] = { 0x93, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 }; /* bin32 of 4 GiB - 1 */
		CHECK(dec(d, b32, sizeof(b32), ar, &err) == -EBADMSG, "bin32 beyond the message");
		uint8_t a64[] = { 0x93, 0x01, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				  0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		CHECK(dec(d, a64, sizeof(a64), ar, &err) == -E2BIG, "2^64-1 bulk length accepted");
		uint8_t a41[] = { 0x93, 0x01, 0xcf, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,
				  0xcf, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01 };
		CHECK(dec(d, a41, sizeof(a41), ar, &err) == -E2BIG, "2^40+1 bulk length accepted");
		uint8_t mis[] = { 0x93, 0x01, 0xc4, 0x02, 0xaa, 0xbb, 0x03 }; /* 2 bytes, ByteCount 3 */
		CHECK(dec(d, mis, sizeof(mis), ar, &err) == -EBADMSG, "length mismatch accepted");
		uint8_t small[] = { 0x93, 0x01, 0x10, 0x10 };               /* 16 bytes announced on bulk */
		CHECK(dec(d, small, sizeof(small), ar, &err) == -EBADMSG, "short buffer announced on bulk");
		uint8_t bulkok[] = { 0x93, 0x01, 0xcd, 0x20, 0x00, 0xcd, 0x20, 0x00 }; /* 8 KiB on bulk */
		CHECK(dec(d, bulkok, sizeof(bulkok), ar, &err) == 0, "valid bulk announcement refused");
	}
	/* inline buffer over the inline limit */
	{
		static uint8_t m[VGPU_INLINE_MAX + 32];
		size_t n = 0, len = VGPU_INLINE_MAX + 1;
		m[n++] = 0x93; m[n++] = 0x01;
		m[n++] = 0xc5; m[n++] = (uint8_t)(len >> 8); m[n++] = (uint8_t)len;
		n += len;
		m[n++] = 0xcd; m[n++] = (uint8_t)(len >> 8); m[n++] = (uint8_t)len;
		CHECK(dec(d, m, n, ar, &err) == -EBADMSG, "inline buffer over the limit accepted");
	}
	/* arena exhaustion is an error, not an overrun */
	{
		struct vgpu_arena tiny;
		uint8_t m[] = { 0x93, 0x01, 0xc4, 0x40, [4 ... 67] = 0x11, 0x40 };
		CHECK(vgpu_arena_init(&tiny, 128) == 0, "arena");
		CHECK(dec(d, m, sizeof(m), &tiny, &err) == -ENOMEM && err == CUDA_ERROR_OUT_OF_MEMORY, "tiny arena");
		vgpu_arena_fini(&tiny);
	}
	/* scalars out of range for their width */
	{
		const struct vgpu_call_desc *g = &vgpu_call_cuDeviceGet; /* (CUdevice *device, int ordinal) */
		uint8_t ok[] = { 0x92, 0xc3, 0xd2, 0x80, 0x00, 0x00, 0x00 };  /* INT32_MIN */
		CHECK(dec(g, ok, sizeof(ok), ar, &err) == 0, "INT32_MIN refused");
		uint8_t hi[] = { 0x92, 0xc3, 0xce, 0x80, 0x00, 0x00, 0x00 };  /* 2^31 */
		CHECK(dec(g, hi, sizeof(hi), ar, &err) == -EBADMSG, "2^31 as int accepted");
		uint8_t lo[] = { 0x92, 0xc3, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff };
		CHECK(dec(g, lo, sizeof(lo), ar, &err) == -EBADMSG, "below INT32_MIN accepted");
		uint8_t nt[] = { 0x92, 0xc2, 0x00 };                          /* false for an out pointer */
		CHECK(dec(g, nt, sizeof(nt), ar, &err) == -EBADMSG, "false as out pointer accepted");
	}
	/* strings: embedded NUL, too long */
	{
		const struct vgpu_call_desc *g = &vgpu_call_cuModuleGetFunction; /* (CUfunction *, CUmodule, const char *) */
		uint8_t nul[] = { 0x93, 0xc3, 0x05, 0xa3, 'a', 0, 'b' };
		CHECK(dec(g, nul, sizeof(nul), ar, &err) == -EBADMSG, "string with NUL accepted");
		static uint8_t lng[VGPU_STRING_MAX + 16];
		size_t n = 0, len = VGPU_STRING_MAX + 1;
		lng[n++] = 0x93; lng[n++] = 0xc3; lng[n++] = 0x05;
		lng[n++] = 0xda; lng[n++] = (uint8_t)(len >> 8); lng[n++] = (uint8_t)len;
		memset(lng + n, 'a', len);
		n += len;
		CHECK(dec(g, lng, n, ar, &err) == -E2BIG, "overlong string accepted");
	}
	/* a struct of the wrong size, in a request and in a reply */
	{
		const struct vgpu_call_desc *g = &vgpu_call_cuArrayCreate_v2; /* (CUarray *, const CUDA_ARRAY_DESCRIPTOR *) */
		static uint8_t m[64];
		size_t sz = sizeof(CUDA_ARRAY_DESCRIPTOR);
		m[0] = 0x92; m[1] = 0xc3; m[2] = 0xc4; m[3] = (uint8_t)(sz - 1);
		CHECK(dec(g, m, 4 + sz - 1, ar, &err) == -EBADMSG, "short struct accepted");
		m[3] = (uint8_t)sz;
		CHECK(dec(g, m, 4 + sz, ar, &err) == 0, "right-size struct refused");
		const struct vgpu_call_desc *u = &vgpu_call_cuDeviceGetUuid_v2; /* (CUuuid *, CUdevice) */
		CUuuid id, *pid = &id;
		int dev = 0;
		void *ua[] = { &pid, &dev };
		uint8_t rep[] = { 0x93, 0x00, 0xc4, 0x0f, [4 ... 18] = 1, 0xc0 };
		CUresult res;
		CHECK(vgpu_decode_reply(u, ua, rep, sizeof(rep), &res, &b) == -EBADMSG, "15-byte CUuuid accepted");
	}
	/* the client refuses a reply that fills an output it did not ask for */
	{
		const struct vgpu_call_desc *g = &vgpu_call_cuDeviceGet;
		CUdevice *nulp = NULL;
		int ord = 0;
		void *ga[] = { &nulp, &ord };
		uint8_t rep[] = { 0x93, 0x00, 0x05, 0xc0 };
		CUresult res;
		CHECK(vgpu_decode_reply(g, ga, rep, sizeof(rep), &res, &b) == -EBADMSG, "unrequested output accepted");
		uint8_t rep2[] = { 0x92, 0x00, 0xc0 };
		CHECK(vgpu_decode_reply(g, ga, rep2, sizeof(rep2), &res, &b) == -EBADMSG, "short reply accepted");
	}
	vgpu_wbuf_free(&w);
}

/* Handle arrays: no generated call uses them yet, so a descriptor written here exercises them. */
static const struct vgpu_arg_desc ha_args[4] = {
	{ .name = "in", .kind = VGPU_ARG_IN_HANDLE_ARRAY, .size = 8, .htype = VGPU_H_STREAM, .len_arg = 1,
	  .len_arg2 = VGPU_LEN_NONE, .len_mul = 1, .max_len = VGPU_HANDLE_ARRAY_MAX },
	{ .name = "n", .kind = VGPU_ARG_SCALAR, .size = 4, .len_arg = VGPU_LEN_NONE, .len_arg2 = VGPU_LEN_NONE },
	{ .name = "out", .kind = VGPU_ARG_OUT_HANDLE_ARRAY, .size = 8, .htype = VGPU_H_EVENT, .len_arg = 3,
	  .len_arg2 = VGPU_LEN_NONE, .len_mul = 1, .max_len = VGPU_HANDLE_ARRAY_MAX },
	{ .name = "m", .kind = VGPU_ARG_SCALAR, .size = 4, .len_arg = VGPU_LEN_NONE, .len_arg2 = VGPU_LEN_NONE },
};
static const struct vgpu_call_desc ha_desc = { .name = "handle-arrays", .opcode = 1, .nargs = 4, .nout = 1, .args = ha_args };

static void handle_array_cases(struct vgpu_arena *ar)
{
	CUresult err;
	/* array32 claiming 2^32-1 ids: refused before anything is allocated */
	uint8_t bomb[] = { 0x94, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0xc0, 0x00 };
	size_t used = ar->used;
	CHECK(dec(&ha_desc, bomb, sizeof(bomb), ar, &err) == -E2BIG, "handle array count bomb accepted");
	CHECK(ar->used <= used + 4 * sizeof(void *) * 8, "arena grew for a refused array");
	/* count must match n; ids must be unsigned */
	uint8_t mis[] = { 0x94, 0x92, 0x01, 0x02, 0x03, 0xc0, 0x00 };
	CHECK(dec(&ha_desc, mis, sizeof(mis), ar, &err) == -EBADMSG, "handle array count mismatch accepted");
	uint8_t neg[] = { 0x94, 0x91, 0xff, 0x01, 0xc0, 0x00 };
	CHECK(dec(&ha_desc, neg, sizeof(neg), ar, &err) == -EBADMSG, "negative handle id accepted");
	uint8_t ok[] = { 0x94, 0x92, 0x00, 0x07, 0x02, 0x03, 0x03 };
	CHECK(dec(&ha_desc, ok, sizeof(ok), ar, &err) == 0, "valid handle arrays refused");
	uint8_t big[] = { 0x94, 0xc0, 0x00, 0xcd, 0x04, 0x01, 0xcd, 0x04, 0x01 }; /* 1025 outputs */
	CHECK(dec(&ha_desc, big, sizeof(big), ar, &err) == -E2BIG, "1025-handle output accepted");
}

/* Hooks that record what the codec asked for. */
struct hook_log {
	int handle_in, handle_new, handle_drop, check, alloc, free_;
	uint64_t last_ptr, last_len, last_id;
	int refuse;
	uint64_t moved_from, moved_to;   /* a range the hooks translate (a moved module global) */
};

static int h_in(void *c, unsigned t, uint64_t id, void **real)
{
	struct hook_log *l = c;
	(void)t;
	l->handle_in++;
	l->last_id = id;
	if (id == 0xbad)
		return -EBADF;
	*real = (void *)(uintptr_t)(id + 0x1000);
	return 0;
}

static int h_new(void *c, unsigned t, void *real, uint64_t *id)
{
	struct hook_log *l = c;
	(void)t;
	l->handle_new++;
	*id = (uint64_t)(uintptr_t)real - 0x1000;
	return 0;
}

static void h_drop(void *c, unsigned t, uint64_t id)
{
	struct hook_log *l = c;
	(void)t;
	l->handle_drop++;
	l->last_id = id;
}

static int h_check(void *c, uint64_t *p, uint64_t len)
{
	struct hook_log *l = c;
	l->check++;
	l->last_ptr = *p;
	l->last_len = len;
	if (l->moved_from && *p == l->moved_from)
		*p = l->moved_to;
	return l->refuse ? -EFAULT : 0;
}

static uint64_t h_zone(void *c, uint64_t p)
{
	struct hook_log *l = c;
	return l->moved_to && p == l->moved_to ? l->moved_from : p;
}

static void h_alloc(void *c, uint64_t p, uint64_t len)
{
	struct hook_log *l = c;
	l->alloc++;
	l->last_ptr = p;
	l->last_len = len;
}

static void h_free(void *c, uint64_t p)
{
	struct hook_log *l = c;
	l->free_++;
	l->last_ptr = p;
}

static const struct vgpu_codec_hooks hooks = { h_in, h_new, h_drop, h_check, h_zone, h_alloc, h_free };

static void hook_cases(struct vgpu_arena *ar)
{
	struct hook_log l = { 0 };
	struct vgpu_wbuf w = { 0 }, r = { 0 };
	struct vgpu_bulk_list b;
	void *pargv[VGPU_MAX_ARGS];
	CUresult err, res;

	/* cuMemsetD32_v2(dptr, ui, N): range N*4 */
	{
		unsigned long long p = 0x10000;
		unsigned int ui = 5;
		size_t n = 100;
		void *argv[] = { &p, &ui, &n };
		CHECK(vgpu_encode_request(&vgpu_call_cuMemsetD32_v2, argv, &w, &b) == 0, "encode memset");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuMemsetD32_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == 0,
		      "decode memset");
		CHECK(l.check == 1 && l.last_ptr == 0x10000 && l.last_len == 400, "range check (%d, %" PRIx64 ", %" PRIu64 ")",
		      l.check, l.last_ptr, l.last_len);
		l.refuse = 1;
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuMemsetD32_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == -EFAULT &&
		      err == CUDA_ERROR_INVALID_VALUE, "refused range must fail the call");
		l.refuse = 0;
		/* a range the check translates: the call gets the translated address */
		l.moved_from = 0x10000;
		l.moved_to = 0x7770000;
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuMemsetD32_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == 0 &&
		      *(unsigned long long *)pargv[0] == 0x7770000, "translated range not passed to the call (0x%llx)",
		      *(unsigned long long *)pargv[0]);
		l.moved_from = l.moved_to = 0;
	}
	/* cuMemAlloc_v2(CUdeviceptr *, size_t): alloc recorded only on success */
	{
		CUdeviceptr out = 0, *po = &out;
		size_t sz = 4096;
		void *argv[] = { &po, &sz };
		CHECK(vgpu_encode_request(&vgpu_call_cuMemAlloc_v2, argv, &w, &b) == 0, "encode alloc");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuMemAlloc_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == 0,
		      "decode alloc");
		**(CUdeviceptr **)pargv[0] = 0xabc000;
		CHECK(vgpu_encode_reply(&vgpu_call_cuMemAlloc_v2, pargv, CUDA_ERROR_OUT_OF_MEMORY, &hooks, &l, &r, &b) == 0 && l.alloc == 0,
		      "failed alloc recorded");
		CHECK(vgpu_encode_reply(&vgpu_call_cuMemAlloc_v2, pargv, CUDA_SUCCESS, &hooks, &l, &r, &b) == 0 && l.alloc == 1 &&
		      l.last_ptr == 0xabc000 && l.last_len == 4096, "alloc not recorded");
		CHECK(vgpu_decode_reply(&vgpu_call_cuMemAlloc_v2, argv, r.data, (uint32_t)r.len, &res, &b) == 0 && res == 0 &&
		      out == 0xabc000, "client did not get the pointer");
		/* an address the zone knows elsewhere: recorded as the driver's, sent as the zone's */
		l.moved_from = 0x5000;
		l.moved_to = 0xabc000;
		CHECK(vgpu_encode_reply(&vgpu_call_cuMemAlloc_v2, pargv, CUDA_SUCCESS, &hooks, &l, &r, &b) == 0 &&
		      l.last_ptr == 0xabc000, "the allocation hook must see the driver's address");
		CHECK(vgpu_decode_reply(&vgpu_call_cuMemAlloc_v2, argv, r.data, (uint32_t)r.len, &res, &b) == 0 && res == 0 &&
		      out == 0x5000, "client did not get the address it knows (0x%llx)", (unsigned long long)out);
		l.moved_from = l.moved_to = 0;
	}
	/* cuMemAllocPitch_v2: allocation length pitch*Height even when the client passes no pitch pointer */
	{
		CUdeviceptr out = 0, *po = &out;
		size_t *pp = NULL, wid = 100, hgt = 7;
		unsigned int es = 4;
		void *argv[] = { &po, &pp, &wid, &hgt, &es };
		CHECK(vgpu_encode_request(&vgpu_call_cuMemAllocPitch_v2, argv, &w, &b) == 0, "encode pitch");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuMemAllocPitch_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == 0,
		      "decode pitch");
		CHECK(*(size_t **)pargv[1] != NULL, "pitch storage missing");
		**(CUdeviceptr **)pargv[0] = 0x5000;
		**(size_t **)pargv[1] = 128;
		l.alloc = 0;
		CHECK(vgpu_encode_reply(&vgpu_call_cuMemAllocPitch_v2, pargv, CUDA_SUCCESS, &hooks, &l, &r, &b) == 0 && l.alloc == 1 &&
		      l.last_len == 128 * 7, "pitch alloc length %" PRIu64, l.last_len);
		CHECK(vgpu_decode_reply(&vgpu_call_cuMemAllocPitch_v2, argv, r.data, (uint32_t)r.len, &res, &b) == 0 && out == 0x5000,
		      "pitch reply");
	}
	/* a range whose length expression overflows 64 bits is refused, not wrapped */
	{
		unsigned long long p = 0x10000;
		size_t pitch = 1ull << 62, w8 = 1, h8 = 8;
		unsigned char uc = 1;
		void *argv[] = { &p, &pitch, &uc, &w8, &h8 };
		CHECK(vgpu_encode_request(&vgpu_call_cuMemsetD2D8_v2, argv, &w, &b) == 0, "encode memset2d");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuMemsetD2D8_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == -EFAULT &&
		      err == CUDA_ERROR_INVALID_VALUE, "overflowing range accepted");
		size_t cnt = 1ull << 62;
		CUdeviceptr dp = 0x1000;
		unsigned int ui = 0;
		void *a32[] = { &dp, &ui, &cnt }; /* N*4 overflows */
		CHECK(vgpu_encode_request(&vgpu_call_cuMemsetD32_v2, a32, &w, &b) == 0, "encode memset32");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuMemsetD32_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == -EFAULT,
		      "N*4 overflow accepted");
	}
	/* a negative length: the client refuses to encode, the proxy refuses to decode */
	{
		char name[16], *pn = name;
		int len = -1, dev = 0;
		void *argv[] = { &pn, &len, &dev };
		CHECK(vgpu_encode_request(&vgpu_call_cuDeviceGetName, argv, &w, &b) == -EINVAL, "negative capacity encoded");
		uint8_t m[] = { 0x93, 0x10, 0xff, 0x00 }; /* capacity 16, len -1 */
		CHECK(dec(&vgpu_call_cuDeviceGetName, m, sizeof(m), ar, &err) == -EBADMSG, "negative len accepted");
	}
	/* handles: translated in, registered out, dropped on destroy; bad ones refused */
	{
		CUstream s = (CUstream)(uintptr_t)0x42;
		void *argv[] = { &s };
		CHECK(vgpu_encode_request(&vgpu_call_cuStreamDestroy_v2, argv, &w, &b) == 0, "encode destroy");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuStreamDestroy_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == 0 &&
		      *(uintptr_t *)pargv[0] == 0x1042, "handle not translated");
		CHECK(vgpu_encode_reply(&vgpu_call_cuStreamDestroy_v2, pargv, CUDA_SUCCESS, &hooks, &l, &r, &b) == 0 &&
		      l.handle_drop == 1 && l.last_id == 0x42, "handle not dropped");
		s = (CUstream)(uintptr_t)0xbad;
		CHECK(vgpu_encode_request(&vgpu_call_cuStreamDestroy_v2, argv, &w, &b) == 0, "encode destroy");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuStreamDestroy_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == -EBADF &&
		      err == CUDA_ERROR_INVALID_HANDLE, "bad handle accepted");
		s = NULL; /* the default stream passes through as NULL without the hook */
		int before = l.handle_in;
		CHECK(vgpu_encode_request(&vgpu_call_cuStreamDestroy_v2, argv, &w, &b) == 0, "encode destroy");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuStreamDestroy_v2, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == 0 &&
		      *(void **)pargv[0] == NULL && l.handle_in == before, "NULL handle");
	}
	{
		CUevent e = NULL, *pe = &e;
		unsigned int fl = 0;
		void *argv[] = { &pe, &fl };
		CHECK(vgpu_encode_request(&vgpu_call_cuEventCreate, argv, &w, &b) == 0, "encode event");
		vgpu_arena_reset(ar);
		CHECK(vgpu_decode_request(&vgpu_call_cuEventCreate, w.data, (uint32_t)w.len, ar, &hooks, &l, pargv, &b, &err) == 0, "decode event");
		**(void ***)pargv[0] = (void *)(uintptr_t)0x1077;
		CHECK(vgpu_encode_reply(&vgpu_call_cuEventCreate, pargv, CUDA_SUCCESS, &hooks, &l, &r, &b) == 0 && l.handle_new == 1, "new handle");
		CHECK(vgpu_decode_reply(&vgpu_call_cuEventCreate, argv, r.data, (uint32_t)r.len, &res, &b) == 0 &&
		      e == (CUevent)(uintptr_t)0x77, "client got the wire id");
	}
	vgpu_wbuf_free(&w);
	vgpu_wbuf_free(&r);
}

/* Under ASan the arena keeps everything but the pieces handed out since the last reset
 * poisoned: a read past a piece (its padding, the next piece's place, the unused tail) or
 * through a pointer kept from an earlier call is a report. */
static void arena_poison_cases(void)
{
#if defined(__SANITIZE_ADDRESS__)
	struct vgpu_arena a;
	if (vgpu_arena_init(&a, 4096)) {
		CHECK(0, "no memory for a 4 KiB arena");
		return;
	}
	CHECK(__asan_address_is_poisoned(a.base) && __asan_address_is_poisoned(a.base + 4095), "a new arena is addressable");
	uint8_t *p = vgpu_arena_alloc(&a, 5), *q = vgpu_arena_alloc(&a, 16);
	CHECK(p && q == p + 16, "pieces at %p and %p", (void *)p, (void *)q);
	CHECK(!__asan_region_is_poisoned(p, 5), "a 5-byte piece is not addressable");
	CHECK(__asan_address_is_poisoned(p + 5) && __asan_address_is_poisoned(p + 15), "a piece's padding is addressable");
	CHECK(!__asan_region_is_poisoned(q, 16) && __asan_address_is_poisoned(q + 16), "past the second piece is addressable");
	CHECK(__asan_address_is_poisoned(a.base + 4095), "the unused tail is addressable");
	vgpu_arena_reset(&a);
	CHECK(__asan_address_is_poisoned(p) && __asan_address_is_poisoned(q + 15), "pieces of a reset arena are addressable");
	uint8_t *r = vgpu_arena_alloc(&a, 32);
	CHECK(r == p && !__asan_region_is_poisoned(r, 32) && r[0] == 0 && r[31] == 0, "a piece after a reset");
	vgpu_arena_fini(&a);
#else
	printf("arena poisoning: not checked (not an AddressSanitizer build)\n");
#endif
}

int main(int argc, char **argv)
{
	struct vgpu_arena ar;
	int ncalls = 0, rounds = 20;
	const char *seed = getenv("VGPU_SEED");

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: codec_test\nRound-trips random arguments through every call descriptor and feeds the decoders\n"
		       "hostile messages. VGPU_SEED=N picks the random seed. Exit 0 pass, 1 fail.\n");
		return 0;
	}
	if (seed)
		rng_state = strtoull(seed, NULL, 0) | 1;
	printf("seed 0x%" PRIx64 "\n", rng_state);
	if (vgpu_arena_init(&ar, VGPU_ARENA_SIZE)) {
		fprintf(stderr, "no memory for the arena\n");
		return 1;
	}
	for (unsigned op = 0; op < VGPU_OP_COUNT; op++) {
		const struct vgpu_call_desc *d = vgpu_call_table[op];
		if (!d)
			continue;
		CHECK(d->opcode == op, "table slot %u holds opcode %u", op, d->opcode);
		if (has_opaque(d))
			continue;
		ncalls++;
		for (int k = 0; k < rounds; k++)
			round_trip(d, &ar);
		mutate(d, &ar, 200);
	}
	for (int k = 0; k < rounds * 5; k++)
		round_trip(&ha_desc, &ar);
	mutate(&ha_desc, &ar, 500);
	negative_cases(&ar);
	handle_array_cases(&ar);
	hook_cases(&ar);
	arena_poison_cases();
	vgpu_arena_fini(&ar);
	printf("%d descriptors round-tripped (%d rounds each), %d failures\n", ncalls, rounds, failures);
	return failures ? 1 : 0;
}
