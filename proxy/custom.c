/* SPDX-License-Identifier: MIT */
/* custom.c — the registry of hand-written handlers and the zone hooks/helpers they use (see proxy.h). */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "proxyd.h"
#include "vgpu_ops.h"

static vgpu_proxy_custom_fn custom_table[VGPU_PROXY_OP_LIMIT];

void vgpu_proxy_custom_register(unsigned op, vgpu_proxy_custom_fn fn, const char *name)
{
	/* Runs from constructors: a bad registration is a build mistake, stop at once. */
	if (op >= VGPU_PROXY_OP_LIMIT || !fn || custom_table[op]) {
		fprintf(stderr, "vgpu-proxy: bad custom handler registration %s for opcode %u "
			"(out of range, NULL or registered twice); fix proxy/custom_*.c\n", name ? name : "?", op);
		abort();
	}
	custom_table[op] = fn;
}

vgpu_proxy_custom_fn vgpu_proxy_custom_get(unsigned op)
{
	return op < VGPU_PROXY_OP_LIMIT ? custom_table[op] : NULL;
}

static struct {
	vgpu_proxy_wire_fn fn;
	const struct vgpu_call_desc *desc;
} wire_table[VGPU_PROXY_OP_LIMIT];

void vgpu_proxy_wire_register(unsigned op, const struct vgpu_call_desc *desc, vgpu_proxy_wire_fn fn,
			      const char *name)
{
	if (op >= VGPU_PROXY_OP_LIMIT || !fn || !desc || desc->opcode != op || wire_table[op].fn || custom_table[op]) {
		fprintf(stderr, "vgpu-proxy: bad wire handler registration %s for opcode %u "
			"(out of range, NULL, mismatched or registered twice); fix proxy/custom_*.c\n",
			name ? name : "?", op);
		abort();
	}
	wire_table[op].fn = fn;
	wire_table[op].desc = desc;
}

vgpu_proxy_wire_fn vgpu_proxy_wire_get(unsigned op, const struct vgpu_call_desc **desc)
{
	if (op >= VGPU_PROXY_OP_LIMIT || !wire_table[op].fn)
		return NULL;
	*desc = wire_table[op].desc;
	return wire_table[op].fn;
}

/* ---- codec hooks: ctx is the struct vgpu_proxy_call being served ---- */

static int hook_handle_in(void *ctx, unsigned htype, uint64_t id, void **real)
{
	struct vgpu_proxy_call *c = ctx;
	return vgpu_zone_handle_in(c->zone, htype, id, real);
}

/* The context current on this thread: objects made now belong to it. */
const void *vgpu_proxy_current_ctx(const struct vgpu_proxy_call *c)
{
	CUcontext cur = NULL;
	if (c->backend && c->backend->fn.cuCtxGetCurrent && c->backend->fn.cuCtxGetCurrent(&cur) != CUDA_SUCCESS)
		cur = NULL;
	/* a green context's CUcontext is the primary context with fewer SMs: what is made under it
	 * is the primary context's (green.h) */
	return vgpu_green_owner_ctx(c->zone, cur);
}

/* The module or library the call names (cuModuleGetFunction, cuModuleGetGlobal, ...), or NULL. */
static const void *named_module(const struct vgpu_proxy_call *c)
{
	if (!c->desc || !c->argv)
		return NULL;
	for (unsigned i = 0; i < c->desc->nargs; i++) {
		const struct vgpu_arg_desc *a = &c->desc->args[i];
		if (a->kind == VGPU_ARG_HANDLE && (a->htype == VGPU_H_MODULE || a->htype == VGPU_H_LIBRARY))
			return *(void *const *)c->argv[i];
	}
	return NULL;
}

/*
 * The graph a node the call hands out belongs to: the one the handler found (a capture's
 * graph), the graph the call names (cuGraphGetNodes, cuGraphAdd*Node, cuGraphNodeFindInClone's
 * clone), or the graph of the node it names (cuGraphNodeGetDependencies); NULL if none.
 */
