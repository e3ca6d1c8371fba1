/* SPDX-License-Identifier: MIT */
/* Streams, events and asynchronous operations: one worker thread per stream runs its ops in
 * order; dependencies (legacy NULL-stream rules, cuStreamWaitEvent) are (stream, sequence)
 * pairs waited on under one process-wide lock, with a condition broadcast per completion. */
#include "sim.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;
static struct sim_stream *g_streams;      /* every stream of the process, under g_lock */

struct sim_op *sim_op_new(int kind)
{
	struct sim_op *op = calloc(1, sizeof(*op));
	if (op)
		op->kind = kind;
	return op;
}

void sim_op_free(struct sim_op *op)
{
	if (op->kind == OP_KERNEL)
		free(op->u.k.params);
	if (op->kind == OP_COPY)
		free(op->u.c.owned);
	if (op->kind == OP_COND && op->u.cond.owns)
		sim_graph_cond_free(op);
	if (op->kind == OP_EVENT && op->u.ev.ipc)
		sim_ipcev_unref(op->u.ev.ipc);
	if (op->kind == OP_IPCWAIT)
		sim_ipcev_unref(op->u.iw.p);
	free(op->deps);
	free(op);
}

/* The extent of one side of a strided copy, from its first byte. */
static uint64_t copy_span(uint64_t pitch, uint64_t rows_per_slice, const struct sim_copy3d *c)
{
	return ((c->depth - 1) * rows_per_slice + (c->height - 1)) * pitch + c->width;
}

/* A copy whose sides were allocations when it was queued reaches them only while they live:
 * a graph may run it after they were freed (a pinned region unmapped, device memory given to
 * another allocation); -EFAULT then, as a GPU faults, and nothing is read or written. */
static int copy_run(const struct sim_copy3d *c)
{
	if ((c->src_alloc && sim_mem_find_live(c->src, copy_span(c->spitch, c->sheight, c)) < 0) ||
	    (c->dst_alloc && sim_mem_find_live(c->dst, copy_span(c->dpitch, c->dheight, c)) < 0))
		return -EFAULT;
	uint64_t w = c->width, h = c->height, d = c->depth;
	/* rows that follow each other on both sides are one block, moved at once as a DMA
	 * engine would (and as fast as a plain copy of its size) */
	if (h * d > 1 && c->spitch == w && c->dpitch == w && (d == 1 || (c->sheight == h && c->dheight == h))) {
		w *= h * d;
		h = d = 1;
	}
	for (uint64_t z = 0; z < d; z++)
		for (uint64_t y = 0; y < h; y++) {
			uint64_t so = (z * c->sheight + y) * c->spitch;
			uint64_t dO = (z * c->dheight + y) * c->dpitch;
			if (c->src_dev)
				sim_hook(c->src + so, w, 0);
			if (c->dst_dev)
				sim_hook(c->dst + dO, w, 1);
			uint64_t dp = c->dst + dO, sp = c->src + so;
			/* memmove only where the sides overlap (a copy within one allocation): a
			 * sanitizer's memmove moves byte by byte, its memcpy at full speed */
			if (dp - sp < w || sp - dp < w)
				memmove((void *)(uintptr_t)dp, (const void *)(uintptr_t)sp, w);
			else
				memcpy((void *)(uintptr_t)dp, (const void *)(uintptr_t)sp, w);
		}
	return 0;
}

static int set_run(const struct sim_op *op)
{
	if (sim_mem_find_live(op->u.set.dst, (op->u.set.height - 1) * op->u.set.pitch +
					    op->u.set.width * (uint64_t)op->u.set.esize) < 0)
		return -EFAULT;   /* freed since it was queued (a graph's memset): as copy_run */
	for (uint64_t y = 0; y < op->u.set.height; y++) {
		uint8_t *p = (uint8_t *)(uintptr_t)(op->u.set.dst + y * op->u.set.pitch);
		uint64_t n = op->u.set.width;
		sim_hook((uint64_t)(uintptr_t)p, n * (uint64_t)op->u.set.esize, 1);
		switch (op->u.set.esize) {
		case 1:
			memset(p, (int)op->u.set.value, n);
			break;
		case 2: {
			uint16_t v = (uint16_t)op->u.set.value;
			for (uint64_t i = 0; i < n; i++)
				memcpy(p + 2 * i, &v, 2);
			break;
		}
		default:
			for (uint64_t i = 0; i < n; i++)
				memcpy(p + 4 * i, &op->u.set.value, 4);
			break;
		}
	}
	return 0;
}

