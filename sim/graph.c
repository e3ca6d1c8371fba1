/* SPDX-License-Identifier: MIT */
/* graph.c — CUDA graphs in the simulator: stream capture into a graph, instantiation, launch. */
#include "sim.h"
#include "library.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/*
 * A graph is a set of nodes with dependencies. An instantiated graph runs its nodes in one
 * topological order, one after the other on the launch stream: never looser than the
 * graph's dependencies. Operation nodes are the simulator's ordinary stream operations
 * (struct sim_op), kept as templates and cloned for every launch. A captured node depends
 * on the node captured before it (issue order); event records and waits inside a capture
 * make streams join it (the fork/join pattern) and are not nodes themselves, as with the
 * driver.
 */

struct sim_gnode {
	uint32_t magic;
	struct sim_graph *g;
	CUgraphNodeType type;
	struct sim_op *op;            /* template of an operation node; NULL otherwise */
	struct sim_event *event;      /* event record and wait nodes */
	struct sim_graph *child;      /* child graph nodes: a clone owned by the node */
	struct sim_gnode **deps;      /* the nodes this one waits for */
	size_t ndeps, capdeps;
	struct sim_gnode *clone_of;   /* cuGraphNodeFindInClone */
	CUkernelNodeAttrValue attrs[17]; /* kernel node attributes set, by CUlaunchAttributeID */
	void **kparams;               /* kernel nodes: cuGraphKernelNodeGetParams' pointers into op */
	struct sim_gmem *gm;          /* memory alloc and free nodes: the graph allocation (a reference) */
	CUDA_MEM_ALLOC_NODE_PARAMS *aparams; /* alloc nodes: the parameters as made, accessDescs the node's */
	struct sim_cond *cond;        /* conditional nodes: the handle, type and body graphs (owned) */
	unsigned ctype, csize;
	struct sim_graph **bodies;
	size_t order;                 /* scratch: topological sort */
	struct sim_gnode *next;       /* in the graph, in creation order */
};

/*
 * User objects (cuUserObjectCreate): a reference count and a destructor the driver calls when
 * the last reference goes. References are the program's and its
 * graphs' (cuGraphRetainUserObject); a graph's are copied into its clones, its child graph
 * nodes' graphs and its executable graphs, and dropped when each is freed. An object whose
 * count reached zero keeps its storage (marked dead, on a list) so a stale handle is refused.
 */
struct sim_uobj {
	uint32_t magic;
	int refs;                     /* atomic */
	void *ptr;
	CUhostFn fn;
	struct sim_uobj *all_next;
};
struct sim_urefs {
	struct { struct sim_uobj *o; unsigned count; } *v;
	size_t n, cap;
};

struct sim_graph {
	uint32_t magic;
	struct sim_ctx *ctx;
	struct sim_gnode *head, *tail;
	size_t n;
	uint64_t capture_id;          /* 0 once its capture ended */
	CUresult capture_err;         /* a capture invalidated by an unsupported operation */
	struct sim_gnode **frontier;  /* what the next captured node depends on (capture only) */
	size_t nfrontier, capfrontier;
	int made_by_capture;          /* the capture created it (rather than a program's cuGraphCreate) */
	size_t nmem;                  /* memory alloc and free nodes: the restrictions of cuda.h apply */
	int is_child;                 /* the graph of a child graph node: no memory nodes may join it */
	struct sim_gexec *exec;       /* with memory nodes: its one executable graph, if any */
	struct sim_urefs urefs;       /* references to user objects it holds */
	struct sim_gnode *owner;      /* a child graph node's graph or a conditional node's body: that
				       * node, which owns it (the program never destroys it) */
	struct sim_graph *orphan_next; /* in g_orphans: made by a capture whose streams were all destroyed */
	int orphan;
};

/* One step of an executable graph: an operation template, or an event to record or wait for. */
struct sim_gstep {
	struct sim_op *op;
	struct sim_event *event;
	int wait;                     /* event: 1 wait for it, 0 record it */
	const struct sim_gnode *node; /* the node of the instantiated graph it came from */
	int enabled;
	int freed_here;               /* an alloc node's step: this executable graph also frees it */
};

struct sim_gexec {
	uint32_t magic;
	struct sim_ctx *ctx;
	struct sim_gstep *steps;      /* in launch order (a topological order of the graph) */
	size_t n, cap;
	unsigned long long flags;
	struct sim_graph *src;        /* the graph with memory nodes it came from, while both live */
	int has_mem;                  /* it runs memory alloc or free nodes */
	struct sim_urefs urefs;       /* its graph's user-object references, and its child graphs' */
	struct sim_cond **resets;     /* conditionals that take their default value at each launch */
	size_t nresets;
};

enum { MAGIC_GRAPH = 0x47524150, MAGIC_GNODE = 0x474e4f44, MAGIC_GEXEC = 0x47455843, MAGIC_UOBJ = 0x554f424a,
       MAGIC_UOBJ_DEAD = 0x554f4244 };

static struct sim_uobj *g_uobjs;   /* every user object ever made (under g_lock) */
/* Graphs made by a capture that can no longer end (its streams were destroyed), under g_lock:
 * kept, since the program may hold the graph (cuStreamGetCaptureInfo hands it out) and may
 * still destroy it; the driver's memory until then, as a GPU driver's is. */
static struct sim_graph *g_orphans;

/* The last reference went: the destructor runs now, in the call that dropped it (never under
 * g_lock: no caller of graph_free or exec_free holds it). The driver may run it on a thread
 * of its own; a program cannot tell which thread, only that it runs once, after the last
 * reference went. */
static void uobj_dead(struct sim_uobj *o)
{
	o->magic = MAGIC_UOBJ_DEAD;
	o->fn(o->ptr);
}

static void uobj_drop(struct sim_uobj *o, unsigned count)
{
	if (__atomic_sub_fetch(&o->refs, (int)count, __ATOMIC_ACQ_REL) == 0)
		uobj_dead(o);
}

/* count more references of o in l (o's count is the caller's business); 0 or -1 (memory) */
static int urefs_add(struct sim_urefs *l, struct sim_uobj *o, unsigned count)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].o == o) {
			l->v[i].count += count;
			return 0;
		}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 4;
		void *p = realloc(l->v, nc * sizeof(*l->v));
		if (!p)
			return -1;
		l->v = p;
		l->cap = nc;
	}
	l->v[l->n].o = o;
	l->v[l->n].count = count;
	l->n++;
	return 0;
}

/* dst holds src's references too (each object counts them) */
static int urefs_copy(struct sim_urefs *dst, const struct sim_urefs *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (urefs_add(dst, src->v[i].o, src->v[i].count) < 0)
			return -1;
		__atomic_add_fetch(&src->v[i].o->refs, (int)src->v[i].count, __ATOMIC_RELAXED);
	}
	return 0;
}

static void urefs_release(struct sim_urefs *l)
{
	for (size_t i = 0; i < l->n; i++)
		uobj_drop(l->v[i].o, l->v[i].count);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

extern struct sim_event *g_events;

static __thread CUstreamCaptureMode tls_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

/*
 * Graph memory. An allocation node's memory is the simulator's ordinary device memory, taken
 * when the node is made (captured cuMemAllocAsync or cuGraphAddMemAllocNode), so its address
 * is fixed for the graph's life, as the driver promises. It is the graph's: every node and
 * executable-graph step naming it holds a reference, and it goes back when none is left and no
 * launch left it allocated (an allocation the graph does not free outlives the graph until the
 * program frees it). Between its alloc node and its free node it is usable; outside that span
 * it is dormant: API checks still know the address, but copies, memsets and kernels that touch
 * it fault as on a GPU whose mapping is gone.
 */
struct sim_gmem {
	uint64_t dptr, size;
	int dev;
	struct sim_ctx *ctx;          /* NULL once its context took the memory */
	int refs;                     /* nodes and executable-graph steps naming it */
	int freed_in_graph;           /* some graph has a free node for it */
	int outstanding;              /* a launch left it allocated and nothing freed it yet (call order) */
	int free_pending;             /* cuMemFreeAsync calls the streams have not reached yet */
	struct sim_gmem *next;
};

/* A leaf lock: taken under g_lock at most, and nothing but the memory table is locked under it. */
static pthread_mutex_t gmem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_gmem *gmems;
static uint64_t gmem_used[SIM_MAX_DEVICES], gmem_used_high[SIM_MAX_DEVICES], gmem_res_high[SIM_MAX_DEVICES];

/* gmem_lock held: the live graph allocation at base dptr. */
static struct sim_gmem *gmem_find(uint64_t dptr)
{
	for (struct sim_gmem *r = gmems; r; r = r->next)
		if (r->ctx && r->dptr == dptr)
			return r;
	return NULL;
}

/* gmem_lock held: r goes when nothing names it and nothing left or frees it allocated. */
static void gmem_maybe_release(struct sim_gmem *r)
{
	if (r->refs > 0 || r->outstanding || r->free_pending)
		return;
	for (struct sim_gmem **pp = &gmems; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (r->ctx) {
		gmem_used[r->dev] -= r->size;
		sim_mem_free(r->dptr, ALLOC_DEVICE);
	}
	free(r);
}

static void gmem_unref(struct sim_gmem *r)
{
	pthread_mutex_lock(&gmem_lock);
	r->refs--;
	gmem_maybe_release(r);
	pthread_mutex_unlock(&gmem_lock);
}

/* New graph memory of context c on dev, dormant until its alloc node runs; one reference. */
static struct sim_gmem *gmem_new(struct sim_ctx *c, int dev, uint64_t size, CUresult *rc)
{
	uint64_t p;
	int e = sim_mem_alloc(c, dev, size, &p);
	if (e) {
		sim_log("graph memory: cannot allocate %llu bytes on device %d", (unsigned long long)size, dev);
		*rc = e == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
		return NULL;
	}
	struct sim_gmem *r = calloc(1, sizeof(*r));
	if (!r) {
		sim_mem_free(p, ALLOC_DEVICE);
		*rc = CUDA_ERROR_OUT_OF_MEMORY;
		return NULL;
	}
	sim_mem_set_dormant(p, 1);
	r->dptr = p;
	r->size = size;
	r->dev = dev;
	r->ctx = c;
	r->refs = 1;
	pthread_mutex_lock(&gmem_lock);
	r->next = gmems;
	gmems = r;
	gmem_used[dev] += size;
	if (gmem_used[dev] > gmem_used_high[dev])
		gmem_used_high[dev] = gmem_used[dev];
	if (gmem_used[dev] > gmem_res_high[dev])
		gmem_res_high[dev] = gmem_used[dev];
	pthread_mutex_unlock(&gmem_lock);
	return r;
}

void sim_graph_mem_run(struct sim_gmem *r, int alloc)
{
	pthread_mutex_lock(&gmem_lock);
	if (r->ctx)
		sim_mem_set_dormant(r->dptr, !alloc);
	pthread_mutex_unlock(&gmem_lock);
}

int sim_graph_mem_stream_free(uint64_t dptr)
{
	pthread_mutex_lock(&gmem_lock);
	struct sim_gmem *r = gmem_find(dptr);
	if (r) {
		sim_mem_set_dormant(dptr, 1);
		if (r->free_pending)
			r->free_pending--;
		gmem_maybe_release(r);
	}
	pthread_mutex_unlock(&gmem_lock);
	return r != NULL;
}

int sim_graph_mem_user_free(CUdeviceptr dptr, int sync, CUresult *rc)
{
	pthread_mutex_lock(&gmem_lock);
	struct sim_gmem *r = gmem_find(dptr);
	if (!r) {
		pthread_mutex_unlock(&gmem_lock);
		return 0;
	}
	struct sim_ctx *c = r->ctx;
	*rc = CUDA_SUCCESS;
	if (r->freed_in_graph) {
		sim_log("%s: 0x%llx is a graph's allocation that a graph frees; only that graph may free it",
			sync ? "cuMemFree" : "cuMemFreeAsync", (unsigned long long)dptr);
		*rc = CUDA_ERROR_INVALID_VALUE;
	} else if (!r->outstanding) {
		sim_log("%s: 0x%llx is a graph's allocation that no launch left allocated",
			sync ? "cuMemFree" : "cuMemFreeAsync", (unsigned long long)dptr);
		*rc = CUDA_ERROR_INVALID_VALUE;
	} else {
		/* from now on the graph may be launched again; the memory stays the graph's */
		r->outstanding = 0;
		r->free_pending++;
	}
	pthread_mutex_unlock(&gmem_lock);
	if (*rc == CUDA_SUCCESS && sync) {
		if (sim_ctx_valid(c))
			sim_ctx_sync(c);     /* as cuMemFree does: the launch that made it live has run */
		sim_graph_mem_stream_free(dptr);
	}
	return 1;
}

void sim_graph_mem_ctx_gone(struct sim_ctx *c)
{
	pthread_mutex_lock(&gmem_lock);
	for (struct sim_gmem *r = gmems, *next; r; r = next) {
		next = r->next;
		if (r->ctx != c)
			continue;
		gmem_used[r->dev] -= r->size;
		r->ctx = NULL;             /* the context's memory goes with it (sim_mem_free_ctx) */
		r->outstanding = r->free_pending = 0;
		gmem_maybe_release(r);
	}
	pthread_mutex_unlock(&gmem_lock);
}

/* ---- operations as graph nodes ---- */

/* A kernel node's cluster shape attribute (cuGraphKernelNodeSetAttribute) on the launch
 * its executable graph makes of it; without one the function's own shape stays. */
static void node_cluster(struct sim_op *op, const struct sim_gnode *n)
{
	const CUlaunchAttributeValue *v = &n->attrs[CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION];
	const unsigned x = v->clusterDim.x, y = v->clusterDim.y, z = v->clusterDim.z;
	if (op->kind != OP_KERNEL || (uint64_t)x * y * z <= 1)
		return;
	op->u.k.l.cluster[0] = x;
	op->u.k.l.cluster[1] = y;
	op->u.k.l.cluster[2] = z;
	op->u.k.l.explicit_cluster = 1;
}

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
	if (t->kind == OP_COND)
		op->u.cond.owns = 0;   /* a launch's copy borrows the executable graph's bodies */
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

/* ---- nodes and graphs ---- */

/* Graphs (child graphs and bodies included) and executable graphs not freed yet
 * (vgpu_sim_live_objects). */
static long live_graphs, live_execs;

static struct sim_graph *graph_new(struct sim_ctx *c)
{
	struct sim_graph *g = calloc(1, sizeof(*g));
	if (g) {
		g->magic = MAGIC_GRAPH;
		g->ctx = sim_ctx_res(c);   /* a green context's graphs are its primary context's */
		__atomic_add_fetch(&live_graphs, 1, __ATOMIC_RELAXED);
	}
	return g;
}

static void graph_free(struct sim_graph *g);

static void node_free(struct sim_gnode *n)
{
	if (n->op)
		sim_op_free(n->op);
	if (n->child)
		graph_free(n->child);
	for (unsigned i = 0; n->bodies && i < n->csize; i++)
		if (n->bodies[i])
			graph_free(n->bodies[i]);
	free(n->bodies);
	free(n->deps);
	free(n->kparams);
	if (n->gm)
		gmem_unref(n->gm);
	if (n->aparams) {
		free((void *)n->aparams->accessDescs);
		free(n->aparams);
	}
	n->magic = 0;
	free(n);
}

static void graph_free(struct sim_graph *g)
{
	for (struct sim_gnode *n = g->head, *next; n; n = next) {
		next = n->next;
		node_free(n);
	}
	urefs_release(&g->urefs);
	free(g->frontier);
	if (g->exec)
		g->exec->src = NULL;
	g->magic = 0;
	free(g);
	__atomic_sub_fetch(&live_graphs, 1, __ATOMIC_RELAXED);
}

static int node_add_dep(struct sim_gnode *n, struct sim_gnode *d)
{
	for (size_t i = 0; i < n->ndeps; i++)
		if (n->deps[i] == d)
			return 0;
	if (n->ndeps == n->capdeps) {
		size_t nc = n->capdeps ? n->capdeps * 2 : 4;
		void *p = realloc(n->deps, nc * sizeof(*n->deps));
		if (!p)
			return -1;
		n->deps = p;
		n->capdeps = nc;
	}
	n->deps[n->ndeps++] = d;
	return 0;
}

/* A new node at the end of g, after deps (NULL on out of memory). */
static struct sim_gnode *node_append(struct sim_graph *g, CUgraphNodeType type, struct sim_gnode *const *deps,
				     size_t ndeps)
{
	struct sim_gnode *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->magic = MAGIC_GNODE;
	n->g = g;
	n->type = type;
	for (size_t i = 0; i < ndeps; i++)
		if (node_add_dep(n, deps[i]) < 0) {
			node_free(n);
			return NULL;
		}
	if (g->tail)
		g->tail->next = n;
	else
		g->head = n;
	g->tail = n;
	g->n++;
	return n;
}

/* The capture's frontier becomes nodes (add: joins them to it). -1 when out of memory. */
static int frontier_update(struct sim_graph *g, struct sim_gnode *const *nodes, size_t n, int add)
{
	if (!add)
		g->nfrontier = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < g->nfrontier && g->frontier[k] != nodes[i])
			k++;
		if (k < g->nfrontier)
			continue;
		if (g->nfrontier == g->capfrontier) {
			size_t nc = g->capfrontier ? 2 * g->capfrontier : 4;
			void *p = realloc(g->frontier, nc * sizeof(*g->frontier));
			if (!p)
				return -1;
			g->frontier = p;
			g->capfrontier = nc;
		}
		g->frontier[g->nfrontier++] = nodes[i];
	}
	return 0;
}

