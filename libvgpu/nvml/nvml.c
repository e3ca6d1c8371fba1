/* SPDX-License-Identifier: MIT */
/* nvml.c — libnvidia-ml.so.1 for zones: the device questions of NVML, answered through libcuda.
 *
 * A zone has no NVIDIA driver, so no NVML; but programs ask it. NCCL refuses to make a
 * communicator without it (even of one rank), PyTorch, Ray, gpustat and pynvml-based tools
 * ask it for the devices, their names, UUIDs, bus ids and memory. This library answers those
 * questions over the CUDA driver API, that is through libvgpu and the proxy, so a zone learns
 * nothing NVML would tell it that the driver API does not already: the devices the proxy
 * shows it, as the driver names them.
 *
 * What it does not answer, it does not pretend to: the processes on a device are the
 * proxy's workers, outside the zone, so a zone sees none; utilisation, clocks, power,
 * temperature, fans, the PCIe link and throttling are the host's (and other tenants': a
 * tenant's utilisation is a channel to the others) and answer NVML_ERROR_NOT_SUPPORTED, as
 * NVML answers for what a GPU lacks (a fan on a passively cooled board). They are there to be
 * asked: a monitoring program that loads them all at start and gives up on one missing
 * (hashcat's, which then crashed) runs and reports them unsupported. NVLink questions answer
 * NVML_ERROR_NOT_SUPPORTED, as NVML does for a GPU without NVLink.
 * Over the simulator (no GPU) the same library answers for the simulated device.
 *
 * As NVIDIA's, it numbers devices whatever CUDA_VISIBLE_DEVICES says: all the devices the
 * proxy shows the zone (the simulator's own, directly), told by libvgpu (or the simulator)
 * through vgpu's VGPU_DEVICES export table; PyTorch's device count, for one, trims an index
 * list at NVML's count. A device the process's list hides has a handle and its index;
 * anything else about it is NVML_ERROR_NOT_SUPPORTED (its driver never saw it).
 */
#include <ctype.h>
#include <cuda.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "darkapi.h"
#include "visible.h"
#include "vgpu_nvml.h"

#define NVML_API __attribute__((visibility("default")))
#define NVML_MAX_DEVICES 64
#define NVML_INIT_FLAG_NO_GPUS 1u
#define PCI_VENDOR_NVIDIA 0x10deu

struct nvmlDevice_st {
	CUdevice dev;      /* -1: hidden by the process's CUDA_VISIBLE_DEVICES */
	unsigned index;
};

static pthread_mutex_t nv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvmlDevice_st nv_devs[NVML_MAX_DEVICES];
static unsigned nv_ndev;
static int nv_refs;      /* nvmlInit calls not yet matched by nvmlShutdown */
static int nv_probed;    /* nv_devs filled (once: the devices a zone sees do not change) */

static nvmlReturn_t from_cu(CUresult r)
{
	switch (r) {
	case CUDA_SUCCESS: return NVML_SUCCESS;
	case CUDA_ERROR_NOT_INITIALIZED:
	case CUDA_ERROR_DEINITIALIZED: return NVML_ERROR_UNINITIALIZED;
	case CUDA_ERROR_INVALID_VALUE:
	case CUDA_ERROR_INVALID_DEVICE: return NVML_ERROR_INVALID_ARGUMENT;
	case CUDA_ERROR_NOT_SUPPORTED: return NVML_ERROR_NOT_SUPPORTED;
	case CUDA_ERROR_NO_DEVICE: return NVML_ERROR_DRIVER_NOT_LOADED;
	default: return NVML_ERROR_UNKNOWN;
	}
}

static int initialized(void)
{
	pthread_mutex_lock(&nv_lock);
	int on = nv_refs > 0;
	pthread_mutex_unlock(&nv_lock);
	return on;
}

