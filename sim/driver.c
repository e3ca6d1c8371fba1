/* SPDX-License-Identifier: MIT */
/* Driver API entry points of libcudasim for initialisation, devices, contexts (including
 * primary contexts and the per-thread current-context stack), errors and test hooks. */
#include "sim.h"

#include "darkapi.h"
#include "visible.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SIM_DEVICE_NAME "vgpu simulator (CPU test double)"
#define SM_COUNT SIM_SM_COUNT

int g_ndev = 1;
static int g_phys[SIM_MAX_DEVICES];   /* visible ordinal -> simulated device */

int sim_dev_phys(CUdevice dev)
{
	return dev >= 0 && dev < g_ndev ? g_phys[dev] : -1;
}

/* the UUID of simulated device i (before CUDA_VISIBLE_DEVICES picks among them; the
 * signature is vgpu_visible_parse's callback's, arg unused) */
static int phys_uuid(int i, CUuuid *uuid, void *arg)
{
	static const char tag[] = "vgpu-sim-dev";
	(void)arg;
	memset(uuid->bytes, 0, sizeof(uuid->bytes));
	memcpy(uuid->bytes, tag, sizeof(tag) - 1);
	uuid->bytes[15] = (char)i;
	return 0;
}
int g_inited;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CUresult init_rc = CUDA_ERROR_NOT_INITIALIZED;

/* dead: the primary context's storage after its last release or reset (idle). Like the real
 * driver, the handle value stays the same for the life of the process: released storage is
 * never freed or given to another context, and a retain while a release is still tearing the
 * context down waits for it (releasing) rather than making a second one. */
struct primary { struct sim_ctx *ctx; unsigned flags; int refs; struct sim_ctx *dead; int releasing; };
static struct primary prim[SIM_MAX_DEVICES];
static pthread_cond_t prim_cv = PTHREAD_COND_INITIALIZER;   /* with g_lock: a release finished */

static __thread struct sim_ctx *tls_stack[64];
static __thread int tls_depth;

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_err[1024];

void sim_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!getenv("VGPU_SIM_QUIET"))
		fprintf(stderr, "vgpu-sim: %s\n", buf);
}

void sim_set_error(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&err_lock);
	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&err_lock);
}

/* Test hook: copies the last detailed error message (kernel fault, PTX error) into buf. */
SIM_EXPORT int vgpu_sim_last_error(char *buf, size_t n)
{
	pthread_mutex_lock(&err_lock);
	int len = snprintf(buf, n, "%s", last_err);
	pthread_mutex_unlock(&err_lock);
	return len;
}

/* Test hook for the fuzzer's memory oracle: fn is called for every device-memory range the
 * simulator reads or writes on behalf of an API call (copies, memsets, each global access of
 * a kernel), from whichever thread performs it. Set before launching work; NULL removes. */
SIM_EXPORT void vgpu_sim_set_access_hook(void (*fn)(void *ctx, uint64_t dptr, uint64_t len, int write),
                                         void *ctx)
{
	sim_hook_ctx = ctx;
	__atomic_store_n(&sim_hook_fn, fn, __ATOMIC_RELEASE);
}

/* Test hook: PTX instructions interpreted so far in this process (benchmarks). */
SIM_EXPORT uint64_t vgpu_sim_insn_count(void) { return g_insn_count; }

/* Test hook: the calling thread's address space from now on (sim.h, "Address spaces"): what
 * it allocates belongs to space, and the kernels it launches reach only that space's memory
 * (other memory faults with CUDA_ERROR_ILLEGAL_ADDRESS). The fuzz harness gives each zone
 * its own, as each zone's worker is its own process in the proxy. */
SIM_EXPORT void vgpu_sim_set_space(unsigned space) { sim_space = space; }
/* Test hook: 0 turns the confinement off (the fuzz harness's VGPU_FUZZ_SABOTAGE=spaces,
 * showing that its kernel oracle fires when a kernel reaches another space). */
