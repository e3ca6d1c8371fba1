/* SPDX-License-Identifier: MIT */
/* libcudasim as the proxy sees it: dlopen'd, every driver ABI name of the ordinary
 * driver-API program set resolvable by dlsym (with the _v2/_v4 suffixes cuda.h maps to and
 * the per-thread-stream twins), internal symbols hidden, and calls through the resolved
 * pointers working. */
#include "simtest.h"

#include <dlfcn.h>

static const char *required[] = {
	"cuInit", "cuDriverGetVersion", "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetName",
	"cuDeviceGetUuid", "cuDeviceGetUuid_v2", "cuDeviceTotalMem_v2", "cuDeviceGetAttribute",
	"cuDeviceComputeCapability", "cuDeviceGetProperties", "cuDevicePrimaryCtxRetain",
	"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxReset_v2", "cuDevicePrimaryCtxGetState",
	"cuDevicePrimaryCtxSetFlags_v2", "cuCtxCreate_v4", "cuCtxDestroy_v2", "cuCtxPushCurrent_v2",
	"cuCtxPopCurrent_v2", "cuCtxSetCurrent", "cuCtxGetCurrent", "cuCtxGetDevice",
	"cuCtxSynchronize", "cuCtxGetApiVersion", "cuCtxGetFlags", "cuCtxSetLimit", "cuCtxGetLimit",
	"cuCtxGetCacheConfig", "cuCtxSetCacheConfig", "cuCtxGetStreamPriorityRange",
	"cuMemAlloc_v2", "cuMemFree_v2", "cuMemAllocPitch_v2", "cuMemGetInfo_v2",
	"cuMemGetAddressRange_v2", "cuMemAllocHost_v2", "cuMemFreeHost", "cuMemHostAlloc",
	"cuMemHostGetDevicePointer_v2", "cuMemHostRegister_v2", "cuMemHostUnregister",
	"cuMemHostGetFlags", "cuPointerGetAttribute", "cuPointerGetAttributes", "cuMemcpy",
	"cuMemcpyAsync", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2",
	"cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoDAsync_v2", "cuMemcpy2D_v2",
	"cuMemcpy2DUnaligned_v2", "cuMemcpy2DAsync_v2", "cuMemcpy3D_v2", "cuMemcpy3DAsync_v2",
	"cuMemsetD8_v2", "cuMemsetD16_v2", "cuMemsetD32_v2", "cuMemsetD2D8_v2", "cuMemsetD2D16_v2",
	"cuMemsetD2D32_v2", "cuMemsetD8Async", "cuMemsetD16Async", "cuMemsetD32Async",
	"cuMemsetD2D8Async", "cuMemsetD2D16Async", "cuMemsetD2D32Async", "cuModuleLoad",
	"cuModuleLoadData", "cuModuleLoadDataEx", "cuModuleLoadFatBinary", "cuModuleUnload",
	"cuModuleGetFunction", "cuModuleGetGlobal_v2", "cuFuncGetAttribute", "cuFuncSetAttribute",
	"cuFuncSetCacheConfig", "cuOccupancyMaxActiveBlocksPerMultiprocessor",
	"cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags", "cuOccupancyMaxPotentialBlockSize",
	"cuOccupancyMaxPotentialBlockSizeWithFlags", "cuLaunchKernel", "cuLaunchKernelEx",
	"cuLaunchCooperativeKernel", "cuStreamCreate", "cuStreamCreateWithPriority",
	"cuStreamDestroy_v2", "cuStreamSynchronize", "cuStreamQuery", "cuStreamWaitEvent",
	"cuStreamGetFlags", "cuStreamGetPriority", "cuStreamAddCallback", "cuLaunchHostFunc",
	"cuEventCreate", "cuEventDestroy_v2", "cuEventRecord", "cuEventRecordWithFlags",
	"cuEventSynchronize", "cuEventQuery", "cuEventElapsedTime", "cuEventElapsedTime_v2",
	"cuGetErrorString", "cuGetErrorName", "cuMemcpyHtoD_v2_ptds", "cuMemcpy_ptds",
	"cuMemcpyAsync_ptsz", "cuLaunchKernel_ptsz", "cuLaunchKernelEx_ptsz", "cuStreamQuery_ptsz",
	"cuStreamSynchronize_ptsz", "cuEventRecord_ptsz", "cuMemsetD32_v2_ptds",
	"cuMemcpy3DAsync_v2_ptsz", "cuCtxDestroy", "cuCtxPopCurrent", "cuCtxPushCurrent",
	"cuStreamDestroy", "cuEventDestroy", "cuDevicePrimaryCtxRelease", "cuCtxCreate",
	"cuCtxCreate_v2", "cuMemcpyPeer", "cuMemAllocAsync", "cuMemFreeAsync", "cuFuncGetName",
	"cuModuleEnumerateFunctions", "cuStreamGetCtx", "cuCtxGetId", "cuArrayCreate_v2", "cuArray3DCreate_v2",
	"cuArrayDestroy", "cuArrayGetDescriptor_v2", "cuArray3DGetDescriptor_v2", "cuArrayCreate", "cuMemcpyHtoA_v2",
	"cuMemcpyAtoH_v2", "cuMemcpyDtoA_v2", "cuMemcpyAtoD_v2", "cuMemcpyAtoA_v2", "cuMemcpyHtoAAsync_v2",
	"cuMemcpyAtoHAsync_v2", "cuMemcpyHtoA_v2_ptds", "cuMemcpyAtoHAsync_v2_ptsz", "cuTexObjectCreate",
	"cuTexObjectDestroy", "cuTexObjectGetResourceDesc", "cuTexObjectGetTextureDesc",
	"cuTexObjectGetResourceViewDesc", "cuSurfObjectCreate", "cuSurfObjectDestroy", "cuSurfObjectGetResourceDesc", "cuLinkCreate_v2", "cuLinkAddData_v2", "cuLinkAddFile_v2",
	"cuLinkComplete", "cuLinkDestroy", "cuLinkCreate", "cuLinkAddData", "cuLinkAddFile", "cuGetProcAddress", "cuGetProcAddress_v2", "vgpu_sim_set_access_hook", "vgpu_sim_last_error",
	"vgpu_sim_insn_count", "vgpu_sim_module_place_global", "vgpu_sim_module_global_at",
};

