/* SPDX-License-Identifier: MIT */
/*
 * custom_ipc.c — IPC memory and event handles between the zones of one registration.
 *
 * The zone is given the proxy's handle (custom_wire.h), never the driver's: the driver's goes
 * into the registration's table (pool.h), which only workers can read, and is opened by the
 * importing zone's worker. A zone of another registration, or of none, has another table or
 * none, so a handle copied out of a pod names nothing there; a guessed index fails the nonce.
 * Bytes a zone sends are never handed to the driver as a handle.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include "proxy.h"

#include <errno.h>
#include <string.h>

#include "custom_wire.h"
#include "log.h"
#include "proxyd.h"
#include "vgpu_dispatch.h"
#include "vgpu_ops.h"

#define ARG(T, i) (*(T *)argv[i])

/* IPC needs a registration: its zones are the processes that may share. */
static int no_registration(struct vgpu_proxy_call *call)
{
	if (call->zone->pool)
		return 0;
	vgpu_info("%s: refused: IPC handles are shared between the zones of one registration, and this zone "
		  "was opened without one (VGPU_ZONE_TOKEN)", call->desc->name);
	return 1;
}

static void wire_handle(struct vgpu_ipc_wire_handle *h, uint32_t kind, uint32_t idx, const uint8_t nonce[16])
{
	memset(h, 0, sizeof(*h));
	h->magic = VGPU_IPC_MAGIC;
	h->version = 1;
	h->kind = (uint16_t)kind;
	h->entry = idx;
	memcpy(h->nonce, nonce, 16);
}

/* An export of the zone's already (the same object exported again gets the same handle, as
 * from the driver: frameworks key their caches by the handle's bytes). s->lock held. */
static const struct vgpu_ipc_export *export_of(const struct vgpu_ipc_zone *s, uint32_t kind, uint64_t key)
{
	for (uint32_t i = 0; i < s->nexp; i++)
		if (s->exp[i].kind == kind && s->exp[i].key == key)
			return &s->exp[i];
	return NULL;
}

/* Put the driver's handle into the registration's table and remember it (s->lock held). */
static CUresult export_add(struct vgpu_proxy_call *call, uint32_t kind, uint64_t key, const void *drv, uint64_t size,
			   struct vgpu_ipc_wire_handle *out)
{
	struct vgpu_zone *z = call->zone;
	struct vgpu_ipc_zone *s = &z->ipc;
	struct vgpu_ipc_export e = { .kind = kind, .key = key };

