/* SPDX-License-Identifier: MIT */
/* hostfunc.c — host functions (cuLaunchHostFunc, graph host nodes), stream callbacks and user objects' destructors, run in the zone. */
#include "client.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "custom_wire.h"
#include "vgpu_calls.h"

/*
 * Host functions. A zone's function pointer means nothing to the proxy, so the zone names
 * each (function, data) pair by a token: slot index + 1 in the low 32 bits, the slot's
 * generation above (a token of a slot since reused runs nothing). The worker gives the
 * driver a function of its own that hands the token back to this process's host-function
 * thread, waiting in VGPU_OP_HOSTFN on a channel of its own, and holds the stream until the
 * thread has run it, as the driver holds a stream while a host function runs; the program's
 * call returns at once, as with the driver. The launch's reply says whether the worker keeps
 * the record (a launch into a stream being captured: a graph's host node, run at every
 * launch of the graph) or it runs once; a slot that runs once is freed after it ran.
 */
struct hslot {
	CUhostFn fn;                /* a host function, or NULL for a stream callback: */
	CUstreamCallback cb;        /* called with the stream the program named */
	CUstream stream;
	void *data;
	uint32_t gen;
	int used;
	int kept;     /* -1 until the launch's reply says; 1: a graph's host node; 0: runs once */
	int ran;      /* it ran before the reply came */
};

static pthread_mutex_t hlock = PTHREAD_MUTEX_INITIALIZER;
static struct hslot *hslots;
static uint32_t nhslots, caphslots, hfree_hint;
static int hthread_started;

static void hostfn_atfork_child(void)
{
	pthread_mutex_init(&hlock, NULL);
	hthread_started = 0;   /* the thread stayed in the parent */
}

static void hostfn_atfork_once(void)
{
	pthread_atfork(NULL, NULL, hostfn_atfork_child);
}

/* A slot for (fn, data) or (cb, stream, data): the kept one of the same host function, or a
 * new one. 0 when out of memory. Under hlock. */
static uint64_t slot_get(CUhostFn fn, CUstreamCallback cb, CUstream stream, void *data)
{
	uint32_t i;

	for (i = 0; fn && i < nhslots; i++)
		if (hslots[i].used && hslots[i].kept == 1 && hslots[i].fn == fn && hslots[i].data == data)
			return (uint64_t)hslots[i].gen << 32 | (i + 1);
	for (i = hfree_hint; i < nhslots && hslots[i].used; i++)
		;
	if (i == nhslots) {
		if (nhslots == caphslots) {
			uint32_t nc = caphslots ? caphslots * 2 : 64;
			struct hslot *ns = nc <= (1u << 24) ? realloc(hslots, nc * sizeof(*ns)) : NULL;
			if (!ns)
				return 0;
			hslots = ns;
			caphslots = nc;
		}
		hslots[nhslots++].gen = 0;
	}
	uint32_t gen = hslots[i].gen + 1;
	hslots[i] = (struct hslot){ .fn = fn, .cb = cb, .stream = stream, .data = data, .gen = gen, .used = 1,
				    .kept = -1 };
	hfree_hint = i + 1;
	return (uint64_t)gen << 32 | (i + 1);
}

static struct hslot *slot_of(uint64_t token)
{
	uint32_t i = (uint32_t)token - 1;
	return i < nhslots && hslots[i].used && hslots[i].gen == (uint32_t)(token >> 32) ? &hslots[i] : NULL;
}

static void slot_free(struct hslot *h)
{
	uint32_t i = (uint32_t)(h - hslots);

	h->used = 0;
	if (i < hfree_hint)
		hfree_hint = i;
}

/* The thread that runs the zone's host functions, on a channel of its own. */
static void *hostfn_thread(void *arg)
{
	uint64_t done = 0, ticket, token, *pt = &ticket, *pk = &token;
	unsigned failures = 0;
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);   /* the program's signals go to its own threads */
	for (;;) {
		void *av[VGPU_HWW_NARGS] = { [VGPU_HWW_DONE] = &done, [VGPU_HWW_TICKET] = &pt, [VGPU_HWW_TOKEN] = &pk };
		ticket = token = 0;
		CUresult r = vgpu_client_call(&vgpu_wire_hostfn_wait, av);
		done = 0;
		if (r != CUDA_SUCCESS) {
			if (r == CUDA_ERROR_DEVICE_UNAVAILABLE || ++failures > 100) {
				vgpu_client_log(1, "host functions: waiting for them failed (%d); no more will run", (int)r);
				return NULL;
			}
			continue;
		}
		failures = 0;
		if (!ticket)
			continue;
		pthread_mutex_lock(&hlock);
		struct hslot *h = slot_of(token);
		CUhostFn fn = h ? h->fn : NULL;
		CUstreamCallback cb = h ? h->cb : NULL;
		CUstream stream = h ? h->stream : NULL;
		void *data = h ? h->data : NULL;
		pthread_mutex_unlock(&hlock);
		if (fn)
			fn(data);
		else if (cb)
			cb(stream, CUDA_SUCCESS, data);
		else
			vgpu_client_log(1, "host functions: vgpu-proxy named token 0x%llx, which names none; skipped",
					(unsigned long long)token);
		pthread_mutex_lock(&hlock);
		if ((h = slot_of(token)) != NULL) {
			if (h->kept == 0)
				slot_free(h);
			else if (h->kept < 0)
				h->ran = 1;
		}
		pthread_mutex_unlock(&hlock);
		done = ticket;
	}
	return NULL;
}