/* Executes one op on the stream's worker (g_lock not held). */
void sim_op_run(struct sim_stream *s, struct sim_op *op)
{
	struct sim_ctx *ctx = s->ctx;
	switch (op->kind) {
	case OP_KERNEL: {
		if (ctx->sticky != CUDA_SUCCESS)
			break;       /* a faulted context runs no more kernels */
		char err[512] = "";
		int rc = sim_pool_run(&op->u.k, err, sizeof(err));
		if (rc) {
			CUresult e = rc == -EFAULT ? CUDA_ERROR_ILLEGAL_ADDRESS :
			             rc == -ENOMEM ? CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES :
			             rc == -ETIMEDOUT ? CUDA_ERROR_LAUNCH_TIMEOUT :
			             rc == -EILSEQ ? CUDA_ERROR_MISALIGNED_ADDRESS :
			             rc == -EDOM ? CUDA_ERROR_ASSERT :
			             CUDA_ERROR_LAUNCH_FAILED;
			sim_log("kernel %s failed: %s", op->u.k.l.fn->name, err);
			sim_set_error("kernel %s: %s", op->u.k.l.fn->name, err);
			pthread_mutex_lock(&g_lock);
			if (e != CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES && ctx->sticky == CUDA_SUCCESS)
				ctx->sticky = e;
			pthread_mutex_unlock(&g_lock);
		}
		break;
	}
	case OP_COPY:
	case OP_SET:
		if ((op->kind == OP_COPY ? copy_run(&op->u.c) : set_run(op)) < 0) {
			const char *what = op->kind == OP_COPY ? "copy" : "memset";
			sim_log("a %s on a stream names memory freed since it was queued: illegal address", what);
			sim_set_error("a %s names memory freed since it was queued", what);
			pthread_mutex_lock(&g_lock);
			if (ctx->sticky == CUDA_SUCCESS)
				ctx->sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
			pthread_mutex_unlock(&g_lock);
		}
		break;
	case OP_EVENT: {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		pthread_mutex_lock(&g_lock);
		struct sim_event *e = op->u.ev.e;
		if (e->gen == op->u.ev.gen) {
			e->ts = ts;
			e->has_ts = 1;
		}
		pthread_mutex_unlock(&g_lock);
		if (op->u.ev.ipc)     /* an interprocess event: every process sees this record done */
			sim_ipcev_complete(op->u.ev.ipc, op->u.ev.ticket);
		break;
	}
	case OP_IPCWAIT:
		sim_ipcev_wait(op->u.iw.p, op->u.iw.target);
		break;
	case OP_HOSTFN:
		op->u.host.fn(op->u.host.data);
		break;
	case OP_CALLBACK:
		op->u.cb.fn((CUstream)s, ctx->sticky, op->u.cb.data);
		break;
	case OP_GMEM:
		sim_graph_mem_run(op->u.gm.r, op->u.gm.alloc);
		break;
	case OP_COND:
	case OP_CONDSET:
		sim_graph_cond_run(s, op);
		break;
	case OP_MEMVAL: {
		/* cuStreamWriteValue / cuStreamWaitValue: the address was checked at enqueue */
		void *p = (void *)(uintptr_t)op->u.mv.addr;
		uint64_t want = op->u.mv.value;
		sim_hook(op->u.mv.addr, (uint64_t)op->u.mv.size, !op->u.mv.wait);
		if (!op->u.mv.wait) {
			if (op->u.mv.size == 4)
				__atomic_store_n((uint32_t *)p, (uint32_t)want, __ATOMIC_SEQ_CST);
			else
				__atomic_store_n((uint64_t *)p, want, __ATOMIC_SEQ_CST);
			break;
		}
		for (;;) {     /* like a GPU, waits as long as it takes */
			uint64_t v = op->u.mv.size == 4 ? __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST)
			                                 : __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST);
			int ok;
			switch (op->u.mv.flags & 3) {
			case CU_STREAM_WAIT_VALUE_GEQ:
				ok = op->u.mv.size == 4 ? (int32_t)((uint32_t)v - (uint32_t)want) >= 0
				                        : (int64_t)(v - want) >= 0;
				break;
			case CU_STREAM_WAIT_VALUE_EQ: ok = v == want; break;
			case CU_STREAM_WAIT_VALUE_AND: ok = (v & want) != 0; break;
			default:
				ok = (~(v | want) & (op->u.mv.size == 4 ? 0xffffffffull : ~0ull)) != 0;
				break;
			}
			if (ok)
				break;
			usleep(20);
		}
		break;
	}
	case OP_MEMFREE:
		if (sim_graph_mem_stream_free(op->u.free_dptr))
			break;        /* a graph's allocation: dormant again, the graph keeps it */
		if (sim_mem_free(op->u.free_dptr, ALLOC_DEVICE))
			sim_log("cuMemFreeAsync: 0x%llx was no longer allocated when the stream reached "
			        "the free", (unsigned long long)op->u.free_dptr);
		break;
	default:
		break;
	}
}