/* The device a handle names: only pointers into nv_devs this library handed out pass. */
static nvmlReturn_t device_of(nvmlDevice_t h, CUdevice *dev)
{
	if (!initialized())
		return NVML_ERROR_UNINITIALIZED;
	uintptr_t p = (uintptr_t)h, b = (uintptr_t)nv_devs;
	if (p < b || (p - b) % sizeof nv_devs[0] || (p - b) / sizeof nv_devs[0] >= nv_ndev)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (h->dev < 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*dev = h->dev;
	return NVML_SUCCESS;
}

/* device_of, and the output the call fills must be there */
static nvmlReturn_t device_and(nvmlDevice_t h, const void *out, CUdevice *dev)
{
	nvmlReturn_t r = device_of(h, dev);
	return r != NVML_SUCCESS ? r : out ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

/*
 * Number the devices as NVIDIA's NVML does, before CUDA_VISIBLE_DEVICES, where libvgpu or the
 * simulator says what they are: nv_devs[i] is then device i of all, the process's CUDA
 * ordinal p where it sees it, hidden (-1) otherwise. Without that answer (another driver),
 * the n devices the process sees stay as they are.
 */
static void all_devices(int n)
{
	static const CUuuid id = { VGPU_DEVICES_TABLE_ID };
	const struct vgpu_devices_table *t = NULL;
	int all = 0, ord[NVML_MAX_DEVICES], k;

	if (n <= 0 || cuGetExportTable((const void **)&t, &id) != CUDA_SUCCESS || !t || t->size < sizeof(*t) ||
	    !t->devices_all)
		return;
	k = t->devices_all(&all, ord, NVML_MAX_DEVICES);
	if (k != n || all < n || all > NVML_MAX_DEVICES)
		return;
	for (int p = 0; p < k; p++)
		if (ord[p] < 0 || ord[p] >= all)
			return;
	struct nvmlDevice_st seen[NVML_MAX_DEVICES];
	memcpy(seen, nv_devs, sizeof(seen));
	for (int i = 0; i < all; i++)
		nv_devs[i] = (struct nvmlDevice_st){ .dev = -1, .index = (unsigned)i };
	for (int p = 0; p < k; p++)
		nv_devs[ord[p]].dev = seen[p].dev;
	nv_ndev = (unsigned)all;
}

static nvmlReturn_t init(unsigned flags)
{
	nvmlReturn_t ret = NVML_SUCCESS;
	pthread_mutex_lock(&nv_lock);
	if (!nv_probed) {
		int n = 0;
		CUresult r = cuInit(0);
		if (r == CUDA_SUCCESS)
			r = cuDeviceGetCount(&n);
		if (r != CUDA_SUCCESS && !(flags & NVML_INIT_FLAG_NO_GPUS)) {
			ret = NVML_ERROR_DRIVER_NOT_LOADED;
			goto out;
		}
		if (n > NVML_MAX_DEVICES)
			n = NVML_MAX_DEVICES;
		for (int i = 0; i < n; i++) {
			if (cuDeviceGet(&nv_devs[i].dev, i) != CUDA_SUCCESS) {
				ret = NVML_ERROR_UNKNOWN;
				goto out;
			}
			nv_devs[i].index = (unsigned)i;
		}
		nv_ndev = (unsigned)n;
		all_devices(n);
		nv_probed = 1;
	}
	nv_refs++;
out:
	pthread_mutex_unlock(&nv_lock);
	return ret;
}

NVML_API nvmlReturn_t nvmlInit_v2(void) { return init(0); }
NVML_API nvmlReturn_t nvmlInit(void) { return init(0); }
NVML_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { return init(flags); }

NVML_API nvmlReturn_t nvmlShutdown(void)
{
	nvmlReturn_t ret = NVML_SUCCESS;
	pthread_mutex_lock(&nv_lock);
	if (nv_refs == 0)
		ret = NVML_ERROR_UNINITIALIZED;
	else
		nv_refs--;
	pthread_mutex_unlock(&nv_lock);
	return ret;
}

NVML_API const char *nvmlErrorString(nvmlReturn_t r)
{
	switch (r) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
	case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
	case NVML_ERROR_NOT_FOUND: return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
	case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
	case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
	case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
	case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
	case NVML_ERROR_UNKNOWN: return "Unknown Error";
	default: return "Unknown Error";
	}
}

/* --- the system --- */

NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *version)
{
	if (!initialized())
		return NVML_ERROR_UNINITIALIZED;
	if (!version)
		return NVML_ERROR_INVALID_ARGUMENT;
	return from_cu(cuDriverGetVersion(version));
}

NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *version)
{
	return nvmlSystemGetCudaDriverVersion(version);
}

/* The kernel driver's version is the host's; the driver API does not carry it to a zone. */
NVML_API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	if (!initialized())
		return NVML_ERROR_UNINITIALIZED;
	if (!version || !length)
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_ERROR_NOT_SUPPORTED;
}

/* --- finding devices --- */

NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
	if (!initialized())
		return NVML_ERROR_UNINITIALIZED;
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	*count = nv_ndev;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return nvmlDeviceGetCount_v2(count); }

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
	if (!initialized())
		return NVML_ERROR_UNINITIALIZED;
	if (!device || index >= nv_ndev)
		return NVML_ERROR_INVALID_ARGUMENT;
	*device = &nv_devs[index];
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
	return nvmlDeviceGetHandleByIndex_v2(index, device);
}

static nvmlReturn_t pci_location(CUdevice dev, unsigned *domain, unsigned *bus, unsigned *slot)
{
	int v[3];
	static const CUdevice_attribute at[3] = {
		CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID,
	};
	for (int i = 0; i < 3; i++) {
		CUresult r = cuDeviceGetAttribute(&v[i], at[i], dev);
		if (r != CUDA_SUCCESS)
			return from_cu(r);
		if (v[i] < 0)
			return NVML_ERROR_UNKNOWN;
	}
	*domain = (unsigned)v[0];
	*bus = (unsigned)v[1];
	*slot = (unsigned)v[2];
	return NVML_SUCCESS;
}