static int frontier_set(struct sim_graph *g, struct sim_gnode *const *nodes, size_t n)
{
	return frontier_update(g, nodes, n, 0);
}

void sim_graph_capture_invalidate(struct sim_stream *s)
{
	if (s->capture && !s->capture->capture_err)
		s->capture->capture_err = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

void sim_graph_capture_leave(struct sim_stream *s)
{
	struct sim_graph *g = s->capture;
	if (!g)
		return;
	sim_graph_capture_invalidate(s);
	s->capture = NULL;
	for (struct sim_stream *o = sim_streams_all(); o; o = o->gnext)
		if (o->capture == g)
			return;   /* another stream joined it: its end is still to come */
	/* Nothing can end this capture any more. Before, a graph the capture made was then
	 * referred to by nothing (lost, with its nodes, per destroyed capturing stream), and a
	 * program's graph captured into stayed "being captured into", which cuGraphDestroy
	 * refuses: the program could never free it. */
	for (struct sim_event *e = g_events; e; e = e->next)
		if (e->capture == g)
			e->capture = NULL;
	g->capture_id = 0;
	g->nfrontier = 0;
	g->capture_err = CUDA_SUCCESS;
	if (g->made_by_capture) {
		g->orphan = 1;
		g->orphan_next = g_orphans;
		g_orphans = g;
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
		if (op->u.ev.ipc)   /* an interprocess record the capture began under: never runs */
			sim_ipcev_complete(op->u.ev.ipc, op->u.ev.ticket);
		sim_op_free(op);
		return;
	case OP_WAITONLY:   /* ordering inside the capture is issue order */
	case OP_IPCWAIT:
		sim_op_free(op);
		return;
	case OP_CALLBACK:
	case OP_MEMFREE:
	case OP_GMEM:
		/* not capturable here: the capture fails at its end, as the driver's would */
		sim_graph_capture_invalidate(s);
		sim_op_free(op);
		return;
	default:
		break;
	}
	/* each captured node follows the capture's frontier (the node captured before it, unless
	 * the program set the dependencies), and becomes the frontier: issue order, never looser */
	struct sim_gnode *n = node_append(g, node_type(op), g->frontier, g->nfrontier);
	if (!n || frontier_set(g, &n, 1) < 0) {
		if (!g->capture_err)
			g->capture_err = CUDA_ERROR_OUT_OF_MEMORY;
		sim_op_free(op);
		return;
	}
	n->op = op;
}

CUresult sim_graph_capture_event(struct sim_stream *s, struct sim_event *e, CUgraphNodeType type)
{
	struct sim_graph *g = s->capture;
	struct sim_gnode *n = node_append(g, type, g->frontier, g->nfrontier);
	if (!n || frontier_set(g, &n, 1) < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	n->event = e;
	return CUDA_SUCCESS;
}

static struct sim_graph *graph_get(CUgraph h, CUresult *rc)
{
	struct sim_graph *g = (struct sim_graph *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!g || g->magic != MAGIC_GRAPH) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	return *rc ? NULL : g;
}

static struct sim_gnode *node_get(CUgraphNode h, CUresult *rc)
{
	struct sim_gnode *n = (struct sim_gnode *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!n || n->magic != MAGIC_GNODE) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	return *rc ? NULL : n;
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

/* A stream asked about its capture: a created stream of any context (as the driver answers
 * for another device's stream, which NCCL asks with its first device current), a special one
 * the current context's. */
static struct sim_stream *query_stream(CUstream h, CUresult *rc)
{
	const struct sim_stream *s = (const struct sim_stream *)h;
	if (h && h != CU_STREAM_LEGACY && h != CU_STREAM_PER_THREAD && s->magic == MAGIC_STREAM &&
	    sim_ctx_valid(s->ctx))
		return (struct sim_stream *)h;
	return capture_stream(h, rc);
}

/* Dependencies named by the caller: every one a node of g. */
static CUresult deps_check(struct sim_graph *g, const CUgraphNode *deps, size_t n)
{
	if (n && !deps)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < n; i++) {
		CUresult rc;
		struct sim_gnode *d = node_get(deps[i], &rc);
		if (!d)
			return rc;
		if (d->g != g)
			return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

static CUresult add_node(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n, CUgraphNodeType type,
			 struct sim_gnode **node)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	if (!g)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = deps_check(g, deps, n)) != CUDA_SUCCESS)
		return rc;
	struct sim_gnode *nd = node_append(g, type, (struct sim_gnode *const *)deps, n);
	if (!nd)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*out = (CUgraphNode)nd;
	if (node)
		*node = nd;
	return CUDA_SUCCESS;
}

CUresult cuGraphAddEmptyNode(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n)
{
	return add_node(out, hg, deps, n, CU_GRAPH_NODE_TYPE_EMPTY, NULL);
}

static CUresult add_event_node(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n, CUevent he,
			       CUgraphNodeType type)
{
	struct sim_event *e = (struct sim_event *)he;
	struct sim_gnode *nd;
	if (!e || e->magic != MAGIC_EVENT)
		return g_inited ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
	CUresult rc = add_node(out, hg, deps, n, type, &nd);
	if (rc == CUDA_SUCCESS)
		nd->event = e;
	return rc;
}

CUresult cuGraphAddEventRecordNode(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n, CUevent e)
{
	return add_event_node(out, hg, deps, n, e, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
}

CUresult cuGraphAddEventWaitNode(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n, CUevent e)
{
	return add_event_node(out, hg, deps, n, e, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
}

static CUresult node_event(CUgraphNode h, CUevent *out, CUevent set, CUgraphNodeType type)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (n->type != type || (!out && !set))
		return CUDA_ERROR_INVALID_VALUE;
	if (set) {
		struct sim_event *e = (struct sim_event *)set;
		if (e->magic != MAGIC_EVENT)
			return CUDA_ERROR_INVALID_VALUE;
		n->event = e;
	} else {
		*out = (CUevent)n->event;
	}
	return CUDA_SUCCESS;
}

CUresult cuGraphEventRecordNodeGetEvent(CUgraphNode h, CUevent *out)
{
	return node_event(h, out, NULL, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
}

CUresult cuGraphEventRecordNodeSetEvent(CUgraphNode h, CUevent e)
{
	return e ? node_event(h, NULL, e, CU_GRAPH_NODE_TYPE_EVENT_RECORD) : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGraphEventWaitNodeGetEvent(CUgraphNode h, CUevent *out)
{
	return node_event(h, out, NULL, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
}

CUresult cuGraphEventWaitNodeSetEvent(CUgraphNode h, CUevent e)
{
	return e ? node_event(h, NULL, e, CU_GRAPH_NODE_TYPE_WAIT_EVENT) : CUDA_ERROR_INVALID_VALUE;
}

static struct sim_graph *graph_clone(const struct sim_graph *g);

CUresult cuGraphAddChildGraphNode(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n, CUgraph child)
{
	CUresult rc;
	struct sim_graph *c = graph_get(child, &rc), *copy;
	struct sim_gnode *nd;
	if (!c)
		return rc;
	if (child == hg)
		return CUDA_ERROR_INVALID_VALUE;
	if (c->nmem) {
		sim_log("cuGraphAddChildGraphNode: the child graph has memory alloc or free nodes");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (!(copy = graph_clone(c)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	copy->is_child = 1;
	rc = add_node(out, hg, deps, n, CU_GRAPH_NODE_TYPE_GRAPH, &nd);
	if (rc != CUDA_SUCCESS) {
		graph_free(copy);
		return rc;
	}
	nd->child = copy;
	copy->owner = nd;
	return CUDA_SUCCESS;
}

CUresult cuGraphChildGraphNodeGetGraph(CUgraphNode h, CUgraph *out)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!out || n->type != CU_GRAPH_NODE_TYPE_GRAPH)
		return CUDA_ERROR_INVALID_VALUE;
	*out = (CUgraph)n->child;
	return CUDA_SUCCESS;
}

/* ---- conditional nodes ---- */

/*
 * A conditional handle (cuGraphConditionalHandleCreate) is a value kernels set with
 * cudaGraphSetConditional and a conditional node reads when the stream reaches it: IF runs
 * its first body when the value is not zero (its second, if it has one, when it is), WHILE
 * runs its body as long as the value is not zero (looked at before each round), SWITCH runs
 * body[value] when there is one. A handle with CU_GRAPH_COND_ASSIGN_DEFAULT takes its default
 * value as each launch of a graph using it begins. Handles are never freed (a kernel may
 * still name one after its graph is gone: it is refused only if it names no handle at all);
 * their value on the wire is a tag and an index, so a made-up value names none.
 */
struct sim_cond {
	struct sim_ctx *ctx;
	_Atomic unsigned value;
	unsigned dflt, flags;
};

#define COND_TAG 0x434f4e4400000000ull   /* "COND" */
#define COND_MAX 65536u                    /* handles per process */
#define COND_BODIES_MAX 65536u             /* a SWITCH node's bodies */

static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_cond **g_conds;          /* every handle made, by index (under cond_lock) */
static uint32_t g_nconds, g_capconds;

static struct sim_cond *cond_get(uint64_t h)
{
	struct sim_cond *c = NULL;
	uint64_t i = (h ^ COND_TAG) - 1;
	pthread_mutex_lock(&cond_lock);
	if ((h & ~0xffffffffull) == COND_TAG && i < g_nconds)
		c = g_conds[i];
	pthread_mutex_unlock(&cond_lock);
	return c;
}

CUresult cuGraphConditionalHandleCreate(CUgraphConditionalHandle *out, CUgraph hg, CUcontext ctx,
					unsigned int defaultLaunchValue, unsigned int flags)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	if (!g)
		return rc;
	if (!out || (flags & ~CU_GRAPH_COND_ASSIGN_DEFAULT) || (ctx && sim_ctx_res((struct sim_ctx *)ctx) != g->ctx))
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_cond *c = calloc(1, sizeof(*c));
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	c->ctx = g->ctx;
	c->dflt = defaultLaunchValue;
	c->flags = flags;
	c->value = defaultLaunchValue;
	pthread_mutex_lock(&cond_lock);
	if (g_nconds == g_capconds) {
		uint32_t nc = g_capconds ? g_capconds * 2 : 16;
		void *p = nc <= COND_MAX ? realloc(g_conds, nc * sizeof(*g_conds)) : NULL;
		if (!p) {
			pthread_mutex_unlock(&cond_lock);
			free(c);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		g_conds = p;
		g_capconds = nc;
	}
	g_conds[g_nconds++] = c;
	*out = COND_TAG | g_nconds;
	pthread_mutex_unlock(&cond_lock);
	return CUDA_SUCCESS;
}

int sim_graph_cond_set(void *ctx, uint64_t handle, uint32_t value)
{
	struct sim_cond *c = cond_get(handle);
	if (!c || c->ctx != ctx)
		return -EINVAL;
	atomic_store(&c->value, value);
	return 0;
}

static int cond_bodies(struct sim_gnode *n, struct sim_cond *c, unsigned type, unsigned size)
{
	n->cond = c;
	n->ctype = type;
	n->bodies = calloc(size, sizeof(*n->bodies));
	if (!n->bodies)
		return -1;
	n->csize = size;
	return 0;
}

/* m (in a clone) gets copies of n's bodies. */
static int cond_clone(struct sim_gnode *m, const struct sim_gnode *n)
{
	if (cond_bodies(m, n->cond, n->ctype, n->csize) < 0)
		return -1;
	for (unsigned i = 0; i < n->csize; i++) {
		if (!(m->bodies[i] = graph_clone(n->bodies[i])))
			return -1;
		m->bodies[i]->owner = m;
	}
	return 0;
}

/* The generic cuGraphAddNode's conditional form (runtime/graphnodes.c): the node and its
 * empty bodies, whose handles go to p->phGraph_out (the node's own array). */
CUresult vgpu_graph_add_conditional(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t ndeps,
				    CUDA_CONDITIONAL_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	struct sim_gnode *nd;
	if (!g)
		return rc;
	struct sim_cond *c = p ? cond_get(p->handle) : NULL;
	if (!c || c->ctx != g->ctx || (p->ctx && sim_ctx_res((struct sim_ctx *)p->ctx) != g->ctx))
		return CUDA_ERROR_INVALID_VALUE;
	switch (p->type) {
	case CU_GRAPH_COND_TYPE_IF: rc = p->size == 1 || p->size == 2 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; break;
	case CU_GRAPH_COND_TYPE_WHILE: rc = p->size == 1 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; break;
	case CU_GRAPH_COND_TYPE_SWITCH:
		rc = p->size >= 1 && p->size <= COND_BODIES_MAX ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
		break;
	default: rc = CUDA_ERROR_INVALID_VALUE; break;
	}
	if (rc != CUDA_SUCCESS)
		return rc;
	if ((rc = add_node(out, hg, deps, ndeps, CU_GRAPH_NODE_TYPE_CONDITIONAL, &nd)) != CUDA_SUCCESS)
		return rc;
	if (cond_bodies(nd, c, p->type, p->size) < 0)
		goto oom;
	for (unsigned i = 0; i < p->size; i++) {
		if (!(nd->bodies[i] = graph_new(g->ctx)))
			goto oom;
		nd->bodies[i]->owner = nd;
	}
	p->phGraph_out = (CUgraph *)nd->bodies;
	return CUDA_SUCCESS;
oom:
	cuGraphDestroyNode(*out);
	return CUDA_ERROR_OUT_OF_MEMORY;
}

/* What a conditional's body may hold (cuda.h): kernels, copies, memsets, empty nodes, child
 * graphs and conditionals, all in the graph's context. */
static CUresult body_check(const struct sim_graph *g)
{
	for (const struct sim_gnode *n = g->head; n; n = n->next) {
		if (n->child && body_check(n->child) != CUDA_SUCCESS)
			return CUDA_ERROR_INVALID_VALUE;
		for (unsigned i = 0; n->bodies && i < n->csize; i++)
			if (body_check(n->bodies[i]) != CUDA_SUCCESS)
				return CUDA_ERROR_INVALID_VALUE;
		if (n->child || n->bodies || n->type == CU_GRAPH_NODE_TYPE_EMPTY)
			continue;
		int ok = n->op && !n->gm && !n->event &&
			 (n->op->kind == OP_COPY || n->op->kind == OP_SET ||
			  (n->op->kind == OP_KERNEL && n->op->u.k.mod->ctx == g->ctx));
		if (!ok) {
			sim_log("cuGraphInstantiate: a conditional node's body holds a node of type %d, or a kernel "
				"of another context; bodies hold kernels, copies, memsets, empty nodes, child graphs "
				"and conditionals", (int)n->type);
			return CUDA_ERROR_INVALID_VALUE;
		}
	}
	return CUDA_SUCCESS;
}

/* ---- memory alloc and free nodes ---- */

static CUresult alloc_params_check(const CUDA_MEM_ALLOC_NODE_PARAMS *p)
{
	if (!p || !p->bytesize || p->poolProps.allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    p->poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE || p->poolProps.location.id < 0 ||
	    p->poolProps.location.id >= g_ndev || p->accessDescCount > (size_t)g_ndev ||
	    (p->accessDescCount && !p->accessDescs) || p->poolProps.win32SecurityAttributes)
		return CUDA_ERROR_INVALID_VALUE;
	if (p->poolProps.handleTypes != CU_MEM_HANDLE_TYPE_NONE)
		return CUDA_ERROR_NOT_SUPPORTED;   /* no IPC for graph memory, as with the driver */
	for (size_t i = 0; i < p->accessDescCount; i++)
		if (p->accessDescs[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
		    p->accessDescs[i].location.id < 0 || p->accessDescs[i].location.id >= g_ndev ||
		    p->accessDescs[i].flags > CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* An alloc node of p's allocation (p checked) at the end of g, after deps; p->dptr is set. */
static CUresult mem_alloc_node(struct sim_graph *g, struct sim_gnode *const *deps, size_t ndeps,
			       CUDA_MEM_ALLOC_NODE_PARAMS *p, struct sim_gnode **out)
{
	CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (g->is_child) {
		sim_log("graph memory: no alloc node may join a child graph node's graph");
		return CUDA_ERROR_INVALID_VALUE;
	}
	CUDA_MEM_ALLOC_NODE_PARAMS *keep = calloc(1, sizeof(*keep));
	CUmemAccessDesc *acc = p->accessDescCount ? malloc(p->accessDescCount * sizeof(*acc)) : NULL;
	struct sim_gnode *n = NULL;
	struct sim_gmem *r = NULL;
	if (!keep || (p->accessDescCount && !acc) ||
	    !(r = gmem_new(g->ctx, p->poolProps.location.id, p->bytesize, &rc)) ||
	    !(n = node_append(g, CU_GRAPH_NODE_TYPE_MEM_ALLOC, deps, ndeps))) {
		free(keep);
		free(acc);
		if (r)
			gmem_unref(r);
		return rc;
	}
	*keep = *p;
	if (acc)
		memcpy(acc, p->accessDescs, p->accessDescCount * sizeof(*acc));
	keep->accessDescs = acc;
	keep->dptr = p->dptr = r->dptr;
	n->gm = r;
	n->aparams = keep;
	g->nmem++;
	*out = n;
	return CUDA_SUCCESS;
}

/* A free node of the graph allocation at dptr at the end of g, after deps. */
static CUresult mem_free_node(struct sim_graph *g, struct sim_gnode *const *deps, size_t ndeps, CUdeviceptr dptr,
			      struct sim_gnode **out)
{
	if (g->is_child) {
		sim_log("graph memory: no free node may join a child graph node's graph");
		return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_lock(&gmem_lock);
	struct sim_gmem *r = gmem_find(dptr);
	if (!r || r->freed_in_graph) {
		pthread_mutex_unlock(&gmem_lock);
		sim_log(!r ? "graph memory: 0x%llx was not made by an alloc node; no free node for it"
			   : "graph memory: 0x%llx already has a free node; it can be freed once, in one graph",
			(unsigned long long)dptr);
		return CUDA_ERROR_INVALID_VALUE;
	}
	r->freed_in_graph = 1;
	r->refs++;
	pthread_mutex_unlock(&gmem_lock);
	struct sim_gnode *n = node_append(g, CU_GRAPH_NODE_TYPE_MEM_FREE, deps, ndeps);
	if (!n) {
		pthread_mutex_lock(&gmem_lock);
		r->freed_in_graph = 0;
		pthread_mutex_unlock(&gmem_lock);
		gmem_unref(r);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	n->gm = r;
	g->nmem++;
	*out = n;
	return CUDA_SUCCESS;
}

/* A captured stream-ordered call becomes a node after the capture's frontier, and the
 * frontier; a failure also invalidates the capture, as the driver's does. */
static int capture_mem(struct sim_ctx *c, CUstream h, CUDA_MEM_ALLOC_NODE_PARAMS *ap, CUdeviceptr dptr,
		       CUresult *rc)
{
	CUresult e;
	struct sim_stream *s = sim_stream_get(c, h, &e);
	if (!s)
		return 0;              /* the ordinary path answers for the stream */
	pthread_mutex_lock(&g_lock);
	struct sim_graph *g = s->capture;
	if (!g) {
		pthread_mutex_unlock(&g_lock);
		return 0;
	}
	struct sim_gnode *n = NULL;
	*rc = ap ? mem_alloc_node(g, g->frontier, g->nfrontier, ap, &n)
		 : mem_free_node(g, g->frontier, g->nfrontier, dptr, &n);
	if (*rc == CUDA_SUCCESS && frontier_set(g, &n, 1) < 0)
		*rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (*rc != CUDA_SUCCESS && !g->capture_err)
		g->capture_err = *rc;
	pthread_mutex_unlock(&g_lock);
	return 1;
}

int sim_graph_capture_alloc(struct sim_ctx *c, CUstream h, int dev, size_t size, CUdeviceptr *dptr, CUresult *rc)
{
	CUDA_MEM_ALLOC_NODE_PARAMS p;
	memset(&p, 0, sizeof(p));
	p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.poolProps.location.id = dev;
	p.bytesize = size;
	if (!capture_mem(c, h, &p, 0, rc))
		return 0;
	if (*rc == CUDA_SUCCESS && dptr)
		*dptr = p.dptr;
	return 1;
}

int sim_graph_capture_free(struct sim_ctx *c, CUstream h, CUdeviceptr dptr, CUresult *rc)
{
	/* only graph allocations have free nodes; freeing other memory in a capture is refused
	 * where the capture meets the free (sim_graph_capture_op) */
	pthread_mutex_lock(&gmem_lock);
	int ours = gmem_find(dptr) != NULL;
	pthread_mutex_unlock(&gmem_lock);
	return ours && capture_mem(c, h, NULL, dptr, rc);
}

CUresult cuGraphAddMemAllocNode(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n,
				CUDA_MEM_ALLOC_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	struct sim_gnode *nd;
	if (!g)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = alloc_params_check(p)) != CUDA_SUCCESS || (rc = deps_check(g, deps, n)) != CUDA_SUCCESS)
		return rc;
	if ((rc = mem_alloc_node(g, (struct sim_gnode *const *)deps, n, p, &nd)) == CUDA_SUCCESS)
		*out = (CUgraphNode)nd;
	return rc;
}

CUresult cuGraphAddMemFreeNode(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t n, CUdeviceptr dptr)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	struct sim_gnode *nd;
	if (!g)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = deps_check(g, deps, n)) != CUDA_SUCCESS)
		return rc;
	if ((rc = mem_free_node(g, (struct sim_gnode *const *)deps, n, dptr, &nd)) == CUDA_SUCCESS)
		*out = (CUgraphNode)nd;
	return rc;
}

/* The parameters as made; poolProps and accessDescs stay the node's, as the driver's do. */
CUresult cuGraphMemAllocNodeGetParams(CUgraphNode h, CUDA_MEM_ALLOC_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!p || n->type != CU_GRAPH_NODE_TYPE_MEM_ALLOC || !n->aparams)
		return CUDA_ERROR_INVALID_VALUE;
	*p = *n->aparams;
	return CUDA_SUCCESS;
}

CUresult cuGraphMemFreeNodeGetParams(CUgraphNode h, CUdeviceptr *dptr)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!dptr || n->type != CU_GRAPH_NODE_TYPE_MEM_FREE || !n->gm)
		return CUDA_ERROR_INVALID_VALUE;
	*dptr = (CUdeviceptr)n->gm->dptr;
	return CUDA_SUCCESS;
}

/* ---- memset nodes' parameters ---- */

static CUresult memset_params_check(const CUDA_MEMSET_NODE_PARAMS *p)
{
	if (!p || !p->dst || !p->width || !p->height ||
	    (p->elementSize != 1 && p->elementSize != 2 && p->elementSize != 4) ||
	    (p->height > 1 && p->pitch < p->width * p->elementSize))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t span = (p->height - 1) * (uint64_t)(p->height > 1 ? p->pitch : 0) + p->width * p->elementSize;
	return sim_mem_find(p->dst, span, NULL) == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static void memset_op_set(struct sim_op *op, const CUDA_MEMSET_NODE_PARAMS *p)
{
	op->u.set.dst = p->dst;
	op->u.set.pitch = p->height > 1 ? p->pitch : p->width * p->elementSize;
	op->u.set.width = p->width;
	op->u.set.height = p->height;
	op->u.set.value = p->value;
	op->u.set.esize = (int)p->elementSize;
}

CUresult cuGraphMemsetNodeGetParams(CUgraphNode h, CUDA_MEMSET_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!p || n->type != CU_GRAPH_NODE_TYPE_MEMSET || !n->op)
		return CUDA_ERROR_INVALID_VALUE;
	memset(p, 0, sizeof(*p));
	p->dst = n->op->u.set.dst;
	p->pitch = n->op->u.set.pitch;
	p->value = n->op->u.set.value;
	p->elementSize = (unsigned)n->op->u.set.esize;
	p->width = n->op->u.set.width;
	p->height = n->op->u.set.height;
	return CUDA_SUCCESS;
}

/* A kernel node's launch as captured: its function, shape and a pointer to each parameter's
 * value (valid while the node lives), as the driver gives them. */
CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode h, CUDA_KERNEL_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!p || n->type != CU_GRAPH_NODE_TYPE_KERNEL || !n->op)
		return CUDA_ERROR_INVALID_VALUE;
	const struct sim_launch_op *k = &n->op->u.k;
	struct sim_func *f = NULL;
	pthread_mutex_lock(&g_lock);
	for (struct sim_func *x = k->mod->funcs; x && !f; x = x->next)
		if (x->fn == k->l.fn)
			f = x;
	pthread_mutex_unlock(&g_lock);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!n->kparams && k->l.fn->nparams) {
		void **v = calloc(k->l.fn->nparams, sizeof(*v));
		if (!v)
			return CUDA_ERROR_OUT_OF_MEMORY;
		for (uint32_t i = 0; i < k->l.fn->nparams; i++)
			v[i] = k->params + k->l.fn->param_off[i];
		n->kparams = v;
	}
	memset(p, 0, sizeof(*p));
	p->func = (CUfunction)f;
	p->gridDimX = k->l.grid[0]; p->gridDimY = k->l.grid[1]; p->gridDimZ = k->l.grid[2];
	p->blockDimX = k->l.block[0]; p->blockDimY = k->l.block[1]; p->blockDimZ = k->l.block[2];
	p->sharedMemBytes = k->l.shared_dyn;
	p->kernelParams = n->kparams;
	p->kern = vgpu_library_kernel_of(p->func);   /* a CUkernel's launch names it too */
	p->ctx = (CUcontext)n->g->ctx;
	return CUDA_SUCCESS;
}