static int deps_ready(const struct sim_op *op)
{
	for (int i = 0; i < op->ndeps; i++)
		if (op->deps[i].s && op->deps[i].s->done_seq < op->deps[i].seq)
			return 0;
	return 1;
}

/* g_lock held: op, s's head, has run; the next one is the head now. */
static void head_done(struct sim_stream *s, struct sim_op *op)
{
	s->head = op->next;
	if (!s->head)
		s->tail = NULL;
	s->done_seq = op->seq;
	sim_op_free(op);
}

static void *stream_main(void *arg)
{
	struct sim_stream *s = arg;
	pthread_mutex_lock(&g_lock);
	for (;;) {
		while ((!s->head || s->inline_busy) && !s->stop)
			pthread_cond_wait(&s->cond, &g_lock);
		while (s->inline_busy)   /* stopping: let the caller finish the op it runs */
			pthread_cond_wait(&g_done, &g_lock);
		if (!s->head)
			break;
		struct sim_op *op = s->head;
		assert(op->seq == s->done_seq + 1);     /* in order, none skipped */
		if (!deps_ready(op)) {
			/* (a caller waiting for the stream may run it meanwhile: look again) */
			pthread_cond_wait(&g_done, &g_lock);
			continue;
		}
		s->running = 1;
		pthread_mutex_unlock(&g_lock);
		sim_op_run(s, op);
		pthread_mutex_lock(&g_lock);
		s->running = 0;
		head_done(s, op);
		pthread_cond_broadcast(&g_done);
	}
	pthread_mutex_unlock(&g_lock);
	return NULL;
}

/* A stream not yet in the process-wide list; the caller links it under g_lock. */
static struct sim_stream *stream_alloc(struct sim_ctx *ctx, unsigned flags, int prio)
{
	struct sim_stream *s = sim_shell_alloc(SHELL_STREAM, sizeof(*s));
	if (!s)
		return NULL;
	static _Atomic uint64_t ids;
	s->magic = MAGIC_STREAM;
	s->id = ++ids;
	s->ctx = ctx;
	s->flags = flags;
	s->priority = prio;
	pthread_cond_init(&s->cond, NULL);
	return s;
}

struct sim_stream *sim_stream_new(struct sim_ctx *ctx, unsigned flags, int prio)
{
	struct sim_stream *s = stream_alloc(ctx, flags, prio);
	if (!s)
		return NULL;
	pthread_mutex_lock(&g_lock);
	s->gnext = g_streams;
	g_streams = s;
	pthread_mutex_unlock(&g_lock);
	return s;
}

/* Caller holds g_lock. Starts the worker on first use. */
static int stream_start(struct sim_stream *s)
{
	if (s->started)
		return 0;
	if (pthread_create(&s->thread, NULL, stream_main, s))
		return -EAGAIN;
	s->started = 1;
	return 0;
}

static int add_dep(struct sim_op *op, struct sim_stream *s, uint64_t seq, int *cap)
{
	if (!s || s->done_seq >= seq)
		return 0;
	if (op->ndeps == *cap) {
		int nc = *cap ? *cap * 2 : 4;
		void *d = realloc(op->deps, sizeof(*op->deps) * (size_t)nc);
		if (!d)
			return -ENOMEM;
		op->deps = d;
		*cap = nc;
	}
	op->deps[op->ndeps].s = s;
	op->deps[op->ndeps].seq = seq;
	op->ndeps++;
	return 0;
}