static const void *node_graph(const struct vgpu_proxy_call *c)
{
	if (c->node_graph)
		return c->node_graph;
	if (!c->desc || !c->argv)
		return NULL;
	for (unsigned i = 0; i < c->desc->nargs; i++) {
		const struct vgpu_arg_desc *a = &c->desc->args[i];
		if (a->kind == VGPU_ARG_HANDLE && a->htype == VGPU_H_GRAPH)
			return *(void *const *)c->argv[i];
	}
	for (unsigned i = 0; i < c->desc->nargs; i++) {
		const struct vgpu_arg_desc *a = &c->desc->args[i];
		if (a->kind == VGPU_ARG_HANDLE && a->htype == VGPU_H_GRAPH_NODE)
			return vgpu_zone_handle_owner(c->zone, VGPU_H_GRAPH_NODE, *(void *const *)c->argv[i]);
	}
	return NULL;
}

/*
 * What a new handle belongs to: a function or kernel to the module or library the call
 * named (cuModuleGetFunction, cuLibraryGetKernel), a graph node to its graph (the driver
 * frees a graph's nodes with it), a conditional node's body or a child graph node's graph to
 * that node, anything else but a context to the context current on this thread. Destroying
 * the owner forgets it (vgpu_zone_purge_owner).
 */
static const void *new_handle_owner(const struct vgpu_proxy_call *c, unsigned htype)
{
	const void *mod, *g;

	if (htype == VGPU_H_CONTEXT)   /* a green context's CUcontext is the green context's, others no one's */
		return c->desc && c->desc->opcode == VGPU_OP_cuCtxFromGreenCtx && c->argv ? *(void *const *)c->argv[1]
											    : NULL;
	if ((htype == VGPU_H_FUNCTION || htype == VGPU_H_KERNEL) && (mod = named_module(c)))
		return mod;
	if (htype == VGPU_H_GRAPH_NODE && (g = node_graph(c)))
		return g;
	if (htype == VGPU_H_GRAPH && c->graph_owner)
		return c->graph_owner;
	if (htype == VGPU_H_GRAPH && c->desc && c->desc->opcode == VGPU_OP_cuGraphChildGraphNodeGetGraph && c->argv)
		return *(void *const *)c->argv[0];   /* (hNode, phGraph): the node owns it */
	if (htype == VGPU_H_STREAM && c->desc && c->desc->opcode == VGPU_OP_cuGreenCtxStreamCreate && c->argv)
		return *(void *const *)c->argv[1];   /* (phStream, greenCtx, ...): unusable once it goes */
	if (htype == VGPU_H_ARRAY && c->desc && c->desc->opcode == VGPU_OP_cuMipmappedArrayGetLevel && c->argv)
		return *(void *const *)c->argv[1];   /* (pLevelArray, hMipmappedArray, level): a level is its array's */
	return vgpu_proxy_current_ctx(c);
}

static int hook_handle_new(void *ctx, unsigned htype, void *real, uint64_t *id)
{
	struct vgpu_proxy_call *c = ctx;
	const void *owner = new_handle_owner(c, htype);
	int rc = vgpu_zone_handle_new_owned(c->zone, htype, real, owner, id);
	if (rc == -EDQUOT)
		vgpu_warn("handle quota (%u) reached: refusing a new handle of type %u", c->zone->htab.limit, htype);
	return rc;
}

static void hook_handle_drop(void *ctx, unsigned htype, uint64_t id)
{
	vgpu_proxy_handle_destroyed(ctx, htype, id);
}

/* The driver freed a destroyed context's memory, or a reset device's stream-ordered memory
 * (owner: the context, or the device's zone->ordered); what the worker placed in the fixed
 * window for it (devva.h) outlives both, and goes here. */