SIM_EXPORT void vgpu_sim_space_checks(int on) { sim_space_checks = on; }
/* From an access hook: 0 for an API call's access, else 1 + the space of the kernel making it. */
SIM_EXPORT unsigned vgpu_sim_kernel_space(void) { return sim_kernel_space; }

/*
 * Test hook for a harness that runs several callers on one thread in turn (the fuzz target's
 * zones as fibers): the calling thread's own driver state (its context stack and its stream
 * capture mode) saved into buf, or replaced by what buf holds. buf is opaque, of
 * vgpu_sim_thread_state_size() bytes; a buffer saved on a thread that never made a context
 * current is a fresh thread's state. The address space is set apart (vgpu_sim_set_space).
 */
struct sim_thread_state {
	struct sim_ctx *stack[64];
	int depth;
	CUstreamCaptureMode mode;
};
SIM_EXPORT size_t vgpu_sim_thread_state_size(void) { return sizeof(struct sim_thread_state); }
SIM_EXPORT void vgpu_sim_thread_state_save(void *buf)
{
	struct sim_thread_state *t = buf;
	memcpy(t->stack, tls_stack, sizeof(tls_stack));
	t->depth = tls_depth;
	t->mode = sim_capture_mode(NULL);
}
SIM_EXPORT void vgpu_sim_thread_state_load(const void *buf)
{
	const struct sim_thread_state *t = buf;
	memcpy(tls_stack, t->stack, sizeof(tls_stack));
	tls_depth = t->depth >= 0 && t->depth <= 64 ? t->depth : 0;
	sim_capture_mode(&t->mode);
}

struct sim_cc g_cc = { 7, 5, 65536, 65536, 1024 };

/* VGPU_SIM_CC=MAJOR.MINOR: one of the capabilities below (their shared memory and threads per
 * multiprocessor as NVIDIA's parts of that capability have them); anything else keeps 7.5,
 * with a line saying so */
static void cc_init(void)
{
	static const struct sim_cc known[] = {
		{ 7, 5, 65536, 65536, 1024 },    { 8, 0, 166912, 167936, 2048 }, { 8, 6, 101376, 102400, 1536 },
		{ 8, 9, 101376, 102400, 1536 },  { 9, 0, 232448, 233472, 2048 }, { 10, 0, 232448, 233472, 2048 },
		{ 12, 0, 101376, 102400, 1536 },
		/* no such GPU: a major version past every one CUDA 13.0's libraries ship SASS for,
		 * so they take the kernels they ship as PTX for later GPUs, which the simulator
		 * runs (cuBLAS's GEMMs are SASS only for every capability it knows); 12.0's sizes */
		{ 13, 0, 101376, 102400, 1536 },
	};
	const char *v = getenv("VGPU_SIM_CC");
	if (!v || !*v)
		return;
	int maj = -1, min = -1, used = 0;
	if (sscanf(v, "%d.%d%n", &maj, &min, &used) == 2 && !v[used])
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (known[i].major == maj && known[i].minor == min) {
				g_cc = known[i];
				sim_log("VGPU_SIM_CC=%s: the simulated device reports compute capability %d.%d", v, maj, min);
				return;
			}
	sim_log("VGPU_SIM_CC=%s is not one of 7.5, 8.0, 8.6, 8.9, 9.0, 10.0, 12.0, 13.0; the device stays 7.5", v);
}

