/* SPDX-License-Identifier: MIT */
/* Driver API entry points for streams, events and host callbacks. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sim_event *g_events;

#define CUR_CTX(c) \
	CUresult rc_; \
	struct sim_ctx *c = sim_ctx_current(&rc_); \
	if (!c) \
		return rc_

CUresult cuStreamCreateWithPriority(CUstream *ph, unsigned int flags, int priority)
{
	CUR_CTX(c);
	if (!ph || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
		return CUDA_ERROR_INVALID_VALUE;
	return sim_stream_create(c, flags, priority, ph);
}

CUresult sim_stream_create(struct sim_ctx *c, unsigned flags, int priority, CUstream *ph)
{
	if (priority > 0)
		priority = 0;
	if (priority < -5)
		priority = -5;
	struct sim_stream *s = sim_stream_new(c, flags, priority);
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&g_lock);
	s->next = c->streams;
	c->streams = s;
	pthread_mutex_unlock(&g_lock);
	if (c->green)
		sim_green_stream_added(c, s);
	*ph = (CUstream)s;
	return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *ph, unsigned int flags)
{
	return cuStreamCreateWithPriority(ph, flags, 0);
}

static struct sim_stream *stream_arg(CUstream h, CUresult *rc)
{
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
		struct sim_ctx *c = sim_ctx_current(rc);
		return c ? sim_stream_get(c, h, rc) : NULL;
	}
	struct sim_stream *s = (struct sim_stream *)h;
	if (s->magic != MAGIC_STREAM) {
		*rc = CUDA_ERROR_INVALID_HANDLE;
		return NULL;
	}
	*rc = CUDA_SUCCESS;
	return s;
}

CUresult cuStreamDestroy(CUstream h)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	/* The special stream names are not objects: nothing to read through them. */
	if (!h || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD)
		return CUDA_ERROR_INVALID_HANDLE;
	struct sim_stream *s = (struct sim_stream *)h;
	if (s->magic != MAGIC_STREAM || s->is_null)
		return CUDA_ERROR_INVALID_HANDLE;
	(void)rc;
	sim_stream_destroy(s);
	return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream h)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s)
		return rc;
	pthread_mutex_lock(&g_lock);
	uint64_t seq = s->enq_seq;
	int capturing = s->capture != NULL;
	if (capturing)
		sim_graph_capture_invalidate(s);
	pthread_mutex_unlock(&g_lock);
	if (capturing)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* work being captured never completes */
	sim_stream_wait(s, seq);
	return s->ctx->sticky;
}

CUresult cuStreamQuery(CUstream h)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s)
		return rc;
	pthread_mutex_lock(&g_lock);
	int busy = s->done_seq < s->enq_seq, capturing = s->capture != NULL;
	if (capturing)   /* refused, and the capture invalidated, as by the driver */
		sim_graph_capture_invalidate(s);
	pthread_mutex_unlock(&g_lock);
	if (capturing)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	if (s->ctx->sticky)
		return s->ctx->sticky;
	return busy ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

CUresult cuStreamGetFlags(CUstream h, unsigned int *flags)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s)
		return rc;
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = s->flags;
	return CUDA_SUCCESS;
}

CUresult cuStreamGetPriority(CUstream h, int *priority)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s)
		return rc;
	if (!priority)
		return CUDA_ERROR_INVALID_VALUE;
	*priority = s->priority;
	return CUDA_SUCCESS;
}

static struct sim_event *event_arg(CUevent h, CUresult *rc)
{
	struct sim_event *e = (struct sim_event *)h;
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	if (!e || e->magic != MAGIC_EVENT) {
		*rc = CUDA_ERROR_INVALID_HANDLE;
		return NULL;
	}
	*rc = CUDA_SUCCESS;
	return e;
}