static void fixed_va_owner_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *owner)
{
	if (!vgpu_devva_on(&z->devva))
		return;
	pthread_mutex_lock(&z->lock);
	uint64_t *bases = malloc((z->amap.n + 1) * sizeof(*bases));
	uint32_t n = 0;
	for (uint32_t i = 0; bases && i < z->amap.n; i++)
		if (z->amap.v[i].owner == owner && vgpu_devva_in_window(&z->devva, z->amap.v[i].base))
			bases[n++] = z->amap.v[i].base;
	pthread_mutex_unlock(&z->lock);
	if (!bases) {
		vgpu_warn("out of memory: device memory of a destroyed context or reset device in the fixed window "
			  "stays until the zone ends");
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		int r;
		vgpu_devva_free(&z->devva, &be->fn, bases[i], 0, &r);   /* the purge then forgets them */
	}
	free(bases);
}

unsigned vgpu_proxy_fixed_va_end(struct vgpu_zone *z, const struct vgpu_backend_fns *f, CUcontext const *ctxs,
				  unsigned n_ctx, uint64_t *bytes)
{
	*bytes = 0;
	if (!vgpu_devva_on(&z->devva))
		return 0;
	for (unsigned i = 0; i < n_ctx && z->devva.n && f->cuCtxSetCurrent && f->cuCtxSynchronize; i++)
		if (f->cuCtxSetCurrent(ctxs[i]) == CUDA_SUCCESS)
			f->cuCtxSynchronize();
	unsigned n = vgpu_zone_drop_range(z, z->devva.base, z->devva.size, bytes);
	vgpu_devva_release_all(&z->devva, f);
	if (n_ctx && f->cuCtxSetCurrent)
		f->cuCtxSetCurrent(ctxs[0]);
	return n;
}

/*
 * What the driver keeps when a context goes: cuCtxDestroy (and a primary context's last
 * release or reset) frees none of the context's graphs, executable graphs or memory pools
 * (cuMemPoolCreate's; libraries neither, but zones load theirs in libvgpu as modules). The
 * zone's handles of them are forgotten with the context like the rest, so the worker destroys
 * them first: forgotten and kept, each would be driver memory that no quota counts and that
 * nothing frees until the worker ends, made again by every context the zone creates and
 * destroys. Executable graphs go before the graphs they came from, and each object's own
 * handles (nodes, graph memory) with it; a graph that a capture on another context's stream
 * still fills is left to the driver (destroying it under the capture is undefined). Returns
 * how many.
 */