/* "domain:bus:device.function" with a domain of 4 or 8 hex digits, or "bus:device.function" */
static int parse_bus_id(const char *s, unsigned *domain, unsigned *bus, unsigned *slot)
{
	unsigned fn;
	int n = -1;
	*domain = 0;
	if (sscanf(s, "%x:%x:%x.%x%n", domain, bus, slot, &fn, &n) == 4 && n > 0 && s[n] == 0)
		return 0;
	n = -1;
	*domain = 0;
	if (sscanf(s, "%x:%x.%x%n", bus, slot, &fn, &n) == 3 && n > 0 && s[n] == 0)
		return 0;
	return -1;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)
{
	unsigned want[3], have[3];
	if (!initialized())
		return NVML_ERROR_UNINITIALIZED;
	if (!pciBusId || !device || strnlen(pciBusId, NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE) >= NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE ||
	    parse_bus_id(pciBusId, &want[0], &want[1], &want[2]) < 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; i < nv_ndev; i++) {
		if (nv_devs[i].dev < 0)
			continue;
		nvmlReturn_t r = pci_location(nv_devs[i].dev, &have[0], &have[1], &have[2]);
		if (r != NVML_SUCCESS)
			return r;
		if (!memcmp(want, have, sizeof want)) {
			*device = &nv_devs[i];
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device)
{
	return nvmlDeviceGetHandleByPciBusId_v2(pciBusId, device);
}

/* "GPU-" and the 16 bytes of cuDeviceGetUuid as 8-4-4-4-12 hex digits, as NVML prints them */
static nvmlReturn_t uuid_text(CUdevice dev, char out[VGPU_UUID_TEXT])
{
	CUuuid u;
	CUresult r = cuDeviceGetUuid_v2(&u, dev);
	if (r != CUDA_SUCCESS)
		return from_cu(r);
	vgpu_uuid_text(&u, out);
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
	char have[VGPU_UUID_TEXT];
	if (!initialized())
		return NVML_ERROR_UNINITIALIZED;
	if (!uuid || !device)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; i < nv_ndev; i++) {
		if (nv_devs[i].dev < 0)
			continue;
		nvmlReturn_t r = uuid_text(nv_devs[i].dev, have);
		if (r != NVML_SUCCESS)
			return r;
		if (!strcasecmp(have, uuid)) {
			*device = &nv_devs[i];
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

/* --- what a device is --- */

NVML_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
	CUdevice dev;
	nvmlReturn_t r = device_of(device, &dev);
	if (r != NVML_SUCCESS && r != NVML_ERROR_NOT_SUPPORTED)
		return r;
	if (!index)
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = device->index;   /* a hidden device's too */
	return NVML_SUCCESS;
}

/* text into the caller's buffer of length bytes, whole or not at all */
static nvmlReturn_t put_text(char *dst, unsigned length, const char *text)
{
	size_t n = strlen(text);
	if (n >= length)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(dst, text, n + 1);
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
	CUdevice dev;
	char buf[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
	nvmlReturn_t r = device_and(device, name, &dev);
	if (r != NVML_SUCCESS)
		return r;
	CUresult e = cuDeviceGetName(buf, sizeof buf, dev);
	if (e != CUDA_SUCCESS)
		return from_cu(e);
	buf[sizeof buf - 1] = 0;
	return put_text(name, length, buf);
}

NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
	CUdevice dev;
	char buf[VGPU_UUID_TEXT];
	nvmlReturn_t r = device_and(device, uuid, &dev);
	if (r != NVML_SUCCESS)
		return r;
	r = uuid_text(dev, buf);
	return r != NVML_SUCCESS ? r : put_text(uuid, length, buf);
}

/* The PCI location is the driver's; the PCI device id is not in the driver API, so
 * pciDeviceId carries NVIDIA's vendor id with a device id of 0, and the subsystem id is 0. */
static nvmlReturn_t pci_info(nvmlDevice_t device, nvmlPciInfo_t *out)
{
	CUdevice dev;
	unsigned d, b, s;
	nvmlReturn_t r = device_and(device, out, &dev);
	if (r != NVML_SUCCESS)
		return r;
	if ((r = pci_location(dev, &d, &b, &s)) != NVML_SUCCESS)
		return r;
	memset(out, 0, sizeof *out);
	out->domain = d;
	out->bus = b;
	out->device = s;
	out->pciDeviceId = PCI_VENDOR_NVIDIA;
	snprintf(out->busIdLegacy, sizeof out->busIdLegacy, "%04X:%02X:%02X.0", d & 0xffff, b & 0xff, s & 0xff);
	snprintf(out->busId, sizeof out->busId, "%08X:%02X:%02X.0", d, b & 0xff, s & 0xff);
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) { return pci_info(device, pci); }
NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci) { return pci_info(device, pci); }

/* the first version's smaller structure: never written past its 52 bytes */
NVML_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_v1_t *pci)
{
	nvmlPciInfo_t full;
	nvmlReturn_t r = pci_info(device, pci ? &full : NULL);
	if (r != NVML_SUCCESS)
		return r;
	memset(pci, 0, sizeof *pci);
	memcpy(pci->busId, full.busIdLegacy, sizeof pci->busId);
	pci->domain = full.domain;
	pci->bus = full.bus;
	pci->device = full.device;
	pci->pciDeviceId = full.pciDeviceId;
	pci->pciSubSystemId = full.pciSubSystemId;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
	CUdevice dev;
	nvmlReturn_t r = device_and(device, major && minor ? major : NULL, &dev);
	if (r != NVML_SUCCESS)
		return r;
	CUresult e = cuDeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
	if (e == CUDA_SUCCESS)
		e = cuDeviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
	return from_cu(e);
}

/*
 * Memory: the total is the device's; free memory is what cuMemGetInfo answers in a context
 * of the device: the calling thread's current context where it is on that device, else the
 * device's primary context, retained for the question and released after it (so a program
 * that never made one makes it then, as cudart would at its first call).
 */
static nvmlReturn_t memory(CUdevice dev, unsigned long long *total, unsigned long long *freeb)
{
	CUdevice cd;
	CUcontext cur = NULL, prim = NULL;
	size_t f = 0, t = 0;
	CUresult e = cuDeviceTotalMem_v2(&t, dev);
	if (e != CUDA_SUCCESS)
		return from_cu(e);
	if (cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur && cuCtxGetDevice(&cd) == CUDA_SUCCESS && cd == dev) {
		e = cuMemGetInfo_v2(&f, &t);
	} else {
		e = cuDevicePrimaryCtxRetain(&prim, dev);
		if (e != CUDA_SUCCESS)
			return from_cu(e);
		e = cuCtxPushCurrent_v2(prim);
		if (e == CUDA_SUCCESS) {
			e = cuMemGetInfo_v2(&f, &t);
			cuCtxPopCurrent_v2(NULL);
		}
		cuDevicePrimaryCtxRelease_v2(dev);
	}
	if (e != CUDA_SUCCESS)
		return from_cu(e);
	*total = t;
	*freeb = f <= t ? f : t;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *mem)
{
	unsigned long long t, f;
	CUdevice dev;
	nvmlReturn_t r = device_and(device, mem, &dev);
	if (r != NVML_SUCCESS)
		return r;
	if ((r = memory(dev, &t, &f)) != NVML_SUCCESS)
		return r;
	mem->total = t;
	mem->free = f;
	mem->used = t - f;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *mem)
{
	unsigned long long t, f;
	CUdevice dev;
	nvmlReturn_t r = device_and(device, mem, &dev);
	if (r != NVML_SUCCESS)
		return r;
	if (mem->version != nvmlMemory_v2)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	if ((r = memory(dev, &t, &f)) != NVML_SUCCESS)
		return r;
	mem->total = t;
	mem->reserved = 0;
	mem->free = f;
	mem->used = t - f;
	return NVML_SUCCESS;
}

/* The processes on a device are the proxy's workers, outside any zone: a zone sees none. */
static nvmlReturn_t no_processes(nvmlDevice_t device, unsigned int *count)
{
	CUdevice dev;
	nvmlReturn_t r = device_and(device, count, &dev);
	if (r != NVML_SUCCESS)
		return r;
	*count = 0;
	return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n, nvmlProcessInfo_t *p)
{
	(void)p;
	return no_processes(d, n);
}
NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *n, nvmlProcessInfo_t *p)
{
	(void)p;
	return no_processes(d, n);
}
NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int *n, void *p)
{
	(void)p;
	return no_processes(d, n);
}
NVML_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *n, nvmlProcessInfo_t *p)
{
	(void)p;
	return no_processes(d, n);
}

