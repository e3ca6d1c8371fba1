/* SPDX-License-Identifier: MIT */
/* graph.c — CUDA graphs in the simulator: stream capture into a graph, instantiation, launch. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

/*
 * A graph is the list of operations captured from its streams, in the order they were
 * issued; it runs as that sequence on the launch stream (one valid order of any graph built
 * by capture, and never looser than the graph's own dependencies). Captured operations are
 * the simulator's ordinary stream operations (struct sim_op), kept as templates and cloned
 * for every launch. Event records and waits inside a capture make streams join it (the
 * fork/join pattern) and are not nodes themselves, as with the driver.
 */

struct sim_gnode {
	uint32_t magic;
	struct sim_graph *g;
	CUgraphNodeType type;
	struct sim_op *op;            /* template; NULL for an empty node */
	struct sim_gnode *next;
};

struct sim_graph {
	uint32_t magic;
	struct sim_ctx *ctx;
	struct sim_gnode *head, *tail;
	size_t n;
	uint64_t capture_id;          /* 0 once its capture ended */
	CUresult capture_err;         /* a capture invalidated by an unsupported operation */
};

struct sim_gexec {
	uint32_t magic;
	struct sim_ctx *ctx;
	struct sim_op **ops;          /* templates, in launch order */
	size_t n;
};

enum { MAGIC_GRAPH = 0x47524150, MAGIC_GNODE = 0x474e4f44, MAGIC_GEXEC = 0x47455843 };

extern struct sim_event *g_events;

static __thread CUstreamCaptureMode tls_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

/* ---- operations as graph nodes ---- */

static struct sim_op *op_clone(const struct sim_op *t)
{
	struct sim_op *op = sim_op_new(t->kind);
	if (!op)
		return NULL;
	op->u = t->u;
	if (t->kind == OP_KERNEL) {
		size_t n = t->u.k.l.fn->param_bytes + 8;
		op->u.k.params = malloc(n);
		if (!op->u.k.params) {
			free(op);
			return NULL;
		}
		memcpy(op->u.k.params, t->u.k.params, n);
		op->u.k.l.params = op->u.k.params;
	}
	/* captured copies keep the caller's host address (they are never staged, see api_mem.c) */
	if (t->kind == OP_COPY)
		op->u.c.owned = NULL;
	return op;
}

static CUgraphNodeType node_type(const struct sim_op *op)
{
	switch (op->kind) {
	case OP_KERNEL: return CU_GRAPH_NODE_TYPE_KERNEL;
	case OP_COPY:   return CU_GRAPH_NODE_TYPE_MEMCPY;
	case OP_SET:    return CU_GRAPH_NODE_TYPE_MEMSET;
	case OP_HOSTFN: return CU_GRAPH_NODE_TYPE_HOST;
	case OP_MEMVAL: return CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
	default:        return CU_GRAPH_NODE_TYPE_EMPTY;
	}
}

/* Called by sim_stream_enqueue, g_lock held: op (ownership passes) joins s's capture. */
void sim_graph_capture_op(struct sim_stream *s, struct sim_op *op)
{
	struct sim_graph *g = s->capture;

	free(op->deps);
	op->deps = NULL;
	op->ndeps = 0;
	switch (op->kind) {
	case OP_EVENT:      /* a fork point: streams waiting on this event join the capture */
		if (op->u.ev.e->gen == op->u.ev.gen)
			op->u.ev.e->capture = g;
		sim_op_free(op);
		return;
	case OP_WAITONLY:   /* ordering inside the capture is issue order */
		sim_op_free(op);
		return;
	case OP_CALLBACK:
	case OP_MEMFREE:
		/* not capturable here: the capture fails at its end, as the driver's would */
		if (!g->capture_err)
			g->capture_err = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		sim_op_free(op);
		return;
	default:
		break;
	}
	struct sim_gnode *n = calloc(1, sizeof(*n));
	if (!n) {
		if (!g->capture_err)
			g->capture_err = CUDA_ERROR_OUT_OF_MEMORY;
		sim_op_free(op);
		return;
	}
	n->magic = MAGIC_GNODE;
	n->g = g;
	n->type = node_type(op);
	n->op = op;
	if (g->tail)
		g->tail->next = n;
	else
		g->head = n;
	g->tail = n;
	g->n++;
}

