/* SPDX-License-Identifier: MIT */
/* chanloop.c — one channel thread of a worker: receive, decode, call the driver, reply. */
/* vgpu_dispatch.h names the driver's _v2 entry points itself: keep cuda.h's renaming macros off. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "chan.h"
#include "codec.h"
#include "cuerr.h"
#include "custom_wire.h"
#include "log.h"
#include "output.h"
#include "proxy.h"
#include "proxyd.h"

#if defined(VGPU_HAVE_DISPATCH)
#include "vgpu_dispatch.h"
#else
typedef CUresult (*vgpu_thunk_fn)(const struct vgpu_driver *drv, void *const *argv);
#endif

#if !defined(VGPU_HAVE_CODEC)
/* runtime/codec.c not built yet: minimal private stand-ins for the scratch buffers, so the
 * proxy still serves channels (answering every call CUDA_ERROR_NOT_SUPPORTED). */
#define vgpu_arena_init  pa_arena_init
#define vgpu_arena_reset pa_arena_reset
#define vgpu_arena_fini  pa_arena_fini
#define vgpu_wbuf_reset  pa_wbuf_reset
#define vgpu_wbuf_free   pa_wbuf_free
static int pa_arena_init(struct vgpu_arena *a, size_t size)
{
	a->base = malloc(size);
	a->size = size;
	a->used = 0;
	return a->base ? 0 : -ENOMEM;
}
static void pa_arena_reset(struct vgpu_arena *a) { a->used = 0; }
static void pa_arena_fini(struct vgpu_arena *a) { free(a->base); a->base = NULL; }
static void pa_wbuf_reset(struct vgpu_wbuf *w) { w->len = 0; }
static void pa_wbuf_free(struct vgpu_wbuf *w) { free(w->data); w->data = NULL; w->len = w->cap = 0; }
#endif

/* Staging buffers at least this large come straight from mmap, so their pages go back to
 * the system at once (a 64 MiB copy must not leave the worker 64 MiB bigger). */
#define STAGE_MMAP_MIN (256u << 10)

struct stage { void *p; uint64_t len; int mapped; };   /* mapped: 1 mmap, 0 malloc, 2 the channel's cache */

/*
 * Each channel keeps one staging buffer between calls: fresh memory costs a page fault per
 * page at first touch (0.6-3 us each on a virtual machine, about 0.25 on bare metal), and a
 * 2D copy of 4 MiB staged in fresh pages ran at 0.3 GB/s on the simulator. Up to 1 MiB it
 * is malloc'd; above, mapped, up to STAGE_CACHE_MAX, and all channels of the worker (one
 * zone) together keep at most STAGE_CACHE_BUDGET: past it a buffer is mapped for the call
 * and unmapped after it, as every large one was before. A channel's cache goes with it.
 */
#define STAGE_CACHE_MAX (64u << 20)
#define STAGE_CACHE_BUDGET (128u << 20)
static _Atomic uint64_t stage_cached;   /* bytes the worker's channels keep */

struct chanctx {
	struct vgpu_zone *z;
	const struct vgpu_backend *be;
	struct vgpu_chan *ch;
	unsigned no;
	CUresult pending;          /* first failure of an async call not reported yet */
	struct vgpu_arena arena;
	struct vgpu_wbuf reply;
	uint8_t *buf;              /* request payload, private copy */
	struct stage stage[VGPU_MAX_BULK];
	unsigned nstage;
	uint64_t staged_bytes;     /* reserved against the zone's in-flight bulk quota */
	void *cache;               /* reusable staging buffer, cache_len bytes (<= STAGE_CACHE_MAX) */
	size_t cache_len;
	int cache_busy;
	int cache_mapped;          /* the cache is an mmap (from 1 MiB), else malloc */
	int bulk_tried;            /* bulk_register ran */
	void *bulk_registered;     /* the bulk areas, when registered with the driver */
};

static void cache_free(void *p, size_t len, int mapped)
{
	if (mapped)
		munmap(p, len);
	else
		free(p);
}

static void cache_drop(struct chanctx *cc)
{
	cache_free(cc->cache, cc->cache_len, cc->cache_mapped);
	atomic_fetch_sub(&stage_cached, cc->cache_len);
	cc->cache = NULL;
	cc->cache_len = 0;
	cc->cache_mapped = 0;
}

/*
 * A closed channel's cache waits for the next channel of the same zone (a program's threads
 * come and go, each with its channel; the fuzz harness opens new ones for every input), still
 * counted in stage_cached: a new channel's first large call then finds its pages faulted in
 * already. One per zone (a worker serves one; the fuzz harness two), the larger kept; a zone
 * is its struct and its token, so a zone made later at the same address never gets another's.
 */
#define STAGE_SPARES 2
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct spare {
	const struct vgpu_zone *z;
	uint8_t token[16];
	void *p;
	size_t len;
	int mapped;
} spares[STAGE_SPARES];

static int spare_of(const struct spare *sp, const struct vgpu_zone *z)
{
	return sp->z == z && !memcmp(sp->token, z->token, sizeof(sp->token));
}

/* The channel's cache to the spares (the smaller of it and the zone's spare is dropped). */
static void cache_retire(struct chanctx *cc)
{
	pthread_mutex_lock(&spare_lock);
	struct spare *sp = NULL;
	for (int i = 0; i < STAGE_SPARES && !sp; i++)
		if (spares[i].p && spare_of(&spares[i], cc->z))
			sp = &spares[i];
	for (int i = 0; i < STAGE_SPARES && !sp; i++)
		if (!spares[i].p)
			sp = &spares[i];
	if (!sp && cc->cache) {   /* all taken by other zones: the smallest one goes */
		sp = &spares[0];
		for (int i = 1; i < STAGE_SPARES; i++)
			if (spares[i].len < sp->len)
				sp = &spares[i];
		cache_free(sp->p, sp->len, sp->mapped);
		atomic_fetch_sub(&stage_cached, sp->len);
		*sp = (struct spare){ 0 };
	}
	if (sp && cc->cache && cc->cache_len > (sp->p ? sp->len : 0)) {
		struct spare old = *sp;
		*sp = (struct spare){ .z = cc->z, .p = cc->cache, .len = cc->cache_len, .mapped = cc->cache_mapped };
		memcpy(sp->token, cc->z->token, sizeof(sp->token));
		cc->cache = old.p;
		cc->cache_len = old.p ? old.len : 0;
		cc->cache_mapped = old.mapped;
	}
	pthread_mutex_unlock(&spare_lock);
	cache_drop(cc);
}

/* The zone's spare as the channel's cache, when it holds len bytes: 0, else -1. */
static __attribute__((unused)) int cache_from_spare(struct chanctx *cc, uint64_t len)
{
	struct spare got = { 0 };
	pthread_mutex_lock(&spare_lock);
	for (int i = 0; i < STAGE_SPARES; i++)
		if (spares[i].p && spare_of(&spares[i], cc->z) && spares[i].len >= len) {
			got = spares[i];
			spares[i] = (struct spare){ 0 };
			break;
		}
	pthread_mutex_unlock(&spare_lock);
	if (!got.p)
		return -1;
	cache_drop(cc);
	cc->cache = got.p;
	cc->cache_len = got.len;
	cc->cache_mapped = got.mapped;
	return 0;
}

/* Replace the cache by one of at least len bytes (<= STAGE_CACHE_MAX): 64 KiB at least,
 * mapped and rounded up to 1 MiB above 1 MiB; -1 (the cache as it was) when the worker's
 * channels keep too much already or there is no memory. */
static __attribute__((unused)) int cache_grow(struct chanctx *cc, uint64_t len)
{
	size_t want = len < (64u << 10) ? (64u << 10) : (size_t)len, had = cc->cache_len;
	int mapped = want > (1u << 20);
	void *p;

	if (mapped)
		want = (want + (1u << 20) - 1) & ~(size_t)((1u << 20) - 1);
	uint64_t more = want - had;   /* called when the cache is too small: want > had */
	if (atomic_fetch_add(&stage_cached, more) + more > STAGE_CACHE_BUDGET) {
		atomic_fetch_sub(&stage_cached, more);
		return -1;
	}
	p = mapped ? mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : malloc(want);
	if (!p || p == MAP_FAILED) {
		atomic_fetch_sub(&stage_cached, more);
		return -1;
	}
	cache_free(cc->cache, had, cc->cache_mapped);
	cc->cache = p;
	cc->cache_len = want;
	cc->cache_mapped = mapped;
	return 0;
}

static __attribute__((unused)) void *stage_alloc(struct chanctx *cc, uint64_t len)
{
	struct stage *s = &cc->stage[cc->nstage];
	void *p;
	if (cc->nstage >= VGPU_MAX_BULK || len > SIZE_MAX)
		return NULL;
	if (len <= STAGE_CACHE_MAX && !cc->cache_busy &&
	    (cc->cache_len >= len || cache_from_spare(cc, len) == 0 || cache_grow(cc, len) == 0)) {
		cc->cache_busy = 1;
		s->p = cc->cache;
		s->len = len;
		s->mapped = 2;
		cc->nstage++;
		return s->p;
	}
	if (len >= STAGE_MMAP_MIN) {
		p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		s->mapped = 1;
	} else {
		p = malloc(len ? (size_t)len : 1);
		if (!p)
			return NULL;
		s->mapped = 0;
	}
	s->p = p;
	s->len = len;
	cc->nstage++;
	return p;
}

static void stage_free_all(struct chanctx *cc)
{
	for (unsigned i = 0; i < cc->nstage; i++) {
		if (cc->stage[i].mapped == 1)
			munmap(cc->stage[i].p, (size_t)cc->stage[i].len);
		else if (cc->stage[i].mapped == 0)
			free(cc->stage[i].p);
	}
	cc->nstage = 0;
	cc->cache_busy = 0;
	if (cc->staged_bytes)
		vgpu_zone_bulk_release(cc->z, cc->staged_bytes);
	cc->staged_bytes = 0;
}

/* A reply for an opcode the proxy has no descriptor for: msgpack [result]. */
static void encode_bare_error(struct vgpu_wbuf *w, CUresult res)
{
	uint8_t b[6];
	size_t n = 0;
	uint32_t v = (uint32_t)res;
	b[n++] = 0x91;
	if (v < 0x80) {
		b[n++] = (uint8_t)v;
	} else if (v <= 0xffff) {
		b[n++] = 0xcd; b[n++] = (uint8_t)(v >> 8); b[n++] = (uint8_t)v;
	} else {
		b[n++] = 0xce; b[n++] = (uint8_t)(v >> 24); b[n++] = (uint8_t)(v >> 16);
		b[n++] = (uint8_t)(v >> 8); b[n++] = (uint8_t)v;
	}
	if (w->cap < n) {
		uint8_t *d = realloc(w->data, 64);
		if (!d)
			return;
		w->data = d;
		w->cap = 64;
	}
	memcpy(w->data, b, n);
	w->len = n;
}