/* Peer access between two devices of the zone, as the driver API answers it. */
NVML_API nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t device1, nvmlDevice_t device2, nvmlGpuP2PCapsIndex_t index,
					     nvmlGpuP2PStatus_t *status)
{
	CUdevice a, b;
	int can = 0;
	nvmlReturn_t r = device_of(device1, &a);
	if (r == NVML_SUCCESS)
		r = device_of(device2, &b);
	if (r != NVML_SUCCESS)
		return r;
	if (!status || (unsigned)index >= NVML_P2P_CAPS_INDEX_UNKNOWN)
		return NVML_ERROR_INVALID_ARGUMENT;
	*status = NVML_P2P_STATUS_NOT_SUPPORTED;
	if (a == b)
		return NVML_SUCCESS;
	CUresult e = CUDA_SUCCESS;
	switch (index) {
	case NVML_P2P_CAPS_INDEX_READ:
	case NVML_P2P_CAPS_INDEX_WRITE:
		e = cuDeviceCanAccessPeer(&can, a, b);
		break;
	case NVML_P2P_CAPS_INDEX_ATOMICS:
		e = cuDeviceGetP2PAttribute(&can, CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED, a, b);
		break;
	default:   /* the link between them is the host's to know */
		break;
	}
	if (e != CUDA_SUCCESS)
		return from_cu(e);
	if (can)
		*status = NVML_P2P_STATUS_OK;
	return NVML_SUCCESS;
}

/* NVLink is the host's fabric; NVML answers so for a GPU without NVLink. */
NVML_API nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned int link, nvmlEnableState_t *active)
{
	CUdevice dev;
	(void)link;
	nvmlReturn_t r = device_and(device, active, &dev);
	return r != NVML_SUCCESS ? r : NVML_ERROR_NOT_SUPPORTED;
}

NVML_API nvmlReturn_t nvmlDeviceGetNvLinkCapability(nvmlDevice_t device, unsigned int link, int capability,
						    unsigned int *result)
{
	CUdevice dev;
	(void)link;
	(void)capability;
	nvmlReturn_t r = device_and(device, result, &dev);
	return r != NVML_SUCCESS ? r : NVML_ERROR_NOT_SUPPORTED;
}