struct sim_stream *sim_streams_all(void)
{
	return g_streams;
}

/* An operation that reads or writes device memory while it runs: all but waits (which may
 * last as long as another process takes) and event records. */
static int op_touches_memory(const struct sim_op *op)
{
	return op && op->kind != OP_IPCWAIT && op->kind != OP_WAITONLY && op->kind != OP_EVENT &&
	       !(op->kind == OP_MEMVAL && op->u.mv.wait);
}

void sim_streams_quiesce(void)
{
	pthread_mutex_lock(&g_lock);
	for (;;) {
		int busy = 0;
		for (struct sim_stream *s = g_streams; s && !busy; s = s->gnext)
			busy = (s->running || s->inline_busy) && op_touches_memory(s->head);
		if (!busy)
			return;
		pthread_cond_wait(&g_done, &g_lock);
	}
}

/* Caller holds g_lock: the dependencies of op and its place at the stream's tail. */
static uint64_t enqueue_locked(struct sim_stream *s, struct sim_op *op);

/* try_inline: run op here when the stream is idle (sim_stream_enqueue_or_run); run_inline is
 * defined below. */
static void run_inline_unlock(struct sim_stream *s, struct sim_op *op);
static uint64_t enqueue(struct sim_stream *s, struct sim_op *op, int try_inline)
{
	pthread_mutex_lock(&g_lock);
	if (s->capture) {
		/* captured, not run: nothing to wait for (sequence 0 is always done) */
		sim_graph_capture_op(s, op);
		pthread_mutex_unlock(&g_lock);
		return 0;
	}
	int idle = !s->head && !s->inline_busy;
	uint64_t seq = enqueue_locked(s, op);
	if (try_inline && idle && s->head == op && deps_ready(op)) {
		run_inline_unlock(s, op);
		return seq;
	}
	if (stream_start(s) < 0) {
		/* no thread: run inline so work is never lost */
		sim_log("cannot start a stream worker thread; running synchronously");
		pthread_mutex_unlock(&g_lock);
		sim_stream_wait(s, seq);
		return seq;
	}
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&g_lock);
	return seq;
}

uint64_t sim_stream_enqueue(struct sim_stream *s, struct sim_op *op)
{
	return enqueue(s, op, 0);
}

uint64_t sim_stream_enqueue_or_run(struct sim_stream *s, struct sim_op *op)
{
	return enqueue(s, op, 1);
}

/*
 * g_lock held, op the stream's head with nothing to wait for: run it here. The worker, if
 * the stream has one yet (a stream only ever used synchronously never needs one), leaves the
 * head alone meanwhile; what is queued behind it waits, as it would behind the worker.
 * g_lock is held again on return (run_inline_unlock: released).
 */
static void run_inline(struct sim_stream *s, struct sim_op *op)
{
	s->inline_busy = 1;
	pthread_mutex_unlock(&g_lock);
	sim_op_run(s, op);
	pthread_mutex_lock(&g_lock);
	s->inline_busy = 0;
	head_done(s, op);
	if (s->head)
		pthread_cond_signal(&s->cond);
	pthread_cond_broadcast(&g_done);
}

static void run_inline_unlock(struct sim_stream *s, struct sim_op *op)
{
	run_inline(s, op);
	pthread_mutex_unlock(&g_lock);
}

void sim_stream_run_sync(struct sim_stream *s, struct sim_op *op)
{
	pthread_mutex_lock(&g_lock);
	if (s->capture) {
		sim_graph_capture_op(s, op);
		pthread_mutex_unlock(&g_lock);
		return;
	}
	uint64_t seq = enqueue_locked(s, op);
	if (s->head != op || !deps_ready(op)) {
		/* work before it: the ordinary way */
		if (stream_start(s) == 0)
			pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&g_lock);
		sim_stream_wait(s, seq);
		return;
	}
	run_inline_unlock(s, op);
}