/* The host-function thread of this process, started on first use. Under hlock. */
static CUresult thread_start(void)
{
	pthread_attr_t a;
	pthread_t t;

	if (hthread_started)
		return CUDA_SUCCESS;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &a, hostfn_thread, NULL);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		vgpu_client_log(0, "host functions: cannot start the thread that runs them (%d)", rc);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	hthread_started = 1;
	return CUDA_SUCCESS;
}

/* A slot's token for what a call is about to hand the worker (the thread that will run it
 * started). 0 with *err set when that cannot be. */
static uint64_t token_take(CUhostFn fn, CUstreamCallback cb, CUstream s, void *data, CUresult *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	uint64_t token = 0;

	pthread_once(&once, hostfn_atfork_once);
	pthread_mutex_lock(&hlock);
	*err = thread_start();
	if (*err == CUDA_SUCCESS && !(token = slot_get(fn, cb, s, data)))
		*err = CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_unlock(&hlock);
	return token;
}

/* After the call that handed token over: a slot the worker keeps (kept, the call succeeded)
 * names a graph's host node; one that failed, or ran once already, is done with. */
static void token_settle(uint64_t token, CUresult r, int kept)
{
	pthread_mutex_lock(&hlock);
	struct hslot *h = slot_of(token);
	if (h && h->kept < 0) {
		h->kept = r == CUDA_SUCCESS && kept;
		if (!h->kept && (r != CUDA_SUCCESS || h->ran))
			slot_free(h);
	}
	pthread_mutex_unlock(&hlock);
}

/* A host function (fn) or a stream callback (cb) queued on stream s. */
static CUresult host_func(CUstream s, CUhostFn fn, CUstreamCallback cb, void *userData, int ptsz)
{
	uint32_t kept = 0, *pkept = &kept;
	CUresult r;
	uint64_t token = token_take(fn, cb, s, userData, &r);

	if (!token)
		return r;
	void *av[VGPU_HFW_NARGS] = { [VGPU_HFW_STREAM] = &s, [VGPU_HFW_TOKEN] = &token, [VGPU_HFW_KEPT] = &pkept };
	r = vgpu_client_call(ptsz ? &vgpu_wire_hostfn_launch_ptsz : &vgpu_wire_hostfn_launch, av);
	token_settle(token, r, kept);
	return r;
}

CUresult CUDAAPI cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
	return fn ? host_func(hStream, fn, NULL, userData, 0) : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
	return fn ? host_func(hStream, fn, NULL, userData, 1) : CUDA_ERROR_INVALID_VALUE;
}

/*
 * A graph host node's parameters: the worker answers with the token of its record, which
 * names the program's function and data here; new parameters are a kept slot's token.
 */
CUresult CUDAAPI cuGraphHostNodeGetParams(CUgraphNode hNode, CUDA_HOST_NODE_PARAMS *nodeParams)
{
	uint64_t token = 0, *pt = &token;
	void *av[VGPU_HNW_NARGS] = { [VGPU_HNW_NODE] = &hNode, [VGPU_HNW_TOKEN] = &pt };

	if (!nodeParams)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = vgpu_client_call(&vgpu_wire_host_node_get, av);
	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&hlock);
	struct hslot *h = slot_of(token);
	if (h && h->fn) {
		nodeParams->fn = h->fn;
		nodeParams->userData = h->data;
	} else {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_unlock(&hlock);
	return r;
}

static CUresult host_node_set(CUgraphExec x, CUgraphNode hNode, const CUDA_HOST_NODE_PARAMS *p)
{
	CUresult r;
	uint64_t token;

	if (!p || !p->fn)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(token = token_take(p->fn, NULL, NULL, p->userData, &r)))
		return r;
	void *av[VGPU_HXW_NARGS] = { &x, &hNode, &token };
	r = x ? vgpu_client_call(&vgpu_wire_exec_host_node_set, av) : vgpu_client_call(&vgpu_wire_host_node_set, &av[1]);
	token_settle(token, r, 1);   /* the worker keeps a node's record */
	return r;
}

