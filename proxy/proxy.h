/* SPDX-License-Identifier: MIT */
/* proxy.h — what a hand-written proxy handler (proxy/custom_*.c) gets and may call. */
#ifndef VGPU_PROXY_H
#define VGPU_PROXY_H

#include <stdint.h>
#include <cuda.h>

#include "chan.h"
#include "codec.h"
#include "wire.h"
#include "zone.h"

struct vgpu_driver;   /* generated: every remoted driver entry point (generated/vgpu_dispatch.h) */
struct vgpu_backend;  /* backend.h: the loaded libcuda.so.1 or libcudasim.so */

/*
 * One request being served on one channel (built by the channel thread, valid for the
 * duration of the handler). The payload is a private copy (never shared memory).
 */
struct vgpu_proxy_call {
	struct vgpu_zone *zone;              /* the zone's tables (locked inside the zone_* calls) */
	struct vgpu_chan *chan;              /* this channel: read bulk inputs / nothing else */
	const struct vgpu_driver *drv;       /* driver entry points (NULL members: not exported) */
	const struct vgpu_backend *backend;
	const struct vgpu_call_desc *desc;   /* the call's descriptor (never NULL for a handler) */
	struct vgpu_msg_hdr hdr;             /* opcode, flags (VGPU_MSG_F_ASYNC), seq */
	const void *msg;                     /* request payload */
	uint32_t len;
	struct vgpu_arena *arena;            /* per-call scratch, reset after the call */
	const void *node_graph;              /* set by a handler: the graph new node handles belong to */
	const void *graph_owner;             /* set by a handler: the node new graph handles belong to
					      * (a conditional node's bodies, destroyed with it) */
	const struct vgpu_codec_hooks *hooks;/* the zone's hooks; pass `call` itself as hctx */
	/* Filled by the handler: */
	struct vgpu_wbuf *reply;             /* the encoded reply (vgpu_encode_reply/_error); empty = framework encodes an error reply from the result */
	struct vgpu_bulk_list bulk_out;      /* output buffers to stream after the reply (n = 0: none) */
	int fatal;                           /* set to -errno when the channel must be closed (bulk stream out of sync, peer gone) */
	/* Framework-private: */
	uint64_t mem_reserved;               /* device bytes reserved before an allocation call */
	struct { uint64_t base, size; } freed[VGPU_MAX_ARGS];      /* allocations detached before a free */
	unsigned nfreed;
	struct { unsigned htype; uint64_t id; } detached[VGPU_MAX_ARGS]; /* handles detached before a destroy */
	unsigned ndetached;
	void **argv;                         /* decoded arguments while the reply is encoded (owners of new handles) */
};

/*
 * How the worker of a Xen guest's zone maps the pages the guest granted it (set by the
 * worker for such zones, NULL elsewhere: VGPU_OP_PINNED_GRANT is then refused). map returns
 * the worker's address of the n pages refs name (granted by the zone's own domain; the
 * hypervisor checks that) or NULL; unmap undoes it.
 */
struct vgpu_grant_mapper {
	void *(*map)(void *ctx, uint32_t n, const uint32_t *refs);
	void (*unmap)(void *ctx, void *base, uint64_t bytes);
	void *ctx;
};
extern const struct vgpu_grant_mapper *vgpu_grant_mapper;

/*
 * A custom handler for one opcode. Contract:
 *  - decode call->msg itself (usually vgpu_decode_request(call->desc, ..., call->hooks,
 *    call, ...), which translates handles and checks device ranges through the zone);
 *  - consume EXACTLY the bulk input bytes the request announced (vgpu_chan_bulk_read*),
 *    even when it refuses the call, or set call->fatal;
 *  - check every device range it touches with vgpu_proxy_check_dptr();
 *  - return the call's CUresult; put the reply in call->reply (or leave it empty and an
 *    error-only reply is sent) and output buffers in call->bulk_out (they must stay valid
 *    until the handler's arena is reset: allocate them from call->arena or static storage).
 * The framework sends the reply (not for VGPU_MSG_F_ASYNC requests: then a failure is kept
 * as the channel's pending error), streams bulk_out, updates the stats, resets the arena.
 */
typedef CUresult (*vgpu_proxy_custom_fn)(struct vgpu_proxy_call *call);

/* Register fn for opcode op (< VGPU_OP_COUNT, one handler per opcode). Called from
 * constructors (VGPU_PROXY_CUSTOM) before main; a duplicate or out-of-range op aborts. */
void vgpu_proxy_custom_register(unsigned op, vgpu_proxy_custom_fn fn, const char *name);
/* The handler registered for op, or NULL. */
vgpu_proxy_custom_fn vgpu_proxy_custom_get(unsigned op);