/* Consume the input bytes listed in bulk without using them (refused call, stream stays in sync). */
static __attribute__((unused)) int discard_inputs(struct chanctx *cc, const struct vgpu_bulk_list *bulk)
{
	for (unsigned i = 0; i < bulk->n && i < VGPU_MAX_BULK; i++) {
		if (!bulk->seg[i].in)
			continue;
		int rc = vgpu_chan_bulk_read_cb(cc->ch, bulk->seg[i].len, NULL, NULL);
		if (rc < 0)
			return rc;
		vgpu_stat_add(&cc->z->stats->bulk_in, bulk->seg[i].len);
	}
	return 0;
}

#if defined(VGPU_HAVE_DISPATCH)
/*
 * Storage for the call's bulk buffers (inputs filled from the stream), bounded by the
 * zone's in-flight bulk quota. On refusal every input byte is still consumed.
 */
static CUresult stage_bulk(struct chanctx *cc, struct vgpu_proxy_call *call, const struct vgpu_bulk_list *bulk)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < bulk->n; i++) {
		if (bulk->seg[i].len > VGPU_BULK_LEN_MAX || total + bulk->seg[i].len < total) {
			total = UINT64_MAX;
			break;
		}
		total += bulk->seg[i].len;
	}
	if (total == UINT64_MAX || vgpu_zone_bulk_reserve(cc->z, total) < 0) {
		vgpu_warn("%s: %llu bulk bytes exceed the zone's in-flight bulk limit (%llu); refused",
			  call->desc->name, (unsigned long long)total, (unsigned long long)cc->z->bulk_limit);
		if ((call->fatal = discard_inputs(cc, bulk)) < 0)
			return CUDA_ERROR_UNKNOWN;
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	cc->staged_bytes = total;
	for (unsigned i = 0; i < bulk->n; i++) {
		const struct vgpu_bulk_seg *s = &bulk->seg[i];
		void *p = stage_alloc(cc, s->len);
		if (!p) {
			struct vgpu_bulk_list rest = { .n = 0 };
			for (unsigned j = i; j < bulk->n; j++)
				rest.seg[rest.n++] = bulk->seg[j];
			if ((call->fatal = discard_inputs(cc, &rest)) < 0)
				return CUDA_ERROR_UNKNOWN;
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		if (s->slot)
			*s->slot = p;
		if (s->in) {
			int rc = vgpu_chan_bulk_read(cc->ch, p, s->len);
			if (rc < 0) {
				call->fatal = rc;
				return CUDA_ERROR_UNKNOWN;
			}
			vgpu_stat_add(&cc->z->stats->bulk_in, s->len);
		}
	}
	return CUDA_SUCCESS;
}

/* Reserve device memory for the call's allocations before the driver sees it. */
static CUresult reserve_allocs(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_call_desc *d = call->desc;
	for (unsigned i = 0; i < d->nargs; i++) {
		uint64_t len = 0;
		if (d->args[i].kind != VGPU_ARG_OUT_DPTR || !(d->args[i].flags & VGPU_ARGF_ALLOC))
			continue;
		if (vgpu_arg_length(d, i, argv, &len) < 0)
			return CUDA_ERROR_INVALID_VALUE;
		if (vgpu_zone_mem_reserve(call->zone, len) < 0) {
			vgpu_warn("%s of %llu bytes refused: the zone holds %llu of its %llu-byte memory quota",
				  d->name, (unsigned long long)len, (unsigned long long)call->zone->mem.used,
				  (unsigned long long)call->zone->mem.limit);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		call->mem_reserved += len;
	}
	return CUDA_SUCCESS;
}

/*
 * A call that frees device memory must name the START of one of the zone's allocations
 * (the decoder only checked that the pointer lies inside one) or be NULL, which the driver
 * accepts as a no-op (cuBLAS frees NULL as it starts); anything else never reaches the driver. Allocations about to be freed and handles about to be destroyed are detached
 * from the zone's tables first (zone.h), and reattached by finish_destroys if the driver
 * refuses.
 */
static CUresult prepare_destroys(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_call_desc *d = call->desc;
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		if (a->kind == VGPU_ARG_DPTR && (a->flags & VGPU_ARGF_FREES)) {
			uint64_t p = *(const uint64_t *)argv[i], size = 0;
			if (!p)
				continue; /* freeing NULL: the driver's answer (success) */
			if (vgpu_zone_alloc_of_graph(call->zone, p))
				continue; /* a graph memory node's: freed by the driver, allocated again at the
					   * graph's next launch; it stays the graph's until the graph goes */
			if (vgpu_zone_alloc_detach(call->zone, p, &size) < 0) {
				vgpu_debug("%s(0x%llx): not the start of one of the zone's allocations", d->name,
					   (unsigned long long)p);
				return CUDA_ERROR_INVALID_VALUE;
			}
			call->freed[call->nfreed].base = p;
			call->freed[call->nfreed++].size = size;
			/* no zone may open it from now on, whatever the driver answers */
			vgpu_ipc_mem_freed(call->zone, p);
		} else if (a->kind == VGPU_ARG_HANDLE && (a->flags & VGPU_ARGF_DESTROYS)) {
			void *real = *(void **)argv[i];
			uint64_t id;
			if (a->htype == VGPU_H_GRAPH && real && vgpu_proxy_graph_node_owned(call->zone, real)) {
				vgpu_debug("%s: refused: the graph is a body of a conditional node or a child graph "
					   "node's graph: the node owns it", d->name);
				return CUDA_ERROR_INVALID_VALUE;
			}
			if (a->htype == VGPU_H_ARRAY && real && vgpu_proxy_array_is_level(call->zone, real)) {
				vgpu_debug("%s: refused: the array is a level of a mipmapped array, which owns it", d->name);
				return CUDA_ERROR_INVALID_HANDLE;   /* (as the simulator answers; cuda.h is silent) */
			}
			if (real && vgpu_zone_handle_detach(call->zone, a->htype, real, &id) == 0) {
				call->detached[call->ndetached].htype = a->htype;
				call->detached[call->ndetached++].id = id;
			}
		}
	}
	return CUDA_SUCCESS;
}

/*
 * After the call, with the driver's result: on failure put back what prepare_destroys took
 * out; on success make sure the destroyed handles are gone (the reply encoder normally
 * dropped them already; dropping again is harmless, an id is never reissued).
 */
static void finish_destroys(struct vgpu_proxy_call *call, CUresult res)
{
	for (unsigned i = 0; i < call->nfreed; i++)
		if (res != CUDA_SUCCESS)
			vgpu_zone_alloc_reattach(call->zone, call->freed[i].base, call->freed[i].size);
	for (unsigned i = 0; i < call->ndetached; i++) {
		if (res != CUDA_SUCCESS)
			vgpu_zone_handle_reattach(call->zone, call->detached[i].htype, call->detached[i].id);
		else
			vgpu_proxy_handle_destroyed(call, call->detached[i].htype, call->detached[i].id);
	}
	call->nfreed = call->ndetached = 0;
}

/*
 * Staging buffers are freed (inputs) or streamed out (outputs) right after the call. A call
 * on a stream may still be using them (a real asynchronous copy), so wait for that stream
 * first (the zone's thread does not wait: async requests get no reply anyway).
 */
static CUresult wait_staged(struct chanctx *cc, struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_call_desc *d = call->desc;
	const struct vgpu_backend_fns *f = &cc->be->fn;
	for (unsigned i = 0; i < d->nargs; i++) {
		if (d->args[i].kind != VGPU_ARG_HANDLE || d->args[i].htype != VGPU_H_STREAM)
			continue;
		CUstream s = *(CUstream *)argv[i];
		if (s && f->cuStreamSynchronize)
			return f->cuStreamSynchronize(s);
		return f->cuCtxSynchronize ? f->cuCtxSynchronize() : CUDA_SUCCESS;
	}
	return CUDA_SUCCESS;
}

/*
 * Streamed host-to-device copy: a synchronous call whose only bulk buffer is an input of
 * ByteCount bytes going to a range-checked device pointer of the same length, and nothing
 * else (cuMemcpyHtoD_v2 and its _ptds twin). Instead of staging the whole buffer, the driver
 * is called once per chunk straight from the shared bulk area, so the copy overlaps the
 * client's writes and touches each byte once on this side. stream_shape(out = 0) recognises
 * that call, and with out = 1 its mirror image (below); returns the arg indexes or -1.
 */
static int stream_shape(const struct vgpu_call_desc *d, const struct vgpu_bulk_list *bulk, int out,
			struct vgpu_copy_shape *s)
{
	const struct vgpu_bulk_seg *g = &bulk->seg[0];

	if (bulk->n != 1 || g->in == out || g->out != out || !g->slot || vgpu_copy_shape(d, out, s) < 0 ||
	    g->arg != s->buf)
		return -1;
	return 0;
}

/*
 * Each chunk is one driver call, whose fixed cost (a synchronising copy: tens of
 * microseconds on the simulator, several on a GPU) is only small against a large chunk;
 * the chunks stay a quarter of the bulk area at most, so the client's copy of one
 * overlaps the driver's copy of the next.
 */
#define STREAM_DRIVER_STEP (1u << 20)

struct stream_ctx {
	struct chanctx *cc;
	struct vgpu_proxy_call *call;
	vgpu_thunk_fn thunk;
	void **argv;
	struct vgpu_copy_shape shape;
	uint64_t dst;
	void *bounce;   /* an asynchronous host-to-device copy and a registered bulk area: see below */
	uint64_t bounce_len;
	int sync_each;  /* an asynchronous device-to-host copy into a registered bulk area */
	CUresult res;
};

/* The bytes of a chunk in turn through a bounce buffer of bounce_len: a chunk is what the
 * bulk area holds, which may be more than a step (a zone chooses its area's size). */
static int bounced(void *bounce, uint64_t bounce_len, const void *chunk, uint64_t len, uint64_t off,
		   int (*fn)(void *ctx, void *piece, uint64_t len, uint64_t off), void *ctx)
{
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < bounce_len ? len - done : bounce_len;
		memcpy(bounce, (const uint8_t *)chunk + done, n);
		int rc = fn(ctx, bounce, n, off + done);
		if (rc)
			return rc;
		done += n;
	}
	return 0;
}

