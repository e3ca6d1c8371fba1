/* SPDX-License-Identifier: MIT */
/* backend.c — finding, loading and describing the driver library a worker calls (see backend.h). */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int vgpu_backend_parse(const char *s)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "auto"))
		return VGPU_BACKEND_AUTO;
	if (!strcmp(s, "cuda"))
		return VGPU_BACKEND_CUDA;
	if (!strcmp(s, "sim"))
		return VGPU_BACKEND_SIM;
	return -EINVAL;
}

int vgpu_backend_find_sim(const char *opt, char *buf, unsigned cap)
{
	char exe[PATH_MAX];
	const char *env = getenv("VGPU_SIM_LIB");
	ssize_t n;

	if (opt && *opt) {
		snprintf(buf, cap, "%s", opt);
		return access(buf, R_OK) == 0 ? 0 : -ENOENT;
	}
	if (env && *env) {
		snprintf(buf, cap, "%s", env);
		return access(buf, R_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(buf, cap, "libcudasim.so");
		return -ENOENT;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	/* $(B)/proxy/vgpu-proxy -> $(B)/sim/libcudasim.so; an installed copy may sit beside it. */
	snprintf(buf, cap, "%s/libcudasim.so", exe);
	if (access(buf, R_OK) == 0)
		return 0;
	snprintf(buf, cap, "%s/../sim/libcudasim.so", exe);
	return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}

#define SYM(name) do { *(void **)&b->fn.name = dlsym(b->dl, #name); } while (0)

static int open_lib(struct vgpu_backend *b, const char *path, int kind, char *why, unsigned cap)
{
	/* The simulator looks in its process's files for the PTX of a program's relocatable
	 * device code when an image holds only SASS (runtime/rdc.c): the program's, when it runs
	 * in the program. In the proxy, what a zone sends never makes a worker read files: the
	 * zone's libvgpu does that search in the zone. */
	if (kind == VGPU_BACKEND_SIM)
		setenv("VGPU_SIM_RDC", "0", 1);
	b->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!b->dl) {
		const char *e = dlerror();
		snprintf(why, cap, "dlopen %s: %s", path, e ? e : "failed");
		return -ENOENT;
	}
	b->kind = kind;
	snprintf(b->path, sizeof(b->path), "%s", path);
	SYM(cuInit);
	SYM(cuDriverGetVersion);
	SYM(cuGraphExecDestroy);
	SYM(cuGraphDestroy);
	SYM(cuMemPoolDestroy);
	SYM(cuMemUnmap);
	SYM(cuMemRelease);
	SYM(cuStreamIsCapturing);
	SYM(cuDeviceGetCount);
	SYM(cuDeviceGet);
	SYM(cuDeviceGetUuid_v2);
	if (!b->fn.cuDeviceGetUuid_v2)
		*(void **)&b->fn.cuDeviceGetUuid_v2 = dlsym(b->dl, "cuDeviceGetUuid");
	SYM(cuDeviceGetName);
	SYM(cuCtxSetCurrent);
	SYM(cuCtxGetCurrent);
	SYM(cuCtxPopCurrent_v2);
	SYM(cuCtxPushCurrent_v2);
	SYM(cuCtxGetDevice);
	SYM(cuCtxDestroy_v2);
	SYM(cuDevicePrimaryCtxRelease_v2);
	SYM(cuDevicePrimaryCtxGetState);
	SYM(cuModuleUnload);
	SYM(cuLibraryUnload);
	SYM(cuStreamDestroy_v2);
	SYM(cuEventDestroy_v2);
	SYM(cuMemFree_v2);
	SYM(cuIpcCloseMemHandle);
	SYM(cuGreenCtxDestroy);
	SYM(cuStreamSynchronize);
	SYM(cuCtxSynchronize);
	SYM(cuMemHostRegister_v2);
	SYM(cuMemHostUnregister);
	SYM(cuMemHostGetDevicePointer_v2);
	SYM(cuCtxGetFlags);
	SYM(cuDevicePrimaryCtxRetain);
	SYM(cuCtxCreate_v2);
	SYM(cuModuleLoadData);
	SYM(cuModuleGetFunction);
	SYM(cuFuncGetName);
	SYM(cuStreamGetFlags);
	SYM(cuStreamGetPriority);
	SYM(cuStreamCreateWithPriority);
	SYM(cuEventCreate);
	SYM(cuMemcpyDtoH_v2);
	SYM(cuMemcpyDtoD_v2);
	SYM(cuMemcpyHtoD_v2);
	SYM(cuModuleGetGlobal_v2);
	SYM(cuMemAddressReserve);
	SYM(cuMemAddressFree);
	SYM(cuMemCreate);
	SYM(cuMemMap);
	SYM(cuMemSetAccess);
	SYM(cuMemGetAllocationGranularity);
	SYM(cuDeviceGetDefaultMemPool);
	SYM(cuDeviceGetMemPool);
	SYM(cuDeviceSetMemPool);
	SYM(cuMemPoolCreate);
	SYM(cuMemPoolGetAttribute);
	SYM(cuMemPoolSetAttribute);
	SYM(cuEventElapsedTime_v2);
	if (!b->fn.cuEventElapsedTime_v2)
		*(void **)&b->fn.cuEventElapsedTime_v2 = dlsym(b->dl, "cuEventElapsedTime");
	SYM(cuEventRecord);
	SYM(cuEventSynchronize);
	SYM(cuEventQuery);
	SYM(cuFuncGetParamInfo);
	SYM(cuGraphCreate);
	SYM(cuGraphClone);
	SYM(cuGraphGetNodes);
	SYM(cuGraphNodeGetType);
	SYM(cuGraphNodeGetDependencies_v2);
	SYM(cuGraphKernelNodeGetParams_v2);
	SYM(cuGraphMemsetNodeGetParams);
	SYM(cuGraphMemcpyNodeGetParams);
	SYM(cuGraphEventRecordNodeGetEvent);
	SYM(cuGraphEventWaitNodeGetEvent);
	SYM(cuGraphAddKernelNode_v2);
	SYM(cuGraphAddMemsetNode);
	SYM(cuGraphAddMemcpyNode);
	SYM(cuGraphAddEmptyNode);
	SYM(cuGraphAddEventRecordNode);
	SYM(cuGraphAddEventWaitNode);
	SYM(cuGraphInstantiateWithFlags);
	SYM(cuGraphChildGraphNodeGetGraph);
	SYM(cuGraphAddChildGraphNode);
	SYM(cuMemGetAllocationPropertiesFromHandle);
	SYM(cuMemGetAccess);
	SYM(cuMemRetainAllocationHandle);
	if (kind == VGPU_BACKEND_SIM) {
		SYM(vgpu_sim_module_place_global);
		SYM(vgpu_sim_module_global_at);
		SYM(vgpu_sim_live_objects);
		SYM(vgpu_sim_live_vmm);
		SYM(vgpu_sim_live_events);
	}
	if (!b->fn.cuInit) {
		snprintf(why, cap, "%s does not export cuInit; is it a CUDA driver library?", path);
		dlclose(b->dl);
		b->dl = NULL;
		return -ENOEXEC;
	}
	return 0;
}

/*
 * cuInit(0), a driver at least as new as the API zones are told they have (libvgpu answers
 * cuDriverGetVersion itself with CUDA_VERSION), and at least one device.
 */
static int init_devices(struct vgpu_backend *b, char *why, unsigned cap)
{
	int count = 0, version = 0;
	CUresult r = b->fn.cuInit(0);
	if (r != CUDA_SUCCESS) {
		snprintf(why, cap, "cuInit(0) in %s failed with CUresult %d", b->path, (int)r);
		return -ENODEV;
	}
	if (!b->fn.cuDriverGetVersion || b->fn.cuDriverGetVersion(&version) != CUDA_SUCCESS ||
	    version < CUDA_VERSION) {
		snprintf(why, cap, "%s implements CUDA %d.%d; zones are promised CUDA %d.%d: update the driver",
			 b->path, version / 1000, version % 1000 / 10, CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10);
		return -ENODEV;
	}
	if (!b->fn.cuDeviceGetCount || b->fn.cuDeviceGetCount(&count) != CUDA_SUCCESS || count <= 0) {
		snprintf(why, cap, "%s reports no device", b->path);
		return -ENODEV;
	}
	return 0;
}

int vgpu_backend_load(int want, const char *sim_path, struct vgpu_backend *b, char *why, unsigned cap)
{
	char why_cuda[256] = "";
	int rc;

	memset(b, 0, sizeof(*b));
	snprintf(why, cap, "no reason");
	if (want == VGPU_BACKEND_CUDA || want == VGPU_BACKEND_AUTO) {
		rc = open_lib(b, "libcuda.so.1", VGPU_BACKEND_CUDA, why_cuda, sizeof(why_cuda));
		if (rc == 0 && (rc = init_devices(b, why_cuda, sizeof(why_cuda))) < 0)
			vgpu_backend_unload(b);
		if (rc == 0)
			return 0;
		if (want == VGPU_BACKEND_CUDA) {
			snprintf(why, cap, "%s", why_cuda);
			return rc;
		}
	}
	if (!sim_path || !*sim_path) {
		snprintf(why, cap, "%s%sno simulator library given", why_cuda, *why_cuda ? "; " : "");
		return -ENOENT;
	}
	rc = open_lib(b, sim_path, VGPU_BACKEND_SIM, why, cap);
	if (rc == 0 && (rc = init_devices(b, why, cap)) < 0)
		vgpu_backend_unload(b);
	if (rc < 0 && *why_cuda) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", why);
		snprintf(why, cap, "%s; %s", why_cuda, tmp);
	}
	return rc;
}

void vgpu_backend_unload(struct vgpu_backend *b)
{
	if (b->dl)
		dlclose(b->dl);
	b->dl = NULL;
}

void vgpu_backend_describe(const struct vgpu_backend *b, char *buf, unsigned cap)
{
	int count = 0;
	char name[128] = "unknown device";
	CUdevice dev;

	if (b->kind == VGPU_BACKEND_SIM) {
		snprintf(buf, cap, "simulator (CPU test double) %s", b->path);
		return;
	}
	if (b->fn.cuDeviceGetCount)
		b->fn.cuDeviceGetCount(&count);
	if (count > 0 && b->fn.cuDeviceGet && b->fn.cuDeviceGetName &&
	    b->fn.cuDeviceGet(&dev, 0) == CUDA_SUCCESS)
		b->fn.cuDeviceGetName(name, (int)sizeof(name), dev);
	name[sizeof(name) - 1] = '\0';
	snprintf(buf, cap, "NVIDIA driver, %d GPU%s: %s (%s)", count, count == 1 ? "" : "s", name, b->path);
}
