/* SPDX-License-Identifier: MIT */
/* qcache.c — answers in the zone the queries whose answers cannot have changed since the proxy last gave them. */
#include "client.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "custom_wire.h"

/*
 * Libraries ask the same few questions around every operation: cudart asks for the current
 * context's device before each runtime call, and checks the primary context's state; cuBLAS
 * and cuDNN read device attributes. A PyTorch training step sent about 900 of these per step
 * through vgpu, each a round trip to the worker (measured with VGPU_TRACE on an H200), which
 * was most of what vgpu added to the step.
 *
 * Their answers change only through calls that pass here too: a thread's current context by
 * its own context calls, a primary context's state by the primary-context calls, a function's
 * attributes and its occupancy by the calls that set its attributes, and a device's
 * attributes, the device count and ordinals never. So the last answer is kept, and every call that may change one
 * (and every call that fails, since an error may mean the context is gone) starts a new
 * generation in which nothing kept is used. The first query of a generation goes to the
 * proxy, as every query did before.
 */

#define QC_DEVS 32
#define QC_ATTRS 256

static uint64_t qc_gen = 1;   /* atomically; 0 is never a valid generation */

/* The calling thread's current context and its device (each thread has its own channel,
 * served by its own worker thread, whose current context is the thread's). */
static __thread struct {
	uint64_t ctx_gen, dev_gen;
	CUcontext ctx;
	CUdevice dev;
} qc_tls;

static pthread_mutex_t qc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t gen;
	unsigned int flags;
	int active;
} qc_primary[QC_DEVS];
/* Other answers of one int, by opcode and arguments: device counts and ordinals (kept for the
 * process, like device attributes); a named context's device, a function's attributes and
 * occupancy (kept for a generation). */
#define QC_KEYS 8
#define QC_KV 512
static struct {
	uint64_t gen;   /* the generation, or for a kept-for-the-process answer its epoch */
	uint16_t op;
	uint64_t key[QC_KEYS];
	int value;
} qc_kv[QC_KV];
static uint64_t qc_epoch = 1;   /* under qc_lock; vgpu_qcache_reset moves it on */
static int qc_attr[QC_DEVS][QC_ATTRS];
static uint8_t qc_attr_known[QC_DEVS][QC_ATTRS];   /* atomically: set after the value */

/*
 * Whether a stream is being captured into a graph: cuBLAS asks (cuStreamGetCaptureInfo)
 * before each of its calls, five times for a GEMM, each a round trip. While no capture is open
 * in the process (call.c counts them: begun, and not yet ended by an end that succeeded or
 * found the capture invalidated), no stream is capturing, so the answer is given here for a
 * stream the proxy answered for on this thread in this generation (a handle that is no stream,
 * or the NULL stream without a current context, still gets the driver's error; destroying a
 * stream ends the generation). The NULL stream means another stream to the per-thread forms.
 */
#define QC_STREAMS 4
static __thread struct {
	uint64_t gen;
	uint64_t stream;
	int ptsz;
} qc_streams[QC_STREAMS];
static __thread unsigned qc_streams_next;

enum { CQ_NONE, CQ_IS, CQ_INFO };   /* cuStreamIsCapturing, cuStreamGetCaptureInfo (misc.c's wire form) */

/* Which capture query op is (CQ_NONE: none), and whether its NULL stream is the per-thread one. */
static int capture_query(uint16_t op, int *ptsz)
{
	*ptsz = op == VGPU_OP_cuStreamIsCapturing_ptsz || op == VGPU_OP_cuStreamGetCaptureInfo_v3_ptsz;
	if (op == VGPU_OP_cuStreamIsCapturing || op == VGPU_OP_cuStreamIsCapturing_ptsz)
		return CQ_IS;
	if (op == VGPU_OP_cuStreamGetCaptureInfo_v3 || op == VGPU_OP_cuStreamGetCaptureInfo_v3_ptsz)
		return CQ_INFO;
	return CQ_NONE;
}

