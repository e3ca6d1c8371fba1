/* SPDX-License-Identifier: MIT */
/* nvml.c — end to end: NVML's device questions (libnvidia-ml.so.1, opened as NCCL and pynvml open
 * it) answer what the driver API says about the same devices.
 *
 * In a zone the library is vgpu's (libvgpu/nvml/), directly on the simulator too; directly on a
 * GPU it is the driver's, so the lines printed (names, UUIDs, bus ids, compute capabilities)
 * must be NVIDIA's own answers for the run through vgpu to match them. */
#include <dlfcn.h>
#include <strings.h>

#include "e2e.h"
#include "../../libvgpu/nvml/vgpu_nvml.h"

static void *lib;

static void *sym(const char *name)
{
	void *p = dlsym(lib, name);
	if (!p) {
		fprintf(stderr, "FAIL: libnvidia-ml.so.1 has no %s\n", name);
		exit(1);
	}
	return p;
}

#define NV(name) ((name##_t *)sym(#name))
#define NV_OK(call) do { \
	nvmlReturn_t nv_r_ = (call); \
	if (nv_r_ != NVML_SUCCESS) { \
		fprintf(stderr, "FAIL %s:%d: %s -> %d\n", __FILE__, __LINE__, #call, (int)nv_r_); \
		exit(1); \
	} \
} while (0)
#define NV_ERR(call, want) do { \
	nvmlReturn_t nv_r_ = (call); \
	if (nv_r_ != (want)) { \
		fprintf(stderr, "FAIL %s:%d: %s -> %d, expected %d\n", __FILE__, __LINE__, #call, (int)nv_r_, (int)(want)); \
		exit(1); \
	} \
} while (0)

/* the types the functions are called through */
typedef nvmlReturn_t nvmlInit_v2_t(void);
typedef nvmlReturn_t nvmlShutdown_t(void);
typedef const char *nvmlErrorString_t(nvmlReturn_t);
typedef nvmlReturn_t nvmlDeviceGetCount_v2_t(unsigned *);
typedef nvmlReturn_t nvmlDeviceGetHandleByIndex_v2_t(unsigned, nvmlDevice_t *);
typedef nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2_t(const char *, nvmlDevice_t *);
typedef nvmlReturn_t nvmlDeviceGetHandleByUUID_t(const char *, nvmlDevice_t *);
typedef nvmlReturn_t nvmlDeviceGetIndex_t(nvmlDevice_t, unsigned *);
typedef nvmlReturn_t nvmlDeviceGetName_t(nvmlDevice_t, char *, unsigned);
typedef nvmlReturn_t nvmlDeviceGetUUID_t(nvmlDevice_t, char *, unsigned);
typedef nvmlReturn_t nvmlDeviceGetPciInfo_v3_t(nvmlDevice_t, nvmlPciInfo_t *);
typedef nvmlReturn_t nvmlDeviceGetCudaComputeCapability_t(nvmlDevice_t, int *, int *);
typedef nvmlReturn_t nvmlDeviceGetMemoryInfo_t(nvmlDevice_t, nvmlMemory_t *);
typedef nvmlReturn_t nvmlDeviceGetMemoryInfo_v2_t(nvmlDevice_t, nvmlMemory_v2_t *);
typedef nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3_t(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *);
typedef nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2_t(int *);
typedef nvmlReturn_t nvmlDeviceGetP2PStatus_t(nvmlDevice_t, nvmlDevice_t, nvmlGpuP2PCapsIndex_t, nvmlGpuP2PStatus_t *);
typedef nvmlReturn_t nvmlDeviceGetUtilizationRates_t(nvmlDevice_t, unsigned *);   /* nvmlUtilization_t: 2 unsigned */
typedef nvmlReturn_t nvmlDeviceGetTemperature_t(nvmlDevice_t, int, unsigned *);
typedef nvmlReturn_t nvmlDeviceGetFanSpeed_t(nvmlDevice_t, unsigned *);
typedef nvmlReturn_t nvmlDeviceGetClockInfo_t(nvmlDevice_t, int, unsigned *);
typedef nvmlReturn_t nvmlDeviceGetPowerUsage_t(nvmlDevice_t, unsigned *);
typedef nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons_t(nvmlDevice_t, unsigned long long *);