static const char *hidden[] = {
	"sim_mem_alloc", "sim_stream_enqueue", "ptx_module_parse", "ptx_block_run",
	"vgpu_modimage_size", "vgpu_modimage_ptx", "g_lock", "sim_log", "sim_absent",
};

/* Every cu* name of cuda.h, as libvgpu exports them (generated/libvgpu.map): the simulator
 * exports each too, its own or a stub saying it lacks it (generated/sim_absent.c), so a
 * program linked against any of them loads on it. Returns how many are missing. */
static int every_name(void *dl)
{
	FILE *f = fopen("generated/libvgpu.map", "r");
	char line[256], name[128];
	int n = 0, missing = 0;
	if (!f) {
		fprintf(stderr, "generated/libvgpu.map: cannot open it (run from the source tree)\n");
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %127[A-Za-z0-9_];", name) == 1 && !strncmp(name, "cu", 2)) {
			n++;
			if (!dlsym(dl, name)) {
				fprintf(stderr, "cuda.h name not exported by the simulator: %s\n", name);
				missing++;
			}
		}
	fclose(f);
	printf("test_sim_abi: %d of cuda.h's %d names exported\n", n - missing, n);
	return n < 600 ? 1 : missing;
}

int main(void)
{
	const char *path = st_path("sim/libcudasim.so");
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return 1;
	}
	int missing = 0;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!dlsym(dl, required[i])) {
			fprintf(stderr, "missing export: %s\n", required[i]);
			missing++;
		}
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (dlsym(dl, hidden[i])) {
			fprintf(stderr, "internal symbol exported: %s\n", hidden[i]);
			missing++;
		}
	EXPECT(missing == 0);
	EXPECT(every_name(dl) == 0);
	/* calls through the resolved pointers, as the proxy makes them */
	CUresult (*init)(unsigned) = (CUresult (*)(unsigned))dlsym(dl, "cuInit");
	CUresult (*create)(CUcontext *, CUctxCreateParams *, unsigned, CUdevice) =
		(CUresult (*)(CUcontext *, CUctxCreateParams *, unsigned, CUdevice))dlsym(dl, "cuCtxCreate_v4");
	CUresult (*alloc)(CUdeviceptr *, size_t) = (CUresult (*)(CUdeviceptr *, size_t))dlsym(dl, "cuMemAlloc_v2");
	CUresult (*set)(CUdeviceptr, unsigned, size_t) =
		(CUresult (*)(CUdeviceptr, unsigned, size_t))dlsym(dl, "cuMemsetD32_v2_ptds");
	CUresult (*dtoh)(void *, CUdeviceptr, size_t) =
		(CUresult (*)(void *, CUdeviceptr, size_t))dlsym(dl, "cuMemcpyDtoH_v2");
	CUresult (*destroy)(CUcontext) = (CUresult (*)(CUcontext))dlsym(dl, "cuCtxDestroy_v2");
	CUcontext c;
	CUdeviceptr p;
	unsigned v[4] = {0};
	EXPECT(init(0) == CUDA_SUCCESS);
	EXPECT(create(&c, NULL, 0, 0) == CUDA_SUCCESS);
	EXPECT(alloc(&p, 16) == CUDA_SUCCESS);
	EXPECT(set(p, 0xfeedu, 4) == CUDA_SUCCESS);
	EXPECT(dtoh(v, p, 16) == CUDA_SUCCESS);
	EXPECT(v[0] == 0xfeedu && v[3] == 0xfeedu);
	EXPECT(destroy(c) == CUDA_SUCCESS);

	/* cuGetProcAddress: the variant for a version and stream mode, among our own exports */
	typedef CUresult (*gpa_t)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);
	gpa_t gpa = (gpa_t)dlsym(dl, "cuGetProcAddress_v2");
	CUdriverProcAddressQueryResult st;
	void *fp;
	EXPECT(gpa("cuMemAlloc", &fp, 12000, 0, &st) == CUDA_SUCCESS && st == CU_GET_PROC_ADDRESS_SUCCESS);
	EXPECT(fp == dlsym(dl, "cuMemAlloc_v2"));
	EXPECT(gpa("cuMemcpyHtoD", &fp, 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st) == 0);
	EXPECT(fp == dlsym(dl, "cuMemcpyHtoD_v2_ptds"));
	EXPECT(gpa("cuMemcpyHtoD", &fp, 13000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &st) == 0);
	EXPECT(fp == dlsym(dl, "cuMemcpyHtoD_v2"));
	EXPECT(gpa("cuCtxCreate", &fp, 13000, 0, &st) == 0 && fp == dlsym(dl, "cuCtxCreate_v4"));
	/* CUDA 12.0 meant the exec-affinity signature (runtime/legacy.c), never the v4 one */
	EXPECT(gpa("cuCtxCreate", &fp, 12000, 0, &st) == CUDA_SUCCESS && fp == dlsym(dl, "cuCtxCreate_v3"));
	fp = &fp;
	EXPECT(gpa("cuLaunchKernelEx", &fp, 11000, 0, &st) == CUDA_SUCCESS &&
	       st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT && fp == NULL);
	fp = &fp;
	EXPECT(gpa("cuNoSuchCall", &fp, 13000, 0, &st) == CUDA_SUCCESS && st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND &&
	       fp == NULL);
	/* not simulated: found, as the driver has it, and says so when called */
	EXPECT(gpa("cuDestroyExternalMemory", &fp, 13000, 0, &st) == CUDA_SUCCESS && st == CU_GET_PROC_ADDRESS_SUCCESS &&
	       fp == dlsym(dl, "cuDestroyExternalMemory"));
	EXPECT(fp && ((CUresult (*)(CUexternalMemory))fp)(NULL) == CUDA_ERROR_NOT_SUPPORTED);
	EXPECT(fp && ((CUresult (*)(CUexternalMemory))fp)(NULL) == CUDA_ERROR_NOT_SUPPORTED);   /* said once */
	/* IPC is simulated (sim/ipc.c): the lookup finds the simulator's own definitions */
	EXPECT(gpa("cuIpcGetMemHandle", &fp, 13000, 0, &st) == CUDA_SUCCESS && st == CU_GET_PROC_ADDRESS_SUCCESS &&
	       fp == dlsym(dl, "cuIpcGetMemHandle"));
	EXPECT(fp && ((CUresult (*)(CUipcMemHandle *, CUdeviceptr))fp)(NULL, p) != CUDA_ERROR_NOT_SUPPORTED);
	EXPECT(gpa("cuIpcOpenMemHandle", &fp, 13000, 0, &st) == CUDA_SUCCESS && fp == dlsym(dl, "cuIpcOpenMemHandle_v2"));
	EXPECT(gpa("cuIpcOpenEventHandle", &fp, 13000, 0, &st) == CUDA_SUCCESS && fp == dlsym(dl, "cuIpcOpenEventHandle"));
	EXPECT(gpa("cuTexObjectCreate", &fp, 13000, 0, &st) == CUDA_SUCCESS && fp == dlsym(dl, "cuTexObjectCreate"));
	EXPECT(gpa("cuMemcpyHtoA", &fp, 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st) == 0);
	EXPECT(fp == dlsym(dl, "cuMemcpyHtoA_v2_ptds"));
	dlclose(dl);
	printf("test_sim_abi: %zu ABI names resolve, internals hidden\n",
	       sizeof(required) / sizeof(required[0]));
	return 0;
}
