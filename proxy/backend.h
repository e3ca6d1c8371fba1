/* SPDX-License-Identifier: MIT */
/* backend.h — choosing and loading the driver a worker calls: the real libcuda.so.1 or the simulator. */
#ifndef VGPU_PROXY_BACKEND_H
#define VGPU_PROXY_BACKEND_H

#include <cuda.h>

enum vgpu_backend_kind { VGPU_BACKEND_AUTO = 0, VGPU_BACKEND_CUDA = 1, VGPU_BACKEND_SIM = 2 };

/* The few entry points the proxy calls itself (init, probing, zone cleanup), resolved with
 * dlsym independently of the generated table. Any may be NULL when not exported. */
struct vgpu_backend_fns {
	CUresult (*cuInit)(unsigned int);
	CUresult (*cuDriverGetVersion)(int *);
	CUresult (*cuGraphExecDestroy)(CUgraphExec);
	CUresult (*cuGraphDestroy)(CUgraph);
	CUresult (*cuMemPoolDestroy)(CUmemoryPool);
	CUresult (*cuMemUnmap)(CUdeviceptr, size_t);
	CUresult (*cuMemRelease)(CUmemGenericAllocationHandle);
	CUresult (*cuStreamIsCapturing)(CUstream, CUstreamCaptureStatus *);
	CUresult (*cuDeviceGetCount)(int *);
	CUresult (*cuDeviceGet)(CUdevice *, int);
	CUresult (*cuDeviceGetUuid_v2)(CUuuid *, CUdevice);
	CUresult (*cuDeviceGetName)(char *, int, CUdevice);
	CUresult (*cuCtxSetCurrent)(CUcontext);
	CUresult (*cuCtxGetCurrent)(CUcontext *);
	CUresult (*cuCtxPopCurrent_v2)(CUcontext *);
	CUresult (*cuCtxPushCurrent_v2)(CUcontext);
	CUresult (*cuCtxGetDevice)(CUdevice *);
	CUresult (*cuCtxDestroy_v2)(CUcontext);
	CUresult (*cuDevicePrimaryCtxRelease_v2)(CUdevice);
	CUresult (*cuDevicePrimaryCtxGetState)(CUdevice, unsigned int *, int *);
	CUresult (*cuModuleUnload)(CUmodule);
	CUresult (*cuLibraryUnload)(CUlibrary);
	CUresult (*cuStreamDestroy_v2)(CUstream);
	CUresult (*cuEventDestroy_v2)(CUevent);
	CUresult (*cuMemFree_v2)(CUdeviceptr);
	CUresult (*cuIpcCloseMemHandle)(CUdeviceptr);
	CUresult (*cuGreenCtxDestroy)(CUgreenCtx);
	CUresult (*cuStreamSynchronize)(CUstream);
	CUresult (*cuCtxSynchronize)(void);
	CUresult (*cuMemHostRegister_v2)(void *, size_t, unsigned int);
	CUresult (*cuMemHostUnregister)(void *);
	CUresult (*cuMemHostGetDevicePointer_v2)(CUdeviceptr *, void *, unsigned int);
	/* checkpoint and restore (ckpt.c) */
	CUresult (*cuCtxGetFlags)(unsigned int *);
	CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
	CUresult (*cuCtxCreate_v2)(CUcontext *, unsigned int, CUdevice);
	CUresult (*cuModuleLoadData)(CUmodule *, const void *);
	CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
	CUresult (*cuFuncGetName)(const char **, CUfunction);
	CUresult (*cuStreamGetFlags)(CUstream, unsigned int *);
	CUresult (*cuStreamGetPriority)(CUstream, int *);
	CUresult (*cuStreamCreateWithPriority)(CUstream *, unsigned int, int);
	CUresult (*cuEventCreate)(CUevent *, unsigned int);
	CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t);
	CUresult (*cuMemcpyDtoD_v2)(CUdeviceptr, CUdeviceptr, size_t);
	CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t);
	CUresult (*cuModuleGetGlobal_v2)(CUdeviceptr *, size_t *, CUmodule, const char *);
	CUresult (*cuMemAddressReserve)(CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long);
	CUresult (*cuMemAddressFree)(CUdeviceptr, size_t);
	CUresult (*cuMemCreate)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *, unsigned long long);
	CUresult (*cuMemMap)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long);
	CUresult (*cuMemSetAccess)(CUdeviceptr, size_t, const CUmemAccessDesc *, size_t);
	CUresult (*cuMemGetAllocationGranularity)(size_t *, const CUmemAllocationProp *, CUmemAllocationGranularity_flags);
	CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice);
	CUresult (*cuDeviceGetMemPool)(CUmemoryPool *, CUdevice);
	CUresult (*cuDeviceSetMemPool)(CUdevice, CUmemoryPool);
	CUresult (*cuMemPoolCreate)(CUmemoryPool *, const CUmemPoolProps *);
	CUresult (*cuMemPoolGetAttribute)(CUmemoryPool, CUmemPool_attribute, void *);
	CUresult (*cuMemPoolSetAttribute)(CUmemoryPool, CUmemPool_attribute, void *);
	CUresult (*cuEventElapsedTime_v2)(float *, CUevent, CUevent);   /* or the pre-12.8 cuEventElapsedTime */
	CUresult (*cuEventRecord)(CUevent, CUstream);
	CUresult (*cuEventSynchronize)(CUevent);
	CUresult (*cuEventQuery)(CUevent);
	/* graphs in checkpoints: described through the driver's queries, rebuilt node by node */
	CUresult (*cuFuncGetParamInfo)(CUfunction, size_t, size_t *, size_t *);
	CUresult (*cuGraphCreate)(CUgraph *, unsigned int);
	CUresult (*cuGraphClone)(CUgraph *, CUgraph);
	CUresult (*cuGraphGetNodes)(CUgraph, CUgraphNode *, size_t *);
	CUresult (*cuGraphNodeGetType)(CUgraphNode, CUgraphNodeType *);
	CUresult (*cuGraphNodeGetDependencies_v2)(CUgraphNode, CUgraphNode *, CUgraphEdgeData *, size_t *);
	CUresult (*cuGraphKernelNodeGetParams_v2)(CUgraphNode, CUDA_KERNEL_NODE_PARAMS *);
	CUresult (*cuGraphMemsetNodeGetParams)(CUgraphNode, CUDA_MEMSET_NODE_PARAMS *);
	CUresult (*cuGraphMemcpyNodeGetParams)(CUgraphNode, CUDA_MEMCPY3D *);
	CUresult (*cuGraphEventRecordNodeGetEvent)(CUgraphNode, CUevent *);
	CUresult (*cuGraphEventWaitNodeGetEvent)(CUgraphNode, CUevent *);
	CUresult (*cuGraphAddKernelNode_v2)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, const CUDA_KERNEL_NODE_PARAMS *);
	CUresult (*cuGraphAddMemsetNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, const CUDA_MEMSET_NODE_PARAMS *, CUcontext);
	CUresult (*cuGraphAddMemcpyNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, const CUDA_MEMCPY3D *, CUcontext);
	CUresult (*cuGraphAddEmptyNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t);
	CUresult (*cuGraphAddEventRecordNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, CUevent);
	CUresult (*cuGraphAddEventWaitNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, CUevent);
	CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*cuGraphChildGraphNodeGetGraph)(CUgraphNode, CUgraph *);
	CUresult (*cuGraphAddChildGraphNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, CUgraph);
	/* virtual memory management in checkpoints */
	CUresult (*cuMemGetAllocationPropertiesFromHandle)(CUmemAllocationProp *, CUmemGenericAllocationHandle);
	CUresult (*cuMemGetAccess)(unsigned long long *, const CUmemLocation *, CUdeviceptr);
	CUresult (*cuMemRetainAllocationHandle)(CUmemGenericAllocationHandle *, void *);
	/* the simulator's own (a test double, not a driver entry point): put a module's global at
	 * a given address, so that a restored zone's globals keep theirs (ckpt.c) */
	CUresult (*vgpu_sim_module_place_global)(CUmodule, const char *, CUdeviceptr, size_t);
	/* and list a module's globals (all of them go into a checkpoint, asked for or not) */
	CUresult (*vgpu_sim_module_global_at)(CUmodule, unsigned, const char **, CUdeviceptr *, size_t *);
	/* and count the graphs, executable graphs, pools, libraries and stream-ordered
	 * allocations it holds (the worker's check, once its zone is freed, that nothing of the
	 * zone was left behind) */
	void (*vgpu_sim_live_objects)(long *graphs, long *execs, long *pools, long *libraries, long *ordered);
	/* and its virtual memory: physical allocations, mappings, address reservations */
	void (*vgpu_sim_live_vmm)(long *phys, long *mappings, long *reservations);
	/* and its events (a context's go with it) */
	void (*vgpu_sim_live_events)(long *events);
};

