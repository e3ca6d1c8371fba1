/* SPDX-License-Identifier: MIT */
/* codec.h — the one generic encoder/decoder of CUDA calls, walking the generated descriptors (msgpack on the wire). */
#ifndef VGPU_CODEC_H
#define VGPU_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <cuda.h>
#include "wire.h"

/* A buffer at most this long travels inline in the message; longer ones on the bulk stream. */
#define VGPU_INLINE_MAX   4096u
/* Most buffers one call may move on the bulk stream. */
#define VGPU_MAX_BULK     4u
/* Default per-call scratch bound on the proxy (decoded values, inline buffers, strings). */
#define VGPU_ARENA_SIZE   (1u << 20)
/* Longest request or reply message the codec produces or accepts. */
#define VGPU_MSG_MAX      (64u * 1024u)
/* Upper bound of one bulk buffer, whatever the descriptor says (quotas apply on top). */
#define VGPU_BULK_LEN_MAX (1ull << 40)
/* Longest string (without its NUL) accepted for VGPU_ARG_STRING unless max_len is lower. */
#define VGPU_STRING_MAX   4096u

/* Growable output buffer for encoded messages. Zero-initialise, then vgpu_wbuf_reset per message. */
struct vgpu_wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
};
void vgpu_wbuf_reset(struct vgpu_wbuf *w);   /* len = 0, keeps the storage */
void vgpu_wbuf_free(struct vgpu_wbuf *w);    /* releases the storage */

/*
 * Per-call scratch on the proxy: one fixed block, bump-allocated, reset per call (nothing
 * decoded for a call outlives it). vgpu_arena_init allocates `size` bytes (-ENOMEM).
 */
struct vgpu_arena {
	uint8_t *base;
	size_t size;
	size_t used;
};
int vgpu_arena_init(struct vgpu_arena *a, size_t size);
void vgpu_arena_reset(struct vgpu_arena *a);
void vgpu_arena_fini(struct vgpu_arena *a);
/* 16-byte aligned, zeroed block of n bytes, or NULL when the arena would exceed its bound. */
void *vgpu_arena_alloc(struct vgpu_arena *a, size_t n);

/*
 * A buffer that travels on the bulk stream, in list order, after the message it belongs to.
 *  - client, vgpu_encode_request: ptr = the user's input buffer to send.
 *  - client, vgpu_decode_reply:   ptr = the user's output buffer to fill from the stream.
 *  - proxy, vgpu_decode_request:  ptr = NULL; the caller chooses the storage (its own
 *    bounded buffer, or bulk-area bytes in place) and stores it with *slot = buffer before
 *    the thunk runs; for inputs it then fills it from the stream. Output buffers (from an
 *    OUT_BUF/INOUT_BUF) need storage too: they are listed with out = 1, and that storage
 *    must be zeroed (or fully written by the driver) since it goes back to the zone.
 *  - proxy, vgpu_encode_reply:    ptr = the output bytes to stream after the reply.
 */
struct vgpu_bulk_seg {
	void *ptr;
	uint64_t len;
	void **slot;     /* proxy decode: where the parameter's buffer pointer lives; else NULL */
	uint8_t arg;     /* parameter index */
	uint8_t out;     /* 1: output (read from stream on the client / sent after the reply) */
	uint8_t in;      /* 1: input (sent after the request) */
};
struct vgpu_bulk_list {
	struct vgpu_bulk_seg seg[VGPU_MAX_BULK];
	unsigned n;
};

/*
 * Client: encode the request for call d. argv[i] points at parameter i (as the stub's
 * `void *argv[] = { &p0, &p1, ... }`). Input buffers longer than VGPU_INLINE_MAX are not
 * copied but announced and listed in *bulk (in:1) for the caller to stream after the
 * message; output buffers longer than that are announced too (they come back on the bulk
 * stream after the reply). Uses msgpack-c's packer. A descriptor with a VGPU_ARG_OPAQUE
 * parameter (a custom call with a hand-written payload) is refused with -ENOTSUP. Returns 0, or
 * -EINVAL (a negative or overflowing length, a length over the limit, an empty out string, a
 * string too long), -E2BIG (message over VGPU_MSG_MAX or too many bulk buffers), -ENOMEM.
 */
int vgpu_encode_request(const struct vgpu_call_desc *d, void *const *argv, struct vgpu_wbuf *out,
			struct vgpu_bulk_list *bulk /* out */);

/*
 * Client: decode the reply to call d into the out-parameters through argv (the same argv
 * as the request). *res gets the call's CUresult. Out parameters are written only when
 * the reply carries them (on success). Large output buffers are announced in the reply
 * and listed in *bulk (out:1, ptr = the user's buffer) for the caller to read from the
 * bulk stream. Strict and bounded like the proxy decoder. Returns 0 or -EBADMSG.
 */
int vgpu_decode_reply(const struct vgpu_call_desc *d, void *const *argv, const void *msg, uint32_t len,
		      CUresult *res /* out */, struct vgpu_bulk_list *bulk /* out */);

/*
 * Proxy hooks: handle translation and the zone's allocation map. Every hook may be NULL
 * (codec tests): then handles pass through unchanged (wire id == pointer value) and no
 * device pointer is checked or recorded.
 */
