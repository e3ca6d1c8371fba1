/* SPDX-License-Identifier: MIT */
/* vgpu-sim: describes libcudasim (the CPU test double of the CUDA driver) and lists what it
 * presents, or loads a PTX/cubin/fatbin file and lists its kernels, as a quick self-check. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
	"usage: vgpu-sim [--help] [--info] [--load FILE]\n"
	"\n"
	"libcudasim.so is a TEST DOUBLE of the CUDA driver API (libcuda.so.1) that runs on the\n"
	"CPU: device memory is a host arena, streams are worker threads, and kernels are PTX\n"
	"interpreted instruction by instruction. It exists so that vgpu-proxy, the end-to-end\n"
	"tests, the demo and the fuzzer run on machines without a GPU. It is not a GPU: timings\n"
	"mean nothing, and only the PTX subset listed in docs/SIM.md is supported.\n"
	"\n"
	"  --info       initialise the simulator and print the devices it presents\n"
	"  --load FILE  load a module (PTX text, cubin or fatbin) and report the result\n"
	"\n"
	"environment:\n"
	"  VGPU_SIM_DEVICES  number of simulated devices (default 1, at most 16)\n"
	"  VGPU_SIM_MEM      device memory per device, e.g. 512M or 4G (default 4G, reserved lazily)\n"
	"  VGPU_SIM_THREADS  threads that execute kernel blocks (default: number of CPUs)\n"
	"  VGPU_SIM_KEEP_FREED  frees up to this size (e.g. 64M) clear resident pages in place\n"
	"                    instead of giving them back (default: unset)\n"
	"  VGPU_SIM_PTX_CACHE  keep the parsed form of the last N PTX texts loaded (at most 64):\n"
	"                    loading one again copies it instead of parsing (default 0)\n"
	"  VGPU_SIM_QUIET    set to silence the simulator's log lines on stderr\n");
}

static int info(void)
{
	CUresult rc = cuInit(0);
	if (rc) {
		fprintf(stderr, "vgpu-sim: cuInit failed with %d\n", rc);
		return 1;
	}
	int n = 0, v = 0;
	cuDeviceGetCount(&n);
	cuDriverGetVersion(&v);
	printf("driver API version %d, %d device(s)\n", v, n);
	for (int i = 0; i < n; i++) {
		char name[128];
		size_t mem = 0;
		int maj = 0, min = 0, sms = 0;
		cuDeviceGetName(name, sizeof(name), i);
		cuDeviceTotalMem(&mem, i);
		cuDeviceGetAttribute(&maj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, i);
		cuDeviceGetAttribute(&min, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, i);
		cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, i);
		printf("device %d: %s, compute capability %d.%d, %d SMs, %zu MiB\n", i, name, maj, min,
		       sms, mem >> 20);
	}
	return 0;
}

static int load(const char *path)
{
	CUcontext ctx;
	CUmodule mod;
	if (cuInit(0) || cuCtxCreate(&ctx, NULL, 0, 0)) {
		fprintf(stderr, "vgpu-sim: cannot initialise the simulator\n");
		return 1;
	}
	CUresult rc = cuModuleLoad(&mod, path);
	const char *name = "?";
	cuGetErrorName(rc, &name);
	printf("%s: %s\n", path, name);
	if (!rc)
		cuModuleUnload(mod);
	cuCtxDestroy(ctx);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--info"))
		return info();
	if (!strcmp(argv[1], "--load") && argc == 3)
		return load(argv[2]);
	usage(stderr);
	return 2;
}
