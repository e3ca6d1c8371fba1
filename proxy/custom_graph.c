/* SPDX-License-Identifier: MIT */
/* custom_graph.c — proxy handler of conditional graph nodes: the node made by the worker's driver, its bodies graphs of the zone that the node owns. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "proxy.h"

#include <errno.h>
#include <string.h>

#include "custom_wire.h"
#include "handles.h"
#include "log.h"
#include "vgpu_dispatch.h"
#include "vgpu_ops.h"
#include "zone.h"

#define ARG(T, i) (*(T *)argv[i])

/*
 * A conditional node's body graphs are the driver's, made with the node and freed with it
 * (cuGraphDestroyNode, or its graph's destruction). The zone gets a handle for each, owned by
 * the node: destroying the node or its graph forgets them (vgpu_zone_purge_owner), and a
 * cuGraphDestroy of one is refused before the driver sees it (chanloop.c), as is destroying
 * one when the zone ends (the worker destroys the graphs that own them). A child graph node's
 * graph (cuGraphChildGraphNodeGetGraph, a generated call) is the node's the same way.
 */
int vgpu_proxy_graph_node_owned(struct vgpu_zone *z, const void *real)
{
	const void *owner = vgpu_zone_handle_owner(z, VGPU_H_GRAPH, real);
	uint64_t id;
	return owner && vgpu_zone_handle_find(z, VGPU_H_GRAPH_NODE, owner, &id) == 0;
}

unsigned vgpu_proxy_forget_node_graphs(struct vgpu_zone *z)
{
	unsigned n = 0;
	for (uint32_t i = 0;; i++) {
		unsigned t;
		void *real;
		const void *own;
		uint32_t gen;
		uint64_t id, nid;
		pthread_mutex_lock(&z->lock);
		int rc = vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen);
		int body = rc == 1 && t == VGPU_H_GRAPH && own && vgpu_htab_find(&z->htab, VGPU_H_GRAPH_NODE, own, &nid) == 0;
		id = body ? vgpu_htab_id_of(&z->htab, i) : 0;
		pthread_mutex_unlock(&z->lock);
		if (rc == -ENOENT)
			break;
		if (body) {
			vgpu_zone_handle_drop(z, VGPU_H_GRAPH, id);
			n++;
		}
	}
	return n;
}

static CUresult cond_node(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	struct vgpu_zone *z = call->zone;
	CUgraphNode *out = ARG(CUgraphNode *, VGPU_CNW_NODE);
	CUgraph *bodies = ARG(CUgraph *, VGPU_CNW_BODIES);
	uint32_t size = ARG(uint32_t, VGPU_CNW_SIZE);

	if (!drv->cuGraphAddNode_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !bodies || !size || size > VGPU_COND_BODIES_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	/* the node and its bodies become handles of the zone: room for all of them first */
	pthread_mutex_lock(&z->lock);
	uint32_t live = vgpu_htab_count(&z->htab, VGPU_HTAB_MAX_TYPES), limit = z->htab.limit;
	pthread_mutex_unlock(&z->lock);
	if (live > limit || limit - live < size + 1u) {
		vgpu_warn("handle quota (%u) reached: refusing a conditional node with %u bodies", limit, size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	CUgraphNodeParams p;
	memset(&p, 0, sizeof(p));
	p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
	p.conditional.handle = ARG(uint64_t, VGPU_CNW_HANDLE);
	p.conditional.type = (CUgraphConditionalNodeType)ARG(uint32_t, VGPU_CNW_TYPE);
	p.conditional.size = size;
	p.conditional.ctx = ARG(CUcontext, VGPU_CNW_CTX);
	CUresult r = drv->cuGraphAddNode_v2(out, ARG(CUgraph, VGPU_CNW_GRAPH), ARG(const CUgraphNode *, VGPU_CNW_DEPS),
					    NULL, ARG(uint64_t, VGPU_CNW_NDEPS), &p);
	if (r != CUDA_SUCCESS)
		return r;
	if (!p.conditional.phGraph_out) {
		vgpu_warn("cuGraphAddNode: the driver made a conditional node without bodies; destroyed");
		if (drv->cuGraphDestroyNode)
			drv->cuGraphDestroyNode(*out);
		return CUDA_ERROR_UNKNOWN;
	}
	memcpy(bodies, p.conditional.phGraph_out, size * sizeof(*bodies));
	call->graph_owner = *out;   /* the reply registers the bodies as the node's */
	pthread_mutex_lock(&z->lock);
	z->cond_made = 1;
	pthread_mutex_unlock(&z->lock);
	return CUDA_SUCCESS;
}

int vgpu_proxy_graph_captured(struct vgpu_zone *z, const struct vgpu_backend *be, const void *ctx, const void *g)
{
	const struct vgpu_driver *drv = be->drv;
	if (!drv || !drv->cuStreamGetCaptureInfo_v3)
		return 0;
	for (uint32_t i = 0;; i++) {
		unsigned t;
		void *real;
		const void *own;
		int rc = vgpu_zone_slot(z, i, &t, &real, &own, NULL);
		if (rc == -ENOENT)
			return 0;
		CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
		CUgraph cg = NULL;
		if (rc == 1 && t == VGPU_H_STREAM && own != ctx &&
		    drv->cuStreamGetCaptureInfo_v3(real, &st, NULL, &cg, NULL, NULL, NULL) == CUDA_SUCCESS &&
		    st == CU_STREAM_CAPTURE_STATUS_ACTIVE && cg == g)
			return 1;
	}
}

__attribute__((constructor)) static void graph_register(void)
{
	vgpu_proxy_wire_register(VGPU_OP_cuGraphAddNode_v2, &vgpu_wire_cond_node, cond_node, "cuGraphAddNode_v2");
}