/* An operation made by make(c, arg) with the node's context c current (a CUkernel stands for
 * its function there, and memory is checked as that context's), as the driver makes it. */
typedef CUresult (*op_maker)(struct sim_ctx *c, const void *arg, struct sim_op **op);

static CUresult op_in_ctx(struct sim_ctx *c, op_maker make, const void *arg, struct sim_op **op)
{
	CUcontext cur = NULL;
	CUresult rc;
	if (cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == (CUcontext)c)
		return make(c, arg, op);
	if ((rc = cuCtxPushCurrent_v2((CUcontext)c)) != CUDA_SUCCESS)
		return rc;
	rc = make(c, arg, op);
	cuCtxPopCurrent_v2(&cur);
	return rc;
}

/* New parameters of a kernel node as one launch made of them: the same checks. */
static CUresult make_kernel(struct sim_ctx *c, const void *arg, struct sim_op **op)
{
	const CUDA_KERNEL_NODE_PARAMS *p = arg;
	unsigned g[3] = { p->gridDimX, p->gridDimY, p->gridDimZ }, b[3] = { p->blockDimX, p->blockDimY, p->blockDimZ };
	return sim_kernel_op(c, p->func ? p->func : (CUfunction)p->kern, g, b, p->sharedMemBytes, p->kernelParams,
			     p->extra, op);
}

