/* SPDX-License-Identifier: MIT */
/*
 * ipc.c — IPC memory and event handles. The handle the program gets is the proxy's (it names
 * an export in the table of the zone's registration, proxy/custom_ipc.c); another process of
 * the same pod opens it through its own zone. Handles travel between the processes as the
 * program sends them (a pipe, a socket, shared memory), as with the driver's.
 */
#include "client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "vgpu_ops.h"

#define IPC_DESC(var, fn, args, n) \
	static const struct vgpu_call_desc var = VGPU_WIRE_DESC(#fn, VGPU_OP_##fn, VGPU_CALLF_CUSTOM, args, n)
IPC_DESC(desc_get_mem, cuIpcGetMemHandle, vgpu_wire_ipc_get_mem_args, VGPU_IGW_NARGS);
IPC_DESC(desc_open_mem, cuIpcOpenMemHandle_v2, vgpu_wire_ipc_open_mem_args, VGPU_IOW_NARGS);
IPC_DESC(desc_close_mem, cuIpcCloseMemHandle, vgpu_wire_ipc_close_mem_args, VGPU_ICW_NARGS);
IPC_DESC(desc_get_event, cuIpcGetEventHandle, vgpu_wire_ipc_get_event_args, VGPU_IEW_NARGS);
IPC_DESC(desc_open_event, cuIpcOpenEventHandle, vgpu_wire_ipc_open_event_args, VGPU_IVW_NARGS);

/* Memory opened and not yet closed as often, so that it stays device memory for copies'
 * direction (dmap.c) until its last close. */
static struct {
	pthread_mutex_t lock;
	struct opened { uint64_t p; uint32_t refs; } *v;
	size_t n, cap;
} opened = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void opened_add(uint64_t p, uint64_t size)
{
	pthread_mutex_lock(&opened.lock);
	size_t i = 0;
	while (i < opened.n && opened.v[i].p != p)
		i++;
	if (i < opened.n) {
		opened.v[i].refs++;
	} else {
		if (opened.n == opened.cap) {
			size_t nc = opened.cap ? opened.cap * 2 : 8;
			struct opened *v = realloc(opened.v, nc * sizeof(*v));
			if (v) {
				opened.v = v;
				opened.cap = nc;
			}
		}
		if (opened.n < opened.cap)
			opened.v[opened.n++] = (struct opened){ p, 1 };
		vgpu_dmap_add((CUdeviceptr)p, (size_t)size);
	}
	pthread_mutex_unlock(&opened.lock);
}

static void opened_close(uint64_t p)
{
	pthread_mutex_lock(&opened.lock);
	size_t i = 0;
	while (i < opened.n && opened.v[i].p != p)
		i++;
	if (i == opened.n || --opened.v[i].refs == 0) {
		if (i < opened.n)
			opened.v[i] = opened.v[--opened.n];
		vgpu_dmap_del((CUdeviceptr)p);
	}
	pthread_mutex_unlock(&opened.lock);
}

_Static_assert(sizeof(CUipcMemHandle) == sizeof(struct vgpu_ipc_wire_handle) &&
	       sizeof(CUipcEventHandle) == sizeof(struct vgpu_ipc_wire_handle), "IPC handles are 64 bytes");

CUresult CUDAAPI cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr)
{
	struct vgpu_ipc_wire_handle w, *pw = &w;
	uint64_t p = dptr;

	if (!pHandle)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_IGW_NARGS] = { [VGPU_IGW_HANDLE] = &pw, [VGPU_IGW_DPTR] = &p };
	CUresult r = vgpu_client_call(&desc_get_mem, argv);
	if (r == CUDA_SUCCESS)
		memcpy(pHandle, &w, sizeof(w));
	return r;
}

CUresult CUDAAPI cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags)
{
	struct vgpu_ipc_wire_handle w, *pw = &w;
	uint64_t p = 0, size = 0, *pp = &p, *psize = &size;

	if (!pdptr)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&w, &handle, sizeof(w));
	void *argv[VGPU_IOW_NARGS] = { [VGPU_IOW_DPTR] = &pp, [VGPU_IOW_SIZE] = &psize, [VGPU_IOW_HANDLE] = &pw,
				       [VGPU_IOW_FLAGS] = &Flags };
	CUresult r = vgpu_client_call(&desc_open_mem, argv);
	if (r == CUDA_SUCCESS) {
		*pdptr = (CUdeviceptr)p;
		opened_add(p, size);
	}
	return r;
}

CUresult CUDAAPI cuIpcCloseMemHandle(CUdeviceptr dptr)
{
	uint64_t p = dptr;
	void *argv[VGPU_ICW_NARGS] = { [VGPU_ICW_DPTR] = &p };
	CUresult r = vgpu_client_call(&desc_close_mem, argv);
	if (r == CUDA_SUCCESS)
		opened_close(p);
	return r;
}

CUresult CUDAAPI cuIpcGetEventHandle(CUipcEventHandle *pHandle, CUevent event)
{
	struct vgpu_ipc_wire_handle w, *pw = &w;

	if (!pHandle)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_IEW_NARGS] = { [VGPU_IEW_HANDLE] = &pw, [VGPU_IEW_EVENT] = &event };
	CUresult r = vgpu_client_call(&desc_get_event, argv);
	if (r == CUDA_SUCCESS)
		memcpy(pHandle, &w, sizeof(w));
	return r;
}

CUresult CUDAAPI cuIpcOpenEventHandle(CUevent *phEvent, CUipcEventHandle handle)
{
	struct vgpu_ipc_wire_handle w, *pw = &w;

	if (!phEvent)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&w, &handle, sizeof(w));
	void *argv[VGPU_IVW_NARGS] = { [VGPU_IVW_EVENT] = &phEvent, [VGPU_IVW_HANDLE] = &pw };
	return vgpu_client_call(&desc_open_event, argv);
}