void sim_stream_run_or_queue(struct sim_stream *s, struct sim_op *op, int (*own)(struct sim_op *op))
{
	pthread_mutex_lock(&g_lock);
	if (s->capture) {
		/* a captured copy reads the host memory when the graph runs, as on a GPU */
		sim_graph_capture_op(s, op);
		pthread_mutex_unlock(&g_lock);
		return;
	}
	int idle = !s->head && !s->inline_busy;
	uint64_t seq = enqueue_locked(s, op);
	if (idle && s->head == op && deps_ready(op)) {
		run_inline_unlock(s, op);
		return;
	}
	/* still under the lock: the stream's thread cannot take it before it has its copy */
	int owned = own(op) == 0, started = stream_start(s) == 0;
	if (started)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&g_lock);
	if (!owned || !started)
		sim_stream_wait(s, seq);   /* it reads the caller's memory: done before the call returns */
}

static uint64_t enqueue_locked(struct sim_stream *s, struct sim_op *op)
{
	int cap = op->ndeps;
	struct sim_ctx *ctx = s->ctx;
	/* legacy default stream: it waits for all blocking streams, and they wait for it. If a
	 * dependency cannot be recorded (out of memory), the caller waits for it here instead:
	 * synchronous, but never out of order. */
	if (s->is_null) {
		for (struct sim_stream *o = ctx->streams; o; o = o->next)
			if (!(o->flags & CU_STREAM_NON_BLOCKING) && add_dep(op, o, o->enq_seq, &cap) < 0) {
				/* storage of a destroyed stream is kept (shell.c): the magic says it is gone */
				uint64_t want = o->enq_seq, id = o->id;
				struct sim_stream *w = o;
				while (w->magic == MAGIC_STREAM && w->id == id && w->done_seq < want)
					pthread_cond_wait(&g_done, &g_lock);
				o = ctx->streams;   /* the list may have changed while waiting: start over */
				if (!o)
					break;
			}
	} else if (!(s->flags & CU_STREAM_NON_BLOCKING) && ctx->null_stream &&
	           add_dep(op, ctx->null_stream, ctx->null_stream->enq_seq, &cap) < 0) {
		uint64_t want = ctx->null_stream->enq_seq;
		while (ctx->null_stream && ctx->null_stream->done_seq < want)
			pthread_cond_wait(&g_done, &g_lock);
	}
	op->seq = ++s->enq_seq;
	if (op->kind == OP_EVENT && op->u.ev.e->gen == op->u.ev.gen) {
		op->u.ev.e->stream = s;
		op->u.ev.e->seq = op->seq;
	}
	if (s->tail)
		s->tail->next = op;
	else
		s->head = op;
	s->tail = op;
	return op->seq;
}

void sim_stream_wait(struct sim_stream *s, uint64_t seq)
{
	pthread_mutex_lock(&g_lock);
	if (!s->started) {
		/* drain inline (thread creation failed), but not the op another caller runs
		 * inline right now (sim_stream_run_sync): that one is waited for below */
		while (s->head && s->head->seq <= seq && !s->inline_busy) {
			struct sim_op *op = s->head;
			pthread_mutex_unlock(&g_lock);
			sim_op_run(s, op);
			pthread_mutex_lock(&g_lock);
			head_done(s, op);
		}
	}
	while (s->done_seq < seq) {
		/*
		 * A copy or memset the stream's thread has not taken yet is run by the caller
		 * waiting for it, in the stream's order, instead of waiting for that thread to wake
		 * (tens of microseconds on a busy machine, per copy). It still ran after its call
		 * returned, as on a GPU; anything else (kernels, host functions) stays the thread's.
		 */
		struct sim_op *op = s->head;
		if (op && !s->running && !s->inline_busy && (op->kind == OP_COPY || op->kind == OP_SET) &&
		    deps_ready(op)) {
			run_inline(s, op);
			continue;
		}
		pthread_cond_wait(&g_done, &g_lock);
	}
	pthread_mutex_unlock(&g_lock);
}

/* The contexts whose work waiting for ctx waits for: ctx, then a primary context's green
 * contexts, which use its memory and modules (g_lock held). */
static struct sim_ctx *sync_next(struct sim_ctx *ctx, struct sim_ctx *c)
{
	return c == ctx ? ctx->greens : c->green_next;
}

/* Waits for the work every stream of ctx (and of its green contexts) had queued when the call
 * began. Streams may be destroyed by other threads meanwhile, so nothing is kept across a
 * wait but stream ids: after each wake-up the context's list is walked again. Caller does not
 * hold g_lock. */