/* 1 when stream s is known not to be capturing (vgpu_qcache_lookup) */
static int stream_uncaptured(uint64_t s, int ptsz, uint64_t g)
{
	if (vgpu_client_captures_open())
		return 0;
	for (unsigned i = 0; i < QC_STREAMS; i++)
		if (qc_streams[i].gen == g && qc_streams[i].stream == s && qc_streams[i].ptsz == ptsz)
			return 1;
	return 0;
}

static void stream_seen(uint64_t s, int ptsz, uint64_t g)
{
	for (unsigned i = 0; i < QC_STREAMS; i++)
		if (qc_streams[i].stream == s && qc_streams[i].ptsz == ptsz) {
			qc_streams[i].gen = g;
			return;
		}
	unsigned i = qc_streams_next++ % QC_STREAMS;
	qc_streams[i].gen = g;
	qc_streams[i].stream = s;
	qc_streams[i].ptsz = ptsz;
}

/* The key of a keyed answer: its arguments as numbers (the launch attributes of a cluster
 * query by a hash of their bytes). Returns 0 and whether the answer is kept for the process,
 * or -1 for a call whose answer is not kept. */
static int kv_key(const struct vgpu_call_desc *d, void *const *argv, uint64_t key[QC_KEYS], int *perm)
{
	switch (d->opcode) {   /* most calls are none of these: nothing else is done for them */
	case VGPU_OP_cuDeviceGetCount:
	case VGPU_OP_cuDeviceGet:
	case VGPU_OP_cuCtxGetDevice_v2:
	case VGPU_OP_cuFuncGetAttribute:
	case VGPU_OP_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags:
	case VGPU_OP_cuOccupancyMaxActiveBlocksPerMultiprocessor:
	case VGPU_OP_cuOccupancyMaxPotentialClusterSize:
	case VGPU_OP_cuOccupancyMaxActiveClusters:
		break;
	default:
		return -1;
	}
	memset(key, 0, QC_KEYS * sizeof(key[0]));
	*perm = 0;
	switch (d->opcode) {
	case VGPU_OP_cuCtxGetDevice_v2:   /* a named context's (the current one's is per thread) */
		key[0] = (uint64_t)(uintptr_t)*(const CUcontext *)argv[1];
		return key[0] ? 0 : -1;
	case VGPU_OP_cuFuncGetAttribute:
		key[0] = (uint64_t)(uintptr_t)*(const CUfunction *)argv[2];
		key[1] = (uint64_t)(uint32_t)*(const CUfunction_attribute *)argv[1];
		return key[0] ? 0 : -1;
	case VGPU_OP_cuDeviceGetCount:
		*perm = 1;
		return 0;
	case VGPU_OP_cuDeviceGet:
		*perm = 1;
		key[0] = (uint64_t)(uint32_t)*(const int *)argv[1];
		return 0;
	case VGPU_OP_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags:
		key[3] = *(const unsigned int *)argv[4];
		/* fall through */
	case VGPU_OP_cuOccupancyMaxActiveBlocksPerMultiprocessor:
		key[0] = (uint64_t)(uintptr_t)*(const CUfunction *)argv[1];
		key[1] = (uint64_t)(uint32_t)*(const int *)argv[2];
		key[2] = *(const size_t *)argv[3];
		return 0;
	case VGPU_OP_cuOccupancyMaxPotentialClusterSize:
	case VGPU_OP_cuOccupancyMaxActiveClusters: {
		const CUlaunchAttribute *at = *(const CUlaunchAttribute *const *)argv[VGPU_OCW_ATTRS];
		uint32_t n = *(const uint32_t *)argv[VGPU_OCW_NATTRS];
		uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a over the attributes' bytes */
		if (n && !at)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			for (size_t b = 0; b < sizeof(at[i]); b++)
				h = (h ^ ((const unsigned char *)&at[i])[b]) * 0x100000001b3ull;
		key[0] = (uint64_t)(uintptr_t)*(const CUfunction *)argv[VGPU_OCW_F];
		key[1] = (uint64_t)*(const unsigned *)argv[VGPU_OCW_GX] << 32 | *(const unsigned *)argv[VGPU_OCW_GY];
		key[2] = (uint64_t)*(const unsigned *)argv[VGPU_OCW_GZ] << 32 | *(const unsigned *)argv[VGPU_OCW_BX];
		key[3] = (uint64_t)*(const unsigned *)argv[VGPU_OCW_BY] << 32 | *(const unsigned *)argv[VGPU_OCW_BZ];
		key[4] = *(const unsigned *)argv[VGPU_OCW_SHMEM];
		key[5] = h;
		key[6] = n;
		return 0;
	}
	default:
		return -1;
	}
}