CUresult CUDAAPI cuGraphHostNodeSetParams(CUgraphNode hNode, const CUDA_HOST_NODE_PARAMS *nodeParams)
{
	return host_node_set(NULL, hNode, nodeParams);
}

CUresult CUDAAPI cuGraphExecHostNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
					      const CUDA_HOST_NODE_PARAMS *nodeParams)
{
	return hGraphExec ? host_node_set(hGraphExec, hNode, nodeParams) : CUDA_ERROR_INVALID_VALUE;
}

/*
 * Stream callbacks (cuStreamAddCallback) take the same way as host functions, called with
 * the stream the program named and CUDA_SUCCESS (a stream whose work failed is reported by
 * the next call that synchronises). A stream callback cannot be captured, as with the
 * driver: the call is refused, and the capture is invalidated as the driver invalidates it
 * (its end then fails): by a query of the stream, which the driver also refuses during a
 * capture and which invalidates it the same way.
 */
static CUresult refuse_if_capturing(CUstream s, int ptsz)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE, *pst = &st;
	void *argv[2] = { &s, &pst };
	CUresult r = vgpu_client_call(ptsz ? &vgpu_call_cuStreamIsCapturing_ptsz : &vgpu_call_cuStreamIsCapturing, argv);
	if (r != CUDA_SUCCESS || st == CU_STREAM_CAPTURE_STATUS_NONE)
		return r;
	void *qargv[1] = { &s };
	(void)vgpu_client_call(ptsz ? &vgpu_call_cuStreamQuery_ptsz : &vgpu_call_cuStreamQuery, qargv);
	return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

static CUresult stream_callback(CUstream s, CUstreamCallback cb, void *userData, unsigned int flags, int ptsz)
{
	CUresult r;

	if (!cb || flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = refuse_if_capturing(s, ptsz)) != CUDA_SUCCESS)
		return r;
	return host_func(s, NULL, cb, userData, ptsz);
}

CUresult CUDAAPI cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData, unsigned int flags)
{
	return stream_callback(hStream, callback, userData, flags, 0);
}

CUresult CUDAAPI cuStreamAddCallback_ptsz(CUstream hStream, CUstreamCallback callback, void *userData,
					  unsigned int flags)
{
	return stream_callback(hStream, callback, userData, flags, 1);
}

/*
 * User objects: the destructor is a host function of this process, named by a token that
 * runs once, when the worker's driver drops the object's last reference (the worker counts
 * the references the zone holds: proxy/custom_hostfn.c). Retain, release and a graph's retain
 * are generated calls with handlers of their own in the proxy.
 */
CUresult CUDAAPI cuUserObjectCreate(CUuserObject *object_out, void *ptr, CUhostFn destroy, unsigned int initialRefcount,
				    unsigned int flags)
{
	CUresult r;

	if (!object_out || !destroy)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t token = token_take(destroy, NULL, NULL, ptr, &r);
	if (!token)
		return r;
	void *av[VGPU_UOW_NARGS] = { [VGPU_UOW_OBJECT] = &object_out, [VGPU_UOW_TOKEN] = &token,
				     [VGPU_UOW_REFS] = &initialRefcount, [VGPU_UOW_FLAGS] = &flags };
	r = vgpu_client_call(&vgpu_wire_uobj_create, av);
	token_settle(token, r, 0);
	return r;
}

CUresult CUDAAPI cuUserObjectRetain(CUuserObject object, unsigned int count)
{
	void *av[2] = { &object, &count };
	return vgpu_client_call(&vgpu_wire_uobj_retain, av);
}

CUresult CUDAAPI cuUserObjectRelease(CUuserObject object, unsigned int count)
{
	void *av[2] = { &object, &count };
	return vgpu_client_call(&vgpu_wire_uobj_release, av);
}

CUresult CUDAAPI cuGraphRetainUserObject(CUgraph graph, CUuserObject object, unsigned int count, unsigned int flags)
{
	void *av[4] = { &graph, &object, &count, &flags };
	return vgpu_client_call(&vgpu_wire_uobj_graph_retain, av);
}

/* Only what the zone gave this graph itself can be taken back (the worker counts it). */
CUresult CUDAAPI cuGraphReleaseUserObject(CUgraph graph, CUuserObject object, unsigned int count)
{
	unsigned flags = 0;
	uint64_t id = (uint64_t)(uintptr_t)object;
	void *av[4] = { &graph, &id, &count, &flags };
	return vgpu_client_call(&vgpu_wire_uobj_graph_release, av);
}