/* Node h of type `type` runs an operation made of new parameters arg (the earlier one and,
 * for a kernel node, its parameter pointers kparams, end here). */
static CUresult node_replace(CUgraphNode h, CUgraphNodeType type, op_maker make, const void *arg)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	struct sim_op *op = NULL;
	if (!n)
		return rc;
	if (!arg || n->type != type || !n->op)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = op_in_ctx(n->g->ctx, make, arg, &op)) != CUDA_SUCCESS)
		return rc;
	sim_op_free(n->op);
	n->op = op;
	free(n->kparams);
	n->kparams = NULL;
	return CUDA_SUCCESS;
}

CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode h, const CUDA_KERNEL_NODE_PARAMS *p)
{
	return node_replace(h, CU_GRAPH_NODE_TYPE_KERNEL, make_kernel, p);
}

/* A copy node as captured: both sides by address (the simulator's device addresses are
 * addresses of this process), pitches and extent. */
CUresult cuGraphMemcpyNodeGetParams(CUgraphNode h, CUDA_MEMCPY3D *p)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!p || n->type != CU_GRAPH_NODE_TYPE_MEMCPY || !n->op)
		return CUDA_ERROR_INVALID_VALUE;
	const struct sim_copy3d *c = &n->op->u.c;
	memset(p, 0, sizeof(*p));
	p->srcMemoryType = c->src_dev ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
	if (c->src_dev)
		p->srcDevice = (CUdeviceptr)c->src;
	else
		p->srcHost = (const void *)(uintptr_t)c->src;
	p->srcPitch = c->spitch;
	p->srcHeight = c->sheight;
	p->dstMemoryType = c->dst_dev ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
	if (c->dst_dev)
		p->dstDevice = (CUdeviceptr)c->dst;
	else
		p->dstHost = (void *)(uintptr_t)c->dst;
	p->dstPitch = c->dpitch;
	p->dstHeight = c->dheight;
	/* a side in an array (still live) reads back as that array at an offset, never as the
	 * address of its storage, which no call accepts */
	struct sim_array_info ai;
	if (c->src_array && !sim_array_info(c->src_array, &ai) && c->src >= ai.base && c->src - ai.base < ai.bytes) {
		uint64_t off = c->src - ai.base, slice = ai.pitch * ai.rows;
		p->srcMemoryType = CU_MEMORYTYPE_ARRAY;
		p->srcDevice = 0;
		p->srcArray = c->src_array;
		p->srcZ = off / slice;
		p->srcY = off % slice / ai.pitch;
		p->srcXInBytes = off % ai.pitch;
		p->srcPitch = p->srcHeight = 0;
	}
	if (c->dst_array && !sim_array_info(c->dst_array, &ai) && c->dst >= ai.base && c->dst - ai.base < ai.bytes) {
		uint64_t off = c->dst - ai.base, slice = ai.pitch * ai.rows;
		p->dstMemoryType = CU_MEMORYTYPE_ARRAY;
		p->dstDevice = 0;
		p->dstArray = c->dst_array;
		p->dstZ = off / slice;
		p->dstY = off % slice / ai.pitch;
		p->dstXInBytes = off % ai.pitch;
		p->dstPitch = p->dstHeight = 0;
	}
	p->WidthInBytes = c->width;
	p->Height = c->height;
	p->Depth = c->depth;
	return CUDA_SUCCESS;
}

CUresult cuGraphMemsetNodeSetParams(CUgraphNode h, const CUDA_MEMSET_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (n->type != CU_GRAPH_NODE_TYPE_MEMSET || !n->op || (rc = memset_params_check(p)) != CUDA_SUCCESS)
		return n->type != CU_GRAPH_NODE_TYPE_MEMSET || !n->op ? CUDA_ERROR_INVALID_VALUE : rc;
	memset_op_set(n->op, p);
	return CUDA_SUCCESS;
}

/* A copy node's copy replaced, checked like a copy made now. */
static CUresult make_copy(struct sim_ctx *c, const void *arg, struct sim_op **op)
{
	(void)c;
	return sim_copy_op(arg, op);
}

CUresult cuGraphMemcpyNodeSetParams(CUgraphNode h, const CUDA_MEMCPY3D *p)
{
	return node_replace(h, CU_GRAPH_NODE_TYPE_MEMCPY, make_copy, p);
}

/* ---- kernel nodes' attributes: kept per node ---- */

static struct sim_gnode *kernel_node(CUgraphNode h, CUkernelNodeAttrID attr, CUresult *rc)
{
	struct sim_gnode *n = node_get(h, rc);
	if (n && (n->type != CU_GRAPH_NODE_TYPE_KERNEL || (unsigned)attr > 16)) {
		*rc = CUDA_ERROR_INVALID_VALUE;
		return NULL;
	}
	return n;
}

CUresult cuGraphKernelNodeGetAttribute(CUgraphNode h, CUkernelNodeAttrID attr, CUkernelNodeAttrValue *value_out)
{
	CUresult rc;
	struct sim_gnode *n = kernel_node(h, attr, &rc);
	if (!n)
		return rc;
	if (!value_out)
		return CUDA_ERROR_INVALID_VALUE;
	*value_out = n->attrs[attr];
	return CUDA_SUCCESS;
}

CUresult cuGraphKernelNodeSetAttribute(CUgraphNode h, CUkernelNodeAttrID attr, const CUkernelNodeAttrValue *value)
{
	CUresult rc;
	struct sim_gnode *n = kernel_node(h, attr, &rc);
	if (!n)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if (attr == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION && (rc = sim_cluster_check(value, NULL, 8)) != CUDA_SUCCESS)
		return rc;   /* no clusters before capability 9.0 */
	n->attrs[attr] = *value;
	return CUDA_SUCCESS;
}