/* In a proxy/custom_*.c file:  VGPU_PROXY_CUSTOM(VGPU_OP_cuLaunchKernel, handle_launch); */
#define VGPU_PROXY_CUSTOM(op, fn) \
	__attribute__((constructor)) static void vgpu_custom_reg_##fn(void) \
	{ vgpu_proxy_custom_register((op), (fn), #fn); }

/*
 * A hand-written call carried as one of the messages of runtime/custom_wire.h. The framework
 * decodes it with desc exactly like a generated call (handles translated, declared device
 * ranges checked, bulk buffers staged within the zone's limits, allocations reserved) and
 * encodes the reply; fn is only the driver part, with argv as a thunk gets it. Pending-error
 * and async rules are those of desc's flags.
 */
typedef CUresult (*vgpu_proxy_wire_fn)(struct vgpu_proxy_call *call, void **argv);
/* Register fn and its wire descriptor for opcode op (constructor time; misuse aborts). */
void vgpu_proxy_wire_register(unsigned op, const struct vgpu_call_desc *desc, vgpu_proxy_wire_fn fn,
			      const char *name);
/* The wire handler of op and its descriptor, or NULL. */
vgpu_proxy_wire_fn vgpu_proxy_wire_get(unsigned op, const struct vgpu_call_desc **desc /* out */);

/* The zone's allocation holding p when the worker placed it itself (--device-va fixed, a
 * restore), whose mapping is neither the allocation nor a context's: 1 with *base, *size
 * and *owner (may be NULL: the context it was made in), else 0 (chanloop.c). */
int vgpu_proxy_placed_range(struct vgpu_zone *z, uint64_t p, uint64_t *base, uint64_t *size, const void **owner);

/* 1 when real (a graph of the zone) is a conditional node's body or a child graph node's
 * graph: the node owns it, and the zone never destroys it (custom_graph.c). */
int vgpu_proxy_graph_node_owned(struct vgpu_zone *z, const void *real);
/* 1 when one of the zone's streams not made in ctx is capturing into graph g (a graph is not
 * tied to a context in the driver: cuStreamBeginCaptureToGraph may fill it from any). */
int vgpu_proxy_graph_captured(struct vgpu_zone *z, const struct vgpu_backend *be, const void *ctx, const void *g);
/* Forget the zone's handles of graphs nodes own (the zone ends: the graphs that hold those
 * nodes are destroyed, and these with them). Returns how many. */
unsigned vgpu_proxy_forget_node_graphs(struct vgpu_zone *z);

/* Helpers for handlers. */
/* [p, p+len) inside one of the zone's allocations? CUDA_SUCCESS or CUDA_ERROR_INVALID_VALUE
 * (also for the old range of a module global a restore found elsewhere: see dptr_in). */
CUresult vgpu_proxy_check_dptr(struct vgpu_proxy_call *call, uint64_t p, uint64_t len);
/* The same for [*p+off, +len), translated: *p becomes the address the driver is to be given
 * (moved by as much as the range was: a module global a restore found elsewhere, ckpt.h). */
CUresult vgpu_proxy_dptr_in(struct vgpu_proxy_call *call, uint64_t *p, uint64_t off, uint64_t len);
/* Wire id -> real handle of type htype (enum vgpu_handle_type); 0 -> NULL.
 * CUDA_SUCCESS or CUDA_ERROR_INVALID_HANDLE. */
CUresult vgpu_proxy_handle_in(struct vgpu_proxy_call *call, unsigned htype, uint64_t id, void **real /* out */);
/* Real handle -> wire id (registering it). CUDA_SUCCESS or CUDA_ERROR_OUT_OF_MEMORY (quota). */
CUresult vgpu_proxy_handle_new(struct vgpu_proxy_call *call, unsigned htype, void *real, uint64_t *id /* out */);
/* Reserve/release staging bytes against the zone's in-flight bulk quota
 * (CUDA_SUCCESS or CUDA_ERROR_OUT_OF_MEMORY). */
CUresult vgpu_proxy_bulk_reserve(struct vgpu_proxy_call *call, uint64_t n);
void vgpu_proxy_bulk_release(struct vgpu_proxy_call *call, uint64_t n);

/* A 2D/3D copy (vgpu_proxy_is_copy3d) whose host side, the zone's dense rows, can stream
 * from the zone (out = 0) or to it (out = 1), checked and translated first: 0 with the
 * driver's copy, its stream and whether it is asynchronous, else -1, or a download's refusal
 * (a CUresult > 0). vgpu_proxy_copy3d_rows then copies bytes [off, off + len) of the rows
 * from or into buf, as a few driver copies. */
int vgpu_proxy_is_copy3d(unsigned op);
int vgpu_proxy_copy3d_streams(struct vgpu_proxy_call *call, void **argv, int out, CUDA_MEMCPY3D *c /* out */,
			      CUstream *s /* out */, int *async /* out */);
CUresult vgpu_proxy_copy3d_rows(struct vgpu_proxy_call *call, const CUDA_MEMCPY3D *c, CUstream s, int async,
				int out, void *buf, uint64_t off, uint64_t len);

/* The codec hooks of a zone (ctx = struct vgpu_proxy_call *). */
extern const struct vgpu_codec_hooks vgpu_proxy_hooks;

#endif