/* The int a keyed call answers in (its first argument points at it). */
static int *kv_out(const struct vgpu_call_desc *d, void *const *argv)
{
	return d->opcode == VGPU_OP_cuOccupancyMaxPotentialClusterSize || d->opcode == VGPU_OP_cuOccupancyMaxActiveClusters ?
		       (int *)*(int32_t *const *)argv[VGPU_OCW_OUT] : *(int *const *)argv[0];
}

static unsigned kv_slot(uint16_t op, const uint64_t key[QC_KEYS])
{
	uint64_t h = op;
	for (unsigned i = 0; i < QC_KEYS; i++)
		h = (h ^ key[i]) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 55) % QC_KV;
}

/* A keyed answer kept for generation g (or the process): 1 with *out filled, else 0. */
static int kv_lookup(const struct vgpu_call_desc *d, void *const *argv, uint64_t g)
{
	uint64_t key[QC_KEYS];
	int perm, hit = 0, *out;

	if (kv_key(d, argv, key, &perm) < 0 || !(out = kv_out(d, argv)))
		return 0;
	unsigned i = kv_slot(d->opcode, key);
	pthread_mutex_lock(&qc_lock);
	if (qc_kv[i].op == d->opcode && qc_kv[i].gen == (perm ? qc_epoch : g) &&
	    memcmp(qc_kv[i].key, key, sizeof(key)) == 0) {
		*out = qc_kv[i].value;
		hit = 1;
	}
	pthread_mutex_unlock(&qc_lock);
	return hit;
}

/* Keeps a successful keyed call's answer for generation g (or the process). */
static void kv_store(const struct vgpu_call_desc *d, void *const *argv, uint64_t g)
{
	uint64_t key[QC_KEYS];
	int perm, *out;

	if (kv_key(d, argv, key, &perm) < 0 || !(out = kv_out(d, argv)))
		return;
	unsigned i = kv_slot(d->opcode, key);
	pthread_mutex_lock(&qc_lock);
	qc_kv[i].op = d->opcode;
	memcpy(qc_kv[i].key, key, sizeof(key));
	qc_kv[i].value = *out;
	qc_kv[i].gen = perm ? qc_epoch : g;
	pthread_mutex_unlock(&qc_lock);
}

static uint64_t gen_now(void)
{
	return __atomic_load_n(&qc_gen, __ATOMIC_ACQUIRE);
}

void vgpu_qcache_reset(void)
{
	__atomic_add_fetch(&qc_gen, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&qc_lock);
	qc_epoch++;
	pthread_mutex_unlock(&qc_lock);
	for (unsigned d = 0; d < QC_DEVS; d++)
		for (unsigned a = 0; a < QC_ATTRS; a++)
			__atomic_store_n(&qc_attr_known[d][a], 0, __ATOMIC_RELEASE);
}

