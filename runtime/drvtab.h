/* SPDX-License-Identifier: MIT */
/* drvtab.h — the public driver entry points that the export tables and the library API are built on. */
#ifndef VGPU_DRVTAB_H
#define VGPU_DRVTAB_H

#include <cuda.h>

/*
 * runtime/darkapi.c and runtime/library.c implement what the CUDA runtime asks of a driver
 * beyond the public calls (cuGetExportTable's tables, the CUlibrary/CUkernel API) once, over
 * the public driver API. Each library that exports them fills this table with its own entry
 * points: libcudasim.so with the simulator's, libvgpu with its remoted stubs. Every member
 * must be set; none may be NULL.
 */
struct vgpu_drvtab {
	CUresult (*driver_get_version)(int *version);
	CUresult (*device_get_count)(int *count);
	CUresult (*device_get_uuid)(CUuuid *uuid, CUdevice dev);
	CUresult (*device_get_attribute)(int *pi, CUdevice_attribute attrib, CUdevice dev);
	CUresult (*primary_ctx_retain)(CUcontext *pctx, CUdevice dev);
	CUresult (*ctx_create)(CUcontext *pctx, unsigned int flags, CUdevice dev);
	CUresult (*ctx_get_current)(CUcontext *pctx);
	CUresult (*ctx_push_current)(CUcontext ctx);
	CUresult (*ctx_pop_current)(CUcontext *pctx);
	/*
	 * A key for ctx (NULL: the calling thread's current context) that no other context of
	 * the process's lifetime ever has; CUDA_ERROR_INVALID_CONTEXT when ctx is NULL and none
	 * is current. Keys let per-context caches outlive a destroyed context's handle safely.
	 */
	CUresult (*ctx_key)(CUcontext ctx, unsigned long long *key);
	/*
	 * 1 when mod is still the module that was loaded into the context with key ctx_key (a
	 * module handle of a destroyed context may name another module since); 0 otherwise.
	 */
	int (*module_alive)(CUmodule mod, unsigned long long ctx_key);
	CUresult (*module_load_data)(CUmodule *mod, const void *image);
	CUresult (*module_unload)(CUmodule mod);
	CUresult (*module_get_function)(CUfunction *f, CUmodule mod, const char *name);
	CUresult (*module_get_global)(CUdeviceptr *dptr, size_t *bytes, CUmodule mod, const char *name);
	/*
	 * A __managed__ variable of mod: its address, which the host may use as a pointer to
	 * the variable and kernels as its device address (libvgpu keeps a copy in the zone at
	 * that address, runtime/mglobal); CUDA_ERROR_INVALID_VALUE when name is not managed.
	 */
	CUresult (*module_get_managed)(CUdeviceptr *dptr, size_t *bytes, CUmodule mod, const char *name);
	CUresult (*module_get_function_count)(unsigned int *count, CUmodule mod);
	CUresult (*module_enumerate_functions)(CUfunction *fns, unsigned int n, CUmodule mod);
	CUresult (*func_get_attribute)(int *pi, CUfunction_attribute attrib, CUfunction f);
	CUresult (*func_set_attribute)(CUfunction f, CUfunction_attribute attrib, int value);
	CUresult (*func_set_cache_config)(CUfunction f, CUfunc_cache config);
	CUresult (*func_get_name)(const char **name, CUfunction f);
	CUresult (*func_get_param_info)(CUfunction f, size_t index, size_t *offset, size_t *size);
	/*
	 * The devices before CUDA_VISIBLE_DEVICES: how many there are (*all), and which of them
	 * the process sees, in its order (ord[0..k), k returned): the simulator's own devices,
	 * or a zone's (the proxy's devices and the list its driver was started with). NVML
	 * numbers devices so, whatever the list says (vgpu's NVML asks it through the
	 * VGPU_DEVICES export table). -1 when not known.
	 */
	int (*devices_all)(int *all, int *ord, int cap);
	/* one line to the library's log (stderr, with the library's prefix) */
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

/* The members each library fills with its own public entry point of the same name. */
#define VGPU_DRVTAB_PUBLIC_CALLS \
	.driver_get_version = cuDriverGetVersion, \
	.device_get_count = cuDeviceGetCount, \
	.device_get_uuid = cuDeviceGetUuid_v2, \
	.device_get_attribute = cuDeviceGetAttribute, \
	.primary_ctx_retain = cuDevicePrimaryCtxRetain, \
	.ctx_get_current = cuCtxGetCurrent, \
	.ctx_push_current = cuCtxPushCurrent_v2, \
	.ctx_pop_current = cuCtxPopCurrent_v2, \
	.module_load_data = cuModuleLoadData, \
	.module_unload = cuModuleUnload, \
	.module_get_function = cuModuleGetFunction, \
	.module_get_global = cuModuleGetGlobal_v2, \
	.module_get_function_count = cuModuleGetFunctionCount, \
	.module_enumerate_functions = cuModuleEnumerateFunctions, \
	.func_get_attribute = cuFuncGetAttribute, \
	.func_set_attribute = cuFuncSetAttribute, \
	.func_set_cache_config = cuFuncSetCacheConfig, \
	.func_get_name = cuFuncGetName, \
	.func_get_param_info = cuFuncGetParamInfo

/* Defined once by each library that links runtime/darkapi.o and runtime/library.o. */
extern const struct vgpu_drvtab vgpu_drv;

#endif