struct vgpu_backend {
	int kind;                   /* VGPU_BACKEND_CUDA or VGPU_BACKEND_SIM once loaded */
	void *dl;                   /* dlopen handle */
	char path[512];             /* what was loaded */
	struct vgpu_backend_fns fn;
	void *drv;                  /* struct vgpu_driver * (generated), NULL if not built in */
};

/* Where the simulator is: --sim-lib, else $VGPU_SIM_LIB, else ../sim/libcudasim.so or
 * ./libcudasim.so next to the running binary. Writes the path into buf; 0 if the file
 * exists, -ENOENT (buf then holds the first place looked at). */
int vgpu_backend_find_sim(const char *opt, char *buf, unsigned cap);

/*
 * Load the backend `want` (AUTO: the real driver if libcuda.so.1 loads and reports at least
 * one device, else the simulator at sim_path) into *b, calling cuInit(0). For AUTO the real
 * driver is initialised while probing, so call this only in a process allowed to touch it
 * (a worker, or the supervisor's short-lived probe child). 0 or -errno; *why says what failed.
 */
int vgpu_backend_load(int want, const char *sim_path, struct vgpu_backend *b /* out */,
		      char *why, unsigned why_cap);
/* Close the dlopen handle. */
void vgpu_backend_unload(struct vgpu_backend *b);
/* "simulator (CPU test double) PATH" or "NVIDIA driver, N GPU(s): NAME", into buf. */
void vgpu_backend_describe(const struct vgpu_backend *b, char *buf, unsigned cap);

/* Parse "auto|cuda|sim": the kind or -EINVAL. */
int vgpu_backend_parse(const char *s);

#endif