/* The calls after which a kept context or primary-context answer may be wrong. */
static int changes_contexts(uint16_t op)
{
	switch (op) {
	case VGPU_OP_cuCtxCreate_v4:
	case VGPU_OP_cuCtxCreate:
	case VGPU_OP_cuCtxCreate_v2:
	case VGPU_OP_cuCtxDestroy_v2:
	case VGPU_OP_cuCtxDestroy:
	case VGPU_OP_cuCtxPushCurrent_v2:
	case VGPU_OP_cuCtxPopCurrent_v2:
	case VGPU_OP_cuCtxPushCurrent:
	case VGPU_OP_cuCtxPopCurrent:
	case VGPU_OP_cuCtxSetCurrent:
	case VGPU_OP_cuDevicePrimaryCtxRetain:
	case VGPU_OP_cuDevicePrimaryCtxRelease_v2:
	case VGPU_OP_cuDevicePrimaryCtxReset_v2:
	case VGPU_OP_cuDevicePrimaryCtxSetFlags_v2:
	case VGPU_OP_cuDevicePrimaryCtxRelease:
	case VGPU_OP_cuDevicePrimaryCtxReset:
	case VGPU_OP_cuDevicePrimaryCtxSetFlags:
	/* ... and a function's attribute (cuKernelSetAttribute comes here as cuFuncSetAttribute),
	 * or a handle that may be used again for another function */
	case VGPU_OP_cuFuncSetAttribute:
	case VGPU_OP_cuFuncSetCacheConfig:
	case VGPU_OP_cuFuncSetSharedMemConfig:
	case VGPU_OP_cuModuleUnload:
	/* ... and a stream known not to be capturing */
	case VGPU_OP_cuStreamDestroy:
	case VGPU_OP_cuStreamDestroy_v2:
		return 1;
	default:
		return 0;
	}
}

int vgpu_qcache_lookup(const struct vgpu_call_desc *d, void *const *argv, CUresult *res)
{
	uint64_t g = gen_now();
	int ptsz, cq = capture_query(d->opcode, &ptsz);

	if (cq != CQ_NONE) {
		uint64_t s = (uint64_t)(uintptr_t)*(const CUstream *)argv[0];
		if (!stream_uncaptured(s, ptsz, g))
			return 0;
		if (cq == CQ_IS) {
			CUstreamCaptureStatus *out = *(CUstreamCaptureStatus *const *)argv[1];
			if (!out)
				return 0;
			*out = CU_STREAM_CAPTURE_STATUS_NONE;
		} else {   /* no dependencies, no graph */
			uint32_t *st = *(uint32_t *const *)argv[VGPU_CIW_STATUS];
			cuuint64_t *id = *(cuuint64_t *const *)argv[VGPU_CIW_ID];
			CUgraph *graph = *(CUgraph *const *)argv[VGPU_CIW_GRAPH];
			uint64_t *n = *(uint64_t *const *)argv[VGPU_CIW_NDEPS];
			if (!st || !n)
				return 0;
			*st = CU_STREAM_CAPTURE_STATUS_NONE;
			if (id)
				*id = 0;
			if (graph)
				*graph = NULL;
			*n = 0;
		}
		*res = CUDA_SUCCESS;
		return 1;
	}
	switch (d->opcode) {
	case VGPU_OP_cuCtxGetCurrent: {
		CUcontext *out = *(CUcontext *const *)argv[0];
		if (!out || qc_tls.ctx_gen != g)
			return 0;
		*out = qc_tls.ctx;
		break;
	}
	case VGPU_OP_cuCtxGetDevice:
	case VGPU_OP_cuCtxGetDevice_v2: {
		CUdevice *out = *(CUdevice *const *)argv[0];
		CUcontext ctx = d->opcode == VGPU_OP_cuCtxGetDevice_v2 ? *(const CUcontext *)argv[1] : NULL;
		if (!out)
			return 0;
		if (ctx) {
			if (!kv_lookup(d, argv, g))
				return 0;
		} else {
			if (qc_tls.dev_gen != g)
				return 0;
			*out = qc_tls.dev;
		}
		break;
	}
	case VGPU_OP_cuDevicePrimaryCtxGetState: {
		CUdevice dev = *(const CUdevice *)argv[0];
		unsigned int *flags = *(unsigned int *const *)argv[1];
		int *active = *(int *const *)argv[2], hit = 0;
		if (dev < 0 || dev >= QC_DEVS || !flags || !active)
			return 0;
		pthread_mutex_lock(&qc_lock);
		if (qc_primary[dev].gen == g) {
			*flags = qc_primary[dev].flags;
			*active = qc_primary[dev].active;
			hit = 1;
		}
		pthread_mutex_unlock(&qc_lock);
		if (!hit)
			return 0;
		break;
	}
	case VGPU_OP_cuDeviceGetAttribute: {
		int *out = *(int *const *)argv[0];
		int a = (int)*(const CUdevice_attribute *)argv[1];
		CUdevice dev = *(const CUdevice *)argv[2];
		if (!out || dev < 0 || dev >= QC_DEVS || a < 0 || a >= QC_ATTRS ||
		    !__atomic_load_n(&qc_attr_known[dev][a], __ATOMIC_ACQUIRE))
			return 0;
		*out = __atomic_load_n(&qc_attr[dev][a], __ATOMIC_RELAXED);
		break;
	}
	default:
		if (!kv_lookup(d, argv, g))
			return 0;
		break;
	}
	*res = CUDA_SUCCESS;
	return 1;
}