static int stream_piece(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct stream_ctx *s = ctx;
	*(uint64_t *)s->argv[s->shape.dptr] = s->dst + off;   /* inside the checked range: off + len <= ByteCount */
	*(void **)s->argv[s->shape.buf] = chunk;   /* input chunk to read, or output space to fill */
	*(uint64_t *)s->argv[s->shape.len] = len;
	s->res = s->thunk(s->call->drv, s->argv);
	if (s->res == CUDA_SUCCESS && s->sync_each)
		s->res = wait_staged(s->cc, s->call, s->argv);
	return s->res == CUDA_SUCCESS ? 0 : -EIO;
}

static int stream_chunk(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct stream_ctx *s = ctx;
	return s->bounce ? bounced(s->bounce, s->bounce_len, chunk, len, off, stream_piece, s)
			 : stream_piece(s, chunk, len, off);
}

/*
 * The channel's bulk areas are registered with the driver (once, at the first streamed copy,
 * when the zone has a context current): on a GPU the DMA engine then reads and writes the
 * ring itself, instead of the driver staging every streamed chunk through its own pinned
 * buffer. A synchronous copy from or to pinned memory has finished when the call returns,
 * so the ring's bytes are never reused under it; asynchronous ones take a bounce buffer or
 * wait (call_streamed). Failing, the copies work as before. The simulator registers them
 * too: it then treats the ring as a GPU's driver does (an asynchronous copy from it runs
 * later), so what a GPU needs of the streamed paths runs in every test.
 */
static void bulk_register(struct chanctx *cc)
{
	const struct vgpu_backend_fns *f = &cc->be->fn;
	void *base;
	size_t len;

	if (cc->bulk_tried || !f->cuMemHostRegister_v2)
		return;
	cc->bulk_tried = 1;
	vgpu_chan_bulk_areas(cc->ch, &base, &len);
	CUresult r = f->cuMemHostRegister_v2(base, len, CU_MEMHOSTREGISTER_PORTABLE);
	if (r == CUDA_SUCCESS)
		cc->bulk_registered = base;
	vgpu_debug("channel %u: bulk areas (%zu bytes) %s with the driver (CUresult %d)", cc->no, len,
		   r == CUDA_SUCCESS ? "registered" : "not registered", (int)r);
}

/* The bounce buffer of an asynchronous host-to-device stream of n bytes where the bulk area
 * is registered (need), else none: 0, or -1 without memory for it (the n bytes still leave
 * the ring, and the copy fails). */
static int bounce_take(struct chanctx *cc, struct vgpu_proxy_call *call, uint64_t n, int need, void **bounce,
		       uint64_t *len)
{
	*len = n < STREAM_DRIVER_STEP ? n : STREAM_DRIVER_STEP;
	*bounce = NULL;
	if (!need || (*bounce = stage_alloc(cc, *len)))
		return 0;
	call->fatal = vgpu_chan_bulk_read_cb(cc->ch, n, NULL, NULL);
	return -1;
}

/* What a streamed copy answers: the driver's result, or, when the bulk stream itself broke
 * (not a driver error, -EIO), the channel is closed. */
static CUresult streamed_result(struct vgpu_proxy_call *call, int rc, CUresult res)
{
	if (rc < 0 && rc != -EIO) {
		call->fatal = rc;
		return CUDA_ERROR_UNKNOWN;
	}
	return res;
}

/*
 * The asynchronous forms (cuMemcpyHtoDAsync_v2, cuMemcpyDtoHAsync_v2 and their _ptsz twins)
 * stream too, each chunk one asynchronous driver copy on the zone's stream. From memory the
 * driver takes as pageable (the simulator's view of the bulk area, or a GPU's where it is not
 * registered) the driver has read a host-to-device chunk when the call returns and has
 * written a device-to-host one, as for the program's own pageable memory. Where the bulk
 * area is registered, the driver would use it later: a host-to-device chunk goes through a
 * pageable bounce buffer of the channel's (a step, in the caches), and a device-to-host one
 * is waited for (its stream) before the client may read it. Before, such copies were staged
 * whole in fresh memory: 0.3 GB/s for 4 MiB on the simulator, against 4-14 GB/s now.
 */