/* ---- handles ---- */

static struct sim_graph *graph_get(CUgraph h, CUresult *rc)
{
	struct sim_graph *g = (struct sim_graph *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!g || g->magic != MAGIC_GRAPH) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	return *rc ? NULL : g;
}

static struct sim_gexec *exec_get(CUgraphExec h, CUresult *rc)
{
	struct sim_gexec *x = (struct sim_gexec *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!x || x->magic != MAGIC_GEXEC) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	return *rc ? NULL : x;
}

static struct sim_stream *capture_stream(CUstream h, CUresult *rc)
{
	struct sim_ctx *c = sim_ctx_current(rc);
	if (!c)
		return NULL;
	return sim_stream_get(c, h, rc);
}

static struct sim_graph *graph_new(struct sim_ctx *c)
{
	struct sim_graph *g = calloc(1, sizeof(*g));
	if (g) {
		g->magic = MAGIC_GRAPH;
		g->ctx = c;
	}
	return g;
}

static void graph_free(struct sim_graph *g)
{
	for (struct sim_gnode *n = g->head, *next; n; n = next) {
		next = n->next;
		if (n->op)
			sim_op_free(n->op);
		n->magic = 0;
		free(n);
	}
	g->magic = 0;
	free(g);
}

/* ---- capture ---- */

CUresult cuStreamBeginCapture_v2(CUstream h, CUstreamCaptureMode mode)
{
	static _Atomic uint64_t ids;
	CUresult rc;

	if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
	    mode != CU_STREAM_CAPTURE_MODE_RELAXED)
		return CUDA_ERROR_INVALID_VALUE;
	/* the legacy NULL stream synchronises with every stream: it cannot be captured */
	if (h == NULL || h == CU_STREAM_LEGACY)
		return g_inited ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_ERROR_NOT_INITIALIZED;
	struct sim_stream *s = capture_stream(h, &rc);
	if (!s)
		return rc;
	struct sim_graph *g = graph_new(s->ctx);
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&g_lock);
	if (s->capture) {
		pthread_mutex_unlock(&g_lock);
		free(g);
		return CUDA_ERROR_ILLEGAL_STATE;
	}
	g->capture_id = ++ids;
	s->capture = g;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream h, CUgraph *out)
{
	CUresult rc;
	struct sim_stream *s = capture_stream(h, &rc);

	if (!s)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&g_lock);
	struct sim_graph *g = s->capture;
	if (!g) {
		pthread_mutex_unlock(&g_lock);
		return CUDA_ERROR_ILLEGAL_STATE;
	}
	/* every stream that joined the capture leaves it, and events recorded in it are plain again */
	for (struct sim_stream *o = sim_streams_all(); o; o = o->gnext)
		if (o->capture == g)
			o->capture = NULL;
	for (struct sim_event *e = g_events; e; e = e->next)
		if (e->capture == g)
			e->capture = NULL;
	g->capture_id = 0;
	pthread_mutex_unlock(&g_lock);
	if (g->capture_err) {
		rc = g->capture_err;
		graph_free(g);
		*out = NULL;
		return rc == CUDA_ERROR_OUT_OF_MEMORY ? rc : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	}
	*out = (CUgraph)g;
	return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream h, CUstreamCaptureStatus *status)
{
	CUresult rc;
	struct sim_stream *s = capture_stream(h, &rc);

	if (!s)
		return rc;
	if (!status)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&g_lock);
	*status = !s->capture ? CU_STREAM_CAPTURE_STATUS_NONE :
		  s->capture->capture_err ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