void vgpu_qcache_after(const struct vgpu_call_desc *d, void *const *argv, CUresult r, uint64_t g)
{
	int ptsz, cq = capture_query(d->opcode, &ptsz);

	if (r != CUDA_SUCCESS || changes_contexts(d->opcode)) {
		__atomic_add_fetch(&qc_gen, 1, __ATOMIC_ACQ_REL);
		return;
	}
	if (cq != CQ_NONE) {
		uint32_t st = cq == CQ_IS ? (uint32_t)**(CUstreamCaptureStatus *const *)argv[1]
					  : **(uint32_t *const *)argv[VGPU_CIW_STATUS];
		if (st == CU_STREAM_CAPTURE_STATUS_NONE)
			stream_seen((uint64_t)(uintptr_t)*(const CUstream *)argv[0], ptsz, g);
		return;
	}
	switch (d->opcode) {
	case VGPU_OP_cuCtxGetCurrent:
		qc_tls.ctx = **(CUcontext *const *)argv[0];
		qc_tls.ctx_gen = g;
		break;
	case VGPU_OP_cuCtxGetDevice:
	case VGPU_OP_cuCtxGetDevice_v2: {
		CUdevice dev = **(CUdevice *const *)argv[0];
		CUcontext ctx = d->opcode == VGPU_OP_cuCtxGetDevice_v2 ? *(const CUcontext *)argv[1] : NULL;
		if (ctx) {
			kv_store(d, argv, g);
		} else {
			qc_tls.dev = dev;
			qc_tls.dev_gen = g;
		}
		break;
	}
	case VGPU_OP_cuDevicePrimaryCtxGetState: {
		CUdevice dev = *(const CUdevice *)argv[0];
		if (dev < 0 || dev >= QC_DEVS)
			break;
		pthread_mutex_lock(&qc_lock);
		qc_primary[dev].flags = **(unsigned int *const *)argv[1];
		qc_primary[dev].active = **(int *const *)argv[2];
		qc_primary[dev].gen = g;
		pthread_mutex_unlock(&qc_lock);
		break;
	}
	case VGPU_OP_cuDeviceGetAttribute: {
		int a = (int)*(const CUdevice_attribute *)argv[1];
		CUdevice dev = *(const CUdevice *)argv[2];
		if (dev < 0 || dev >= QC_DEVS || a < 0 || a >= QC_ATTRS)
			break;
		__atomic_store_n(&qc_attr[dev][a], **(int *const *)argv[0], __ATOMIC_RELAXED);
		__atomic_store_n(&qc_attr_known[dev][a], 1, __ATOMIC_RELEASE);
		break;
	}
	default:
		kv_store(d, argv, g);
		break;
	}
}

uint64_t vgpu_qcache_gen(void)
{
	return gen_now();
}