CUresult cuGraphKernelNodeCopyAttributes(CUgraphNode dst, CUgraphNode src)
{
	CUresult rc;
	struct sim_gnode *d = kernel_node(dst, 0, &rc), *s2 = d ? kernel_node(src, 0, &rc) : NULL;
	if (!d || !s2)
		return rc;
	memcpy(d->attrs, s2->attrs, sizeof(d->attrs));
	return CUDA_SUCCESS;
}

CUresult cuGraphNodeGetType(CUgraphNode h, CUgraphNodeType *type)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!type)
		return CUDA_ERROR_INVALID_VALUE;
	*type = n->type;
	return CUDA_SUCCESS;
}

CUresult cuGraphDestroyNode(CUgraphNode h)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	struct sim_graph *g = n->g;
	if (g->nmem) {
		sim_log("cuGraphDestroyNode: the graph has memory alloc or free nodes; none of its nodes can go");
		return CUDA_ERROR_INVALID_VALUE;
	}
	/* out of the list, and out of every other node's dependencies */
	struct sim_gnode **pp = &g->head, *prev = NULL;
	while (*pp != n) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = n->next;
	if (g->tail == n)
		g->tail = prev;
	g->n--;
	for (struct sim_gnode *o = g->head; o; o = o->next)
		for (size_t i = 0; i < o->ndeps; i++)
			if (o->deps[i] == n)
				o->deps[i--] = o->deps[--o->ndeps];
	node_free(n);
	return CUDA_SUCCESS;
}

/* Edges between nodes of one graph; NULL edge data means plain completion edges. */
static CUresult edges_check(struct sim_graph *g, const CUgraphNode *from, const CUgraphNode *to,
			    const CUgraphEdgeData *data, size_t n)
{
	CUresult rc;
	if (n && (!from || !to))
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = deps_check(g, from, n)) != CUDA_SUCCESS || (rc = deps_check(g, to, n)) != CUDA_SUCCESS)
		return rc;
	for (size_t i = 0; data && i < n; i++)
		if (data[i].from_port || data[i].to_port || data[i].type)
			return CUDA_ERROR_NOT_SUPPORTED;   /* only full-completion edges here */
	for (size_t i = 0; i < n; i++)
		if (from[i] == to[i])
			return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* The graph of an edge list the caller names, checked; NULL with *rc set otherwise. */
static struct sim_graph *edges_graph(CUgraph hg, const CUgraphNode *from, const CUgraphNode *to,
				     const CUgraphEdgeData *data, size_t n, CUresult *rc)
{
	struct sim_graph *g = graph_get(hg, rc);
	if (g && (*rc = edges_check(g, from, to, data, n)) != CUDA_SUCCESS)
		g = NULL;
	return g;
}

CUresult cuGraphAddDependencies_v2(CUgraph hg, const CUgraphNode *from, const CUgraphNode *to,
				   const CUgraphEdgeData *data, size_t n)
{
	CUresult rc;
	if (!edges_graph(hg, from, to, data, n, &rc))
		return rc;
	for (size_t i = 0; i < n; i++)
		if (node_add_dep((struct sim_gnode *)to[i], (struct sim_gnode *)from[i]) < 0)
			return CUDA_ERROR_OUT_OF_MEMORY;
	return CUDA_SUCCESS;
}

CUresult cuGraphRemoveDependencies_v2(CUgraph hg, const CUgraphNode *from, const CUgraphNode *to,
				      const CUgraphEdgeData *data, size_t n)
{
	CUresult rc;
	struct sim_graph *g = edges_graph(hg, from, to, data, n, &rc);
	if (!g)
		return rc;
	if (g->nmem) {
		sim_log("cuGraphRemoveDependencies: the graph has memory alloc or free nodes; its edges stay");
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (size_t i = 0; i < n; i++) {
		struct sim_gnode *t = (struct sim_gnode *)to[i];
		size_t k = 0;
		while (k < t->ndeps && t->deps[k] != (struct sim_gnode *)from[i])
			k++;
		if (k == t->ndeps)
			return CUDA_ERROR_INVALID_VALUE;
		t->deps[k] = t->deps[--t->ndeps];
	}
	return CUDA_SUCCESS;
}

/* Writes up to *num entries; *num becomes the count (or the total when out is NULL). */
static void put_node(CUgraphNode *out, CUgraphEdgeData *data, size_t i, size_t cap, struct sim_gnode *n)
{
	if (out && i < cap)
		out[i] = (CUgraphNode)n;
	if (out && data && i < cap)
		memset(&data[i], 0, sizeof(data[i]));
}

CUresult cuGraphNodeGetDependencies_v2(CUgraphNode h, CUgraphNode *deps, CUgraphEdgeData *data, size_t *num)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!num)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < n->ndeps; i++)
		put_node(deps, data, i, *num, n->deps[i]);
	*num = deps && *num < n->ndeps ? *num : n->ndeps;
	return CUDA_SUCCESS;
}

CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode h, CUgraphNode *out, CUgraphEdgeData *data, size_t *num)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	size_t k = 0;
	if (!n)
		return rc;
	if (!num)
		return CUDA_ERROR_INVALID_VALUE;
	for (struct sim_gnode *o = n->g->head; o; o = o->next)
		for (size_t i = 0; i < o->ndeps; i++)
			if (o->deps[i] == n)
				put_node(out, data, k++, *num, o);
	*num = out && *num < k ? *num : k;
	return CUDA_SUCCESS;
}

CUresult cuGraphGetEdges_v2(CUgraph hg, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *data, size_t *num)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	size_t k = 0;
	if (!g)
		return rc;
	if (!num || (!from) != (!to))
		return CUDA_ERROR_INVALID_VALUE;
	for (struct sim_gnode *o = g->head; o; o = o->next)
		for (size_t i = 0; i < o->ndeps; i++, k++) {
			put_node(from, data, k, *num, o->deps[i]);
			put_node(to, NULL, k, *num, o);
		}
	*num = from && *num < k ? *num : k;
	return CUDA_SUCCESS;
}