CUresult cuStreamWaitEvent(CUstream h, CUevent he, unsigned int flags)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s)
		return rc;
	struct sim_event *e = event_arg(he, &rc);
	if (!e)
		return rc;
	if (flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(OP_WAITONLY);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&g_lock);
	if ((flags & CU_EVENT_WAIT_EXTERNAL) && s->capture) {
		/* captured as an event wait node: the graph waits for the event at each launch */
		rc = sim_graph_capture_event(s, e, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
		pthread_mutex_unlock(&g_lock);
		free(op);
		return rc;
	}
	if (e->capture && !s->capture) {
		/* waiting on an event recorded inside a capture: this stream joins that capture */
		s->capture = e->capture;
		pthread_mutex_unlock(&g_lock);
		free(op);
		return CUDA_SUCCESS;
	}
	if (e->ipc && !s->capture) {
		/* an interprocess event (recorded here or elsewhere): the stream's thread waits for
		 * the records issued so far to be done, on the shared page */
		uint64_t target = sim_ipcev_issued(e->ipc);
		if (!sim_ipcev_reached(e->ipc, target)) {
			op->kind = OP_IPCWAIT;
			op->u.iw.p = e->ipc;
			op->u.iw.target = target;
			sim_ipcev_ref(e->ipc);
		}
	} else if (e->stream && e->stream->done_seq < e->seq) {
		op->deps = malloc(sizeof(*op->deps));
		if (!op->deps) {
			pthread_mutex_unlock(&g_lock);
			free(op);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		op->deps[0].s = e->stream;
		op->deps[0].seq = e->seq;
		op->ndeps = 1;
	}
	pthread_mutex_unlock(&g_lock);
	sim_stream_enqueue(s, op);
	return CUDA_SUCCESS;
}

static CUresult host_op(CUstream h, struct sim_op *op)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s) {
		free(op);
		return rc;
	}
	/* a stream callback cannot be captured: the driver refuses it at once, and the capture
	 * it was made in ends in error (the enqueue invalidates it) */
	pthread_mutex_lock(&g_lock);
	int refused = op->kind == OP_CALLBACK && s->capture;
	pthread_mutex_unlock(&g_lock);
	sim_stream_enqueue(s, op);
	return refused ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult cuStreamAddCallback(CUstream h, CUstreamCallback cb, void *data, unsigned int flags)
{
	if (!cb || flags)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(OP_CALLBACK);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.cb.fn = cb;
	op->u.cb.data = data;
	return host_op(h, op);
}

CUresult cuLaunchHostFunc(CUstream h, CUhostFn fn, void *data)
{
	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(OP_HOSTFN);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.host.fn = fn;
	op->u.host.data = data;
	return host_op(h, op);
}

/* ---- events ---- */

CUresult sim_event_create(struct sim_ctx *c, unsigned flags, struct sim_ipcev *ipc, CUevent *ph)
{
	if ((flags & CU_EVENT_INTERPROCESS) && !ipc && !(ipc = sim_ipcev_new()))
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct sim_event *e = sim_shell_alloc(SHELL_EVENT, sizeof(*e));
	if (!e) {
		if (ipc)
			sim_ipcev_unref(ipc);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	e->magic = MAGIC_EVENT;
	e->ctx = c;
	e->flags = flags;
	e->ipc = ipc;
	pthread_mutex_lock(&g_lock);
	e->next = g_events;
	g_events = e;
	pthread_mutex_unlock(&g_lock);
	*ph = (CUevent)e;
	return CUDA_SUCCESS;
}

CUresult cuEventCreate(CUevent *ph, unsigned int flags)
{
	CUR_CTX(c);
	if (!ph || (flags & ~(unsigned)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING |
	                                CU_EVENT_INTERPROCESS)))
		return CUDA_ERROR_INVALID_VALUE;
	if ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING))
		return CUDA_ERROR_INVALID_VALUE;
	return sim_event_create(c, flags, NULL, ph);
}

/* Unlinks and frees e once the records queued for it are done. */
static void event_destroy(struct sim_event *e)
{
	/* queued records still point at it: wait for them, as destruction is deferred on a GPU */
	pthread_mutex_lock(&g_lock);
	struct sim_stream *s = e->stream;
	uint64_t seq = e->seq;
	pthread_mutex_unlock(&g_lock);
	if (s)
		sim_stream_wait(s, seq);
	pthread_mutex_lock(&g_lock);
	struct sim_event **pp = &g_events;
	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
	e->magic = 0;
	struct sim_ipcev *ipc = e->ipc;
	e->ipc = NULL;
	pthread_mutex_unlock(&g_lock);
	if (ipc)
		sim_ipcev_unref(ipc);
	sim_shell_free(SHELL_EVENT, e);
}

CUresult cuEventDestroy(CUevent h)
{
	CUresult rc;
	struct sim_event *e = event_arg(h, &rc);
	if (!e)
		return rc;
	event_destroy(e);
	return CUDA_SUCCESS;
}