static unsigned destroy_kept_by_driver(struct vgpu_zone *z, const struct vgpu_backend *be, const void *ctx,
				       unsigned *handles, unsigned *allocs, uint64_t *bytes)
{
	static const unsigned order[] = { VGPU_H_GRAPH_EXEC, VGPU_H_GRAPH, VGPU_H_MEMORY_POOL };
	static const char *const name[] = { "executable graph", "graph", "memory pool" };
	const struct vgpu_backend_fns *f = &be->fn;
	unsigned n = 0;
	for (unsigned k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (uint32_t i = 0;; i++) {
			unsigned t;
			void *real;
			const void *own;
			uint64_t id;
			int rc = vgpu_zone_slot(z, i, &t, &real, &own, &id);
			if (rc == -ENOENT)
				break;
			if (rc != 1 || own != ctx || t != order[k] || vgpu_zone_handle_take(z, t, id, &real) < 0)
				continue;
			CUresult r = CUDA_ERROR_NOT_SUPPORTED;
			if (t == VGPU_H_GRAPH_EXEC) {
				vgpu_ckpt_gexec_gone(z, be, real);   /* the checkpoint's copy of its graph */
				if (f->cuGraphExecDestroy)
					r = f->cuGraphExecDestroy(real);
			} else if (t == VGPU_H_GRAPH && vgpu_proxy_graph_captured(z, be, ctx, real)) {
				/* a capture still fills it: forgotten like the rest, left to the driver */
				vgpu_debug("a context went: a graph made in it is being captured into from another "
					   "context's stream; not destroyed");
				r = CUDA_SUCCESS;
			} else if (t == VGPU_H_GRAPH && f->cuGraphDestroy) {
				r = f->cuGraphDestroy(real);
			} else if (t == VGPU_H_MEMORY_POOL && f->cuMemPoolDestroy) {
				r = f->cuMemPoolDestroy(real);   /* a device's default pool refuses: it is no one's */
			}
			if (r != CUDA_SUCCESS && t != VGPU_H_MEMORY_POOL)
				vgpu_warn("a context went: destroying the zone's %s made in it failed (%d); it stays the "
					  "driver's until the worker ends", name[k], (int)r);
			unsigned oh = 0, oa = 0;
			uint64_t ob = 0;
			vgpu_zone_purge_owner(z, real, &oh, &oa, &ob);
			*handles += oh + 1;
			*allocs += oa;
			*bytes += ob;
			n++;
		}
	return n;
}

void vgpu_proxy_context_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *ctx,
			     unsigned *handles, unsigned *allocs, uint64_t *bytes)
{
	unsigned h = 0, a = 0;
	uint64_t b = 0;
	unsigned kept = destroy_kept_by_driver(z, be, ctx, &h, &a, &b);
	if (kept)
		vgpu_debug("a context went: destroyed %u graphs, executable graphs and pools made in it, which the "
			   "driver would have kept", kept);
	/* Its modules' globals (owned by the module, not the context), its graphs' nodes (owned
	 * by the graph), its mipmapped arrays' levels and what the checkpoint keeps of each
	 * module go first; the context's purge then takes the modules and graphs themselves. */
	for (uint32_t i = 0;; i++) {
		unsigned t;
		void *real;
		const void *own;
		int rc = vgpu_zone_slot(z, i, &t, &real, &own, NULL);
		if (rc == -ENOENT)
			break;
		if (rc != 1 || own != ctx ||
		    (t != VGPU_H_MODULE && t != VGPU_H_LIBRARY && t != VGPU_H_GRAPH && t != VGPU_H_MIPMAPPED_ARRAY))
			continue;
		unsigned mh = 0, ma = 0;
		uint64_t mb = 0;
		vgpu_zone_purge_owner(z, real, &mh, &ma, &mb);
		h += mh;
		a += ma;
		b += mb;
		if (t == VGPU_H_MODULE)
			vgpu_ckpt_module_gone(z, be, real);
	}
	unsigned ch = 0, ca = 0;
	uint64_t cb = 0;
	/* its arrays' charges and its texture and surface objects went with it too; its JIT
	 * link states are the driver's still, and are destroyed with their handles */
	h += vgpu_tex_context_gone(z, ctx);
	vgpu_proxy_links_gone(z, be, ctx, 0);
	if (vgpu_devva_on(&z->devva))
		vgpu_devva_forget_ctx(&z->devva, &be->fn, ctx);   /* its streams' frees: their work is gone */
	fixed_va_owner_gone(z, be, ctx);
	vgpu_zone_purge_owner(z, ctx, &ch, &ca, &cb);
	vgpu_ipc_context_gone(z, ctx);   /* exports of what went with it, imports opened in it */
	*handles = h + ch;
	*allocs = a + ca;
	*bytes = b + cb;
}

void vgpu_proxy_device_reset(struct vgpu_zone *z, const struct vgpu_backend *be, int dev, unsigned *allocs,
			     uint64_t *bytes)
{
	*allocs = 0;
	*bytes = 0;
	if (dev < 0 || dev >= VGPU_ZONE_MAX_DEVICES)
		return;
	fixed_va_owner_gone(z, be, &z->ordered[dev]);
	vgpu_zone_purge_owner(z, &z->ordered[dev], NULL, allocs, bytes);
}