static CUresult list_nodes(CUgraph h, CUgraphNode *nodes, size_t *num, int roots)
{
	CUresult rc;
	struct sim_graph *g = graph_get(h, &rc);
	size_t k = 0;
	if (!g)
		return rc;
	if (!num)
		return CUDA_ERROR_INVALID_VALUE;
	for (struct sim_gnode *n = g->head; n; n = n->next)
		if (!roots || !n->ndeps)
			put_node(nodes, NULL, k++, *num, n);
	*num = nodes && *num < k ? *num : k;
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
	if (g->owner) {
		sim_log("cuGraphDestroy: the graph is %s, which owns it", g->owner->bodies ?
			"a body of a conditional node" : "the graph of a child graph node");
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (g->orphan) {
		pthread_mutex_lock(&g_lock);
		struct sim_graph **pp = &g_orphans;
		while (*pp && *pp != g)
			pp = &(*pp)->orphan_next;
		if (*pp)
			*pp = g->orphan_next;
		pthread_mutex_unlock(&g_lock);
	}
	graph_free(g);
	return CUDA_SUCCESS;
}

/* A deep copy; each new node remembers the node it copies (cuGraphNodeFindInClone). */
static struct sim_graph *graph_clone(const struct sim_graph *g)
{
	struct sim_graph *c = graph_new(g->ctx);
	if (!c)
		return NULL;
	for (struct sim_gnode *n = g->head; n; n = n->next) {
		struct sim_gnode *m = node_append(c, n->type, NULL, 0);
		if (!m || (n->op && !(m->op = op_clone(n->op))) || (n->child && !(m->child = graph_clone(n->child)))) {
			graph_free(c);
			return NULL;
		}
		if (m->child) {
			m->child->is_child = 1;
			m->child->owner = m;
		}
		if (n->bodies && cond_clone(m, n) < 0) {
			graph_free(c);
			return NULL;
		}
		m->event = n->event;
		memcpy(m->attrs, n->attrs, sizeof(m->attrs));
		m->clone_of = (struct sim_gnode *)n;
		n->order = c->n - 1;      /* the copy's index, to rebuild the edges below */
	}
	struct sim_gnode **byindex = calloc(c->n ? c->n : 1, sizeof(*byindex));
	if (!byindex || urefs_copy(&c->urefs, &g->urefs) < 0) {
		free(byindex);
		graph_free(c);
		return NULL;
	}
	size_t i = 0;
	for (struct sim_gnode *m = c->head; m; m = m->next)
		byindex[i++] = m;
	for (struct sim_gnode *n = g->head, *m = c->head; n; n = n->next, m = m->next)
		for (size_t k = 0; k < n->ndeps; k++)
			if (node_add_dep(m, byindex[n->deps[k]->order]) < 0) {
				free(byindex);
				graph_free(c);
				return NULL;
			}
	free(byindex);
	return c;
}

CUresult cuGraphClone(CUgraph *out, CUgraph h)
{
	CUresult rc;
	struct sim_graph *g = graph_get(h, &rc);
	if (!g)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (g->nmem) {
		sim_log("cuGraphClone: a graph with memory alloc or free nodes cannot be cloned");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	struct sim_graph *c = graph_clone(g);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*out = (CUgraph)c;
	return CUDA_SUCCESS;
}

CUresult cuGraphNodeFindInClone(CUgraphNode *out, CUgraphNode orig, CUgraph hclone)
{
	CUresult rc;
	struct sim_graph *c = graph_get(hclone, &rc);
	if (!c)
		return rc;
	if (!out || !orig)
		return CUDA_ERROR_INVALID_VALUE;
	for (struct sim_gnode *m = c->head; m; m = m->next)
		if (m->clone_of == (struct sim_gnode *)orig) {
			*out = (CUgraphNode)m;
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_INVALID_VALUE;
}

/* ---- capture ---- */

/* Starts capturing h into g (a new graph when into is NULL), after deps. */
static CUresult begin_capture(CUstream h, CUgraph into, const CUgraphNode *deps, const CUgraphEdgeData *data,
			      size_t ndeps, CUstreamCaptureMode mode)
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
	struct sim_graph *g = into ? graph_get(into, &rc) : graph_new(s->ctx);
	if (!g)
		return into ? rc : CUDA_ERROR_OUT_OF_MEMORY;
	for (size_t i = 0; data && i < ndeps; i++)
		if (data[i].from_port || data[i].to_port || data[i].type)
			return CUDA_ERROR_NOT_SUPPORTED;
	if (into && ((rc = deps_check(g, deps, ndeps)) != CUDA_SUCCESS || g->capture_id))
		return rc != CUDA_SUCCESS ? rc : CUDA_ERROR_ILLEGAL_STATE;
	pthread_mutex_lock(&g_lock);
	if (s->capture || frontier_set(g, (struct sim_gnode *const *)deps, ndeps) < 0) {
		int busy = s->capture != NULL;
		pthread_mutex_unlock(&g_lock);
		if (!into)
			graph_free(g);
		return busy ? CUDA_ERROR_ILLEGAL_STATE : CUDA_ERROR_OUT_OF_MEMORY;
	}
	g->made_by_capture = !into;
	g->capture_err = CUDA_SUCCESS;
	g->capture_id = ++ids;
	s->capture = g;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

CUresult cuStreamBeginCapture_v2(CUstream h, CUstreamCaptureMode mode)
{
	return begin_capture(h, NULL, NULL, NULL, 0, mode);
}

CUresult cuStreamBeginCaptureToGraph(CUstream h, CUgraph g, const CUgraphNode *deps, const CUgraphEdgeData *data,
				     size_t ndeps, CUstreamCaptureMode mode)
{
	if (!g)
		return CUDA_ERROR_INVALID_VALUE;
	return begin_capture(h, g, deps, data, ndeps, mode);
}

CUresult cuStreamUpdateCaptureDependencies_v2(CUstream h, CUgraphNode *deps, const CUgraphEdgeData *data,
					      size_t ndeps, unsigned int flags)
{
	CUresult rc;
	struct sim_stream *s = capture_stream(h, &rc);
	if (!s)
		return rc;
	if (flags > CU_STREAM_SET_CAPTURE_DEPENDENCIES)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; data && i < ndeps; i++)
		if (data[i].from_port || data[i].to_port || data[i].type)
			return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&g_lock);
	struct sim_graph *g = s->capture;
	rc = !g ? CUDA_ERROR_ILLEGAL_STATE : deps_check(g, deps, ndeps);
	if (rc == CUDA_SUCCESS &&
	    frontier_update(g, (struct sim_gnode *const *)deps, ndeps, flags == CU_STREAM_ADD_CAPTURE_DEPENDENCIES) < 0)
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_unlock(&g_lock);
	return rc;
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
	g->nfrontier = 0;
	pthread_mutex_unlock(&g_lock);
	if (g->capture_err) {
		rc = g->capture_err;
		g->capture_err = CUDA_SUCCESS;
		if (g->made_by_capture)
			graph_free(g);   /* a program's own graph stays its own, as it is */
		*out = NULL;
		return rc == CUDA_ERROR_OUT_OF_MEMORY ? rc : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	}
	*out = (CUgraph)g;
	return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream h, CUstreamCaptureStatus *status)
{
	CUresult rc;
	struct sim_stream *s = query_stream(h, &rc);

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
	struct sim_stream *s = query_stream(h, &rc);
	pthread_mutex_lock(&g_lock);
	struct sim_graph *g = s->capture;
	if (id)
		*id = g ? g->capture_id : 0;
	if (graph)
		*graph = (CUgraph)g;
	/* the capture's frontier: the nodes the next operation depends on (valid until the
	 * thread's next call, as the driver's answer is) */
	static __thread CUgraphNode copy[64];
	size_t nf = g ? g->nfrontier : 0;
	if (nf > 64) {
		pthread_mutex_unlock(&g_lock);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	for (size_t i = 0; i < nf; i++)
		copy[i] = (CUgraphNode)g->frontier[i];
	if (deps)
		*deps = nf ? copy : NULL;
	if (edges)
		*edges = NULL;
	if (ndeps)
		*ndeps = nf;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

/* The calling thread's capture mode; set to *set first when set is not NULL. */
CUstreamCaptureMode sim_capture_mode(const CUstreamCaptureMode *set)
{
	if (set)
		tls_mode = *set;
	return tls_mode;
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

/* ---- executable graphs ---- */

static int exec_push(struct sim_gexec *x, struct sim_gstep st)
{
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 16;
		void *p = realloc(x->steps, nc * sizeof(*x->steps));
		if (!p)
			return -1;
		x->steps = p;
		x->cap = nc;
	}
	x->steps[x->n++] = st;
	return 0;
}

static CUresult exec_add_graph(struct sim_gexec *x, struct sim_graph *g);
static void exec_free(struct sim_gexec *x);

/* An empty executable graph of ctx (an instantiated graph, or a conditional node's body). */
static struct sim_gexec *exec_new(struct sim_ctx *ctx)
{
	struct sim_gexec *x = calloc(1, sizeof(*x));
	if (x) {
		x->magic = MAGIC_GEXEC;
		x->ctx = ctx;
		__atomic_add_fetch(&live_execs, 1, __ATOMIC_RELAXED);
	}
	return x;
}

/* x runs c's default at each launch (once, however many nodes use it). */
static int exec_reset_add(struct sim_gexec *x, struct sim_cond *c)
{
	for (size_t i = 0; i < x->nresets; i++)
		if (x->resets[i] == c)
			return 0;
	void *p = realloc(x->resets, (x->nresets + 1) * sizeof(*x->resets));
	if (!p)
		return -1;
	x->resets = p;
	x->resets[x->nresets++] = c;
	return 0;
}

/* A conditional node's step: an op holding an executable graph for each body. */
static CUresult exec_add_cond(struct sim_gexec *x, const struct sim_gnode *n, struct sim_op **out)
{
	struct sim_op *op = sim_op_new(OP_COND);
	*out = op;
	if (!op || !(op->u.cond.bodies = calloc(n->csize, sizeof(*op->u.cond.bodies))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.cond.c = n->cond;
	op->u.cond.type = n->ctype;
	op->u.cond.size = n->csize;
	op->u.cond.owns = 1;
	if ((n->cond->flags & CU_GRAPH_COND_ASSIGN_DEFAULT) && exec_reset_add(x, n->cond) < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (unsigned i = 0; i < n->csize; i++) {
		CUresult rc = body_check(n->bodies[i]);
		if (rc != CUDA_SUCCESS)
			return rc;
		struct sim_gexec *b = exec_new(x->ctx);
		if (!b)
			return CUDA_ERROR_OUT_OF_MEMORY;
		op->u.cond.bodies[i] = b;
		if ((rc = exec_add_graph(b, n->bodies[i])) != CUDA_SUCCESS)
			return rc;
		/* a nested conditional's default is applied as the whole graph's launch begins */
		for (size_t k = 0; k < b->nresets; k++)
			if (exec_reset_add(x, b->resets[k]) < 0)
				return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

void sim_graph_cond_free(struct sim_op *op)
{
	for (unsigned i = 0; op->u.cond.bodies && i < op->u.cond.size; i++)
		if (op->u.cond.bodies[i])
			exec_free(op->u.cond.bodies[i]);
	free(op->u.cond.bodies);
	op->u.cond.bodies = NULL;
}

/* 1 when executable graph b runs a kernel (in a nested conditional's body too): only a
 * kernel can set a conditional's value (cudaGraphSetConditional is device code). */
static int body_runs_kernel(const struct sim_gexec *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct sim_op *op = b->steps[i].op;
		if (!op || !b->steps[i].enabled)
			continue;
		if (op->kind == OP_KERNEL)
			return 1;
		if (op->kind == OP_COND)
			for (unsigned k = 0; k < op->u.cond.size; k++)
				if (op->u.cond.bodies[k] && body_runs_kernel(op->u.cond.bodies[k]))
					return 1;
	}
	return 0;
}

#define COND_ITER_INSNS 10000

/* A WHILE loop that cannot end fails the context as a kernel past the watchdog does: a body
 * with no kernel, which nothing can make stop, or one that has run past the instruction
 * budget in all (a GPU would loop for ever). */
static void cond_runaway(struct sim_stream *s, const char *why)
{
	sim_log("conditional WHILE node stopped: %s", why);
	sim_set_error("conditional WHILE node: %s", why);
	pthread_mutex_lock(&g_lock);
	if (s->ctx->sticky == CUDA_SUCCESS)
		s->ctx->sticky = CUDA_ERROR_LAUNCH_TIMEOUT;
	pthread_mutex_unlock(&g_lock);
}

/* On the stream's worker: the node's body (or bodies, for a loop) runs there, step by step. */
void sim_graph_cond_run(struct sim_stream *s, struct sim_op *op)
{
	if (op->kind == OP_CONDSET) {
		for (size_t i = 0; i < op->u.condset.n; i++)
			atomic_store(&op->u.condset.v[i]->value, op->u.condset.v[i]->dflt);
		return;
	}
	const uint64_t insn0 = atomic_load(&g_insn_count), budget = sim_watchdog_insns();
	for (uint64_t iter = 0;; iter++) {
		unsigned v = atomic_load(&op->u.cond.c->value);
		struct sim_gexec *b = NULL;
		switch (op->u.cond.type) {
		case CU_GRAPH_COND_TYPE_IF:
			b = v ? op->u.cond.bodies[0] : op->u.cond.size == 2 ? op->u.cond.bodies[1] : NULL;
			break;
		case CU_GRAPH_COND_TYPE_WHILE:
			b = v ? op->u.cond.bodies[0] : NULL;
			break;
		default:
			b = v < op->u.cond.size ? op->u.cond.bodies[v] : NULL;
			break;
		}
		if (!b)
			return;
		if (op->u.cond.type == CU_GRAPH_COND_TYPE_WHILE) {
			if (iter == 0 && !body_runs_kernel(b)) {
				cond_runaway(s, "its condition is set and its body has no kernel that could clear it");
				return;
			}
			/* (each iteration counts as COND_ITER_INSNS at least: a loop of tiny kernels
			 * ends too, within seconds) */
			if (budget && atomic_load(&g_insn_count) - insn0 + iter * COND_ITER_INSNS > budget) {
				cond_runaway(s, "its iterations ran past the instruction budget (VGPU_SIM_WATCHDOG_INSNS)");
				return;
			}
		}
		/* the body's own operations run as they are: running one reads it and changes nothing,
		 * and the executable graph outlives its queued launches */
		for (size_t i = 0; i < b->n; i++)
			if (b->steps[i].op && b->steps[i].enabled)
				sim_op_run(s, b->steps[i].op);
		if (op->u.cond.type != CU_GRAPH_COND_TYPE_WHILE || s->ctx->sticky != CUDA_SUCCESS)
			return;
	}
}

/*
 * Appends g's nodes to x in a topological order (Kahn's algorithm, ties in creation order),
 * child graphs inlined, conditional nodes as one step each. CUDA_ERROR_INVALID_VALUE when the
 * dependencies have a cycle.
 */
static CUresult exec_add_graph(struct sim_gexec *x, struct sim_graph *g)
{
	size_t placed = 0;
	for (struct sim_gnode *n = g->head; n; n = n->next)
		n->order = 0;          /* 0: not placed yet */
	while (placed < g->n) {
		int progress = 0;
		for (struct sim_gnode *n = g->head; n; n = n->next) {
			if (n->order)
				continue;
			size_t i = 0;
			while (i < n->ndeps && n->deps[i]->order)
				i++;
			if (i < n->ndeps)
				continue;
			n->order = ++placed;
			progress = 1;
			struct sim_gstep st = { .node = n, .enabled = 1 };
			if (n->bodies) {
				CUresult rc = exec_add_cond(x, n, &st.op);
				if (rc == CUDA_SUCCESS && exec_push(x, st) < 0)
					rc = CUDA_ERROR_OUT_OF_MEMORY;
				if (rc != CUDA_SUCCESS) {
					if (st.op)
						sim_op_free(st.op);
					return rc;
				}
				continue;
			}
			if (n->child) {
				CUresult rc = exec_add_graph(x, n->child);
				if (rc != CUDA_SUCCESS)
					return rc;
				continue;
			}
			if (n->gm) {
				/* an alloc or free node: a step that makes the memory usable or dormant */
				if (!(st.op = sim_op_new(OP_GMEM)))
					return CUDA_ERROR_OUT_OF_MEMORY;
				st.op->u.gm.r = n->gm;
				st.op->u.gm.alloc = n->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC;
				if (exec_push(x, st) < 0) {
					sim_op_free(st.op);
					return CUDA_ERROR_OUT_OF_MEMORY;
				}
				pthread_mutex_lock(&gmem_lock);
				n->gm->refs++;     /* the executable graph keeps the memory too */
				pthread_mutex_unlock(&gmem_lock);
				x->has_mem = 1;
				continue;
			}
			if (n->op && !(st.op = op_clone(n->op)))
				return CUDA_ERROR_OUT_OF_MEMORY;
			if (st.op)
				node_cluster(st.op, n);
			st.event = n->event;
			st.wait = n->type == CU_GRAPH_NODE_TYPE_WAIT_EVENT;
			if ((st.op || st.event) && exec_push(x, st) < 0) {
				if (st.op)
					sim_op_free(st.op);
				return CUDA_ERROR_OUT_OF_MEMORY;
			}
		}
		if (!progress)
			return CUDA_ERROR_INVALID_VALUE;   /* a cycle */
	}
	return CUDA_SUCCESS;
}

static void exec_free(struct sim_gexec *x)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->steps[i].op) {
			if (x->steps[i].op->kind == OP_GMEM)
				gmem_unref(x->steps[i].op->u.gm.r);
			sim_op_free(x->steps[i].op);
		}
	if (x->src)
		x->src->exec = NULL;
	urefs_release(&x->urefs);
	free(x->resets);
	free(x->steps);
	x->magic = 0;
	free(x);
	__atomic_sub_fetch(&live_execs, 1, __ATOMIC_RELAXED);
}

/* An executable graph holds the user-object references of its graph and its child graphs. */
static int exec_urefs(struct sim_gexec *x, const struct sim_graph *g)
{
	if (urefs_copy(&x->urefs, &g->urefs) < 0)
		return -1;
	for (const struct sim_gnode *n = g->head; n; n = n->next)
		if (n->child && exec_urefs(x, n->child) < 0)
			return -1;
	return 0;
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
	if (g->nmem && g->exec) {
		sim_log("cuGraphInstantiate: the graph has memory alloc or free nodes and an executable graph "
			"already; destroy that one first");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	struct sim_gexec *x = exec_new(g->ctx);
	if (!x)
		return CUDA_ERROR_OUT_OF_MEMORY;
	x->flags = flags;
	if ((rc = exec_add_graph(x, g)) != CUDA_SUCCESS || (rc = exec_urefs(x, g) < 0 ? CUDA_ERROR_OUT_OF_MEMORY : 0)) {
		exec_free(x);
		return rc;
	}
	/* an allocation this executable graph also frees is never left allocated by a launch */
	for (size_t i = 0; i < x->n; i++) {
		struct sim_gstep *a = &x->steps[i];
		if (!a->op || a->op->kind != OP_GMEM || !a->op->u.gm.alloc)
			continue;
		for (size_t j = 0; j < x->n; j++) {
			const struct sim_op *f = x->steps[j].op;
			if (f && f->kind == OP_GMEM && !f->u.gm.alloc && f->u.gm.r == a->op->u.gm.r)
				a->freed_here = 1;
		}
	}
	if (g->nmem) {
		x->src = g;
		g->exec = x;
	}
	*out = (CUgraphExec)x;
	return CUDA_SUCCESS;
}

/*
 * The executable graph takes the new graph's operations when both run the same kinds of
 * steps in the same order (same topology); otherwise it is left as it was.
 */
CUresult cuGraphExecUpdate_v2(CUgraphExec h, CUgraph hg, CUgraphExecUpdateResultInfo *info)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	if (!x)
		return rc;
	struct sim_graph *g = graph_get(hg, &rc);
	if (!g)
		return rc;
	if (!info)
		return CUDA_ERROR_INVALID_VALUE;
	memset(info, 0, sizeof(*info));
	if (x->has_mem || g->nmem) {
		/* memory alloc and free nodes cannot be updated (cuda.h: "API unsupported") */
		info->result = CU_GRAPH_EXEC_UPDATE_ERROR_NOT_SUPPORTED;
		return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
	}
	struct sim_gexec fresh = { .magic = MAGIC_GEXEC, .ctx = g->ctx };
	if ((rc = exec_add_graph(&fresh, g)) != CUDA_SUCCESS) {
		for (size_t i = 0; i < fresh.n; i++)
			if (fresh.steps[i].op)
				sim_op_free(fresh.steps[i].op);
		free(fresh.resets);
		free(fresh.steps);
		info->result = CU_GRAPH_EXEC_UPDATE_ERROR;
		return rc;
	}
	int same = fresh.n == x->n;
	for (size_t i = 0; same && i < x->n; i++) {
		const struct sim_gstep *a = &x->steps[i], *b = &fresh.steps[i];
		same = (!a->op) == (!b->op) && (!a->event) == (!b->event) && a->wait == b->wait &&
		       (!a->op || a->op->kind == b->op->kind);
		if (!same) {
			info->errorNode = (CUgraphNode)b->node;
			info->result = CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED;
		}
	}
	if (!same && !info->result)
		info->result = CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
	if (same) {
		sim_ctx_sync(x->ctx);     /* launches still queued use the old operations */
		for (size_t i = 0; i < x->n; i++) {
			struct sim_gstep *a = &x->steps[i];
			if (a->op)
				sim_op_free(a->op);
			a->op = fresh.steps[i].op;
			a->event = fresh.steps[i].event;
			a->node = fresh.steps[i].node;
			fresh.steps[i].op = NULL;
		}
		/* and the new graph's conditionals take their defaults at its launches */
		struct sim_cond **r = x->resets;
		x->resets = fresh.resets;
		x->nresets = fresh.nresets;
		fresh.resets = r;
		info->result = CU_GRAPH_EXEC_UPDATE_SUCCESS;
	}
	for (size_t i = 0; i < fresh.n; i++)
		if (fresh.steps[i].op)
			sim_op_free(fresh.steps[i].op);
	free(fresh.resets);
	free(fresh.steps);
	return same ? CUDA_SUCCESS : CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
}

CUresult cuGraphExecDestroy(CUgraphExec h)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	if (!x)
		return rc;
	sim_ctx_sync(x->ctx);          /* launches still queued use the exec's kernels' modules */
	exec_free(x);
	return CUDA_SUCCESS;
}

CUresult cuGraphExecGetFlags(CUgraphExec h, cuuint64_t *flags)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	if (!x)
		return rc;
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = x->flags;
	return CUDA_SUCCESS;
}

/* The step node made in x, or in the executable bodies of x's conditional nodes (a program
 * changes a body's nodes through the executable graph that holds them, as XLA does). */
static struct sim_gstep *exec_step(struct sim_gexec *x, CUgraphNode h)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->steps[i].node == (const struct sim_gnode *)h)
			return &x->steps[i];
	for (size_t i = 0; i < x->n; i++) {
		const struct sim_op *op = x->steps[i].op;
		if (!op || op->kind != OP_COND)
			continue;
		for (unsigned k = 0; k < op->u.cond.size; k++) {
			struct sim_gstep *st = exec_step(op->u.cond.bodies[k], h);
			if (st)
				return st;
		}
	}
	return NULL;
}

CUresult cuGraphNodeSetEnabled(CUgraphExec h, CUgraphNode node, unsigned int enabled)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	if (!x)
		return rc;
	struct sim_gstep *st = exec_step(x, node);
	if (!st || !st->op || st->op->kind == OP_GMEM) /* only kernel, copy and memset nodes can be disabled */
		return CUDA_ERROR_INVALID_VALUE;
	st->enabled = enabled != 0;
	return CUDA_SUCCESS;
}