NVML_API nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci)
{
	CUdevice dev;
	(void)link;
	nvmlReturn_t r = device_and(device, pci, &dev);
	return r != NVML_SUCCESS ? r : NVML_ERROR_NOT_SUPPORTED;
}

NVML_API nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci)
{
	return nvmlDeviceGetNvLinkRemotePciInfo_v2(device, link, pci);
}

/*
 * The host's sensors and counters: NVML_ERROR_NOT_SUPPORTED for a device of the zone's (after
 * the same checks as every call: initialised, a handle this library gave, somewhere to write),
 * nothing written. Enumerations are taken as the ints they are.
 */
#define UNUSED __attribute__((unused))
#define HOST_ONLY(name, params, out)                                       \
	NVML_API nvmlReturn_t name params                                  \
	{                                                                  \
		CUdevice dev;                                              \
		nvmlReturn_t r = device_and(device, out, &dev);            \
		return r != NVML_SUCCESS ? r : NVML_ERROR_NOT_SUPPORTED;   \
	}
HOST_ONLY(nvmlDeviceGetTemperature, (nvmlDevice_t device, UNUSED int sensor, unsigned int *temp), temp)
HOST_ONLY(nvmlDeviceGetTemperatureThreshold, (nvmlDevice_t device, UNUSED int threshold, unsigned int *temp), temp)
HOST_ONLY(nvmlDeviceGetFanSpeed, (nvmlDevice_t device, unsigned int *speed), speed)
HOST_ONLY(nvmlDeviceGetFanSpeed_v2, (nvmlDevice_t device, UNUSED unsigned int fan, unsigned int *speed), speed)
HOST_ONLY(nvmlDeviceGetUtilizationRates, (nvmlDevice_t device, void *utilization), utilization)
HOST_ONLY(nvmlDeviceGetClockInfo, (nvmlDevice_t device, UNUSED int type, unsigned int *clock), clock)
HOST_ONLY(nvmlDeviceGetMaxClockInfo, (nvmlDevice_t device, UNUSED int type, unsigned int *clock), clock)
HOST_ONLY(nvmlDeviceGetCurrPcieLinkGeneration, (nvmlDevice_t device, unsigned int *gen), gen)
HOST_ONLY(nvmlDeviceGetCurrPcieLinkWidth, (nvmlDevice_t device, unsigned int *width), width)
HOST_ONLY(nvmlDeviceGetMaxPcieLinkGeneration, (nvmlDevice_t device, unsigned int *gen), gen)
HOST_ONLY(nvmlDeviceGetMaxPcieLinkWidth, (nvmlDevice_t device, unsigned int *width), width)
HOST_ONLY(nvmlDeviceGetCurrentClocksThrottleReasons, (nvmlDevice_t device, unsigned long long *reasons), reasons)
HOST_ONLY(nvmlDeviceGetSupportedClocksThrottleReasons, (nvmlDevice_t device, unsigned long long *reasons), reasons)
HOST_ONLY(nvmlDeviceGetCurrentClocksEventReasons, (nvmlDevice_t device, unsigned long long *reasons), reasons)
HOST_ONLY(nvmlDeviceGetSupportedClocksEventReasons, (nvmlDevice_t device, unsigned long long *reasons), reasons)
HOST_ONLY(nvmlDeviceGetPowerUsage, (nvmlDevice_t device, unsigned int *milliwatts), milliwatts)
HOST_ONLY(nvmlDeviceGetEnforcedPowerLimit, (nvmlDevice_t device, unsigned int *milliwatts), milliwatts)
HOST_ONLY(nvmlDeviceGetPowerManagementLimit, (nvmlDevice_t device, unsigned int *milliwatts), milliwatts)
HOST_ONLY(nvmlDeviceGetTotalEnergyConsumption, (nvmlDevice_t device, unsigned long long *millijoules), millijoules)
HOST_ONLY(nvmlDeviceGetPerformanceState, (nvmlDevice_t device, int *pstate), pstate)