void vgpu_proxy_handle_destroyed(struct vgpu_proxy_call *c, unsigned htype, uint64_t id)
{
	void *real = NULL;
	if (vgpu_zone_handle_take(c->zone, htype, id, &real) < 0 || !real)
		return;
	/* cuCtxDestroy took the context's streams, events, modules and memory with it;
	 * cuModuleUnload its functions and globals. */
	unsigned h = 0, a = 0;
	uint64_t b = 0;
	/*
	 * A graph's memory nodes' allocations outlive the graph while an executable graph made
	 * from it lives: its launches allocate them again at the same addresses, and what a
	 * launch left allocated the program may use and free (cuMemFree, cuMemFreeAsync, a free
	 * node of another graph). They pass to that executable graph, and from it to the next.
	 */
	const void *heir = htype == VGPU_H_GRAPH || htype == VGPU_H_GRAPH_EXEC ? vgpu_ckpt_gexec_heir(c->zone, real) : NULL;
	unsigned moved = heir ? vgpu_zone_reown(c->zone, real, heir) : 0;
	if (moved)
		vgpu_debug("%u allocations of graph memory nodes pass to an executable graph made from the graph", moved);
	if (htype == VGPU_H_CONTEXT)
		vgpu_proxy_context_gone(c->zone, c->backend, real, &h, &a, &b);
	else
		vgpu_zone_purge_owner(c->zone, real, &h, &a, &b);
	if (htype == VGPU_H_EVENT)
		vgpu_ipc_event_gone(c->zone, real);   /* its IPC handle opens nothing any more */
	if (h || a)
		vgpu_debug("handle destroyed with %u handles and %u allocations (%llu bytes) of its own; forgotten",
			   h, a, (unsigned long long)b);
	/* (after the purge: no range of a global the restore mapped is left to pass a check) */
	if (htype == VGPU_H_MODULE)
		vgpu_ckpt_module_gone(c->zone, c->backend, real);
}

/* (the range is translated first: a module global a restore found elsewhere, ckpt.h) */
static int hook_dptr_check(void *ctx, uint64_t *p, uint64_t len)
{
	struct vgpu_proxy_call *c = ctx;
	uint64_t named = *p;
	*p = vgpu_ckpt_real_addr(c->zone, named, len);
	int rc = vgpu_zone_dptr_check(c->zone, *p, len);
	if (rc < 0)
		vgpu_debug("%s: device range [0x%llx, +0x%llx) is not inside one of the zone's allocations",
			   c->desc ? c->desc->name : "?", (unsigned long long)named, (unsigned long long)len);
	return rc;
}

static uint64_t hook_dptr_zone(void *ctx, uint64_t p)
{
	struct vgpu_proxy_call *c = ctx;
	return vgpu_ckpt_zone_addr(c->zone, p);
}

/*
 * A new device range the zone may use: an allocation of the current context, or a module's
 * global (cuModuleGetGlobal), which belongs to its module: it goes when the module is
 * unloaded, and the driver may then hand its addresses out again. Asked for again, the same
 * global is the same range of the same owner, already recorded.
 */
static int is_ordered_alloc(uint16_t op)
{
	return op == VGPU_OP_cuMemAllocAsync || op == VGPU_OP_cuMemAllocAsync_ptsz ||
	       op == VGPU_OP_cuMemAllocFromPoolAsync || op == VGPU_OP_cuMemAllocFromPoolAsync_ptsz;
}

/*
 * The owner of a stream-ordered allocation made outside a capture: its device's (zone->ordered),
 * not the context's. cuCtxDestroy leaves such memory allocated (its documentation says so), so
 * the zone keeps its range, and the charge, until it frees it (from any context), resets the
 * device or ends. NULL when the device cannot be told: then the context's, as before.
 */
static const void *ordered_owner(const struct vgpu_proxy_call *c)
{
	CUdevice dev = -1;
	const struct vgpu_backend_fns *f = c->backend ? &c->backend->fn : NULL;
	if (!f || !f->cuCtxGetDevice || f->cuCtxGetDevice(&dev) != CUDA_SUCCESS || dev < 0 ||
	    dev >= VGPU_ZONE_MAX_DEVICES)
		return NULL;
	return &c->zone->ordered[dev];
}