CUresult cuGraphNodeGetEnabled(CUgraphExec h, CUgraphNode node, unsigned int *enabled)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	if (!x)
		return rc;
	struct sim_gstep *st = exec_step(x, node);
	if (!st || !st->op || st->op->kind == OP_GMEM || !enabled)
		return CUDA_ERROR_INVALID_VALUE;
	*enabled = (unsigned)st->enabled;
	return CUDA_SUCCESS;
}

static CUresult exec_set_event(CUgraphExec h, CUgraphNode node, CUevent he, int wait)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	struct sim_event *e = (struct sim_event *)he;
	if (!x)
		return rc;
	struct sim_gstep *st = exec_step(x, node);
	if (!st || !st->event || st->wait != wait || !e || e->magic != MAGIC_EVENT)
		return CUDA_ERROR_INVALID_VALUE;
	st->event = e;
	return CUDA_SUCCESS;
}

CUresult cuGraphExecEventRecordNodeSetEvent(CUgraphExec h, CUgraphNode node, CUevent e)
{
	return exec_set_event(h, node, e, 0);
}

CUresult cuGraphExecEventWaitNodeSetEvent(CUgraphExec h, CUgraphNode node, CUevent e)
{
	return exec_set_event(h, node, e, 1);
}

/* ---- host nodes' parameters ---- */

CUresult cuGraphHostNodeGetParams(CUgraphNode h, CUDA_HOST_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!p || n->type != CU_GRAPH_NODE_TYPE_HOST || !n->op || n->op->kind != OP_HOSTFN)
		return CUDA_ERROR_INVALID_VALUE;
	p->fn = n->op->u.host.fn;
	p->userData = n->op->u.host.data;
	return CUDA_SUCCESS;
}

CUresult cuGraphHostNodeSetParams(CUgraphNode h, const CUDA_HOST_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_gnode *n = node_get(h, &rc);
	if (!n)
		return rc;
	if (!p || !p->fn || n->type != CU_GRAPH_NODE_TYPE_HOST || !n->op || n->op->kind != OP_HOSTFN)
		return CUDA_ERROR_INVALID_VALUE;
	n->op->u.host.fn = p->fn;
	n->op->u.host.data = p->userData;
	return CUDA_SUCCESS;
}

CUresult cuGraphExecHostNodeSetParams(CUgraphExec h, CUgraphNode node, const CUDA_HOST_NODE_PARAMS *p)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	if (!x)
		return rc;
	struct sim_gstep *st = exec_step(x, node);
	if (!st || !st->op || st->op->kind != OP_HOSTFN || !p || !p->fn)
		return CUDA_ERROR_INVALID_VALUE;
	sim_ctx_sync(x->ctx);     /* launches already queued run their own clones; be plain about it */
	st->op->u.host.fn = p->fn;
	st->op->u.host.data = p->userData;
	return CUDA_SUCCESS;
}

CUresult cuGraphExecMemsetNodeSetParams(CUgraphExec h, CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS *p, CUcontext ctx)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	(void)ctx;
	if (!x)
		return rc;
	struct sim_gstep *st = exec_step(x, node);
	if (!st || !st->op || st->op->kind != OP_SET)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = memset_params_check(p)) != CUDA_SUCCESS)
		return rc;
	sim_ctx_sync(x->ctx);     /* a launch still queued keeps its own copy, but be plain about it */
	memset_op_set(st->op, p);
	return CUDA_SUCCESS;
}

/* The executable graph's copy of a node (an operation of `kind`) runs an operation made of new
 * parameters arg; the graph's own node keeps its own. */
static CUresult step_replace(CUgraphExec h, CUgraphNode node, int kind, op_maker make, const void *arg)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	struct sim_op *op = NULL;
	if (!x)
		return rc;
	struct sim_gstep *st = exec_step(x, node);
	if (!st || !st->op || st->op->kind != kind || !arg)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = op_in_ctx(x->ctx, make, arg, &op)) != CUDA_SUCCESS)
		return rc;
	if (st->node)
		node_cluster(op, st->node);   /* the node's cluster shape stays with it */
	sim_ctx_sync(x->ctx);     /* launches already queued run their own clones; be plain about it */
	sim_op_free(st->op);
	st->op = op;
	return CUDA_SUCCESS;
}

CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec h, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *p)
{
	return step_replace(h, node, OP_KERNEL, make_kernel, p);
}

CUresult cuGraphExecMemcpyNodeSetParams(CUgraphExec h, CUgraphNode node, const CUDA_MEMCPY3D *p, CUcontext ctx)
{
	(void)ctx;   /* the node runs in the executable graph's context, which must be ctx */
	return step_replace(h, node, OP_COPY, make_copy, p);
}

/* 1 when st came from a node of n's child graph, or of a graph nested in it. */
static int step_in_child(const struct sim_gstep *st, const struct sim_gnode *n)
{
	for (const struct sim_graph *g = st->node ? st->node->g : NULL; g && g->owner; g = g->owner->g)
		if (g->owner == n)
			return 1;
	return 0;
}

/*
 * A child graph node of an executable graph takes the operations of another graph of the
 * same shape (its nodes, in the same order, of the same kinds): the steps the node's graph
 * made are replaced by the new graph's, as cuGraphExecUpdate does for a whole graph.
 */
CUresult cuGraphExecChildGraphNodeSetParams(CUgraphExec h, CUgraphNode node, CUgraph child)
{
	CUresult rc;
	struct sim_gexec *x = exec_get(h, &rc);
	if (!x)
		return rc;
	struct sim_gnode *n = node_get(node, &rc);
	if (!n)
		return rc;
	struct sim_graph *c = graph_get(child, &rc);
	if (!c)
		return rc;
	if (n->type != CU_GRAPH_NODE_TYPE_GRAPH || !n->child || c->nmem || c == n->child)
		return CUDA_ERROR_INVALID_VALUE;
	size_t first = 0, k = 0;
	for (size_t i = 0; i < x->n; i++)
		if (step_in_child(&x->steps[i], n) && !k++)
			first = i;
	struct sim_gexec fresh = { .magic = MAGIC_GEXEC, .ctx = x->ctx };
	rc = exec_add_graph(&fresh, c);
	int same = rc == CUDA_SUCCESS && fresh.n == k;
	for (size_t i = 0; same && i < k; i++) {
		const struct sim_gstep *a = &x->steps[first + i], *b = &fresh.steps[i];
		same = (!a->op) == (!b->op) && (!a->event) == (!b->event) && a->wait == b->wait &&
		       (!a->op || a->op->kind == b->op->kind);
	}
	if (same) {
		sim_ctx_sync(x->ctx);     /* launches still queued use the old operations */
		for (size_t i = 0; i < k; i++) {
			struct sim_gstep *a = &x->steps[first + i];
			if (a->op)
				sim_op_free(a->op);
			a->op = fresh.steps[i].op;
			a->event = fresh.steps[i].event;
			fresh.steps[i].op = NULL;
		}
	} else if (rc == CUDA_SUCCESS) {
		sim_log("cuGraphExecChildGraphNodeSetParams: the graph's nodes are not those of the node's graph "
			"(%zu operations for %zu, or of other kinds)", fresh.n, k);
		rc = CUDA_ERROR_INVALID_VALUE;
	}
	for (size_t i = 0; i < fresh.n; i++)
		if (fresh.steps[i].op)
			sim_op_free(fresh.steps[i].op);
	free(fresh.steps);
	free(fresh.resets);
	return rc;
}

/*
 * Before a launch of an executable graph with memory nodes: an allocation a previous launch
 * left allocated must have been freed, unless the graph was instantiated to free it itself
 * (AUTO_FREE_ON_LAUNCH: the launch frees it first, as a cuMemFreeAsync on the stream would).
 */