CUresult sim_cluster_check(const CUlaunchAttributeValue *v, const unsigned *grid, unsigned max_blocks)
{
	unsigned x = v->clusterDim.x, y = v->clusterDim.y, z = v->clusterDim.z;
	if (x <= 1 && y <= 1 && z <= 1)
		return CUDA_SUCCESS;
	if (g_cc.major < 9)
		return CUDA_ERROR_NOT_SUPPORTED;   /* no clusters before Hopper */
	if (!x || !y || !z || (uint64_t)x * y * z > max_blocks ||
	    (grid && (grid[0] % x || grid[1] % y || grid[2] % z)))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

static void do_init(void)
{
	cc_init();
	const char *d = getenv("VGPU_SIM_DEVICES");
	if (d) {
		int n = atoi(d);
		g_ndev = n < 1 ? 1 : n > SIM_MAX_DEVICES ? SIM_MAX_DEVICES : n;
	}
	g_ndev_all = g_ndev;
	for (int i = 0; i < g_ndev; i++)
		g_phys[i] = i;
	/* as the driver: the devices CUDA_VISIBLE_DEVICES names, in its order; none, none at all */
	const char *vis = getenv("CUDA_VISIBLE_DEVICES");
	if (vis) {
		int n = vgpu_visible_parse(vis, g_ndev, phys_uuid, NULL, g_phys, SIM_MAX_DEVICES);
		if (n == 0) {
			init_rc = CUDA_ERROR_NO_DEVICE;
			return;
		}
		g_ndev = n;
	}
	if (sim_mem_init() < 0) {
		init_rc = CUDA_ERROR_OUT_OF_MEMORY;
		return;
	}
	/* as the driver: CUDA_LAUNCH_BLOCKING=1 makes each kernel launch return once it ran */
	const char *lb = getenv("CUDA_LAUNCH_BLOCKING");
	g_launch_blocking = lb && !strcmp(lb, "1");
	g_inited = 1;
	init_rc = CUDA_SUCCESS;
}

int g_launch_blocking;
int g_ndev_all = 1;

int sim_devices_all(int *all, int *ord, int cap)
{
	if (!g_inited)
		return -1;
	*all = g_ndev_all;
	for (int i = 0; i < g_ndev && i < cap; i++)
		ord[i] = g_phys[i];
	return g_ndev < cap ? g_ndev : cap;
}

CUresult sim_errno_to_cu(int rc)
{
	switch (rc) {
	case 0: return CUDA_SUCCESS;
	case -ENOMEM: return CUDA_ERROR_OUT_OF_MEMORY;
	case -ENOEXEC: return CUDA_ERROR_NO_BINARY_FOR_GPU;
	case -ENOTSUP: return CUDA_ERROR_INVALID_PTX;
	case -EFAULT: return CUDA_ERROR_ILLEGAL_ADDRESS;
	case -ENOENT: return CUDA_ERROR_NOT_FOUND;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult cuInit(unsigned int flags)
{
	if (flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_once(&init_once, do_init);
	return init_rc;
}

#define CHECK_INIT() do { if (!g_inited) return CUDA_ERROR_NOT_INITIALIZED; } while (0)
#define CHECK_DEV(d) do { if ((d) < 0 || (d) >= g_ndev) return CUDA_ERROR_INVALID_DEVICE; } while (0)

CUresult cuDriverGetVersion(int *v)
{
	if (!v)
		return CUDA_ERROR_INVALID_VALUE;
	*v = CUDA_VERSION;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal)
{
	CHECK_INIT();
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(ordinal);
	*dev = ordinal;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count)
{
	CHECK_INIT();
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = g_ndev;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CHECK_INIT();
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	snprintf(name, (size_t)len, "%s", SIM_DEVICE_NAME);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	CHECK_INIT();
	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	phys_uuid(g_phys[dev], uuid, NULL);
	return CUDA_SUCCESS;
}

#undef cuDeviceGetUuid
/* The pre-11.4 ABI name, same contract. */
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev);
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev) { return cuDeviceGetUuid_v2(uuid, dev); }

CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev)
{
	CHECK_INIT();
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	*bytes = sim_mem_total();
	return CUDA_SUCCESS;
}

/* Plausible attributes of a compute capability 7.5 part (or VGPU_SIM_CC's) with SM_COUNT
 * multiprocessors. */
static int attr_value(CUdevice_attribute a, int dev, int *ok)
{
	*ok = 1;
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return 49152;
	case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
	case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
	case CU_DEVICE_ATTRIBUTE_MAX_PITCH: return 2147483647;
	case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
	case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return PTX_CLOCK_KHZ;
	case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: return 512;
	case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: return 1;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return SM_COUNT;
	case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: return 0;
	case CU_DEVICE_ATTRIBUTE_INTEGRATED: return 0;
	case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: return 1;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: return CU_COMPUTEMODE_DEFAULT;
	case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: return 512;
	case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
	case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: return 0;
	case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return 0x40 + sim_dev_phys(dev);
	case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return 0;
	case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: return 0;
	case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: return 0;
	case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return 5001000;
	case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: return 256;
	case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: return 4 << 20;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return g_cc.threads_per_sm;
	case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return 2;
	case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return g_cc.major;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return g_cc.minor;
	case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: return g_cc.shared_per_sm;
	case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: return 65536;
	case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: return 1;
	case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: return 0;
	case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID: return dev;
	case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED: return 0;
	case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO: return 32;
	case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS: return 0;
	case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: return 1;   /* one memory, both sides */
	case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: return 1;
	case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: return g_cc.shared_optin;
	case CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES: return 0;
	case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: return 16;
	case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS: return 1;
	case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR: return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: return 0;
	case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE: return 0;
	/* from 8.0 a block has reserved shared memory (the kernels that read its registers get it) */
	case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: return g_cc.major >= 8 ? (int)RSMEM_BYTES : 0;
	case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED: return 0;
	/* as Linux drivers answer: memory and pools may ask for a POSIX descriptor (the simulator
	 * makes them as any other; exporting one is a function it lacks) */
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES: return CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
	/* cuIpcGetEventHandle and its kin work between processes (ipc.c) */
	case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED: return 1;
	case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: return g_cc.major >= 9;
	case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED: return 0;
	case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED: return 0;
	case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT: return 1;
	case CU_DEVICE_ATTRIBUTE_NUMA_CONFIG: return 0;
	case CU_DEVICE_ATTRIBUTE_MPS_ENABLED: return 0;
	case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID: return -1;
	/* textures and surfaces (sim/api_tex.c checks arrays, mipmapped arrays and objects
	 * against these) */
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_LAYERS: return 2046;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_LAYERED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_LAYERED_LAYERS: return 2046;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH: return 131072;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH: return 131072;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT: return 65536;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH: return 16384;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT: return 16384;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH: return 16384;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_HEIGHT: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_LAYERS: return 2048;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_LAYERS: return 2048;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_GATHER_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_GATHER_HEIGHT: return 32768;
	case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: return 32;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_WIDTH: return 131072;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_HEIGHT: return 65536;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_WIDTH: return 16384;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_HEIGHT: return 16384;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_DEPTH: return 16384;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_LAYERED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_LAYERED_LAYERS: return 2048;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_HEIGHT: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_LAYERS: return 2048;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH: return 1 << 27;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_WIDTH: return 131072;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_HEIGHT: return 65000;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_PITCH: return 2097120;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_MIPMAPPED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_WIDTH: return 32768;
	case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_HEIGHT: return 32768;
	default:
		if ((int)a > 0 && a < CU_DEVICE_ATTRIBUTE_MAX)
			return 0;      /* features the simulator lacks */
		*ok = 0;
		return 0;
	}
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	CHECK_INIT();
	if (!pi)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	int ok;
	int v = attr_value(attrib, dev, &ok);
	if (!ok)
		return CUDA_ERROR_INVALID_VALUE;
	*pi = v;
	return CUDA_SUCCESS;
}

CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
	CHECK_INIT();
	if (!major || !minor)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	*major = 7;
	*minor = 5;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetProperties(CUdevprop *p, CUdevice dev)
{
	CHECK_INIT();
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	memset(p, 0, sizeof(*p));
	p->maxThreadsPerBlock = 1024;
	p->maxThreadsDim[0] = 1024;
	p->maxThreadsDim[1] = 1024;
	p->maxThreadsDim[2] = 64;
	p->maxGridSize[0] = 2147483647;
	p->maxGridSize[1] = 65535;
	p->maxGridSize[2] = 65535;
	p->sharedMemPerBlock = 49152;
	p->totalConstantMemory = 65536;
	p->SIMDWidth = 32;
	p->memPitch = 2147483647;
	p->regsPerBlock = 65536;
	p->clockRate = PTX_CLOCK_KHZ;
	p->textureAlign = 512;
	return CUDA_SUCCESS;
}

/* ---- contexts ---- */

int sim_ctx_valid(const struct sim_ctx *c) { return c && c->magic == MAGIC_CTX; }

/* A handle a thread may make current: a live context, or a primary context between its reset
 * (or last release) and its next retain. The driver keeps a primary context's handle for the
 * process's life and leaves it current where it was: the CUDA runtime's cudaDeviceReset
 * makes it current again to tear down its own state, then retains it for the next call. */