int main(void)
{
	int count = 0, drv = 0, nvdrv = 0, vgpu = !e2e_real_driver_direct();
	unsigned n = 0;

	lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "FAIL: no libnvidia-ml.so.1: %s\n", dlerror());
		return 1;
	}
	NV_ERR(NV(nvmlDeviceGetCount_v2)(&n), NVML_ERROR_UNINITIALIZED);   /* before nvmlInit */
	NV_OK(NV(nvmlInit_v2)());
	NV_OK(NV(nvmlInit_v2)());   /* counted: one nvmlShutdown leaves it initialised */
	NV_OK(NV(nvmlShutdown)());
	CK(cuInit(0));
	CK(cuDeviceGetCount(&count));
	NV_OK(NV(nvmlDeviceGetCount_v2)(&n));
	EXPECT((int)n >= count);   /* NVML counts the devices CUDA_VISIBLE_DEVICES hides too */
	printf("nvml: %u device%s\n", n, n == 1 ? "" : "s");
	CK(cuDriverGetVersion(&drv));
	NV_OK(NV(nvmlSystemGetCudaDriverVersion_v2)(&nvdrv));
	EXPECT(nvdrv == drv);
	EXPECT(!strcmp(NV(nvmlErrorString)(NVML_ERROR_NOT_SUPPORTED), "Not Supported"));

	nvmlDevice_t h, h2;
	unsigned hidden = 0;
	NV_ERR(NV(nvmlDeviceGetHandleByIndex_v2)(n, &h), NVML_ERROR_INVALID_ARGUMENT);
	for (unsigned i = 0; i < n; i++) {
		CUdevice dev = -1;
		CUuuid cu;
		char name[96], cuname[96], uuid[96], want[64], cubus[32];
		int maj, min, cmaj, cmin, dom, bus, slot;
		unsigned idx;
		nvmlPciInfo_t pci;
		size_t cutotal;

		NV_OK(NV(nvmlDeviceGetHandleByIndex_v2)(i, &h));
		NV_OK(NV(nvmlDeviceGetIndex)(h, &idx));
		EXPECT(idx == i);
		nvmlReturn_t ur = NV(nvmlDeviceGetUUID)(h, uuid, sizeof uuid);
		if (vgpu && ur == NVML_ERROR_NOT_SUPPORTED) {
			/* hidden by the process's CUDA_VISIBLE_DEVICES: a handle and an index, no more */
			NV_ERR(NV(nvmlDeviceGetName)(h, name, sizeof name), NVML_ERROR_NOT_SUPPORTED);
			printf("device %u: hidden by CUDA_VISIBLE_DEVICES\n", i);
			hidden++;
			continue;
		}
		NV_OK(ur);
		/* the CUDA device of that UUID (NVML numbers devices whatever CUDA_VISIBLE_DEVICES says) */
		for (int c = 0; c < count && dev < 0; c++) {
			CK(cuDeviceGetUuid_v2(&cu, c));
			const unsigned char *b = (const unsigned char *)cu.bytes;
			snprintf(want, sizeof want,
				 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
				 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
			if (!strcmp(uuid, want))
				CK(cuDeviceGet(&dev, c));
		}
		EXPECT(dev >= 0);   /* (every device NVML answers for is one CUDA sees) */

		NV_OK(NV(nvmlDeviceGetName)(h, name, sizeof name));
		CK(cuDeviceGetName(cuname, sizeof cuname, dev));
		EXPECT(!strcmp(name, cuname));
		NV_ERR(NV(nvmlDeviceGetName)(h, name, 1), NVML_ERROR_INSUFFICIENT_SIZE);
		NV_ERR(NV(nvmlDeviceGetUUID)(h, uuid, 8), NVML_ERROR_INSUFFICIENT_SIZE);
		NV_OK(NV(nvmlDeviceGetHandleByUUID)(want, &h2));
		EXPECT(h2 == h);

		NV_OK(NV(nvmlDeviceGetPciInfo_v3)(h, &pci));
		CK(cuDeviceGetAttribute(&dom, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, dev));
		CK(cuDeviceGetAttribute(&bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, dev));
		CK(cuDeviceGetAttribute(&slot, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, dev));
		EXPECT(pci.domain == (unsigned)dom && pci.bus == (unsigned)bus && pci.device == (unsigned)slot);
		EXPECT((pci.pciDeviceId & 0xffff) == 0x10de);
		CK(cuDeviceGetPCIBusId(cubus, sizeof cubus, dev));
		EXPECT(!strcasecmp(pci.busIdLegacy, cubus));
		NV_OK(NV(nvmlDeviceGetHandleByPciBusId_v2)(pci.busId, &h2));
		EXPECT(h2 == h);
		NV_OK(NV(nvmlDeviceGetHandleByPciBusId_v2)(cubus, &h2));   /* the driver API's form */
		EXPECT(h2 == h);

		NV_OK(NV(nvmlDeviceGetCudaComputeCapability)(h, &maj, &min));
		CK(cuDeviceGetAttribute(&cmaj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
		CK(cuDeviceGetAttribute(&cmin, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
		EXPECT(maj == cmaj && min == cmin);
		printf("device %u: %s, %s, bus %s, compute %d.%d\n", i, name, uuid, pci.busId, maj, min);

		/* memory: the device's total at least, and an allocation seen in what is free */
		nvmlMemory_t m1, m2;
		nvmlMemory_v2_t v2 = { .version = nvmlMemory_v2 };
		CUcontext ctx;
		CUdeviceptr p;
		const size_t big = 256u << 20;
		CK(cuDeviceTotalMem(&cutotal, dev));
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		NV_OK(NV(nvmlDeviceGetMemoryInfo)(h, &m1));
		EXPECT(m1.total >= cutotal && m1.free <= m1.total && m1.used + m1.free == m1.total);
		CK(cuMemAlloc(&p, big));
		NV_OK(NV(nvmlDeviceGetMemoryInfo)(h, &m2));
		EXPECT(m2.free + big <= m1.free + (16u << 20));   /* others may free meanwhile on a GPU */
		NV_OK(NV(nvmlDeviceGetMemoryInfo_v2)(h, &v2));
		EXPECT(v2.total >= cutotal && v2.used + v2.free + v2.reserved == v2.total);
		v2.version = 1;
		NV_ERR(NV(nvmlDeviceGetMemoryInfo_v2)(h, &v2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
		CK(cuMemFree(p));
		CK(cuCtxDestroy(ctx));
		/* without a context of the program's (the device's primary one is asked) */
		NV_OK(NV(nvmlDeviceGetMemoryInfo)(h, &m2));
		EXPECT(m2.total == m1.total && m2.free <= m2.total);

		nvmlGpuP2PStatus_t st;
		NV_OK(NV(nvmlDeviceGetP2PStatus)(h, h, NVML_P2P_CAPS_INDEX_READ, &st));

		if (vgpu) {
			/* what vgpu's NVML says beyond the driver's: a zone sees no process of the
			 * device (they are the proxy's workers), nothing of its utilisation, and a
			 * handle it was not given, or a malformed bus id, is refused */
			unsigned np = 99;
			NV_OK(NV(nvmlDeviceGetComputeRunningProcesses_v3)(h, &np, NULL));
			EXPECT(np == 0);
			/* the host's sensors and counters are there to be asked (programs that load
			 * them all at start run) and answer "not supported", writing nothing */
			unsigned val = 77, util[2] = { 77, 77 };
			unsigned long long reasons = 77;
			NV_ERR(NV(nvmlDeviceGetUtilizationRates)(h, util), NVML_ERROR_NOT_SUPPORTED);
			NV_ERR(NV(nvmlDeviceGetTemperature)(h, 0, &val), NVML_ERROR_NOT_SUPPORTED);
			NV_ERR(NV(nvmlDeviceGetFanSpeed)(h, &val), NVML_ERROR_NOT_SUPPORTED);
			NV_ERR(NV(nvmlDeviceGetClockInfo)(h, 0, &val), NVML_ERROR_NOT_SUPPORTED);
			NV_ERR(NV(nvmlDeviceGetPowerUsage)(h, &val), NVML_ERROR_NOT_SUPPORTED);
			NV_ERR(NV(nvmlDeviceGetCurrentClocksThrottleReasons)(h, &reasons), NVML_ERROR_NOT_SUPPORTED);
			EXPECT(val == 77 && util[0] == 77 && util[1] == 77 && reasons == 77);
			NV_ERR(NV(nvmlDeviceGetTemperature)(h, 0, NULL), NVML_ERROR_INVALID_ARGUMENT);
			nvmlDevice_t fake = (nvmlDevice_t)&pci;
			NV_ERR(NV(nvmlDeviceGetName)(fake, name, sizeof name), NVML_ERROR_INVALID_ARGUMENT);
			NV_ERR(NV(nvmlDeviceGetMemoryInfo)(fake, &m1), NVML_ERROR_INVALID_ARGUMENT);
			NV_ERR(NV(nvmlDeviceGetMemoryInfo)(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
			NV_ERR(NV(nvmlDeviceGetHandleByPciBusId_v2)("0000:zz:00.0", &h2), NVML_ERROR_INVALID_ARGUMENT);
			NV_ERR(NV(nvmlDeviceGetHandleByPciBusId_v2)("0000:17:00.0 and more", &h2), NVML_ERROR_INVALID_ARGUMENT);
			NV_ERR(NV(nvmlDeviceGetHandleByPciBusId_v2)("00000000:FF:1F.0", &h2), NVML_ERROR_NOT_FOUND);
			NV_ERR(NV(nvmlDeviceGetHandleByUUID)("GPU-00000000-0000-0000-0000-000000000000", &h2),
			       NVML_ERROR_NOT_FOUND);
		}
	}

	EXPECT(n - hidden == (unsigned)count);   /* every device CUDA sees, once */

	NV_OK(NV(nvmlShutdown)());
	NV_ERR(NV(nvmlDeviceGetCount_v2)(&n), NVML_ERROR_UNINITIALIZED);
	NV_ERR(NV(nvmlShutdown)(), NVML_ERROR_UNINITIALIZED);
	printf("nvml: shut down\n");
	return 0;
}