static CUresult call_streamed(struct chanctx *cc, struct vgpu_proxy_call *call, vgpu_thunk_fn thunk,
			      void **argv, const struct vgpu_bulk_list *bulk, const struct vgpu_copy_shape *shape)
{
	struct stream_ctx s = { .cc = cc, .call = call, .thunk = thunk, .argv = argv, .shape = *shape,
				.dst = *(const uint64_t *)argv[shape->dptr], .res = CUDA_SUCCESS };
	uint64_t n = bulk->seg[0].len;
	bulk_register(cc);
	if (bounce_take(cc, call, n, shape->stream >= 0 && cc->bulk_registered, &s.bounce, &s.bounce_len) < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	int rc = vgpu_chan_bulk_read_cb_step(cc->ch, n, STREAM_DRIVER_STEP, stream_chunk, &s);
	vgpu_stat_add(&cc->z->stats->bulk_in, n);
	vgpu_debug("%s: %llu bytes streamed from the bulk area (%s)", call->desc->name,
		   (unsigned long long)n, s.res == CUDA_SUCCESS ? "ok" : "driver error");
	return streamed_result(call, rc, s.res);
}

/*
 * Streamed device-to-host copy, the mirror image (cuMemcpyDtoH_v2 and _ptds, requested with
 * VGPU_MSG_F_DATA_FIRST): the driver copies chunk by chunk straight into the shared bulk area
 * and the reply follows the bytes, with the copy's true result. If a chunk fails, the rest of
 * the stream is zero-filled (the client reads exactly the announced length either way).
 */
static CUresult call_streamed_out(struct chanctx *cc, struct vgpu_proxy_call *call, vgpu_thunk_fn thunk,
				  void **argv, const struct vgpu_bulk_list *bulk, const struct vgpu_copy_shape *shape)
{
	struct stream_ctx s = { .cc = cc, .call = call, .thunk = thunk, .argv = argv, .shape = *shape,
				.dst = *(const uint64_t *)argv[shape->dptr], .res = CUDA_SUCCESS };
	uint64_t n = bulk->seg[0].len;

	bulk_register(cc);
	s.sync_each = shape->stream >= 0 && cc->bulk_registered;
	int rc = vgpu_chan_bulk_write_cb_step(cc->ch, n, STREAM_DRIVER_STEP, stream_chunk, &s);
	vgpu_stat_add(&cc->z->stats->bulk_out, n);
	*(uint64_t *)argv[shape->len] = n;
	return streamed_result(call, rc, s.res);
}

/*
 * A 2D/3D copy of the zone's dense host rows (vgpu_proxy_copy3d_streams): they stream through
 * the bulk area as a plain copy's bytes do, each chunk a few driver copies of whole slices,
 * whole rows and row pieces. Uploads read the chunks (an asynchronous one through the bounce
 * buffer where the bulk area is registered); downloads, asked for data first, fill them and
 * the reply follows. Nothing is staged.
 */
struct rows_ctx {
	struct vgpu_proxy_call *call;
	const CUDA_MEMCPY3D *c;
	CUstream s;
	int async, out;
	void *bounce;
	uint64_t bounce_len;
	CUresult res;
};

static int rows_piece(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct rows_ctx *r = ctx;
	r->res = vgpu_proxy_copy3d_rows(r->call, r->c, r->s, r->async, r->out, chunk, off, len);
	return r->res == CUDA_SUCCESS ? 0 : -EIO;
}

static int rows_chunk(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	struct rows_ctx *r = ctx;
	return r->bounce ? bounced(r->bounce, r->bounce_len, chunk, len, off, rows_piece, r)
			 : rows_piece(r, chunk, len, off);
}

static CUresult call_rows_streamed(struct chanctx *cc, struct vgpu_proxy_call *call, const CUDA_MEMCPY3D *c,
				   CUstream s, int async, int out, uint64_t n)
{
	struct rows_ctx r = { .call = call, .c = c, .s = s, .async = async, .out = out, .res = CUDA_SUCCESS };
	int rc;
	vgpu_debug("%s: %llu bytes of rows streamed %s the bulk area", call->desc->name, (unsigned long long)n,
		   out ? "into" : "from");

	bulk_register(cc);
	if (out) {
		rc = vgpu_chan_bulk_write_cb_step(cc->ch, n, STREAM_DRIVER_STEP, rows_chunk, &r);
		vgpu_stat_add(&cc->z->stats->bulk_out, n);
		return streamed_result(call, rc, r.res);
	}
	if (bounce_take(cc, call, n, async && cc->bulk_registered, &r.bounce, &r.bounce_len) < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	rc = vgpu_chan_bulk_read_cb_step(cc->ch, n, STREAM_DRIVER_STEP, rows_chunk, &r);
	vgpu_stat_add(&cc->z->stats->bulk_in, n);
	return streamed_result(call, rc, r.res);
}

/* The reply of a streamed copy (out: what it announces), unless its channel is to close. */
static CUresult streamed_reply(struct vgpu_proxy_call *call, void **argv, CUresult res,
			       struct vgpu_bulk_list *out)
{
	if (call->fatal < 0)
		return res;
	if (vgpu_encode_reply(call->desc, argv, res, call->hooks, call, call->reply, out) < 0)
		vgpu_wbuf_reset(call->reply);
	return res;
}

/* A data-first request refused before its copy: its client still reads the announced bytes. */
static void data_first_zeros(struct chanctx *cc, struct vgpu_proxy_call *call, const struct vgpu_bulk_list *bulk)
{
	int rc = 0;

	for (unsigned i = 0; i < bulk->n && i < VGPU_MAX_BULK && rc >= 0; i++)
		if (bulk->seg[i].out)
			rc = vgpu_chan_bulk_write_cb(cc->ch, bulk->seg[i].len, NULL, NULL);
	if (rc < 0)
		call->fatal = rc;
}


/*
 * What a checkpoint needs to know of a successful call that the driver cannot be asked later
 * (ckpt.c), in one switch on the hot path: a module global the zone was given the address of,
 * an event's creation flags, an address reservation, and each executable graph's copy of the
 * graph it was made from (calls that change one in a way the copy does not follow make it
 * impossible to checkpoint, naming the call). argv[i] points at parameter i.
 */
/*
 * What a zone must be told differently from the driver. Memory a zone registers
 * (cuMemHostRegister) is never at the same address in its worker, so kernels cannot take the
 * program's pointer to it: they use cuMemHostGetDevicePointer's, as on a device without
 * CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM. Nothing of a zone's is shared
 * with other processes or devices outside it: its memory and pools are made without export
 * handles, DMA-BUF exports and multicast objects are not remoted, IPC handles reach only the
 * zones of its registration (none without one), and no NIC
 * reaches its memory (GPUDirect RDMA), so a library that asks (NCCL chooses its allocator and
 * its algorithms so) is told the device has none of these.
 */
static int zone_lacks(int attrib)
{
	switch (attrib) {
	case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM:
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES:
	case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS:
	case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING:
	case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED:             /* cuMemGetHandleForAddressRange: not remoted */
	case CU_DEVICE_ATTRIBUTE_HOST_ALLOC_DMA_BUF_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED:           /* cuMulticast*: not remoted */
		return 1;
	default:
		return 0;
	}
}

/*
 * How much device memory there is, as the zone is told (unless --zone-mem-view device): no
 * more than its quota, and its registration's shared budget, allow. The total is capped at the
 * smaller limit, the free memory at what is left of each (and at the device's own free memory),
 * so a program that sizes its work by the device (vLLM's KV cache, DeepSpeed's and TensorRT's
 * workspaces: a fraction of the total or of what is free) fits its quota instead of failing
 * past it, and learns less of the other zones' use.
 */
static void memory_view(struct vgpu_zone *z, size_t *freeb, size_t *total)
{
	uint64_t cap = UINT64_MAX, room = UINT64_MAX;

	pthread_mutex_lock(&z->lock);
	if (z->mem.limit) {
		cap = z->mem.limit;
		room = z->mem.limit > z->mem.used ? z->mem.limit - z->mem.used : 0;
	}
	struct vgpu_pool *pool = z->pool;
	pthread_mutex_unlock(&z->lock);
	if (pool && pool->limit[VGPU_POOL_MEM]) {
		uint64_t pl = pool->limit[VGPU_POOL_MEM], pt = vgpu_pool_total(pool, VGPU_POOL_MEM);
		uint64_t left = pl > pt ? pl - pt : 0;
		cap = pl < cap ? pl : cap;
		room = left < room ? left : room;
	}
	if (total && *total > cap)
		*total = (size_t)cap;
	if (freeb && *freeb > room)
		*freeb = (size_t)room;
	if (freeb && total && *freeb > *total)
		*freeb = *total;
}

static void zone_view(struct vgpu_proxy_call *call, void **argv)
{
	switch (call->hdr.opcode) {
	case VGPU_OP_cuDeviceGetAttribute: {   /* (pi, attrib, dev) */
		int *pi = *(int **)argv[0];
		if (pi && zone_lacks(*(int *)argv[1]))
			*pi = 0;
		/* IPC events are shared between the zones of a registration only (custom_ipc.c) */
		if (pi && *(int *)argv[1] == CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED && !call->zone->pool)
			*pi = 0;
		break;
	}
	case VGPU_OP_cuMemGetInfo_v2:   /* (free, total) */
		if (!call->zone->mem_view_device)
			memory_view(call->zone, *(size_t **)argv[0], *(size_t **)argv[1]);
		break;
	case VGPU_OP_cuDeviceTotalMem_v2:   /* (bytes, dev) */
		if (!call->zone->mem_view_device)
			memory_view(call->zone, NULL, *(size_t **)argv[0]);
		break;
	default:
		break;
	}
}

static void note_for_checkpoint(struct vgpu_proxy_call *call, void **argv)
{
	switch (call->hdr.opcode) {
	case VGPU_OP_cuModuleGetGlobal_v2: {   /* (dptr, bytes, module, name) */
		CUdeviceptr *pd = *(CUdeviceptr **)argv[0];
		size_t *pb = *(size_t **)argv[1];
		if (pd)
			vgpu_ckpt_note_global(call->zone, *(void **)argv[2], *(const char **)argv[3], *pd, pb ? *pb : 0);
		break;
	}
	case VGPU_OP_cuEventCreate: {
		CUevent *pe = *(CUevent **)argv[0];
		if (pe && *pe && *(unsigned *)argv[1])
			vgpu_ckpt_note_event(call->zone, *pe, *(unsigned *)argv[1]);
		break;
	}
	case VGPU_OP_cuMemAddressReserve: {   /* (ptr, size, alignment, addr, flags) */
		CUdeviceptr *pp = *(CUdeviceptr **)argv[0];
		if (pp && *pp)
			vgpu_vmm_reserved(call->zone, *pp, *(size_t *)argv[1]);
		break;
	}
	case VGPU_OP_cuGraphInstantiateWithFlags: {
		CUgraphExec *pe = *(CUgraphExec **)argv[0];
		if (pe && *pe)
			vgpu_ckpt_gexec_made(call->zone, call->backend, *pe, *(CUgraph *)argv[1],
					     *(unsigned long long *)argv[2]);
		break;
	}
	case VGPU_OP_cuGraphConditionalHandleCreate:
		pthread_mutex_lock(&call->zone->lock);
		call->zone->cond_made = 1;
		pthread_mutex_unlock(&call->zone->lock);
		break;
	case VGPU_OP_cuGraphExecDestroy:
		vgpu_ckpt_gexec_gone(call->zone, call->backend, *(CUgraphExec *)argv[0]);
		break;
	case VGPU_OP_cuGraphExecChildGraphNodeSetParams:
	case VGPU_OP_cuGraphExecEventRecordNodeSetEvent:
	case VGPU_OP_cuGraphExecEventWaitNodeSetEvent:
	case VGPU_OP_cuGraphNodeSetEnabled:
		vgpu_ckpt_gexec_changed(call->zone, *(CUgraphExec *)argv[0], call->desc->name);
		break;
	case VGPU_OP_cuGraphKernelNodeCopyAttributes:
		vgpu_ckpt_graph_attrs(call->zone, call->desc->name);
		break;
	default:
		break;
	}
}

/*
 * Primary contexts go idle without a call that names them: the last
 * cuDevicePrimaryCtxRelease, or a reset, destroys everything the device's primary context
 * owned. The zone remembers which context each retain returned; after a release the driver
 * is asked whether the context is still active, and if not (or after a reset) the zone
 * forgets everything made in it, as for cuCtxDestroy. The context's own handle stays: the
 * driver keeps a primary context's handle for the life of the process (it may be made
 * current while idle, and the next retain returns it again), and the CUDA runtime relies on
 * that across cudaDeviceReset.
 */
static void track_primary_before(struct vgpu_proxy_call *call, void **argv)
{
	if (call->hdr.opcode != VGPU_OP_cuDevicePrimaryCtxRetain)
		return;
	CUcontext *out = *(CUcontext **)argv[0];
	int dev = *(const int *)argv[1];
	if (out && *out && dev >= 0 && dev < VGPU_ZONE_MAX_DEVICES) {
		pthread_mutex_lock(&call->zone->lock);
		call->zone->primary[dev] = *out;
		pthread_mutex_unlock(&call->zone->lock);
	}
}

static void track_primary_after(struct chanctx *cc, struct vgpu_proxy_call *call, void **argv)
{
	unsigned op = call->hdr.opcode;
	int reset = op == VGPU_OP_cuDevicePrimaryCtxReset_v2 || op == VGPU_OP_cuDevicePrimaryCtxReset;
	if (!reset && op != VGPU_OP_cuDevicePrimaryCtxRelease_v2 && op != VGPU_OP_cuDevicePrimaryCtxRelease)
		return;
	int dev = *(const int *)argv[0];
	if (dev < 0 || dev >= VGPU_ZONE_MAX_DEVICES)
		return;
	if (!reset) {
		unsigned flags = 0;
		int active = 1;
		const struct vgpu_backend_fns *f = &cc->be->fn;
		if (!f->cuDevicePrimaryCtxGetState || f->cuDevicePrimaryCtxGetState(dev, &flags, &active) != CUDA_SUCCESS ||
		    active)
			return;
	}
	pthread_mutex_lock(&call->zone->lock);
	void *ctx = call->zone->primary[dev];
	pthread_mutex_unlock(&call->zone->lock);
	if (ctx) {
		unsigned h = 0, a = 0;
		uint64_t b = 0;
		vgpu_proxy_context_gone(call->zone, cc->be, ctx, &h, &a, &b);
		vgpu_debug("device %d's primary context is idle (%s): forgot %u handles and %u allocations (%llu bytes) "
			   "made in it", dev, reset ? "reset" : "last release", h, a, (unsigned long long)b);
	}
	if (reset) {
		unsigned a = 0;
		uint64_t b = 0;
		vgpu_proxy_device_reset(call->zone, cc->be, dev, &a, &b);
		if (a)
			vgpu_debug("device %d reset: forgot %u stream-ordered allocations (%llu bytes) the driver freed with it",
				   dev, a, (unsigned long long)b);
	}
}

/*
 * Does the call copy between the zone's host bytes and the device: a copy on a stream whose
 * host side travels inline in the message or reply (a few KiB) or on the bulk stream? Other
 * calls' buffers (a capture's edge data) are read by the driver during the call.
 */
static int moves_host_bytes(const struct vgpu_proxy_call *call, void **argv, const struct vgpu_bulk_list *bulk)
{
	switch (call->hdr.opcode) {
	case VGPU_OP_cuMemcpyHtoDAsync_v2:
	case VGPU_OP_cuMemcpyHtoDAsync_v2_ptsz:
	case VGPU_OP_cuMemcpyDtoHAsync_v2:
	case VGPU_OP_cuMemcpyDtoHAsync_v2_ptsz:
	case VGPU_OP_cuMemcpyHtoAAsync_v2:
	case VGPU_OP_cuMemcpyHtoAAsync_v2_ptsz:
	case VGPU_OP_cuMemcpyAtoHAsync_v2:
	case VGPU_OP_cuMemcpyAtoHAsync_v2_ptsz:
		return 1;
	default:
		break;
	}
	if (call->desc->args == vgpu_wire_copy_args)   /* a 2D/3D copy: its host rows, if it has any */
		return *(uint64_t *)argv[VGPU_CW_HOST_IN_BYTES] || *(uint64_t *)argv[VGPU_CW_HOST_OUT_BYTES];
	return bulk->n > 0;
}

/*
 * A call that moves host bytes on a stream being captured into a graph: the graph would
 * record the address of the worker's copy of them (its message buffer, reply or staging),
 * read or written long after the call, whenever the graph runs. Such copies are refused;
 * device-only work is captured. (libvgpu captures copies of pageable memory its own way,
 * through pinned staging: libvgpu/gcopy.c.)
 */
static int host_copy_on_capturing_stream(const struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_call_desc *d = call->desc;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;

	if (!call->backend || !call->backend->fn.cuStreamIsCapturing)
		return 0;
	for (unsigned i = 0; i < d->nargs; i++)
		if (d->args[i].kind == VGPU_ARG_HANDLE && d->args[i].htype == VGPU_H_STREAM &&
		    call->backend->fn.cuStreamIsCapturing(*(CUstream *)argv[i], &st) == CUDA_SUCCESS &&
		    st != CU_STREAM_CAPTURE_STATUS_NONE)
			return 1;
	return 0;
}

/*
 * Captures into a graph the capture makes. The graph is the driver's until cuStreamEndCapture
 * hands it over, and the driver frees it when the capture ends in error; the zone may have
 * been given handles of it and of its nodes meanwhile (cuStreamGetCaptureInfo). The zone
 * remembers which graphs a capture made, so that such an end forgets those handles too.
 */
static int is_end_capture(uint16_t op)
{
	return op == VGPU_OP_cuStreamEndCapture || op == VGPU_OP_cuStreamEndCapture_ptsz;
}

static int is_begin_capture(uint16_t op)
{
	return op == VGPU_OP_cuStreamBeginCapture_v2 || op == VGPU_OP_cuStreamBeginCapture_v2_ptsz;
}

/* The graph the stream (the call's first argument) is being captured into, or NULL. */
static void *capture_graph_of(const struct vgpu_proxy_call *call, void **argv)
{
	int ptsz = call->hdr.opcode == VGPU_OP_cuStreamEndCapture_ptsz ||
		   call->hdr.opcode == VGPU_OP_cuStreamBeginCapture_v2_ptsz;
	CUresult (*info)(CUstream, CUstreamCaptureStatus *, cuuint64_t *, CUgraph *, const CUgraphNode **,
			 const CUgraphEdgeData **, size_t *) =
		ptsz ? call->drv->cuStreamGetCaptureInfo_v3_ptsz : call->drv->cuStreamGetCaptureInfo_v3;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	CUgraph g = NULL;

	if (!info || info(*(CUstream *)argv[0], &st, NULL, &g, NULL, NULL, NULL) != CUDA_SUCCESS ||
	    st == CU_STREAM_CAPTURE_STATUS_NONE)
		return NULL;
	return g;
}

static void capture_begun(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_zone *z = call->zone;
	void *g = capture_graph_of(call, argv);
	if (!g)
		return;
	pthread_mutex_lock(&z->lock);
	if (z->ncapture_graph == sizeof(z->capture_graph) / sizeof(z->capture_graph[0]))
		memmove(z->capture_graph, z->capture_graph + 1, --z->ncapture_graph * sizeof(void *));
	z->capture_graph[z->ncapture_graph++] = g;
	pthread_mutex_unlock(&z->lock);
}

/* Before cuStreamEndCapture: the capture's graph if the capture made it (and forget it), else NULL. */
static void *capture_ending(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_zone *z = call->zone;
	void *g = capture_graph_of(call, argv), *made = NULL;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; g && i < z->ncapture_graph; i++)
		if (z->capture_graph[i] == g) {
			made = g;
			memmove(z->capture_graph + i, z->capture_graph + i + 1, (--z->ncapture_graph - i) * sizeof(void *));
			break;
		}
	pthread_mutex_unlock(&z->lock);
	return made;
}

/* After an end in error: the driver freed the graph; the zone's handles of it and its nodes go. */
static void capture_failed(struct vgpu_proxy_call *call, void *g)
{
	unsigned h = 0, a = 0;
	uint64_t b = 0, id;
	vgpu_zone_purge_owner(call->zone, g, &h, &a, &b);
	if (vgpu_zone_handle_find(call->zone, VGPU_H_GRAPH, g, &id) == 0) {
		vgpu_zone_handle_drop(call->zone, VGPU_H_GRAPH, id);
		h++;
	}
	if (h)
		vgpu_debug("%s: the capture failed and its graph is gone: forgot %u handles of it and its nodes",
			   call->desc->name, h);
}

/*
 * The generated path: decode, stage bulk inputs, quota, thunk, encode the reply. A wire
 * handler (proxy.h, a hand-written call carried as a custom_wire.h message) takes the
 * thunk's place: same decoding, checks and staging, its own driver part.
 */
static int is_free_op(uint16_t op)
{
	return op == VGPU_OP_cuMemFree_v2 || op == VGPU_OP_cuMemFreeAsync || op == VGPU_OP_cuMemFreeAsync_ptsz;
}

/*
 * The size of the zone's allocation holding p when p is in memory the worker placed itself
 * (the fixed window, memory a restore recreated): the driver would name the mapping, which
 * holds several small allocations or a rounded-up one, and belongs to no context. 1 with
 * *base, *size and *owner (may be NULL: the context it was made in), else 0.
 */
int vgpu_proxy_placed_range(struct vgpu_zone *z, uint64_t p, uint64_t *base, uint64_t *size, const void **owner)
{
	int placed = vgpu_devva_in_window(&z->devva, p), found = 0;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < z->ck.nspan && !placed; i++)
		placed = p >= z->ck.span[i].base && p - z->ck.span[i].base < z->ck.span[i].size;
	const struct vgpu_alloc *a;
	if (placed && vgpu_allocmap_check(&z->amap, p, 1, base) == 0 && (a = vgpu_allocmap_at(&z->amap, *base))) {
		*size = a->size;
		if (owner)
			*owner = a->owner;
		found = 1;
	}
	pthread_mutex_unlock(&z->lock);
	return found;
}

