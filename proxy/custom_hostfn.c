/* SPDX-License-Identifier: MIT */
/* custom_hostfn.c — proxy handlers of host functions: a zone's token launched as the worker's own function, the zone's wait. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "proxy.h"

#include <stdlib.h>

#include "custom_wire.h"
#include "handles.h"
#include "hostfn.h"
#include "log.h"
#include "proxyd.h"
#include "vgpu_dispatch.h"
#include "vgpu_ops.h"
#include "zone.h"

#define ARG(T, i) (*(T *)argv[i])

unsigned vgpu_hostfn_wait_ms = VGPU_HOSTFN_WAIT_MS;

/* The zone's host-function state, made on first use. */
static struct vgpu_hostfn_zone *zone_hostfn(struct vgpu_zone *z)
{
	pthread_mutex_lock(&z->lock);
	if (!z->hostfn)
		z->hostfn = vgpu_hostfn_zone_new();
	struct vgpu_hostfn_zone *hz = z->hostfn;
	pthread_mutex_unlock(&z->lock);
	return hz;
}

/*
 * cuLaunchHostFunc: the driver gets vgpu_hostfn_run and a record of the zone's token. The
 * worker asks the driver whether the stream is capturing, whatever the zone says: a captured
 * launch is a graph's host node, run each time the graph runs, so its record must stay; a
 * launch outside a capture runs once and its record is reused after.
 */
static CUresult hostfn_launch(struct vgpu_proxy_call *call, void **argv, int ptsz)
{
	const struct vgpu_driver *drv = call->drv;
	CUstream s = ARG(CUstream, VGPU_HFW_STREAM);
	uint64_t token = ARG(uint64_t, VGPU_HFW_TOKEN);
	CUresult (*launch)(CUstream, CUhostFn, void *) = ptsz ? drv->cuLaunchHostFunc_ptsz : drv->cuLaunchHostFunc;
	CUresult (*capturing)(CUstream, CUstreamCaptureStatus *) =
		ptsz ? drv->cuStreamIsCapturing_ptsz : drv->cuStreamIsCapturing;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	CUresult r;

	if (!launch || !capturing)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!token)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = capturing(s, &st)) != CUDA_SUCCESS)
		return r;
	struct vgpu_hostfn_zone *hz = zone_hostfn(call->zone);
	struct vgpu_hostfn_rec *rec = hz ? vgpu_hostfn_rec_get(hz, token, st == CU_STREAM_CAPTURE_STATUS_NONE) : NULL;
	if (!rec) {
		vgpu_info("cuLaunchHostFunc: the zone has %u host functions in its graphs or queued; refused",
			  VGPU_HOSTFN_MAX);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	r = launch(s, vgpu_hostfn_run, rec);
	if (r != CUDA_SUCCESS)
		vgpu_hostfn_rec_put(rec);   /* a one-shot record the driver did not take */
	else if (ARG(uint32_t *, VGPU_HFW_KEPT))
		*ARG(uint32_t *, VGPU_HFW_KEPT) = !rec->oneshot;
	return r;
}

static CUresult hostfn_launch_legacy(struct vgpu_proxy_call *call, void **argv)
{
	return hostfn_launch(call, argv, 0);
}

static CUresult hostfn_launch_ptsz(struct vgpu_proxy_call *call, void **argv)
{
	return hostfn_launch(call, argv, 1);
}

CUresult vgpu_proxy_hostfn_wait(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t *ticket = ARG(uint64_t *, VGPU_HWW_TICKET), *token = ARG(uint64_t *, VGPU_HWW_TOKEN);
	struct vgpu_hostfn_zone *hz = zone_hostfn(call->zone);

	if (!ticket || !token)
		return CUDA_ERROR_INVALID_VALUE;
	if (!hz)
		return CUDA_ERROR_OUT_OF_MEMORY;
	vgpu_hostfn_wait(hz, call->chan, ARG(uint64_t, VGPU_HWW_DONE), vgpu_hostfn_wait_ms, ticket, token);
	return CUDA_SUCCESS;
}