CUresult cuStreamGetCaptureInfo_v3(CUstream h, CUstreamCaptureStatus *status, cuuint64_t *id, CUgraph *graph,
				   const CUgraphNode **deps, const CUgraphEdgeData **edges, size_t *ndeps)
{
	CUresult rc = cuStreamIsCapturing(h, status);

	if (rc != CUDA_SUCCESS)
		return rc;
	struct sim_stream *s = capture_stream(h, &rc);
	pthread_mutex_lock(&g_lock);
	struct sim_graph *g = s->capture;
	if (id)
		*id = g ? g->capture_id : 0;
	if (graph)
		*graph = (CUgraph)g;
	/* the capture's frontier: its last node, the one the next operation depends on */
	static __thread CUgraphNode frontier;
	frontier = g && g->tail ? (CUgraphNode)g->tail : NULL;
	if (deps)
		*deps = frontier ? &frontier : NULL;
	if (edges)
		*edges = NULL;
	if (ndeps)
		*ndeps = frontier ? 1 : 0;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode)
{
	if (!mode)
		return CUDA_ERROR_INVALID_VALUE;
	if (*mode != CU_STREAM_CAPTURE_MODE_GLOBAL && *mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
	    *mode != CU_STREAM_CAPTURE_MODE_RELAXED)
		return CUDA_ERROR_INVALID_VALUE;
	CUstreamCaptureMode old = tls_mode;
	tls_mode = *mode;
	*mode = old;
	return CUDA_SUCCESS;
}

/* ---- graphs ---- */

CUresult cuGraphCreate(CUgraph *out, unsigned int flags)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);

	if (!c)
		return rc;
	if (!out || flags)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_graph *g = graph_new(c);
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*out = (CUgraph)g;
	return CUDA_SUCCESS;
}

CUresult cuGraphDestroy(CUgraph h)
{
	CUresult rc;
	struct sim_graph *g = graph_get(h, &rc);

	if (!g)
		return rc;
	if (g->capture_id)
		return CUDA_ERROR_ILLEGAL_STATE; /* still being captured into */
	graph_free(g);
	return CUDA_SUCCESS;
}

CUresult cuGraphClone(CUgraph *out, CUgraph h)
{
	CUresult rc;
	struct sim_graph *g = graph_get(h, &rc);

	if (!g)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_graph *c = graph_new(g->ctx);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (struct sim_gnode *n = g->head; n; n = n->next) {
		struct sim_gnode *m = calloc(1, sizeof(*m));
		if (!m || (n->op && !(m->op = op_clone(n->op)))) {
			free(m);
			graph_free(c);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		m->magic = MAGIC_GNODE;
		m->g = c;
		m->type = n->type;
		if (c->tail)
			c->tail->next = m;
		else
			c->head = m;
		c->tail = m;
		c->n++;
	}
	*out = (CUgraph)c;
	return CUDA_SUCCESS;
}

static CUresult list_nodes(CUgraph h, CUgraphNode *nodes, size_t *num, int roots)
{
	CUresult rc;
	struct sim_graph *g = graph_get(h, &rc);

	if (!g)
		return rc;
	if (!num)
		return CUDA_ERROR_INVALID_VALUE;
	size_t have = roots ? (g->head ? 1 : 0) : g->n, i = 0;
	if (nodes)
		for (struct sim_gnode *n = g->head; n && i < *num && i < have; n = n->next)
			nodes[i++] = (CUgraphNode)n;
	*num = nodes ? i : have;
	return CUDA_SUCCESS;
}

CUresult cuGraphGetNodes(CUgraph h, CUgraphNode *nodes, size_t *num)
{
	return list_nodes(h, nodes, num, 0);
}

CUresult cuGraphGetRootNodes(CUgraph h, CUgraphNode *nodes, size_t *num)
{
	return list_nodes(h, nodes, num, 1);
}

CUresult cuGraphNodeGetType(CUgraphNode h, CUgraphNodeType *type)
{
	struct sim_gnode *n = (struct sim_gnode *)h;

	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!n || n->magic != MAGIC_GNODE || !type)
		return CUDA_ERROR_INVALID_VALUE;
	*type = n->type;
	return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *out, CUgraph h, unsigned long long flags)
{
	CUresult rc;
	struct sim_graph *g = graph_get(h, &rc);

	if (!g)
		return rc;
	if (!out || (flags & ~(unsigned long long)(CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH |
						   CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |
						   CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY)))
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_gexec *x = calloc(1, sizeof(*x));
	if (!x || (g->n && !(x->ops = calloc(g->n, sizeof(*x->ops))))) {
		free(x);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	x->magic = MAGIC_GEXEC;
	x->ctx = g->ctx;
	for (struct sim_gnode *n = g->head; n; n = n->next) {
		if (!n->op)
			continue;
		if (!(x->ops[x->n] = op_clone(n->op))) {
			while (x->n)
				sim_op_free(x->ops[--x->n]);
			free(x->ops);
			free(x);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		x->n++;
	}
	*out = (CUgraphExec)x;
	return CUDA_SUCCESS;
}

CUresult cuGraphExecDestroy(CUgraphExec h)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);

	if (!x)
		return rc;
	sim_ctx_sync(x->ctx);          /* launches still queued use the exec's kernels' modules */
	for (size_t i = 0; i < x->n; i++)
		sim_op_free(x->ops[i]);
	free(x->ops);
	x->magic = 0;
	free(x);
	return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec h, CUstream hs)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);

	if (!x)
		return rc;
	struct sim_stream *s = capture_stream(hs, &rc);
	if (!s)
		return rc;
	if (s->ctx != x->ctx)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (s->ctx->sticky)
		return s->ctx->sticky;
	for (size_t i = 0; i < x->n; i++) {
		struct sim_op *op = op_clone(x->ops[i]);
		if (!op)
			return CUDA_ERROR_OUT_OF_MEMORY;
		sim_stream_enqueue(s, op);
	}
	return CUDA_SUCCESS;
}