static void hook_dptr_alloc(void *ctx, uint64_t p, uint64_t len)
{
	struct vgpu_proxy_call *c = ctx;
	/* a graph memory node's allocation belongs to its graph: recorded and charged while the
	 * graph lives, forgotten with it (vgpu_zone_alloc_of_graph) */
	const void *owner = NULL;
	if (is_ordered_alloc(c->hdr.opcode) && !(owner = vgpu_proxy_captured_into(c)))
		owner = ordered_owner(c);
	if (!owner)
		owner = named_module(c);
	int rc = vgpu_zone_dptr_add_owned(c->zone, p, len, owner ? owner : vgpu_proxy_current_ctx(c), &c->mem_reserved);
	if (rc < 0)
		vgpu_err("%s returned allocation [0x%llx, +0x%llx) that cannot be recorded (%s); "
			 "the zone cannot use it", c->desc ? c->desc->name : "?",
			 (unsigned long long)p, (unsigned long long)len, rc == -EEXIST ? "overlaps another" : "invalid or out of memory");
}

static void hook_dptr_free(void *ctx, uint64_t p)
{
	struct vgpu_proxy_call *c = ctx;
	for (unsigned i = 0; i < c->nfreed; i++)
		if (c->freed[i].base == p)
			return;   /* detached before the call (chanloop.c) */
	if (vgpu_zone_alloc_of_graph(c->zone, p))
		return;   /* a graph's: it stays the graph's (prepare_destroys, chanloop.c) */
	vgpu_ipc_mem_freed(c->zone, p);
	if (vgpu_zone_dptr_remove(c->zone, p) < 0)
		vgpu_warn("%s freed 0x%llx, which the zone's allocation map did not hold",
			  c->desc ? c->desc->name : "?", (unsigned long long)p);
}

const struct vgpu_codec_hooks vgpu_proxy_hooks = {
	.handle_in = hook_handle_in,
	.handle_new = hook_handle_new,
	.handle_drop = hook_handle_drop,
	.dptr_check = hook_dptr_check,
	.dptr_zone = hook_dptr_zone,
	.dptr_alloc = hook_dptr_alloc,
	.dptr_free = hook_dptr_free,
};

/* ---- helpers for handlers ---- */

CUresult vgpu_proxy_check_dptr(struct vgpu_proxy_call *call, uint64_t p, uint64_t len)
{
	uint64_t q = p;
	int rc = hook_dptr_check(call, &q, len);
	/* (a caller that cannot pass the translation on refuses a moved global's old range) */
	return rc == 0 && q == p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult vgpu_proxy_dptr_in(struct vgpu_proxy_call *call, uint64_t *p, uint64_t off, uint64_t len)
{
	uint64_t q = *p + off;
	if (q < *p || hook_dptr_check(call, &q, len) != 0)
		return CUDA_ERROR_INVALID_VALUE;
	*p = q - off;
	return CUDA_SUCCESS;
}

CUresult vgpu_proxy_handle_in(struct vgpu_proxy_call *call, unsigned htype, uint64_t id, void **real)
{
	return vgpu_zone_handle_in(call->zone, htype, id, real) == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult vgpu_proxy_handle_new(struct vgpu_proxy_call *call, unsigned htype, void *real, uint64_t *id)
{
	return hook_handle_new(call, htype, real, id) == 0 ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult vgpu_proxy_bulk_reserve(struct vgpu_proxy_call *call, uint64_t n)
{
	return vgpu_zone_bulk_reserve(call->zone, n) == 0 ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

void vgpu_proxy_bulk_release(struct vgpu_proxy_call *call, uint64_t n)
{
	vgpu_zone_bulk_release(call->zone, n);
}