static int ctx_settable(const struct sim_ctx *c)
{
	return c && (c->magic == MAGIC_CTX || c->magic == MAGIC_CTX_IDLE);
}

struct sim_ctx *sim_ctx_current(CUresult *rc)
{
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	struct sim_ctx *c = tls_depth ? tls_stack[tls_depth - 1] : NULL;
	if (!c) {
		*rc = CUDA_ERROR_INVALID_CONTEXT;
		return NULL;
	}
	if (!sim_ctx_valid(c)) {
		*rc = CUDA_ERROR_CONTEXT_IS_DESTROYED;
		return NULL;
	}
	*rc = CUDA_SUCCESS;
	return c;
}

static struct sim_ctx *ctx_init(struct sim_ctx *c, int dev, unsigned flags)
{
	static _Atomic uint64_t ids;
	memset(c, 0, sizeof(*c));
	c->magic = MAGIC_CTX;
	c->id = ++ids;
	c->dev = dev;
	c->flags = flags;
	c->limits[CU_LIMIT_STACK_SIZE] = 1024;
	c->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20;
	c->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20;
	c->limits[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2;
	c->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
	c->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
	return c;
}

/* Storage of destroyed contexts (up to 256), reused by later creations rather than freed:
 * another thread's context stack may still hold a destroyed CUcontext, and using it must
 * give CUDA_ERROR_CONTEXT_IS_DESTROYED, not a use after free. */
static struct sim_ctx *ctx_shells[256];
static int nshells;
static pthread_mutex_t shell_lock = PTHREAD_MUTEX_INITIALIZER;   /* may nest inside g_lock */

static struct sim_ctx *ctx_new(int dev, unsigned flags)
{
	pthread_mutex_lock(&shell_lock);
	struct sim_ctx *c = nshells ? ctx_shells[--nshells] : NULL;
	pthread_mutex_unlock(&shell_lock);
	if (!c)
		c = malloc(sizeof(*c));
	return c ? ctx_init(c, dev, flags) : NULL;
}

extern void sim_modules_destroy_ctx(struct sim_ctx *c);

/* Tears down everything a context owns but keeps its storage (magic cleared); the caller
 * has unlinked it from thread stacks. */
static void ctx_release(struct sim_ctx *c)
{
	sim_ctx_sync(c);
	for (;;) {
		pthread_mutex_lock(&g_lock);
		struct sim_stream *s = c->streams;
		pthread_mutex_unlock(&g_lock);
		if (!s)
			break;
		sim_stream_destroy(s);
	}
	if (c->null_stream) {
		sim_stream_destroy(c->null_stream);
		c->null_stream = NULL;
	}
	sim_events_destroy_ctx(c);  /* after its streams: their records are done */
	sim_modules_destroy_ctx(c);
	sim_heap_destroy(c);
	sim_tex_destroy_ctx(c);     /* before its memory: objects hold their arrays' storage */
	sim_graph_mem_ctx_gone(c);  /* graphs' allocations are its memory too */
	sim_mem_free_ctx(c);
	c->magic = 0;
}

/* Keeps a released context's storage for reuse (ctx_shells). */
static void ctx_store(struct sim_ctx *c)
{
	pthread_mutex_lock(&shell_lock);
	if (nshells < (int)(sizeof(ctx_shells) / sizeof(ctx_shells[0]))) {
		ctx_shells[nshells++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&shell_lock);
	free(c);     /* beyond the shell cache: freed (a stale handle is then undefined) */
}

static void ctx_teardown(struct sim_ctx *c)
{
	ctx_release(c);
	ctx_store(c);
}

static void tls_remove(struct sim_ctx *c)
{
	for (int i = 0; i < tls_depth; i++)
		if (tls_stack[i] == c) {
			memmove(&tls_stack[i], &tls_stack[i + 1], sizeof(tls_stack[0]) * (size_t)(tls_depth - i - 1));
			tls_depth--;
			i--;
		}
}

CUresult cuCtxCreate(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev)
{
	CHECK_INIT();
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	if (params && (params->execAffinityParams || params->numExecAffinityParams || params->cigParams))
		return CUDA_ERROR_NOT_SUPPORTED;
	if (tls_depth >= 64)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_ctx *c = ctx_new(dev, flags);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	tls_stack[tls_depth++] = c;
	*pctx = (CUcontext)c;
	return CUDA_SUCCESS;
}

CUresult cuCtxDestroy(CUcontext ctx)
{
	CHECK_INIT();
	struct sim_ctx *c = (struct sim_ctx *)ctx;
	if (!sim_ctx_valid(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (c->is_primary || c->green)   /* a green context's goes with cuGreenCtxDestroy */
		return CUDA_ERROR_INVALID_CONTEXT;
	tls_remove(c);
	vgpu_darkapi_ctx_gone(c->id);
	ctx_teardown(c);
	return CUDA_SUCCESS;
}

struct sim_ctx *sim_ctx_new_green(int dev, struct sim_ctx *primary)
{
	struct sim_ctx *c = ctx_new(dev, primary->flags);
	if (!c)
		return NULL;
	memcpy(c->limits, primary->limits, sizeof(c->limits));
	c->cache_config = primary->cache_config;
	c->shared_config = primary->shared_config;
	c->res = primary;
	pthread_mutex_lock(&g_lock);
	c->green_next = primary->greens;
	primary->greens = c;
	pthread_mutex_unlock(&g_lock);
	return c;
}

void sim_ctx_end_green(struct sim_ctx *c)
{
	tls_remove(c);
	/* (no cudart state of its own to drop: its key is its primary context's, sim/cudart.c) */
	ctx_release(c);
	/* linked until its work is done: waiting for its primary context (a free) waits for it */
	pthread_mutex_lock(&g_lock);
	struct sim_ctx **pp = &c->res->greens;
	while (*pp && *pp != c)
		pp = &(*pp)->green_next;
	if (*pp)
		*pp = c->green_next;
	pthread_mutex_unlock(&g_lock);
	ctx_store(c);
}

CUresult cuCtxPushCurrent(CUcontext ctx)
{
	CHECK_INIT();
	struct sim_ctx *c = (struct sim_ctx *)ctx;
	if (!ctx_settable(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (tls_depth >= 64)
		return CUDA_ERROR_INVALID_VALUE;
	tls_stack[tls_depth++] = c;
	return CUDA_SUCCESS;
}

CUresult cuCtxPopCurrent(CUcontext *pctx)
{
	CHECK_INIT();
	if (!tls_depth)
		return CUDA_ERROR_INVALID_CONTEXT;
	struct sim_ctx *c = tls_stack[--tls_depth];
	if (pctx)
		*pctx = (CUcontext)c;
	return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CHECK_INIT();
	struct sim_ctx *c = (struct sim_ctx *)ctx;
	if (!c) {
		if (tls_depth)
			tls_depth--;
		return CUDA_SUCCESS;
	}
	if (!ctx_settable(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (tls_depth)
		tls_stack[tls_depth - 1] = c;
	else
		tls_stack[tls_depth++] = c;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CHECK_INIT();
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = tls_depth ? (CUcontext)tls_stack[tls_depth - 1] : NULL;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *dev)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	*dev = c->dev;
	return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	sim_ctx_sync(c);
	return c->sticky;
}

CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
	CHECK_INIT();
	struct sim_ctx *c = (struct sim_ctx *)ctx;
	if (!c) {
		CUresult rc;
		c = sim_ctx_current(&rc);
		if (!c)
			return rc;
	}
	if (!sim_ctx_valid(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	*version = 3020;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetFlags(unsigned int *flags)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = c->flags;
	return CUDA_SUCCESS;
}

CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if ((unsigned)limit >= 16 || limit == CU_LIMIT_PERSISTING_L2_CACHE_SIZE + 1)
		return CUDA_ERROR_UNSUPPORTED_LIMIT;
	c->limits[limit] = value;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!pvalue)
		return CUDA_ERROR_INVALID_VALUE;
	if ((unsigned)limit >= 16)
		return CUDA_ERROR_UNSUPPORTED_LIMIT;
	*pvalue = c->limits[limit];
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!pconfig)
		return CUDA_ERROR_INVALID_VALUE;
	*pconfig = c->cache_config;
	return CUDA_SUCCESS;
}

CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if ((unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL)
		return CUDA_ERROR_INVALID_VALUE;
	c->cache_config = config;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest)
{
	CHECK_INIT();
	if (least)
		*least = 0;
	if (greatest)
		*greatest = -5;
	return CUDA_SUCCESS;
}

/* ---- primary contexts ---- */

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CHECK_INIT();
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	pthread_mutex_lock(&g_lock);
	struct primary *p = &prim[dev];
	while (!p->ctx && p->releasing)
		pthread_cond_wait(&prim_cv, &g_lock);
	if (!p->ctx) {
		p->ctx = p->dead ? ctx_init(p->dead, dev, p->flags) : ctx_new(dev, p->flags);
		p->dead = NULL;
		if (!p->ctx) {
			pthread_mutex_unlock(&g_lock);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		p->ctx->is_primary = 1;
	}
	p->refs++;
	*pctx = (CUcontext)p->ctx;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

static CUresult primary_drop(CUdevice dev, int reset)
{
	pthread_mutex_lock(&g_lock);
	struct primary *p = &prim[dev];
	struct sim_ctx *c = NULL;
	if (!p->ctx || (!reset && p->refs <= 0)) {
		pthread_mutex_unlock(&g_lock);
		return reset ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
	}
	if (reset || --p->refs == 0) {
		c = p->ctx;
		p->ctx = NULL;
		p->refs = 0;
		p->releasing = 1;
	}
	pthread_mutex_unlock(&g_lock);
	if (c) {
		vgpu_darkapi_ctx_gone(c->id);
		ctx_release(c);
		pthread_mutex_lock(&g_lock);
		c->magic = MAGIC_CTX_IDLE;   /* stays current where it is, as the driver's does */
		p->dead = c;                 /* the only storage this device's primary context has had */
		p->releasing = 0;
		pthread_cond_broadcast(&prim_cv);
		pthread_mutex_unlock(&g_lock);
	}
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	CHECK_INIT();
	CHECK_DEV(dev);
	return primary_drop(dev, 0);
}

CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
	CHECK_INIT();
	CHECK_DEV(dev);
	CUresult rc = primary_drop(dev, 1);
	/* "all resources associated with the current device in the current process": the
	 * stream-ordered memory too, which no context owns (cuCtxDestroy leaves it) */
	if (rc == CUDA_SUCCESS)
		sim_mem_free_ordered(dev);
	return rc;
}

CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
	CHECK_INIT();
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	CHECK_DEV(dev);
	pthread_mutex_lock(&g_lock);
	*flags = prim[dev].flags;
	*active = prim[dev].ctx != NULL;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
	CHECK_INIT();
	CHECK_DEV(dev);
	if (flags & ~(unsigned)(CU_CTX_SCHED_MASK | CU_CTX_MAP_HOST | CU_CTX_LMEM_RESIZE_TO_MAX |
	                        CU_CTX_SYNC_MEMOPS))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&g_lock);
	prim[dev].flags = flags;
	if (prim[dev].ctx)
		prim[dev].ctx->flags = flags;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

/* ---- errors: cuGetErrorString/cuGetErrorName are runtime/cuerr_api.c ---- */