/*
 * May a stream-ordered allocation (alloc) or free on stream s (ptsz: NULL is the thread's
 * default stream) be the window's? Not while s is being captured (a graph's memory nodes are
 * the driver's), and an allocation only on a stream of the current context and from a pool
 * the window can stand in for: the one it names (pool), or else the device's current one,
 * if that is the device's default pool or one the zone created of ordinary device memory of
 * the current device (not host memory, no special usage). *charge is then the pool its
 * usage counts, *max the pool's size limit (0: none).
 */
static int ordered_in_window(struct vgpu_proxy_call *call, CUstream s, int ptsz, int alloc, CUmemoryPool pool,
			     const void **charge, uint64_t *max)
{
	const struct vgpu_driver *drv = call->drv;
	CUresult (*capturing)(CUstream, CUstreamCaptureStatus *) = ptsz ? drv->cuStreamIsCapturing_ptsz
									: drv->cuStreamIsCapturing;
	CUresult (*stream_ctx)(CUstream, CUcontext *) = ptsz ? drv->cuStreamGetCtx_ptsz : drv->cuStreamGetCtx;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	if (!capturing || capturing(s, &st) != CUDA_SUCCESS || st != CU_STREAM_CAPTURE_STATUS_NONE)
		return 0;
	if (!alloc)
		return 1;
	CUcontext cur = NULL, sc = NULL;
	CUdevice dev;
	CUmemoryPool dp = NULL;
	if (!stream_ctx || !drv->cuCtxGetCurrent || !drv->cuCtxGetDevice || !drv->cuDeviceGetMemPool ||
	    !drv->cuDeviceGetDefaultMemPool || stream_ctx(s, &sc) != CUDA_SUCCESS ||
	    drv->cuCtxGetCurrent(&cur) != CUDA_SUCCESS || sc != cur || drv->cuCtxGetDevice(&dev) != CUDA_SUCCESS ||
	    (!pool && drv->cuDeviceGetMemPool(&pool, dev) != CUDA_SUCCESS) ||
	    drv->cuDeviceGetDefaultMemPool(&dp, dev) != CUDA_SUCCESS)
		return 0;
	struct vgpu_ckpt_pool pp;
	*charge = pool;
	*max = 0;
	if (pool == dp)
		return 1;
	if (vgpu_ckpt_pool_props(call->zone, pool, &pp) < 0 || pp.alloc_type != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    pp.loc_type != CU_MEM_LOCATION_TYPE_DEVICE || pp.loc_id != (int32_t)dev || pp.usage)
		return 0;
	*max = pp.max_size;
	return 1;
}

/*
 * --device-va fixed (devva.h): cuMemAlloc, cuMemAllocPitch and stream-ordered allocations
 * (ordered_in_window) served in the window, and their frees; the range queries of the window's and
 * of restored memory. 1 with *res when handled here, 0 for the driver (another call, memory
 * not the window's, or a window the driver would not give).
 */
static int fixed_va_call(struct chanctx *cc, struct vgpu_proxy_call *call, void **argv, CUresult *res)
{
	struct vgpu_devva *d = &call->zone->devva;
	const struct vgpu_backend_fns *f = &cc->be->fn;
	uint64_t p = 0, base, size;
	int r = 0;
	uint16_t op = call->hdr.opcode;
	int ptsz = op == VGPU_OP_cuMemFreeAsync_ptsz || op == VGPU_OP_cuMemAllocAsync_ptsz ||
		   op == VGPU_OP_cuMemAllocFromPoolAsync_ptsz;
	int ordered = 0;   /* a stream-ordered allocation (its pool's usage counts it) */
	const void *charge = NULL;
	uint64_t max = 0;

	switch (op) {
	case VGPU_OP_cuMemFreeAsync:   /* (dptr, hStream) */
	case VGPU_OP_cuMemFreeAsync_ptsz: {
		CUstream s = *(CUstream *)argv[1];
		if (!vgpu_devva_in_window(d, *(uint64_t *)argv[0]))
			return 0;
		if (ordered_in_window(call, s, ptsz, 0, NULL, &charge, &max)) {
			if (!vgpu_devva_free_async(d, f, *(uint64_t *)argv[0], ptsz && !s ? CU_STREAM_PER_THREAD : s, &r))
				return 0;
			*res = (CUresult)r;
			return 1;
		}
		/* freed now, the device waited for (a capture cannot hold the window's memory) */
		__attribute__((fallthrough));
	}
	case VGPU_OP_cuMemFree_v2:
		if (!vgpu_devva_free(d, f, *(uint64_t *)argv[0], 1, &r))
			return 0;
		*res = (CUresult)r;
		return 1;
	case VGPU_OP_cuMemAlloc_v2:   /* (dptr, bytesize) */
		size = *(size_t *)argv[1];
		break;
	case VGPU_OP_cuMemAllocAsync:   /* (dptr, bytesize, hStream): in the window when nothing else asks */
	case VGPU_OP_cuMemAllocAsync_ptsz:
		if (!vgpu_devva_on(d) || !ordered_in_window(call, *(CUstream *)argv[2], ptsz, 1, NULL, &charge, &max))
			return 0;
		size = *(size_t *)argv[1];
		ordered = 1;
		break;
	case VGPU_OP_cuMemAllocFromPoolAsync:   /* (dptr, bytesize, pool, hStream) */
	case VGPU_OP_cuMemAllocFromPoolAsync_ptsz:
		if (!vgpu_devva_on(d) || !*(CUmemoryPool *)argv[2] ||
		    !ordered_in_window(call, *(CUstream *)argv[3], ptsz, 1, *(CUmemoryPool *)argv[2], &charge, &max))
			return 0;
		size = *(size_t *)argv[1];
		ordered = 1;
		break;
	case VGPU_OP_cuMemAllocPitch_v2: {   /* (dptr, pPitch, WidthInBytes, Height, ElementSizeBytes) */
		CUdeviceptr probe = 0;
		size_t *pp = *(size_t **)argv[1], h = *(size_t *)argv[3];
		if (!*(CUdeviceptr **)argv[0] || !pp || !vgpu_devva_on(d) || !call->drv->cuMemAllocPitch_v2 ||
		    !call->drv->cuMemFree_v2)
			return 0;
		/* the pitch is the driver's choice: asked for with a throwaway allocation */
		CUresult e = call->drv->cuMemAllocPitch_v2(&probe, pp, *(size_t *)argv[2], h, *(unsigned *)argv[4]);
		if (e != CUDA_SUCCESS) {
			*res = e;
			return 1;
		}
		call->drv->cuMemFree_v2(probe);
		if (__builtin_mul_overflow((uint64_t)*pp, (uint64_t)h, &size)) {
			*res = CUDA_ERROR_OUT_OF_MEMORY;
			return 1;
		}
		break;
	}
	case VGPU_OP_cuMemGetInfo_v2:
		vgpu_devva_trim(d, f);   /* idle granules are free memory to the zone: the driver's answer counts them */
		return 0;
	case VGPU_OP_cuMemGetAddressRange_v2: {   /* (pbase, psize, dptr) */
		CUdeviceptr *pb = *(CUdeviceptr **)argv[0];
		size_t *ps = *(size_t **)argv[1];
		if (!vgpu_proxy_placed_range(call->zone, *(uint64_t *)argv[2], &base, &size, NULL))
			return 0;
		if (pb)
			*pb = base;
		if (ps)
			*ps = size;
		*res = CUDA_SUCCESS;
		return 1;
	}
	default:
		return 0;
	}
	/* an allocation of size bytes into *argv[0], in the window */
	CUdeviceptr *dp = *(CUdeviceptr **)argv[0];
	if (!dp || !vgpu_devva_on(d))
		return 0;
	if (ordered && vgpu_devva_pool_charge(d, charge, size, max) < 0) {
		*res = CUDA_ERROR_OUT_OF_MEMORY;   /* past the pool's maxSize */
		return 1;
	}
	CUresult e = vgpu_devva_alloc(d, f, size, &p);
	if (e != CUDA_SUCCESS && ordered)
		vgpu_devva_pool_uncharge(d, charge, size);
	if (e == CUDA_ERROR_NOT_SUPPORTED)
		return 0;   /* the driver's, where the window cannot be had */
	if (e == CUDA_SUCCESS) {
		*dp = p;
		if (ordered)
			vgpu_devva_note_ordered(d, p, size, charge);
	}
	*res = e;
	return 1;
}