static CUresult launch_mem_check(struct sim_gexec *x, struct sim_stream *s)
{
	CUresult rc = CUDA_SUCCESS;
	pthread_mutex_lock(&g_lock);
	int capturing = s->capture != NULL;
	pthread_mutex_unlock(&g_lock);
	if (capturing) {
		sim_log("cuGraphLaunch: a graph with memory alloc or free nodes cannot be launched into a capture");
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	pthread_mutex_lock(&gmem_lock);
	for (size_t i = 0; i < x->n && rc == CUDA_SUCCESS; i++) {
		const struct sim_op *op = x->steps[i].op;
		if (!op || op->kind != OP_GMEM || !op->u.gm.alloc)
			continue;
		if (!op->u.gm.r->ctx)
			rc = CUDA_ERROR_CONTEXT_IS_DESTROYED;
		else if (op->u.gm.r->outstanding && !(x->flags & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH)) {
			sim_log("cuGraphLaunch: the graph's allocation at 0x%llx from its previous launch was not freed; "
				"free it (cuMemFreeAsync) or instantiate with AUTO_FREE_ON_LAUNCH",
				(unsigned long long)op->u.gm.r->dptr);
			rc = CUDA_ERROR_INVALID_VALUE;
		}
	}
	for (size_t i = 0; i < x->n && rc == CUDA_SUCCESS; i++) {
		const struct sim_op *op = x->steps[i].op;
		if (!op || op->kind != OP_GMEM || !op->u.gm.alloc || !op->u.gm.r->outstanding)
			continue;
		struct sim_op *f = sim_op_new(OP_GMEM);
		if (!f) {
			rc = CUDA_ERROR_OUT_OF_MEMORY;
			break;
		}
		f->u.gm.r = op->u.gm.r;
		f->u.gm.alloc = 0;
		op->u.gm.r->outstanding = 0;
		sim_stream_enqueue(s, f);
	}
	pthread_mutex_unlock(&gmem_lock);
	return rc;
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
	if (sim_ctx_res(s->ctx) != x->ctx)   /* (a green context's stream runs its primary's graphs) */
		return CUDA_ERROR_INVALID_CONTEXT;
	if (s->ctx->sticky)
		return s->ctx->sticky;
	if (x->has_mem && (rc = launch_mem_check(x, s)) != CUDA_SUCCESS)
		return rc;
	if (x->nresets) {
		struct sim_op *op = sim_op_new(OP_CONDSET);
		if (!op)
			return CUDA_ERROR_OUT_OF_MEMORY;
		op->u.condset.v = x->resets;   /* the executable graph outlives its queued launches */
		op->u.condset.n = x->nresets;
		sim_stream_enqueue(s, op);
	}
	for (size_t i = 0; i < x->n; i++) {
		const struct sim_gstep *st = &x->steps[i];
		if (st->op) {
			if (!st->enabled)
				continue;
			struct sim_op *op = op_clone(st->op);
			if (!op)
				return CUDA_ERROR_OUT_OF_MEMORY;
			sim_stream_enqueue(s, op);
		} else if (st->wait) {
			rc = cuStreamWaitEvent((CUstream)s, (CUevent)st->event, 0);
		} else {
			rc = cuEventRecord((CUevent)st->event, (CUstream)s);
		}
		if (rc != CUDA_SUCCESS)
			return rc;
	}
	if (x->has_mem) {
		/* in call order: what this launch leaves allocated, and what it frees of others' */
		pthread_mutex_lock(&gmem_lock);
		for (size_t i = 0; i < x->n; i++) {
			const struct sim_gstep *st = &x->steps[i];
			if (st->op && st->op->kind == OP_GMEM)
				st->op->u.gm.r->outstanding = st->op->u.gm.alloc && !st->freed_here;
		}
		pthread_mutex_unlock(&gmem_lock);
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

/* ---- graph memory: what graphs hold, device by device ---- */

/* Nothing is cached past the release of a graph's allocation, so there is nothing to trim. */
CUresult cuDeviceGraphMemTrim(CUdevice dev)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	return dev >= 0 && dev < g_ndev ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult cuDeviceGetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr, void *value)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (dev < 0 || dev >= g_ndev)
		return CUDA_ERROR_INVALID_DEVICE;
	if (!value || attr < CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT || attr > CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH)
		return CUDA_ERROR_INVALID_VALUE;
	/* reserved equals used: graph memory is taken and given back whole, never cached */
	pthread_mutex_lock(&gmem_lock);
	switch (attr) {
	case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH:
		*(cuuint64_t *)value = gmem_used_high[dev];
		break;
	case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH:
		*(cuuint64_t *)value = gmem_res_high[dev];
		break;
	default:
		*(cuuint64_t *)value = gmem_used[dev];
		break;
	}
	pthread_mutex_unlock(&gmem_lock);
	return CUDA_SUCCESS;
}

CUresult cuDeviceSetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr, void *value)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (dev < 0 || dev >= g_ndev)
		return CUDA_ERROR_INVALID_DEVICE;
	/* only the high-water marks can be reset, to 0 */
	if (!value || (attr != CU_GRAPH_MEM_ATTR_USED_MEM_HIGH && attr != CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) ||
	    *(cuuint64_t *)value != 0)
		return CUDA_ERROR_INVALID_VALUE;
	/* a reset starts the mark again from what graphs hold now */
	pthread_mutex_lock(&gmem_lock);
	if (attr == CU_GRAPH_MEM_ATTR_USED_MEM_HIGH)
		gmem_used_high[dev] = gmem_used[dev];
	else
		gmem_res_high[dev] = gmem_used[dev];
	pthread_mutex_unlock(&gmem_lock);
	return CUDA_SUCCESS;
}

/* The per-thread-default-stream twins. */
CUresult cuStreamBeginCaptureToGraph_ptsz(CUstream h, CUgraph g, const CUgraphNode *deps,
					  const CUgraphEdgeData *data, size_t ndeps, CUstreamCaptureMode mode);
CUresult cuStreamBeginCaptureToGraph_ptsz(CUstream h, CUgraph g, const CUgraphNode *deps,
					  const CUgraphEdgeData *data, size_t ndeps, CUstreamCaptureMode mode)
{
	return cuStreamBeginCaptureToGraph(h ? h : CU_STREAM_PER_THREAD, g, deps, data, ndeps, mode);
}
CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream h, CUgraphNode *deps, const CUgraphEdgeData *data,
						   size_t ndeps, unsigned int flags);
CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream h, CUgraphNode *deps, const CUgraphEdgeData *data,
						   size_t ndeps, unsigned int flags)
{
	return cuStreamUpdateCaptureDependencies_v2(h ? h : CU_STREAM_PER_THREAD, deps, data, ndeps, flags);
}
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

/* g and the graphs its nodes own (child graphs, conditional bodies), recursively */
static long graph_tree_count(const struct sim_graph *g)
{
	long n = 1;
	for (const struct sim_gnode *nd = g->head; nd; nd = nd->next) {
		if (nd->child)
			n += graph_tree_count(nd->child);
		for (unsigned i = 0; nd->bodies && i < nd->csize; i++)
			if (nd->bodies[i])
				n += graph_tree_count(nd->bodies[i]);
	}
	return n;
}

/*
 * Test hook: frees the graphs of captures whose streams were all destroyed (g_orphans), as the
 * end of the process would. For a harness that runs many programs' sessions in one process
 * once they have all ended (no handle of one is left): kept, they add up without bound there,
 * and with them the graph allocations they hold, which sim_graph_mem_user_free searches on
 * every cuMemFree.
 */
SIM_EXPORT void vgpu_sim_release_orphans(void)
{
	pthread_mutex_lock(&g_lock);
	struct sim_graph *g = g_orphans;
	g_orphans = NULL;
	pthread_mutex_unlock(&g_lock);
	while (g) {
		struct sim_graph *next = g->orphan_next;
		graph_free(g);
		g = next;
	}
}

/*
 * Test hook: the graphs, executable graphs, memory pools (cuMemPoolCreate's), libraries and
 * stream-ordered allocations that exist now (graphs orphaned by their capture's streams
 * aside). The driver keeps all but libraries when the context they were made in goes
 * (cuCtxDestroy frees none of them), so a proxy that forgets a zone's handle of one without
 * destroying it has leaked it; the fuzz harness checks that nothing is left once both zones
 * have ended, and a worker on the simulator once its zone is freed.
 */
SIM_EXPORT void vgpu_sim_live_objects(long *graphs, long *execs, long *pools, long *libraries, long *ordered)
{
	/* not counted: graphs of captures whose streams were all destroyed (g_orphans), which a
	 * program holds only if it asked for the capture's graph, and which the driver keeps */
	long orphans = 0;
	pthread_mutex_lock(&g_lock);
	for (const struct sim_graph *g = g_orphans; g; g = g->orphan_next)
		orphans += graph_tree_count(g);
	pthread_mutex_unlock(&g_lock);
	*graphs = __atomic_load_n(&live_graphs, __ATOMIC_RELAXED) - orphans;
	*execs = __atomic_load_n(&live_execs, __ATOMIC_RELAXED);
	*pools = sim_pool_live();
	*ordered = sim_pool_live_allocs();
	unsigned libs, kernels;
	vgpu_library_counts(&libs, &kernels);
	*libraries = libs;
}

/* ---------------------------------------------------------------- user objects */

static struct sim_uobj *uobj_get(CUuserObject h, CUresult *rc)
{
	struct sim_uobj *o = (struct sim_uobj *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!o || o->magic != MAGIC_UOBJ) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	return *rc ? NULL : o;
}

CUresult cuUserObjectCreate(CUuserObject *out, void *ptr, CUhostFn destroy, unsigned int initialRefcount,
			    unsigned int flags)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	/* the driver takes no other flags (destructors run on a thread of their own) */
	if (!out || !destroy || !initialRefcount || initialRefcount > INT_MAX ||
	    flags != CU_USER_OBJECT_NO_DESTRUCTOR_SYNC)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_uobj *o = calloc(1, sizeof(*o));
	if (!o)
		return CUDA_ERROR_OUT_OF_MEMORY;
	o->magic = MAGIC_UOBJ;
	o->refs = (int)initialRefcount;
	o->ptr = ptr;
	o->fn = destroy;
	pthread_mutex_lock(&g_lock);
	o->all_next = g_uobjs;
	g_uobjs = o;
	pthread_mutex_unlock(&g_lock);
	*out = (CUuserObject)o;
	return CUDA_SUCCESS;
}

CUresult cuUserObjectRetain(CUuserObject h, unsigned int count)
{
	CUresult rc;
	struct sim_uobj *o = uobj_get(h, &rc);
	if (!o)
		return rc;
	if (!count || count > INT_MAX - (unsigned)__atomic_load_n(&o->refs, __ATOMIC_RELAXED))
		return CUDA_ERROR_INVALID_VALUE;
	__atomic_add_fetch(&o->refs, (int)count, __ATOMIC_RELAXED);
	return CUDA_SUCCESS;
}

CUresult cuUserObjectRelease(CUuserObject h, unsigned int count)
{
	CUresult rc;
	struct sim_uobj *o = uobj_get(h, &rc);
	if (!o)
		return rc;
	/* (more than it holds: undefined for the driver, refused here) */
	if (!count || count > (unsigned)__atomic_load_n(&o->refs, __ATOMIC_RELAXED))
		return CUDA_ERROR_INVALID_VALUE;
	uobj_drop(o, count);
	return CUDA_SUCCESS;
}

CUresult cuGraphRetainUserObject(CUgraph hg, CUuserObject h, unsigned int count, unsigned int flags)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	if (!g)
		return rc;
	struct sim_uobj *o = uobj_get(h, &rc);
	if (!o)
		return rc;
	int move = flags == CU_GRAPH_USER_OBJECT_MOVE;
	int have = __atomic_load_n(&o->refs, __ATOMIC_RELAXED);
	if ((flags && !move) || !count || (move ? count > (unsigned)have : count > INT_MAX - (unsigned)have))
		return CUDA_ERROR_INVALID_VALUE;
	if (urefs_add(&g->urefs, o, count) < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!move)   /* moved: the caller's references become the graph's */
		__atomic_add_fetch(&o->refs, (int)count, __ATOMIC_RELAXED);
	return CUDA_SUCCESS;
}

CUresult cuGraphReleaseUserObject(CUgraph hg, CUuserObject h, unsigned int count)
{
	CUresult rc;
	struct sim_graph *g = graph_get(hg, &rc);
	if (!g)
		return rc;
	struct sim_uobj *o = uobj_get(h, &rc);
	if (!o)
		return rc;
	for (size_t i = 0; i < g->urefs.n; i++)
		if (g->urefs.v[i].o == o) {
			if (!count || count > g->urefs.v[i].count)
				return CUDA_ERROR_INVALID_VALUE;
			g->urefs.v[i].count -= count;
			if (!g->urefs.v[i].count)
				g->urefs.v[i] = g->urefs.v[--g->urefs.n];
			uobj_drop(o, count);
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_INVALID_VALUE;   /* the graph holds none */
}