struct vgpu_codec_hooks {
	/* wire id -> real handle; id 0 never reaches the hook (NULL). -EBADF = invalid handle. */
	int (*handle_in)(void *ctx, unsigned htype, uint64_t wire_id, void **real /* out */);
	/* a real handle (non-NULL) returned by a successful call -> its wire id; -errno fails the reply.
	 * Called for every returned handle, new or not (cuCtxGetCurrent returns an existing one):
	 * return the existing id when real is already in the table. */
	int (*handle_new)(void *ctx, unsigned htype, void *real, uint64_t *wire_id /* out */);
	/* after a successful destroy of the handle wire_id */
	void (*handle_drop)(void *ctx, unsigned htype, uint64_t wire_id);
	/* [*ptr, *ptr+len) inside one allocation of the zone (len 0: *ptr inside one); -EFAULT if
	 * not. The hook may first replace *ptr by the address the driver has those bytes at (a
	 * module global a restore found elsewhere): the call is made with what it leaves there. */
	int (*dptr_check)(void *ctx, uint64_t *ptr, uint64_t len);
	/* a device address a call gives the zone -> the address the zone knows it by (the reverse
	 * of dptr_check's replacement); NULL: unchanged */
	uint64_t (*dptr_zone)(void *ctx, uint64_t ptr);
	/* after a successful allocation of [ptr, ptr+len); also for module globals
	 * (cuModuleGetGlobal_v2), so the same range may be reported more than once */
	void (*dptr_alloc)(void *ctx, uint64_t ptr, uint64_t len);
	/* after a successful free of the allocation at ptr */
	void (*dptr_free)(void *ctx, uint64_t ptr);
};

/*
 * Proxy: strict, bounded decode of an untrusted request for call d (the caller looked d up
 * from the opcode). msg/len must already be a private copy (not shared memory). On success
 * argv[0..nargs-1] point at arena storage holding each parameter's C value, ready for the
 * thunk: a scalar's value; a handle's real value (handle_in); a buffer's pointer; an
 * OUT_* parameter's pointer to zeroed arena storage (NULL if the client passed NULL).
 * Bulk buffers are listed in *bulk with ptr NULL and slot set (see vgpu_bulk_seg).
 * Returns 0, or -EBADMSG (malformed: wrong type/count, truncated, trailing bytes, length
 * mismatch) -E2BIG (a length over a limit), -ENOMEM (arena exhausted), -EBADF (a handle
 * the zone does not own), -EFAULT (a device range outside the zone's allocations); *err
 * is the CUresult to reply with (CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_HANDLE or
 * CUDA_ERROR_OUT_OF_MEMORY). Handle ids and the arena keep the decoded state; the arena
 * must live until vgpu_encode_reply.
 */
int vgpu_decode_request(const struct vgpu_call_desc *d, const void *msg, uint32_t len, struct vgpu_arena *a,
			const struct vgpu_codec_hooks *h, void *hctx, void **argv /* out */,
			struct vgpu_bulk_list *bulk /* out */, CUresult *err /* out */);

/*
 * Proxy: encode the reply to call d after the thunk ran with argv from vgpu_decode_request.
 * Only when res == CUDA_SUCCESS: out parameters are encoded, new handles registered
 * (handle_new), destroyed handles dropped, allocations recorded and frees reported.
 * Output buffers longer than VGPU_INLINE_MAX are announced and listed in *bulk (out:1)
 * for the caller to stream after the reply. The reply bytes are fully initialised.
 * Returns 0, -ENOMEM, or the -errno of handle_new (then the caller should reply with
 * vgpu_encode_error(CUDA_ERROR_OUT_OF_MEMORY)). Async calls get no reply, and none of them
 * has outputs or lifecycle flags, so the proxy need not call this for them.
 */
int vgpu_encode_reply(const struct vgpu_call_desc *d, void *const *argv, CUresult res,
		      const struct vgpu_codec_hooks *h, void *hctx, struct vgpu_wbuf *out,
		      struct vgpu_bulk_list *bulk /* out */);

/* Proxy: a reply carrying only an error result (all out parameters nil). Returns 0 or -ENOMEM. */
int vgpu_encode_error(const struct vgpu_call_desc *d, CUresult res, struct vgpu_wbuf *out);

/*
 * Length in bytes of parameter i as its length expression says, reading the values
 * through argv (client: caller's parameters; proxy: decoded values). -ERANGE on overflow.
 */
int vgpu_arg_length(const struct vgpu_call_desc *d, unsigned i, void *const *argv, uint64_t *len /* out */);

/*
 * A plain copy between one host buffer and a range-checked device pointer of the same
 * length and nothing else but, for the asynchronous forms, a stream (cuMemcpyHtoD_v2 and
 * cuMemcpyHtoDAsync_v2 with out = 0, cuMemcpyDtoH_v2 and cuMemcpyDtoHAsync_v2 with out = 1,
 * and their _ptds/_ptsz twins): 0 with the parameter indexes (stream -1 when there is none),
 * else -1. Such copies are streamed through the bulk area chunk by chunk; a device-to-host
 * one sends its bytes before its reply (VGPU_MSG_F_DATA_FIRST).
 */
struct vgpu_copy_shape { int buf, dptr, len, stream; };
int vgpu_copy_shape(const struct vgpu_call_desc *d, int out, struct vgpu_copy_shape *s /* out */);

#endif