static CUresult call_generic(struct chanctx *cc, struct vgpu_proxy_call *call, vgpu_thunk_fn thunk,
			     vgpu_proxy_wire_fn wire)
{
	void *argv[VGPU_MAX_ARGS];
	struct vgpu_bulk_list bulk = { .n = 0 };
	CUresult err = CUDA_ERROR_INVALID_VALUE, res;

	int data_first = (call->hdr.flags & VGPU_MSG_F_DATA_FIRST) != 0;
	struct vgpu_copy_shape shape;
	/* only a device-to-host copy answered after its bytes (a plain one or a 2D/3D one) may ask
	 * for them before its reply */
	if (data_first && ((call->hdr.flags & VGPU_MSG_F_ASYNC) ||
			   (wire ? !vgpu_proxy_is_copy3d(call->hdr.opcode) : vgpu_copy_shape(call->desc, 1, &shape) < 0))) {
		vgpu_debug("%s: VGPU_MSG_F_DATA_FIRST on a call that is not a device-to-host copy", call->desc->name);
		call->fatal = -EPROTO;
		return CUDA_ERROR_INVALID_VALUE;
	}
	int rc = vgpu_decode_request(call->desc, call->msg, call->len, call->arena, call->hooks, call,
				     argv, &bulk, &err);
	if (rc < 0) {
		vgpu_debug("%s: request refused by the decoder (%s)", call->desc->name, strerror(-rc));
		if (rc == -EBADMSG || rc == -E2BIG) {
			/* Malformed: what was announced cannot be trusted; the bulk stream may be out
			 * of sync, so the channel is closed (only a broken or hostile client gets here). */
			call->fatal = -EPROTO;
			return err;
		}
		/*
		 * A well-formed request refused for what it names (a handle or device range the
		 * zone does not own): the decoder dropped its bulk list, but the client still
		 * streams the announced input bytes. Decode again without the zone's checks,
		 * only to learn those lengths, and consume them so the stream stays in sync.
		 */
		vgpu_arena_reset(call->arena);
		CUresult ignored;
		if (vgpu_decode_request(call->desc, call->msg, call->len, call->arena, NULL, NULL,
					argv, &bulk, &ignored) < 0) {
			call->fatal = -EPROTO;
			return err;
		}
		call->fatal = discard_inputs(cc, &bulk);
		if (data_first && call->fatal == 0)
			data_first_zeros(cc, call, &bulk);
		return err;
	}
	if (bulk.n > VGPU_MAX_BULK) {
		call->fatal = -EPROTO;
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (moves_host_bytes(call, argv, &bulk) && host_copy_on_capturing_stream(call, argv)) {
		vgpu_debug("%s: refused: its stream is being captured into a graph, which would keep "
			   "the address of the proxy's staging memory", call->desc->name);
		call->fatal = discard_inputs(cc, &bulk);
		if (data_first && call->fatal == 0)
			data_first_zeros(cc, call, &bulk);
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	CUDA_MEMCPY3D c3;
	CUstream s3;
	int async3;
	if (data_first && wire) {
		struct vgpu_bulk_list none = { .n = 0 };
		if (bulk.n != 1 || bulk.seg[0].in || !bulk.seg[0].out || bulk.seg[0].len <= VGPU_INLINE_MAX) {
			call->fatal = -EPROTO;   /* (the rows of the copy are not all its client reads first) */
			return CUDA_ERROR_INVALID_VALUE;
		}
		int st = vgpu_proxy_copy3d_streams(call, argv, 1, &c3, &s3, &async3);
		if (st != 0) {
			data_first_zeros(cc, call, &bulk);
			return st > 0 ? (CUresult)st : CUDA_ERROR_NOT_SUPPORTED;
		}
		*bulk.seg[0].slot = &c3;   /* non-NULL placeholder: the reply only announces the length */
		res = call_rows_streamed(cc, call, &c3, s3, async3, 1, bulk.seg[0].len);
		return streamed_reply(call, argv, res, &none);
	}
	if (data_first) {
		struct vgpu_bulk_list none = { .n = 0 };
		if (stream_shape(call->desc, &bulk, 1, &shape) < 0 || bulk.seg[0].len <= VGPU_INLINE_MAX) {
			/* (its bytes would be in the reply: nothing for the client to read first) */
			call->fatal = -EPROTO;
			return CUDA_ERROR_INVALID_VALUE;
		}
		if (!thunk) {
			data_first_zeros(cc, call, &bulk);
			return CUDA_ERROR_NOT_SUPPORTED;
		}
		*bulk.seg[0].slot = &shape;   /* non-NULL placeholder: the reply only announces the length */
		res = call_streamed_out(cc, call, thunk, argv, &bulk, &shape);
		/* the reply announces the length its client has already read */
		return streamed_reply(call, argv, res, &none);
	}
	if (wire && bulk.n == 1 && bulk.seg[0].in && !bulk.seg[0].out &&
	    vgpu_proxy_copy3d_streams(call, argv, 0, &c3, &s3, &async3) == 0) {
		res = call_rows_streamed(cc, call, &c3, s3, async3, 0, bulk.seg[0].len);
		return streamed_reply(call, argv, res, &call->bulk_out);
	}
	if (!wire && thunk && stream_shape(call->desc, &bulk, 0, &shape) == 0) {
		res = call_streamed(cc, call, thunk, argv, &bulk, &shape);
		return streamed_reply(call, argv, res, &call->bulk_out);
	}
	if ((res = stage_bulk(cc, call, &bulk)) != CUDA_SUCCESS)
		return res;
	if (!thunk && !wire) {
		vgpu_debug("%s: no driver entry point in this backend", call->desc->name);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if ((res = reserve_allocs(call, argv)) != CUDA_SUCCESS)
		return res;
	if ((res = prepare_destroys(call, argv)) != CUDA_SUCCESS) {
		finish_destroys(call, res);
		return res;
	}
	call->argv = argv;
	int handled = 0;   /* by the worker itself, not the driver */
	if (!wire && call->zone->ck.nspan && is_free_op(call->hdr.opcode)) {
		/* memory a restore recreated is a virtual-memory mapping, freed its own way */
		int r = 0;
		handled = vgpu_ckpt_free(call->zone, cc->be, (uint64_t)*(CUdeviceptr *)argv[0], &r);
		res = (CUresult)r;
	}
	if (!wire && !handled && (vgpu_devva_on(&call->zone->devva) || call->zone->ck.nspan))
		handled = fixed_va_call(cc, call, argv, &res);
	void *capture_made = is_end_capture(call->hdr.opcode) ? capture_ending(call, argv) : NULL;
	if (!handled)
		res = wire ? wire(call, argv) : thunk(call->drv, argv);
	if (capture_made && res != CUDA_SUCCESS)
		capture_failed(call, capture_made);
	if (res == CUDA_SUCCESS && is_begin_capture(call->hdr.opcode))
		capture_begun(call, argv);
	if (res == CUDA_SUCCESS) {
		zone_view(call, argv);
		note_for_checkpoint(call, argv);
	}
	if (cc->nstage && res == CUDA_SUCCESS)
		res = wait_staged(cc, call, argv);
	if (res == CUDA_SUCCESS)
		track_primary_before(call, argv);
	rc = vgpu_encode_reply(call->desc, argv, res, call->hooks, call, call->reply, &call->bulk_out);
	finish_destroys(call, res);
	if (res == CUDA_SUCCESS)
		track_primary_after(cc, call, argv);
	if (rc < 0) {
		vgpu_wbuf_reset(call->reply);
		call->bulk_out.n = 0;
		res = CUDA_ERROR_OUT_OF_MEMORY;
	}
	return res;
}
/* ---------------------------------------------------------------- pinned host memory */

/*
 * VGPU_OP_PINNED_* (session.h, runtime/custom_wire.h): decoded by the generic path like any
 * call, so the device range of a copy is checked against the zone's allocations and its
 * stream translated before this runs; the region and the range inside it are checked here.
 */
struct vgpu_pinned_drv vgpu_pinned_drv_of(const struct vgpu_backend *be)
{
	const struct vgpu_backend_fns *f = &be->fn;

	return (struct vgpu_pinned_drv){ .host_register = f->cuMemHostRegister_v2,
					 .host_unregister = f->cuMemHostUnregister,
					 .host_dptr = f->cuMemHostGetDevicePointer_v2,
					 .ctx_synchronize = f->cuCtxSynchronize };
}

/* After a map or grant: say how it went, and the zone's pinned bytes in its stats. */
static CUresult pinned_mapped(struct vgpu_proxy_call *call, CUresult res, const char *what, uint64_t bytes,
			      const uint64_t *id, const char *why)
{
	if (res != CUDA_SUCCESS)
		vgpu_warn("%s of %llu bytes refused: %s", what, (unsigned long long)bytes, why);
	else
		vgpu_debug("%s 0x%llx of %llu bytes mapped", what, (unsigned long long)*id, (unsigned long long)bytes);
	vgpu_stat_set(&call->zone->stats->pinned_bytes, __atomic_load_n(&call->zone->pinned.bytes, __ATOMIC_RELAXED));
	return res;
}

static CUresult pinned_map_wire(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t bytes = *(const uint64_t *)argv[VGPU_PMW_BYTES];
	uint64_t *id = *(uint64_t **)argv[VGPU_PMW_ID];
	struct vgpu_pinned_drv d = vgpu_pinned_drv_of(call->backend);
	const char *why;
	CUresult res;
	int fd, rc;

	if ((rc = vgpu_chan_recv_fd(call->chan, &fd)) < 0) {
		vgpu_warn("pinned region of %llu bytes refused: no memfd came with it (%s)",
			  (unsigned long long)bytes, strerror(-rc));
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (!id) {   /* nowhere to put the id: the region could never be named, so it is not mapped */
		close(fd);
		return CUDA_ERROR_INVALID_VALUE;
	}
	res = vgpu_pinned_map(&call->zone->pinned, fd, bytes, &d, id, &why);
	return pinned_mapped(call, res, "pinned region", bytes, id, why);
}

const struct vgpu_grant_mapper *vgpu_grant_mapper;

/* A Xen guest's pinned region: the pages it granted to Dom0, mapped here (no memfd can cross
 * domains). Every reference must map; the region is then checked and counted like a memfd's. */
static CUresult pinned_grant_wire(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t bytes = *(const uint64_t *)argv[VGPU_PGW_BYTES];
	uint32_t n = *(const uint32_t *)argv[VGPU_PGW_NREFS];
	const uint32_t *refs = *(const uint32_t **)argv[VGPU_PGW_REFS];
	uint64_t *id = *(uint64_t **)argv[VGPU_PGW_ID];
	const struct vgpu_grant_mapper *gm = vgpu_grant_mapper;
	struct vgpu_pinned_drv d = vgpu_pinned_drv_of(call->backend);
	const char *why;

	if (!id || !refs || n == 0 || n > VGPU_PINNED_GRANT_MAX_PAGES || bytes != (uint64_t)n * 4096u) {
		vgpu_warn("granted pinned region refused: %u references for %llu bytes (one per 4 KiB page, at most %u)",
			  n, (unsigned long long)bytes, VGPU_PINNED_GRANT_MAX_PAGES);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (!gm)
		return CUDA_ERROR_NOT_SUPPORTED;   /* not a Xen guest's zone */
	void *base = gm->map(gm->ctx, n, refs);
	if (!base) {
		vgpu_warn("granted pinned region of %u pages refused: its grant references do not map", n);
		return CUDA_ERROR_INVALID_VALUE;
	}
	CUresult res = vgpu_pinned_map_mem(&call->zone->pinned, base, bytes, gm->unmap, gm->ctx, &d, id, &why);
	return pinned_mapped(call, res, "granted pinned region", bytes, id, why);
}

static CUresult pinned_unmap_wire(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_pinned_drv d = vgpu_pinned_drv_of(call->backend);
	CUresult res = vgpu_pinned_unmap(&call->zone->pinned, *(const uint64_t *)argv[VGPU_PUW_ID], &d);

	vgpu_stat_set(&call->zone->stats->pinned_bytes, __atomic_load_n(&call->zone->pinned.bytes, __ATOMIC_RELAXED));
	return res;
}

static CUresult pinned_copy_wire(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	const struct vgpu_backend_fns *f = &call->backend->fn;
	struct vgpu_zone *z = call->zone;
	uint64_t id = *(const uint64_t *)argv[VGPU_PCW_ID], off = *(const uint64_t *)argv[VGPU_PCW_OFFSET];
	uint64_t n = *(const uint64_t *)argv[VGPU_PCW_BYTES];
	uint32_t dir = *(const uint32_t *)argv[VGPU_PCW_DIR], flags = *(const uint32_t *)argv[VGPU_PCW_FLAGS];
	CUdeviceptr d = (CUdeviceptr)*(const uint64_t *)argv[VGPU_PCW_DPTR];
	CUstream stream = *(CUstream *)argv[VGPU_PCW_STREAM];
	int async = (flags & VGPU_PINNED_F_ASYNC) != 0, ptds = (flags & VGPU_PINNED_F_PTDS) != 0;
	CUresult res;

	/* the message's form (posted or not) must be the one flags announce */
	if ((dir != VGPU_PINNED_HTOD && dir != VGPU_PINNED_DTOH) || (flags & ~(VGPU_PINNED_F_ASYNC | VGPU_PINNED_F_PTDS)) ||
	    async != ((call->hdr.flags & VGPU_MSG_F_ASYNC) != 0) || (!async && stream) || n > SIZE_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	if (!drv)
		return CUDA_ERROR_NOT_SUPPORTED;
	int capturing = 0;
	if (async && f->cuStreamIsCapturing && stream != CU_STREAM_LEGACY) {
		CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
		capturing = f->cuStreamIsCapturing(ptds && !stream ? CU_STREAM_PER_THREAD : stream, &st) == CUDA_SUCCESS &&
			    st != CU_STREAM_CAPTURE_STATUS_NONE;
	}
	if (capturing) {
		/*
		 * Into a graph, as a copy between device addresses: the region's own (where the
		 * driver maps it for kernels), so a graph that outlives the region names an address
		 * the driver no longer knows and fails its copy, never reaching the worker's memory.
		 * A region kernels cannot reach has no such address: refused.
		 */
		uint64_t rd = 0, ra = 0;
		if (vgpu_pinned_where(&z->pinned, id, &ra, &rd) != CUDA_SUCCESS || !vgpu_pinned_get(&z->pinned, id, off, n))
			return CUDA_ERROR_INVALID_VALUE;
		vgpu_pinned_put(&z->pinned);
		if (!rd)
			return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		CUresult (*dtod)(CUdeviceptr, CUdeviceptr, size_t, CUstream) =
			ptds ? drv->cuMemcpyDtoDAsync_v2_ptsz : drv->cuMemcpyDtoDAsync_v2;
		res = dir == VGPU_PINNED_HTOD ? dtod(d, (CUdeviceptr)(rd + off), n, stream)
					      : dtod((CUdeviceptr)(rd + off), d, n, stream);
		vgpu_debug("pinned copy %s %llu bytes captured as a device copy on stream %p: %d",
			   dir == VGPU_PINNED_HTOD ? "HtoD" : "DtoH", (unsigned long long)n, (void *)stream, (int)res);
		return res;
	}
	void *host = vgpu_pinned_get(&z->pinned, id, off, n);
	if (!host) {
		vgpu_debug("pinned copy: [%llu, +%llu) is not inside pinned region 0x%llx of the zone",
			   (unsigned long long)off, (unsigned long long)n, (unsigned long long)id);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (dir == VGPU_PINNED_HTOD)
		res = async ? (ptds ? drv->cuMemcpyHtoDAsync_v2_ptsz : drv->cuMemcpyHtoDAsync_v2)(d, host, n, stream)
			    : (ptds ? drv->cuMemcpyHtoD_v2_ptds : drv->cuMemcpyHtoD_v2)(d, host, n);
	else
		res = async ? (ptds ? drv->cuMemcpyDtoHAsync_v2_ptsz : drv->cuMemcpyDtoHAsync_v2)(host, d, n, stream)
			    : (ptds ? drv->cuMemcpyDtoH_v2_ptds : drv->cuMemcpyDtoH_v2)(host, d, n);
	vgpu_pinned_put(&z->pinned);
	vgpu_debug("pinned copy %s %llu bytes %s stream %p: %d", dir == VGPU_PINNED_HTOD ? "HtoD" : "DtoH",
		   (unsigned long long)n, async ? "async" : "sync", (void *)stream, (int)res);
	if (res == CUDA_SUCCESS)
		vgpu_stat_add(&z->stats->pinned_copied, n);
	return res;
}

/* Where a region is: the worker's address of it and its kernels' (0: they cannot reach it). */
static CUresult pinned_where_wire(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t *addr = *(uint64_t **)argv[VGPU_PWW_ADDR], *dptr = *(uint64_t **)argv[VGPU_PWW_DPTR];
	if (!addr || !dptr)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_pinned_where(&call->zone->pinned, *(const uint64_t *)argv[VGPU_PWW_ID], addr, dptr);
}

/* The zone's device output of one stream, up to the capacity the client gives
 * (VGPU_OUTPUT_STEP at most). */
static CUresult output_wire(struct vgpu_proxy_call *call, void **argv)
{
	uint32_t cap = *(const uint32_t *)argv[VGPU_OW_CAP], stream = *(const uint32_t *)argv[VGPU_OW_STREAM];
	void *bytes = *(void **)argv[VGPU_OW_BYTES];
	uint32_t *len = *(uint32_t **)argv[VGPU_OW_LEN];
	(void)call;
	if (!len || (cap && !bytes) || stream >= VGPU_OUT_STREAMS)
		return CUDA_ERROR_INVALID_VALUE;
	*len = cap ? (uint32_t)vgpu_output_take(stream, bytes, cap) : 0;
	return CUDA_SUCCESS;
}

/* The descriptor and handler of a pinned-memory or output message, or NULL when op is not one. */
static vgpu_proxy_wire_fn pinned_op(const struct vgpu_msg_hdr *h, const struct vgpu_call_desc **d)
{
	switch (h->opcode) {
	case VGPU_OP_PINNED_MAP:
		*d = &vgpu_wire_pinned_map;
		return pinned_map_wire;
	case VGPU_OP_PINNED_UNMAP:
		*d = &vgpu_wire_pinned_unmap;
		return pinned_unmap_wire;
	case VGPU_OP_PINNED_GRANT:
		*d = &vgpu_wire_pinned_grant;
		return pinned_grant_wire;
	case VGPU_OP_PINNED_COPY:
		*d = (h->flags & VGPU_MSG_F_ASYNC) ? &vgpu_wire_pinned_copy_async : &vgpu_wire_pinned_copy;
		return pinned_copy_wire;
	case VGPU_OP_PINNED_WHERE:
		*d = &vgpu_wire_pinned_where;
		return pinned_where_wire;
	case VGPU_OP_OUTPUT:
		*d = &vgpu_wire_output;
		return output_wire;
	case VGPU_OP_HOSTFN:
		*d = &vgpu_wire_hostfn_wait;
		return vgpu_proxy_hostfn_wait;
	}
	return NULL;
}

#endif

/* Look up and run the call; fills call->reply / bulk_out. */
static CUresult call_run(struct chanctx *cc, struct vgpu_proxy_call *call)
{
	unsigned op = call->hdr.opcode;
	vgpu_thunk_fn thunk = NULL;
	(void)cc;

#if defined(VGPU_HAVE_DISPATCH)
	vgpu_proxy_wire_fn pinned = pinned_op(&call->hdr, &call->desc);
	if (pinned)
		return call_generic(cc, call, NULL, pinned);
	if (op < VGPU_OP_COUNT) {
		call->desc = vgpu_dispatch_table[op].desc;
		thunk = vgpu_dispatch_table[op].thunk;
	}
#endif
	if (!call->desc) {
		vgpu_warn("channel %u: opcode %u is not a call this proxy knows; answered CUDA_ERROR_NOT_SUPPORTED",
			  cc->no, op);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	vgpu_proxy_custom_fn custom = vgpu_proxy_custom_get(op);
	if (custom)
		return custom(call);
#if defined(VGPU_HAVE_DISPATCH)
	const struct vgpu_call_desc *wdesc = NULL;
	vgpu_proxy_wire_fn wire = vgpu_proxy_wire_get(op, &wdesc);
	if (wire) {
		call->desc = wdesc;
		return call_generic(cc, call, NULL, wire);
	}
	if (call->desc->flags & VGPU_CALLF_CUSTOM) {
		/* A custom call whose handler is not built in: refuse it, keep the channel. */
		vgpu_warn("channel %u: %s has no handler in this proxy; answered CUDA_ERROR_NOT_SUPPORTED",
			  cc->no, call->desc->name);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	return call_generic(cc, call, thunk, NULL);
#else
	(void)thunk;
	return CUDA_ERROR_NOT_SUPPORTED;
#endif
}

/* Serve one request; <0 when the channel must be closed. */
static int serve_request(struct chanctx *cc, const struct vgpu_msg_hdr *h, uint32_t len)
{
	struct vgpu_proxy_call call = {
		.zone = cc->z, .chan = cc->ch, .backend = cc->be,
		.drv = cc->be ? cc->be->drv : NULL,
		.hdr = *h, .msg = cc->buf, .len = len, .arena = &cc->arena,
		.hooks = &vgpu_proxy_hooks, .reply = &cc->reply,
	};
	int async = (h->flags & VGPU_MSG_F_ASYNC) != 0;
	int rc = 0;

	vgpu_wbuf_reset(&cc->reply);
	vgpu_stat_add(&cc->z->stats->calls, 1);
	if (async)
		vgpu_stat_add(&cc->z->stats->async_calls, 1);

	CUresult res = call_run(cc, &call);
	if (call.mem_reserved) {
		vgpu_zone_mem_release(cc->z, call.mem_reserved);
		call.mem_reserved = 0;
	}
	if (call.fatal < 0) {
		rc = call.fatal;
		goto out;
	}
	if (res != CUDA_SUCCESS) {
		vgpu_stat_add(&cc->z->stats->errors, 1);
		/* What a user reads first when a program fails under vgpu and not directly. */
		vgpu_debug("channel %u: %s (opcode %u) failed: %s%s", cc->no,
			   call.desc ? call.desc->name : "unknown call", h->opcode, vgpu_cuerr_name(res),
			   async ? " (asynchronous: a later call reports it)" : "");
	}
	if (async) {
		if (res != CUDA_SUCCESS && cc->pending == CUDA_SUCCESS)
			cc->pending = res;
		goto out;
	}
	/* A pending asynchronous failure is reported by the next call that synchronises or
	 * carries nothing back (so no object it created is lost to the client). */
	if (cc->pending != CUDA_SUCCESS && call.desc &&
	    ((call.desc->flags & VGPU_CALLF_SYNC) || call.desc->nout == 0)) {
		res = cc->pending;
		cc->pending = CUDA_SUCCESS;
		vgpu_wbuf_reset(&cc->reply);
		call.bulk_out.n = 0;
	}
	if (cc->reply.len == 0) {
#if defined(VGPU_HAVE_CODEC)
		if (call.desc)
			vgpu_encode_error(call.desc, res == CUDA_SUCCESS ? CUDA_ERROR_UNKNOWN : res, &cc->reply);
		else
#endif
			encode_bare_error(&cc->reply, res);
		call.bulk_out.n = 0;
	}
	if (cc->reply.len > UINT32_MAX) {
		rc = -EMSGSIZE;
		goto out;
	}
	/* what the zone's kernels printed is taken by the client when a reply says there is some */
	rc = vgpu_chan_send(cc->ch, h->opcode, VGPU_MSG_F_REPLY | (vgpu_output_pending() ? VGPU_MSG_F_OUTPUT : 0),
			    h->seq, cc->reply.data, (uint32_t)cc->reply.len);
	if (rc < 0)
		goto out;
	for (unsigned i = 0; i < call.bulk_out.n && i < VGPU_MAX_BULK; i++) {
		const struct vgpu_bulk_seg *s = &call.bulk_out.seg[i];
		if ((rc = vgpu_chan_bulk_write(cc->ch, s->ptr, s->len)) < 0)
			goto out;
		vgpu_stat_add(&cc->z->stats->bulk_out, s->len);
	}
	rc = vgpu_chan_flush(cc->ch);
out:
	stage_free_all(cc);
	vgpu_arena_reset(&cc->arena);
	return rc;
}

/*
 * This thread's context stack (cuCtxCreate and cuCtxPushCurrent put a context over the one
 * before), bottom first, into out: popped and pushed back, the driver has no other way to
 * tell. Returns how many, or VGPU_CKPT_CTX_MAX + 1 when there are more than that (then out is
 * not filled).
 */
static unsigned ctx_stack(const struct vgpu_backend *be, void **out)
{
	CUcontext popped[VGPU_CKPT_CTX_MAX + 1];
	unsigned n = 0;
	if (!be || !be->fn.cuCtxPopCurrent_v2 || !be->fn.cuCtxPushCurrent_v2)
		return 0;
	while (n <= VGPU_CKPT_CTX_MAX && be->fn.cuCtxPopCurrent_v2(&popped[n]) == CUDA_SUCCESS && popped[n])
		n++;
	for (unsigned i = n; i-- > 0;) {
		be->fn.cuCtxPushCurrent_v2(popped[i]);
		if (n <= VGPU_CKPT_CTX_MAX)
			out[n - 1 - i] = popped[i];
	}
	return n;
}

/* A channel taken over or rejoined: its thread's stack as the checkpoint found it. */
static void ctx_stack_make(const struct vgpu_backend *be, void *const *stack, unsigned n)
{
	if (!be || !n || !be->fn.cuCtxSetCurrent || !be->fn.cuCtxPushCurrent_v2)
		return;
	be->fn.cuCtxSetCurrent(stack[0]);
	for (unsigned i = 1; i < n; i++)
		be->fn.cuCtxPushCurrent_v2(stack[i]);
}

int vgpu_chan_serve(struct vgpu_zone *z, const struct vgpu_backend *be, struct vgpu_chan *ch, unsigned no,
		    const struct vgpu_serve_opts *o)
{
	struct chanctx cc = { .z = z, .be = be, .ch = ch, .no = no };
	struct vgpu_msg_hdr h;
	const char *why = "closed by the client (BYE)";
	int rc, handed = 0;

	cc.buf = malloc(VGPU_MSG_MAX);
	if (!cc.buf || vgpu_arena_init(&cc.arena, VGPU_ARENA_SIZE) < 0) {
		vgpu_err("channel %u: out of memory setting it up; closing it", no);
		goto out;
	}
	if (o && o->initial_n)
		ctx_stack_make(be, o->initial_stack, o->initial_n);
	for (;;) {
		rc = o && o->stop ? vgpu_chan_recv_stoppable(ch, &h, cc.buf, VGPU_MSG_MAX, o->stop)
				  : vgpu_chan_recv(ch, &h, cc.buf, VGPU_MSG_MAX);
		if (rc == -EINTR) {
			/* the zone is being quiesced: stopped between two requests */
			void *stack[VGPU_CKPT_CTX_MAX];
			unsigned n = ctx_stack(be, stack);
			if (o->park(o->arg, stack, n)) {
				handed = 1;
				why = "handed over to another worker";
				break;
			}
			continue;
		}
		if (rc < 0) {
			if (rc == -EPIPE)
				why = "peer gone";
			else
				why = *vgpu_chan_strerror(ch) ? vgpu_chan_strerror(ch) : strerror(-rc);
			if (rc != -EPIPE)
				vgpu_stat_add(&z->stats->errors, 1);
			break;
		}
		if (h.opcode == VGPU_OP_BYE)
			break;
		if (h.opcode >= VGPU_OP_CONTROL_BASE && !vgpu_op_is_client_control(h.opcode)) {
			vgpu_warn("channel %u: control opcode 0x%x is not valid from a client; closing the channel",
				  no, h.opcode);
			vgpu_stat_add(&z->stats->errors, 1);
			why = "protocol error";
			break;
		}
		rc = serve_request(&cc, &h, (uint32_t)rc);
		if (rc < 0) {
			why = rc == -EPIPE ? "peer gone" :
			      *vgpu_chan_strerror(ch) ? vgpu_chan_strerror(ch) : strerror(-rc);
			if (rc == -EPROTO)
				why = *vgpu_chan_strerror(ch) ? vgpu_chan_strerror(ch) : "malformed request";
			vgpu_stat_add(&z->stats->errors, 1);
			break;
		}
	}
	vgpu_info("channel %u closed: %s", no, why);
	/* a channel that waited for the zone's host functions waits no more */
	pthread_mutex_lock(&z->lock);
	struct vgpu_hostfn_zone *hz = z->hostfn;
	pthread_mutex_unlock(&z->lock);
	if (hz)
		vgpu_hostfn_chan_gone(hz, ch);
out:
	if (cc.bulk_registered && be && be->fn.cuMemHostUnregister)
		be->fn.cuMemHostUnregister(cc.bulk_registered);
	stage_free_all(&cc);
	cache_retire(&cc);
	vgpu_arena_fini(&cc.arena);
	vgpu_wbuf_free(&cc.reply);
	free(cc.buf);
	return handed;
}