/* A context's events go with it: cuCtxDestroy "destroys and cleans up all resources
 * associated with the context", and a handle of one then names nothing. Before, they stayed
 * in the process's list of events (every stream's destruction walks it) until the process
 * ended. A green context's stay usable after it (the driver leaves what it made for the
 * program to destroy): they become its primary context's, and go when that one does.
 * Called by the context's teardown once its streams are gone. */
void sim_events_destroy_ctx(struct sim_ctx *c)
{
	if (c->res) {
		pthread_mutex_lock(&g_lock);
		for (struct sim_event *e = g_events; e; e = e->next)
			if (e->ctx == c)
				e->ctx = c->res;
		pthread_mutex_unlock(&g_lock);
		return;
	}
	for (;;) {
		pthread_mutex_lock(&g_lock);
		struct sim_event *e = g_events;
		while (e && e->ctx != c)
			e = e->next;
		pthread_mutex_unlock(&g_lock);
		if (!e)
			break;
		event_destroy(e);
	}
}

/* Test hook: the events that exist now, every context's. A context's end takes its events
 * with it, so once every zone has ended none is left (the fuzz harness's leak oracle and a
 * worker's verdict on its zone read it). */
SIM_EXPORT void vgpu_sim_live_events(long *events)
{
	long n = 0;
	pthread_mutex_lock(&g_lock);
	for (const struct sim_event *e = g_events; e; e = e->next)
		n++;
	pthread_mutex_unlock(&g_lock);
	*events = n;
}

CUresult cuEventRecordWithFlags(CUevent h, CUstream hs, unsigned int flags)
{
	CUresult rc;
	struct sim_event *e = event_arg(h, &rc);
	if (!e)
		return rc;
	struct sim_stream *s = stream_arg(hs, &rc);
	if (!s)
		return rc;
	if (flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL)
		return CUDA_ERROR_INVALID_VALUE;
	/* a green context and its primary context record each other's events */
	if (sim_ctx_res(s->ctx) != sim_ctx_res(e->ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (flags & CU_EVENT_RECORD_EXTERNAL) {
		/* in a capture: an event record node, recorded at each launch of the graph (outside
		 * one, an ordinary record) */
		pthread_mutex_lock(&g_lock);
		if (s->capture) {
			rc = sim_graph_capture_event(s, e, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
			pthread_mutex_unlock(&g_lock);
			return rc;
		}
		pthread_mutex_unlock(&g_lock);
	}
	struct sim_op *op = sim_op_new(OP_EVENT);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&g_lock);
	e->gen++;
	e->has_ts = 0;
	op->u.ev.e = e;
	op->u.ev.gen = e->gen;
	if (e->ipc && !s->capture) {
		/* every process sharing the event sees it pending until this record runs */
		sim_ipcev_ref(e->ipc);
		op->u.ev.ipc = e->ipc;
		op->u.ev.ticket = sim_ipcev_issue(e->ipc);
	}
	pthread_mutex_unlock(&g_lock);
	/* (sets e->stream and e->seq under the lock; on an idle stream it is done at once, as on
	 * a GPU, rather than by waking the stream's thread) */
	sim_stream_enqueue_or_run(s, op);
	return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent h, CUstream hs)
{
	return cuEventRecordWithFlags(h, hs, 0);
}

static int event_done(const struct sim_event *e)
{
	return !e->stream || e->stream->done_seq >= e->seq;
}

CUresult cuEventQuery(CUevent h)
{
	CUresult rc;
	struct sim_event *e = event_arg(h, &rc);
	if (!e)
		return rc;
	if (e->ipc)
		return sim_ipcev_reached(e->ipc, sim_ipcev_issued(e->ipc)) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
	pthread_mutex_lock(&g_lock);
	int done = event_done(e);
	pthread_mutex_unlock(&g_lock);
	return done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult cuEventSynchronize(CUevent h)
{
	CUresult rc;
	struct sim_event *e = event_arg(h, &rc);
	if (!e)
		return rc;
	if (e->ipc) {
		/* records of other processes complete without a word to this one: the shared page */
		sim_ipcev_wait(e->ipc, sim_ipcev_issued(e->ipc));
		return e->ctx->sticky;
	}
	pthread_mutex_lock(&g_lock);
	while (!event_done(e))
		pthread_cond_wait(&g_done, &g_lock);
	pthread_mutex_unlock(&g_lock);
	return e->ctx->sticky;
}

CUresult cuEventElapsedTime(float *ms, CUevent hs, CUevent he)
{
	CUresult rc;
	struct sim_event *a = event_arg(hs, &rc);
	if (!a)
		return rc;
	struct sim_event *b = event_arg(he, &rc);
	if (!b)
		return rc;
	if (!ms)
		return CUDA_ERROR_INVALID_VALUE;
	if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING)
		return CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&g_lock);
	int da = event_done(a), db = event_done(b);
	int ta = a->has_ts, tb = b->has_ts;
	struct timespec t0 = a->ts, t1 = b->ts;
	int recorded = a->gen && b->gen;
	pthread_mutex_unlock(&g_lock);
	if (!recorded)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!da || !db)
		return CUDA_ERROR_NOT_READY;
	if (!ta || !tb)
		return CUDA_ERROR_INVALID_HANDLE;
	double d = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	*ms = (float)d;
	return CUDA_SUCCESS;
}