	if (vgpu_room_for_one(&s->exp, &s->capexp, s->nexp, sizeof(*s->exp), 8) < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	int rc = vgpu_pool_ipc_put(z->pool, z->pool_slot, kind, drv, size, &e.idx, e.nonce);
	if (rc < 0) {
		vgpu_warn("%s: refused: the registration's table of IPC handles is full (%u live exports)",
			  call->desc->name, VGPU_IPC_ENTRIES);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	s->exp[s->nexp++] = e;
	s->used = 1;
	wire_handle(out, kind, e.idx, e.nonce);
	return CUDA_SUCCESS;
}

/* The entry a zone's handle names in its registration's table: 0 with the driver's handle,
 * or the error the zone gets (a handle of its own: the driver's answer in the exporting
 * process). */
static CUresult entry_of(struct vgpu_proxy_call *call, const struct vgpu_ipc_wire_handle *h, uint32_t kind,
			 uint8_t drv[64], uint64_t *size)
{
	struct vgpu_zone *z = call->zone;
	int slot = -1;

	if (!h || h->magic != VGPU_IPC_MAGIC || h->version != 1 || h->kind != kind || h->zero) {
		vgpu_debug("%s: the handle is not one the proxy gave", call->desc->name);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (vgpu_pool_ipc_get(z->pool, h->entry, h->nonce, kind, drv, size, &slot) < 0) {
		vgpu_debug("%s: the handle names no live export of the registration's zones", call->desc->name);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (slot == z->pool_slot)
		return CUDA_ERROR_INVALID_CONTEXT;
	return CUDA_SUCCESS;
}

static CUresult ipc_get_mem(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_zone *z = call->zone;
	struct vgpu_ipc_wire_handle *out = ARG(struct vgpu_ipc_wire_handle *, VGPU_IGW_HANDLE);
	uint64_t p = ARG(uint64_t, VGPU_IGW_DPTR), size = 0;
	CUipcMemHandle h;

	if (!call->drv->cuIpcGetMemHandle)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (no_registration(call))
		return CUDA_ERROR_NOT_SUPPORTED;
	/* the base of one of the zone's own allocations (not memory a graph holds, nor one another
	 * zone exported to it) */
	pthread_mutex_lock(&z->lock);
	const struct vgpu_alloc *a = vgpu_allocmap_at(&z->amap, p);
	int ok = a != NULL;
	if (ok)
		size = a->size;
	pthread_mutex_unlock(&z->lock);
	if (!ok || vgpu_zone_alloc_of_graph(z, p)) {
		vgpu_debug("cuIpcGetMemHandle(0x%llx): not the base of one of the zone's allocations", (unsigned long long)p);
		return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_lock(&z->ipc.lock);
	const struct vgpu_ipc_export *e = export_of(&z->ipc, VGPU_IPC_KIND_MEM, p);
	CUresult r = CUDA_SUCCESS;
	if (e)
		wire_handle(out, VGPU_IPC_KIND_MEM, e->idx, e->nonce);
	else if ((r = call->drv->cuIpcGetMemHandle(&h, (CUdeviceptr)p)) == CUDA_SUCCESS)
		r = export_add(call, VGPU_IPC_KIND_MEM, p, h.reserved, size, out);
	pthread_mutex_unlock(&z->ipc.lock);
	return r;
}

static CUresult ipc_open_mem(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_zone *z = call->zone;
	struct vgpu_ipc_zone *s = &z->ipc;
	uint64_t *out = ARG(uint64_t *, VGPU_IOW_DPTR), *out_size = ARG(uint64_t *, VGPU_IOW_SIZE), size = 0;
	unsigned flags = ARG(uint32_t, VGPU_IOW_FLAGS);
	CUipcMemHandle h;
	CUdeviceptr p = 0;

	if (!call->drv->cuIpcOpenMemHandle_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !out_size || (flags & ~(unsigned)CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS))
		return CUDA_ERROR_INVALID_VALUE;
	if (no_registration(call))
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = entry_of(call, ARG(const struct vgpu_ipc_wire_handle *, VGPU_IOW_HANDLE), VGPU_IPC_KIND_MEM,
			      (uint8_t *)h.reserved, &size);
	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&s->lock);
	r = call->drv->cuIpcOpenMemHandle_v2(&p, h, flags);
	if (r == CUDA_SUCCESS) {
		uint32_t i = 0;
		while (i < s->nimp && s->imp[i].base != (uint64_t)p)
			i++;
		if (i < s->nimp) {
			s->imp[i].refs++;    /* opened again in this context: the driver counts it too */
		} else if (vgpu_room_for_one(&s->imp, &s->capimp, s->nimp, sizeof(*s->imp), 8) == 0) {
			s->imp[s->nimp++] = (struct vgpu_ipc_import){ .base = p, .size = size, .refs = 1,
								     .ctx = vgpu_proxy_current_ctx(call) };
			s->used = 1;
		} else {
			call->drv->cuIpcCloseMemHandle(p);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (r == CUDA_SUCCESS) {
		*out = p;
		*out_size = size;
		vgpu_debug("cuIpcOpenMemHandle: %llu bytes of another zone of the registration at 0x%llx",
			   (unsigned long long)size, (unsigned long long)p);
	}
	return r;
}

static CUresult ipc_close_mem(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_ipc_zone *s = &call->zone->ipc;
	uint64_t p = ARG(uint64_t, VGPU_ICW_DPTR);
	CUresult r = CUDA_ERROR_INVALID_VALUE;

	if (!call->drv->cuIpcCloseMemHandle)
		return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&s->lock);
	uint32_t i = 0;
	while (i < s->nimp && s->imp[i].base != p)
		i++;
	if (i < s->nimp) {   /* only a pointer the zone opened reaches the driver */
		r = call->drv->cuIpcCloseMemHandle((CUdeviceptr)p);
		if (r == CUDA_SUCCESS && --s->imp[i].refs == 0)
			s->imp[i] = s->imp[--s->nimp];
	} else {
		vgpu_debug("cuIpcCloseMemHandle(0x%llx): not memory the zone opened", (unsigned long long)p);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static CUresult ipc_get_event(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_zone *z = call->zone;
	struct vgpu_ipc_wire_handle *out = ARG(struct vgpu_ipc_wire_handle *, VGPU_IEW_HANDLE);
	CUevent ev = ARG(CUevent, VGPU_IEW_EVENT);
	CUipcEventHandle h;

	if (!call->drv->cuIpcGetEventHandle)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !ev)
		return CUDA_ERROR_INVALID_VALUE;
	if (no_registration(call))
		return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&z->ipc.lock);
	const struct vgpu_ipc_export *e = export_of(&z->ipc, VGPU_IPC_KIND_EVENT, (uint64_t)(uintptr_t)ev);
	CUresult r = CUDA_SUCCESS;
	if (e)
		wire_handle(out, VGPU_IPC_KIND_EVENT, e->idx, e->nonce);
	else if ((r = call->drv->cuIpcGetEventHandle(&h, ev)) == CUDA_SUCCESS)
		r = export_add(call, VGPU_IPC_KIND_EVENT, (uint64_t)(uintptr_t)ev, h.reserved, 0, out);
	pthread_mutex_unlock(&z->ipc.lock);
	return r;
}

static CUresult ipc_open_event(struct vgpu_proxy_call *call, void **argv)
{
	CUevent *out = ARG(CUevent *, VGPU_IVW_EVENT);
	CUipcEventHandle h;
	uint64_t size;

	if (!call->drv->cuIpcOpenEventHandle)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (no_registration(call))
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = entry_of(call, ARG(const struct vgpu_ipc_wire_handle *, VGPU_IVW_HANDLE), VGPU_IPC_KIND_EVENT,
			      (uint8_t *)h.reserved, &size);
	if (r != CUDA_SUCCESS)
		return r;
	r = call->drv->cuIpcOpenEventHandle(out, h);   /* the new event becomes one of the zone's handles */
	if (r == CUDA_SUCCESS) {
		pthread_mutex_lock(&call->zone->ipc.lock);
		call->zone->ipc.used = 1;
		pthread_mutex_unlock(&call->zone->ipc.lock);
	}
	return r;
}

#define WIRE(nm, op, args, n) static const struct vgpu_call_desc wire_##nm = \
	VGPU_WIRE_DESC(#nm, op, VGPU_CALLF_CUSTOM, args, n)
WIRE(cuIpcGetMemHandle, VGPU_OP_cuIpcGetMemHandle, vgpu_wire_ipc_get_mem_args, VGPU_IGW_NARGS);
WIRE(cuIpcOpenMemHandle_v2, VGPU_OP_cuIpcOpenMemHandle_v2, vgpu_wire_ipc_open_mem_args, VGPU_IOW_NARGS);
WIRE(cuIpcCloseMemHandle, VGPU_OP_cuIpcCloseMemHandle, vgpu_wire_ipc_close_mem_args, VGPU_ICW_NARGS);
WIRE(cuIpcGetEventHandle, VGPU_OP_cuIpcGetEventHandle, vgpu_wire_ipc_get_event_args, VGPU_IEW_NARGS);
WIRE(cuIpcOpenEventHandle, VGPU_OP_cuIpcOpenEventHandle, vgpu_wire_ipc_open_event_args, VGPU_IVW_NARGS);

__attribute__((constructor)) static void custom_ipc_register(void)
{
	vgpu_proxy_wire_register(VGPU_OP_cuIpcGetMemHandle, &wire_cuIpcGetMemHandle, ipc_get_mem, "cuIpcGetMemHandle");
	vgpu_proxy_wire_register(VGPU_OP_cuIpcOpenMemHandle_v2, &wire_cuIpcOpenMemHandle_v2, ipc_open_mem,
				 "cuIpcOpenMemHandle_v2");
	vgpu_proxy_wire_register(VGPU_OP_cuIpcCloseMemHandle, &wire_cuIpcCloseMemHandle, ipc_close_mem,
				 "cuIpcCloseMemHandle");
	vgpu_proxy_wire_register(VGPU_OP_cuIpcGetEventHandle, &wire_cuIpcGetEventHandle, ipc_get_event,
				 "cuIpcGetEventHandle");
	vgpu_proxy_wire_register(VGPU_OP_cuIpcOpenEventHandle, &wire_cuIpcOpenEventHandle, ipc_open_event,
				 "cuIpcOpenEventHandle");
}