CUresult cuGraphUpload(CUgraphExec h, CUstream hs)
{
	CUresult rc;

	if (!exec_get(h, &rc))
		return rc;
	return capture_stream(hs, &rc) ? CUDA_SUCCESS : rc;
}

/* The per-thread-default-stream twins. */
CUresult cuStreamBeginCapture_v2_ptsz(CUstream h, CUstreamCaptureMode mode);
CUresult cuStreamBeginCapture_v2_ptsz(CUstream h, CUstreamCaptureMode mode)
{
	return cuStreamBeginCapture_v2(h ? h : CU_STREAM_PER_THREAD, mode);
}
CUresult cuStreamEndCapture_ptsz(CUstream h, CUgraph *out);
CUresult cuStreamEndCapture_ptsz(CUstream h, CUgraph *out)
{
	return cuStreamEndCapture(h ? h : CU_STREAM_PER_THREAD, out);
}
CUresult cuStreamIsCapturing_ptsz(CUstream h, CUstreamCaptureStatus *status);
CUresult cuStreamIsCapturing_ptsz(CUstream h, CUstreamCaptureStatus *status)
{
	return cuStreamIsCapturing(h ? h : CU_STREAM_PER_THREAD, status);
}
CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream h, CUstreamCaptureStatus *status, cuuint64_t *id, CUgraph *graph,
					const CUgraphNode **deps, const CUgraphEdgeData **edges, size_t *ndeps);
CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream h, CUstreamCaptureStatus *status, cuuint64_t *id, CUgraph *graph,
					const CUgraphNode **deps, const CUgraphEdgeData **edges, size_t *ndeps)
{
	return cuStreamGetCaptureInfo_v3(h ? h : CU_STREAM_PER_THREAD, status, id, graph, deps, edges, ndeps);
}
CUresult cuGraphLaunch_ptsz(CUgraphExec h, CUstream hs);
CUresult cuGraphLaunch_ptsz(CUgraphExec h, CUstream hs)
{
	return cuGraphLaunch(h, hs ? hs : CU_STREAM_PER_THREAD);
}
CUresult cuGraphUpload_ptsz(CUgraphExec h, CUstream hs);
CUresult cuGraphUpload_ptsz(CUgraphExec h, CUstream hs)
{
	return cuGraphUpload(h, hs ? hs : CU_STREAM_PER_THREAD);
}