#undef cuEventElapsedTime
/* The pre-12.x ABI name, same contract. */
CUresult cuEventElapsedTime(float *ms, CUevent hs, CUevent he);
CUresult cuEventElapsedTime(float *ms, CUevent hs, CUevent he) { return cuEventElapsedTime_v2(ms, hs, he); }

/* ---- stream attributes: kept per stream; the priority is the stream's own ---- */

static int stream_attr_known(CUstreamAttrID attr)
{
	return attr == CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW || attr == CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY ||
	       attr == CU_LAUNCH_ATTRIBUTE_PRIORITY || attr == CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP ||
	       attr == CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN;
}

CUresult cuStreamSetAttribute(CUstream h, CUstreamAttrID attr, const CUstreamAttrValue *value)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s)
		return rc;
	if (!value || !stream_attr_known(attr))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&g_lock);
	if (attr == CU_LAUNCH_ATTRIBUTE_PRIORITY) {
		/* clamped to the device's range, as stream creation does */
		int p = value->priority;
		s->priority = p > 0 ? 0 : p < -5 ? -5 : p;
	} else {
		s->attrs[attr] = *value;
	}
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

CUresult cuStreamGetAttribute(CUstream h, CUstreamAttrID attr, CUstreamAttrValue *value)
{
	CUresult rc;
	struct sim_stream *s = stream_arg(h, &rc);
	if (!s)
		return rc;
	if (!value || !stream_attr_known(attr))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&g_lock);
	*value = s->attrs[attr];
	if (attr == CU_LAUNCH_ATTRIBUTE_PRIORITY)
		value->priority = s->priority;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

/* Copies src's attributes that were set (access policy window, synchronization policy, memory
 * synchronization domain and map) to dst, both streams of one context; the priority stays
 * the stream's own. */
CUresult cuStreamCopyAttributes(CUstream dst, CUstream src)
{
	CUresult rc;
	struct sim_stream *d = stream_arg(dst, &rc), *s;
	if (!d)
		return rc;
	if (!(s = stream_arg(src, &rc)))
		return rc;
	if (d->ctx != s->ctx)
		return CUDA_ERROR_INVALID_CONTEXT;
	pthread_mutex_lock(&g_lock);
	if (d != s)
		memcpy(d->attrs, s->attrs, sizeof(d->attrs));
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

CUresult cuStreamCopyAttributes_ptsz(CUstream dst, CUstream src);
CUresult cuStreamCopyAttributes_ptsz(CUstream dst, CUstream src)
{
	return cuStreamCopyAttributes(dst ? dst : CU_STREAM_PER_THREAD, src ? src : CU_STREAM_PER_THREAD);
}

CUresult cuStreamSetAttribute_ptsz(CUstream h, CUstreamAttrID attr, const CUstreamAttrValue *value);
CUresult cuStreamSetAttribute_ptsz(CUstream h, CUstreamAttrID attr, const CUstreamAttrValue *value)
{
	return cuStreamSetAttribute(h ? h : CU_STREAM_PER_THREAD, attr, value);
}

CUresult cuStreamGetAttribute_ptsz(CUstream h, CUstreamAttrID attr, CUstreamAttrValue *value);
CUresult cuStreamGetAttribute_ptsz(CUstream h, CUstreamAttrID attr, CUstreamAttrValue *value)
{
	return cuStreamGetAttribute(h ? h : CU_STREAM_PER_THREAD, attr, value);
}