/* A host node's parameters: the token of the record the worker gave the driver. */
static CUresult host_node_get(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t *token = ARG(uint64_t *, VGPU_HNW_TOKEN);
	CUDA_HOST_NODE_PARAMS p = { 0 };
	CUresult r;

	if (!call->drv->cuGraphHostNodeGetParams)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!token)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = call->drv->cuGraphHostNodeGetParams(ARG(CUgraphNode, VGPU_HNW_NODE), &p)) != CUDA_SUCCESS)
		return r;
	/* every host node of a zone's graph runs the worker's function with one of its records */
	if (p.fn != vgpu_hostfn_run || !p.userData)
		return CUDA_ERROR_INVALID_VALUE;
	*token = ((const struct vgpu_hostfn_rec *)p.userData)->token;
	return CUDA_SUCCESS;
}

/* New parameters: the kept record of the zone's token (a graph's node runs at every launch). */
static CUresult host_node_params(struct vgpu_proxy_call *call, uint64_t token, CUDA_HOST_NODE_PARAMS *p)
{
	struct vgpu_hostfn_zone *hz = zone_hostfn(call->zone);
	struct vgpu_hostfn_rec *rec;

	if (!token)
		return CUDA_ERROR_INVALID_VALUE;
	if (!hz || !(rec = vgpu_hostfn_rec_get(hz, token, 0)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	*p = (CUDA_HOST_NODE_PARAMS){ vgpu_hostfn_run, rec };
	return CUDA_SUCCESS;
}

static CUresult host_node_set(struct vgpu_proxy_call *call, void **argv)
{
	CUDA_HOST_NODE_PARAMS p;
	CUresult r;

	if (!call->drv->cuGraphHostNodeSetParams)
		return CUDA_ERROR_NOT_SUPPORTED;
	if ((r = host_node_params(call, ARG(uint64_t, VGPU_HNW_TOKEN), &p)) != CUDA_SUCCESS)
		return r;
	return call->drv->cuGraphHostNodeSetParams(ARG(CUgraphNode, VGPU_HNW_NODE), &p);
}

static CUresult exec_host_node_set(struct vgpu_proxy_call *call, void **argv)
{
	CUDA_HOST_NODE_PARAMS p;
	CUresult r;

	if (!call->drv->cuGraphExecHostNodeSetParams)
		return CUDA_ERROR_NOT_SUPPORTED;
	if ((r = host_node_params(call, ARG(uint64_t, VGPU_HXW_TOKEN), &p)) != CUDA_SUCCESS)
		return r;
	r = call->drv->cuGraphExecHostNodeSetParams(ARG(CUgraphExec, VGPU_HXW_EXEC), ARG(CUgraphNode, VGPU_HXW_NODE), &p);
	if (r == CUDA_SUCCESS)
		vgpu_ckpt_gexec_changed(call->zone, ARG(CUgraphExec, VGPU_HXW_EXEC), "cuGraphExecHostNodeSetParams");
	return r;
}

/* ---------------------------------------------------------------- user objects */

/*
 * A user object's destructor is the zone's: libvgpu sends its token and the worker gives the
 * driver vgpu_hostfn_run with a one-run record of it, so the driver's call of the destructor
 * (on a thread of its own, when the last reference goes) runs the program's function in the
 * zone. The worker counts the references the zone holds of each object: a zone releases or
 * moves to a graph only what it holds, so it can never make the driver drop an object still
 * in use (and then name it again); when it holds none, the object leaves the zone's table
 * (its graphs may keep it alive). uobj_lock is held across each driver call, so counting and
 * calls cannot interleave; the destructor's run takes no lock of these.
 */
#define UOBJ_REFS_MAX (1u << 30)

/* under uobj_lock: the zone's entry of real, or NULL */
static struct vgpu_uobj_ref *uobj_find(struct vgpu_zone *z, const void *real)
{
	for (uint32_t i = 0; i < z->nuobj; i++)
		if (z->uobj[i].real == real)
			return &z->uobj[i];
	return NULL;
}

/* under uobj_lock: e (the zone holds no more references) leaves the list and the table */
static void uobj_forget(struct vgpu_zone *z, struct vgpu_uobj_ref *e)
{
	uint64_t id;
	void *real = e->real;
	*e = z->uobj[--z->nuobj];
	pthread_mutex_lock(&z->lock);
	int found = vgpu_htab_find(&z->htab, VGPU_H_USER_OBJECT, real, &id) == 0;
	pthread_mutex_unlock(&z->lock);
	if (found)
		vgpu_zone_handle_drop(z, VGPU_H_USER_OBJECT, id);
}

static CUresult uobj_create(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_zone *z = call->zone;
	CUuserObject *out = ARG(CUuserObject *, VGPU_UOW_OBJECT);
	uint64_t token = ARG(uint64_t, VGPU_UOW_TOKEN);
	uint32_t refs = ARG(uint32_t, VGPU_UOW_REFS);
	CUresult r;

	if (!call->drv->cuUserObjectCreate)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !token || !refs || refs > UOBJ_REFS_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_hostfn_zone *hz = zone_hostfn(z);
	struct vgpu_hostfn_rec *rec = hz ? vgpu_hostfn_rec_get(hz, token, 1) : NULL;
	if (!rec)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&z->uobj_lock);
	if (z->nuobj == z->capuobj) {
		uint32_t nc = z->capuobj ? z->capuobj * 2 : 16;
		void *p = realloc(z->uobj, nc * sizeof(*z->uobj));
		if (!p) {
			pthread_mutex_unlock(&z->uobj_lock);
			vgpu_hostfn_rec_put(rec);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		z->uobj = p;
		z->capuobj = nc;
	}
	r = call->drv->cuUserObjectCreate(out, rec, vgpu_hostfn_run, refs, ARG(uint32_t, VGPU_UOW_FLAGS));
	if (r == CUDA_SUCCESS) {
		z->uobj[z->nuobj++] = (struct vgpu_uobj_ref){ *out, refs };
		z->uobj_made = 1;
	} else {
		vgpu_hostfn_rec_put(rec);   /* the driver did not take it */
	}
	pthread_mutex_unlock(&z->uobj_lock);
	return r;
}

/* under uobj_lock: the entries of graphs that are gone (their ids name nothing) leave */
static void ugref_prune(struct vgpu_zone *z)
{
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < z->nugref;) {
		void *real;
		if (vgpu_htab_lookup(&z->htab, VGPU_H_GRAPH, z->ugref[i].graph, &real) < 0 || !z->ugref[i].refs)
			z->ugref[i] = z->ugref[--z->nugref];
		else
			i++;
	}
	pthread_mutex_unlock(&z->lock);
}

/* under uobj_lock: the references the zone gave graph (wire id) of the object obj_id (real
 * obj), made when add */
static struct vgpu_uobj_gref *ugref_find(struct vgpu_zone *z, uint64_t graph, uint64_t obj_id, void *obj, int add)
{
	for (uint32_t i = 0; i < z->nugref; i++)
		if (z->ugref[i].graph == graph && z->ugref[i].obj_id == obj_id)
			return &z->ugref[i];
	if (!add)
		return NULL;
	if (z->nugref == z->capugref)
		ugref_prune(z);
	if (z->nugref == z->capugref) {
		uint32_t nc = z->capugref ? z->capugref * 2 : 16;
		void *p = realloc(z->ugref, nc * sizeof(*z->ugref));
		if (!p)
			return NULL;
		z->ugref = p;
		z->capugref = nc;
	}
	z->ugref[z->nugref] = (struct vgpu_uobj_gref){ graph, obj_id, obj, 0 };
	return &z->ugref[z->nugref++];
}

/* The wire id of the zone's handle real of type (live: this call's argument named it). */
static int wire_id(struct vgpu_zone *z, unsigned type, void *real, uint64_t *id)
{
	pthread_mutex_lock(&z->lock);
	int r = vgpu_htab_find(&z->htab, type, real, id);
	pthread_mutex_unlock(&z->lock);
	return r;
}

/* cuUserObjectRetain, cuUserObjectRelease (release 1) and cuGraphRetainUserObject (graph) */
static CUresult uobj_refs(struct vgpu_proxy_call *call, void *graph, void *obj, uint32_t count, uint32_t flags,
			  int release)
{
	struct vgpu_zone *z = call->zone;
	const struct vgpu_driver *drv = call->drv;
	int move = graph && flags == CU_GRAPH_USER_OBJECT_MOVE;
	CUresult r;

	if (graph ? !drv->cuGraphRetainUserObject : release ? !drv->cuUserObjectRelease : !drv->cuUserObjectRetain)
		return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&z->uobj_lock);
	struct vgpu_uobj_ref *e = uobj_find(z, obj);
	if (!e) {
		pthread_mutex_unlock(&z->uobj_lock);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	/* what the zone gives up must be what it holds; what it adds stays bounded */
	int gives = release || move;
	if (!count || (graph && flags && !move) || (gives ? count > e->refs : count > UOBJ_REFS_MAX - e->refs)) {
		pthread_mutex_unlock(&z->uobj_lock);
		return CUDA_ERROR_INVALID_VALUE;
	}
	/* a graph's references are counted too (cuGraphReleaseUserObject takes back no more) */
	uint64_t gid = 0, oid = 0;
	struct vgpu_uobj_gref *g = NULL;
	if (graph && (wire_id(z, VGPU_H_GRAPH, graph, &gid) < 0 || wire_id(z, VGPU_H_USER_OBJECT, obj, &oid) < 0 ||
		      !(g = ugref_find(z, gid, oid, obj, 1)) || count > UOBJ_REFS_MAX - g->refs)) {
		pthread_mutex_unlock(&z->uobj_lock);
		return g ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (graph)
		r = drv->cuGraphRetainUserObject(graph, obj, count, flags);
	else
		r = release ? drv->cuUserObjectRelease(obj, count) : drv->cuUserObjectRetain(obj, count);
	if (r == CUDA_SUCCESS && g)
		g->refs += count;
	else if (g && !g->refs)
		*g = z->ugref[--z->nugref];   /* (made for this call, nothing given) */
	if (r == CUDA_SUCCESS && gives) {
		e->refs -= count;
		if (!e->refs)
			uobj_forget(z, e);
	} else if (r == CUDA_SUCCESS && !graph) {
		e->refs += count;
	}
	pthread_mutex_unlock(&z->uobj_lock);
	return r;
}

static CUresult uobj_retain(struct vgpu_proxy_call *call, void **argv)
{
	return uobj_refs(call, NULL, ARG(CUuserObject, VGPU_URW_OBJECT), ARG(uint32_t, VGPU_URW_COUNT), 0, 0);
}

static CUresult uobj_release(struct vgpu_proxy_call *call, void **argv)
{
	return uobj_refs(call, NULL, ARG(CUuserObject, VGPU_URW_OBJECT), ARG(uint32_t, VGPU_URW_COUNT), 0, 1);
}

static CUresult uobj_graph_retain(struct vgpu_proxy_call *call, void **argv)
{
	return uobj_refs(call, ARG(CUgraph, VGPU_UGW_GRAPH), ARG(CUuserObject, VGPU_UGW_OBJECT), ARG(uint32_t, VGPU_UGW_COUNT),
			 ARG(uint32_t, VGPU_UGW_FLAGS), 0);
}

/*
 * cuGraphReleaseUserObject: no more than the references the zone itself gave this graph
 * (cuGraphRetainUserObject), so it can never make the driver drop an object the graph still
 * needs; a clone's or a capture's references are not the zone's to take back here, they go
 * with their graph. The object is named by the id the zone had for it, which it may no
 * longer hold (its references all moved to the graph): the worker finds it in what the zone
 * gave this graph.
 */
static CUresult uobj_graph_release(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_zone *z = call->zone;
	void *graph = ARG(CUgraph, VGPU_UGW_GRAPH);
	uint64_t oid = ARG(uint64_t, VGPU_UGW_OBJECT), gid;
	uint32_t count = ARG(uint32_t, VGPU_UGW_COUNT);
	CUresult r;

	if (!call->drv->cuGraphReleaseUserObject)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!graph || !oid || !count || ARG(uint32_t, VGPU_UGW_FLAGS) || wire_id(z, VGPU_H_GRAPH, graph, &gid) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&z->uobj_lock);
	struct vgpu_uobj_gref *g = ugref_find(z, gid, oid, NULL, 0);
	if (!g) {   /* an object this zone never gave the graph: not one of its handles here */
		pthread_mutex_unlock(&z->uobj_lock);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (count > g->refs) {
		pthread_mutex_unlock(&z->uobj_lock);
		return CUDA_ERROR_INVALID_VALUE;
	}
	/* (alive: the graph, alive too, holds the references counted here) */
	r = call->drv->cuGraphReleaseUserObject(graph, g->obj, count);
	if (r == CUDA_SUCCESS && !(g->refs -= count))
		*g = z->ugref[--z->nugref];
	pthread_mutex_unlock(&z->uobj_lock);
	return r;
}

__attribute__((constructor)) static void hostfn_register(void)
{
	vgpu_proxy_wire_register(VGPU_OP_cuLaunchHostFunc, &vgpu_wire_hostfn_launch, hostfn_launch_legacy,
				 "cuLaunchHostFunc");
	vgpu_proxy_wire_register(VGPU_OP_cuLaunchHostFunc_ptsz, &vgpu_wire_hostfn_launch_ptsz, hostfn_launch_ptsz,
				 "cuLaunchHostFunc_ptsz");
	vgpu_proxy_wire_register(VGPU_OP_cuGraphHostNodeGetParams, &vgpu_wire_host_node_get, host_node_get,
				 "cuGraphHostNodeGetParams");
	vgpu_proxy_wire_register(VGPU_OP_cuGraphHostNodeSetParams, &vgpu_wire_host_node_set, host_node_set,
				 "cuGraphHostNodeSetParams");
	vgpu_proxy_wire_register(VGPU_OP_cuGraphExecHostNodeSetParams, &vgpu_wire_exec_host_node_set, exec_host_node_set,
				 "cuGraphExecHostNodeSetParams");
	vgpu_proxy_wire_register(VGPU_OP_cuUserObjectCreate, &vgpu_wire_uobj_create, uobj_create, "cuUserObjectCreate");
	vgpu_proxy_wire_register(VGPU_OP_cuUserObjectRetain, &vgpu_wire_uobj_retain, uobj_retain,
				 "cuUserObjectRetain");
	vgpu_proxy_wire_register(VGPU_OP_cuUserObjectRelease, &vgpu_wire_uobj_release, uobj_release,
				 "cuUserObjectRelease");
	vgpu_proxy_wire_register(VGPU_OP_cuGraphRetainUserObject, &vgpu_wire_uobj_graph_retain, uobj_graph_retain,
				 "cuGraphRetainUserObject");
	vgpu_proxy_wire_register(VGPU_OP_cuGraphReleaseUserObject, &vgpu_wire_uobj_graph_release, uobj_graph_release,
				 "cuGraphReleaseUserObject");
}