void sim_ctx_sync(struct sim_ctx *ctx)
{
	pthread_mutex_lock(&g_lock);
	size_t n = 0;
	for (struct sim_ctx *c = ctx; c; c = sync_next(ctx, c)) {
		n += c->null_stream ? 1 : 0;
		for (struct sim_stream *s = c->streams; s; s = s->next)
			n++;
	}
	/* most contexts have a few streams: their snapshot lives on the stack (every synchronous
	 * copy comes here, thousands a second in the fuzz harness) */
	struct snap { uint64_t id, seq; } local[16], *snap = n <= 16 ? local : malloc(n * sizeof(*snap));
	size_t k = 0;
	if (snap)
		for (struct sim_ctx *c = ctx; c; c = sync_next(ctx, c)) {
			if (c->null_stream)
				snap[k++] = (struct snap){c->null_stream->id, c->null_stream->enq_seq};
			for (struct sim_stream *s = c->streams; s; s = s->next)
				snap[k++] = (struct snap){s->id, s->enq_seq};
		}
restart:
	for (struct sim_ctx *c = ctx; c; c = sync_next(ctx, c))
		for (int pass = 0; pass < 2; pass++) {
			for (struct sim_stream *s = pass ? c->streams : c->null_stream; s;
			     s = pass ? s->next : NULL) {
				uint64_t target = 0;
				int found = !snap;          /* no snapshot (out of memory): wait for all */
				for (size_t i = 0; i < k; i++)
					if (snap[i].id == s->id) {
						target = snap[i].seq;
						found = 1;
						break;
					}
				if (!snap)
					target = s->enq_seq;
				if (found && s->done_seq < target) {
					pthread_cond_wait(&g_done, &g_lock);
					goto restart;
				}
			}
		}
	pthread_mutex_unlock(&g_lock);
	if (snap != local)
		free(snap);
}

extern struct sim_event *g_events;

void sim_stream_destroy(struct sim_stream *s)
{
	pthread_mutex_lock(&g_lock);
	uint64_t last = s->enq_seq;
	pthread_mutex_unlock(&g_lock);
	sim_stream_wait(s, last);
	pthread_mutex_lock(&g_lock);
	s->stop = 1;
	pthread_cond_signal(&s->cond);
	int started = s->started;
	sim_graph_capture_leave(s);   /* destroyed while capturing */
	/* nothing may refer to s any more: drop its (satisfied) dependencies in every stream of
	 * the process, cross-context event waits included, and event records */
	struct sim_ctx *ctx = s->ctx;
	for (struct sim_stream *o = g_streams; o; o = o->gnext)
		for (struct sim_op *op = o->head; op; op = op->next)
			for (int i = 0; i < op->ndeps; i++)
				if (op->deps[i].s == s)
					op->deps[i].s = NULL;
	struct sim_stream **gp = &g_streams;
	while (*gp && *gp != s)
		gp = &(*gp)->gnext;
	if (*gp)
		*gp = s->gnext;
	for (struct sim_event *e = g_events; e; e = e->next)
		if (e->stream == s)
			e->stream = NULL;
	struct sim_stream **pp = &ctx->streams;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	pthread_mutex_unlock(&g_lock);
	if (started)
		pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	s->magic = 0;
	sim_shell_free(SHELL_STREAM, s);
}

struct sim_stream *sim_stream_get(struct sim_ctx *ctx, CUstream h, CUresult *rc)
{
	if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
		pthread_mutex_lock(&g_lock);
		if (!ctx->null_stream) {
			ctx->null_stream = stream_alloc(ctx, 0, 0);
			if (ctx->null_stream) {
				ctx->null_stream->is_null = 1;
				ctx->null_stream->gnext = g_streams;
				g_streams = ctx->null_stream;
			}
		}
		struct sim_stream *s = ctx->null_stream;
		pthread_mutex_unlock(&g_lock);
		if (!s)
			*rc = CUDA_ERROR_OUT_OF_MEMORY;
		return s;
	}
	struct sim_stream *s = (struct sim_stream *)h;
	/* (a green context's stream takes work while its primary context or another of its green
	 * contexts is current: the stream says where it runs) */
	if (s->magic != MAGIC_STREAM || (s->ctx != ctx && sim_ctx_res(s->ctx) != sim_ctx_res(ctx))) {
		*rc = s->magic != MAGIC_STREAM ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_INVALID_CONTEXT;
		return NULL;
	}
	return s;
}
