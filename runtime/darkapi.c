/* SPDX-License-Identifier: MIT */
/* darkapi.c — the export tables the CUDA runtime (cudart, static or shared) asks the driver for. */
#include "darkapi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drvtab.h"

/*
 * cudart asks the driver for undocumented tables by UUID. What is known of them (their
 * UUIDs, sizes and the meaning of some slots) is public knowledge from projects that run
 * unmodified cudart programs on other drivers; the code here is ours and is built only on
 * public driver calls (vgpu_drv), so the simulator and libvgpu share it. A table is an
 * array of pointers; where slot 0 holds the table's size in bytes, the caller checks it.
 */

/* ---------------------------------------------------------------- slots we cannot honour */

static CUresult unsupported_slot(const char *table, unsigned slot)
{
	vgpu_drv.log("%s slot %u called: its meaning is unknown, returning CUDA_ERROR_NOT_SUPPORTED",
		     table, slot);
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* One function per unknown slot, so that the log line names it (unused where a table's slot
 * is known after all). UNSUPPORTED10(tab, name, t) makes slots t0 to t9; SLOT/SLOT10 put them
 * in a table. */
#define UNSUPPORTED(tab, name, n) \
	__attribute__((unused)) static CUresult unsup_##tab##_##n(void) { return unsupported_slot(name, n); }
#define UNSUPPORTED10(tab, name, t) UNSUPPORTED(tab, name, t##0) UNSUPPORTED(tab, name, t##1) \
	UNSUPPORTED(tab, name, t##2) UNSUPPORTED(tab, name, t##3) UNSUPPORTED(tab, name, t##4) \
	UNSUPPORTED(tab, name, t##5) UNSUPPORTED(tab, name, t##6) UNSUPPORTED(tab, name, t##7) \
	UNSUPPORTED(tab, name, t##8) UNSUPPORTED(tab, name, t##9)
#define SLOT(tab, n) [n] = (void *)unsup_##tab##_##n
#define SLOT10(tab, t) SLOT(tab, t##0), SLOT(tab, t##1), SLOT(tab, t##2), SLOT(tab, t##3), SLOT(tab, t##4), \
	SLOT(tab, t##5), SLOT(tab, t##6), SLOT(tab, t##7), SLOT(tab, t##8), SLOT(tab, t##9)

UNSUPPORTED(rt, "CUDART_INTERFACE", 3)
UNSUPPORTED(rt, "CUDART_INTERFACE", 4)
UNSUPPORTED(rt, "CUDART_INTERFACE", 5)
UNSUPPORTED(rt, "CUDART_INTERFACE", 9)
UNSUPPORTED(rt, "CUDART_INTERFACE", 10)
UNSUPPORTED(rt, "CUDART_INTERFACE", 11)
UNSUPPORTED(tls, "TOOLS_TLS", 1)
UNSUPPORTED(tls, "TOOLS_TLS", 3)
UNSUPPORTED(hooks, "TOOLS_RUNTIME_CALLBACK_HOOKS", 1)
UNSUPPORTED(hooks, "TOOLS_RUNTIME_CALLBACK_HOOKS", 3)
UNSUPPORTED(hooks, "TOOLS_RUNTIME_CALLBACK_HOOKS", 4)
UNSUPPORTED(hooks, "TOOLS_RUNTIME_CALLBACK_HOOKS", 5)
UNSUPPORTED(cls, "CONTEXT_LOCAL_STORAGE", 3)
UNSUPPORTED(heap, "HEAP_ACCESS", 1)
UNSUPPORTED(heap, "HEAP_ACCESS", 2)
UNSUPPORTED(ic, "INTEGRITY_CHECK", 2)
UNSUPPORTED(cc, "CONTEXT_CHECKS", 1)

/* ---------------------------------------------------------------- CUDART_INTERFACE */

/* Slots 1, 6 and 8: load a module from a fatbin (a __fatBinC_Wrapper_t or the fatbin itself). */
static CUresult rt_module_from_fatbin(CUmodule *mod, const void *fatbin)
{
	if (!mod || !fatbin)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_drv.module_load_data(mod, fatbin);
}

static CUresult rt_module_from_fatbin_ext1(CUmodule *mod, const void *fatbin, void *a3, void *a4, unsigned a5)
{
	if (a3 || a4 || a5)
		return unsupported_slot("CUDART_INTERFACE (options)", 6);
	return rt_module_from_fatbin(mod, fatbin);
}

static CUresult rt_module_from_fatbin_ext2(const void *fatbin, CUmodule *mod, void *a3, void *a4, unsigned a5)
{
	if (a3 || a4 || a5)
		return unsupported_slot("CUDART_INTERFACE (options)", 8);
	return rt_module_from_fatbin(mod, fatbin);
}

/* Slot 2: the device's primary context (cudart keeps it for the process's lifetime). */
static CUresult rt_primary_ctx(CUcontext *pctx, CUdevice dev)
{
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_drv.primary_ctx_retain(pctx, dev);
}

/* Slot 7: a notification with one argument; nothing to do. */
static CUresult rt_notify(uintptr_t arg)
{
	(void)arg;
	return CUDA_SUCCESS;
}

/* Slot 12: load the JIT compilers; the driver behind us loads what it needs itself. */
static CUresult rt_load_compilers(void)
{
	return CUDA_SUCCESS;
}

static const void *const tab_cudart[13] = {
	(void *)(uintptr_t)sizeof(tab_cudart), (void *)rt_module_from_fatbin, (void *)rt_primary_ctx,
	(void *)unsup_rt_3, (void *)unsup_rt_4, (void *)unsup_rt_5, (void *)rt_module_from_fatbin_ext1,
	(void *)rt_notify, (void *)rt_module_from_fatbin_ext2, (void *)unsup_rt_9, (void *)unsup_rt_10,
	(void *)unsup_rt_11, (void *)rt_load_compilers,
};

/* ---------------------------------------------------------------- TOOLS_TLS */

/* Slot 2: the calling thread's current context (cuBLAS asks before each call it makes). */
static CUresult tls_current_ctx(CUcontext *pctx)
{
	CUresult r;

	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = NULL;
	if ((r = vgpu_drv.ctx_get_current(pctx)) != CUDA_SUCCESS)
		return r;
	return *pctx ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

static const void *const tab_tools_tls[4] = {
	(void *)(uintptr_t)sizeof(tab_tools_tls), (void *)unsup_tls_1, (void *)tls_current_ctx, (void *)unsup_tls_3,
};

/* ---------------------------------------------------------------- TOOLS_RUNTIME_CALLBACK_HOOKS */

/* Slots 2 and 6 hand cudart two buffers of ours that profiling tools would fill; no tool does. */
static uint32_t hooks_buf1[1024];
static uint32_t hooks_buf2[14];

static void hooks_get_buf1(void **ptr, size_t *size)
{
	if (ptr)
		*ptr = hooks_buf1;
	if (size)
		*size = sizeof(hooks_buf1) / sizeof(hooks_buf1[0]);
}

static void hooks_get_buf2(void **ptr, size_t *size)
{
	if (ptr)
		*ptr = hooks_buf2;
	if (size)
		*size = sizeof(hooks_buf2) / sizeof(hooks_buf2[0]);
}

static const void *const tab_hooks[7] = {
	(void *)(uintptr_t)sizeof(tab_hooks), (void *)unsup_hooks_1, (void *)hooks_get_buf1,
	(void *)unsup_hooks_3, (void *)unsup_hooks_4, (void *)unsup_hooks_5, (void *)hooks_get_buf2,
};

/* ---------------------------------------------------------------- CONTEXT_LOCAL_STORAGE */

/*
 * cudart keeps its per-context state here: a value per (context, key). Contexts are keyed by
 * vgpu_drv.ctx_key, never by the handle, so a handle reused after a context is destroyed
 * cannot see the old context's values.
 */
typedef void (*cls_dtor)(CUcontext, void *, void *);
struct cls_entry {
	unsigned long long ctx_id;
	void *key, *value;
	cls_dtor dtor;
	struct cls_entry *next;
};
static pthread_mutex_t cls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cls_entry *cls_head;

static struct cls_entry **cls_find(unsigned long long id, void *key)
{
	struct cls_entry **pp = &cls_head;

	while (*pp && !((*pp)->ctx_id == id && (*pp)->key == key))
		pp = &(*pp)->next;
	return pp;
}

static CUresult cls_put(CUcontext ctx, void *key, void *value, cls_dtor dtor)
{
	unsigned long long id;
	CUresult r = vgpu_drv.ctx_key(ctx, &id);

	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&cls_lock);
	struct cls_entry **pp = cls_find(id, key);
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp) {
			pthread_mutex_unlock(&cls_lock);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		(*pp)->ctx_id = id;
		(*pp)->key = key;
	}
	(*pp)->value = value;
	(*pp)->dtor = dtor;
	pthread_mutex_unlock(&cls_lock);
	return CUDA_SUCCESS;
}

static CUresult cls_delete(CUcontext ctx, void *key)
{
	unsigned long long id;
	CUresult r = vgpu_drv.ctx_key(ctx, &id);

	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&cls_lock);
	struct cls_entry **pp = cls_find(id, key), *e = *pp;
	if (e)
		*pp = e->next;
	pthread_mutex_unlock(&cls_lock);
	free(e);
	return CUDA_SUCCESS;
}

static CUresult cls_get(void **value, CUcontext ctx, void *key)
{
	unsigned long long id;
	CUresult r;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	*value = NULL;
	r = vgpu_drv.ctx_key(ctx, &id);
	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&cls_lock);
	struct cls_entry *e = *cls_find(id, key);
	if (e)
		*value = e->value;
	pthread_mutex_unlock(&cls_lock);
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

void vgpu_darkapi_ctx_gone(unsigned long long ctx_key)
{
	struct cls_entry *gone = NULL;

	pthread_mutex_lock(&cls_lock);
	for (struct cls_entry **pp = &cls_head; *pp;) {
		struct cls_entry *e = *pp;
		if (e->ctx_id == ctx_key) {
			*pp = e->next;
			e->next = gone;
			gone = e;
		} else {
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&cls_lock);
	while (gone) {
		struct cls_entry *e = gone;
		gone = e->next;
		free(e);
	}
}

/* No size slot: this table starts with its first function. */
static const void *const tab_cls[4] = {
	(void *)cls_put, (void *)cls_delete, (void *)cls_get, (void *)unsup_cls_3,
};

/* ---------------------------------------------------------------- CTX_CREATE_BYPASS */

static CUresult bypass_ctx_create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	return vgpu_drv.ctx_create(pctx, flags, dev);
}

static const void *const tab_ctx_bypass[2] = {
	(void *)(uintptr_t)sizeof(tab_ctx_bypass), (void *)bypass_ctx_create,
};

/* ---------------------------------------------------------------- HEAP_ACCESS */

static const void *const tab_heap[3] = {
	(void *)(uintptr_t)sizeof(tab_heap), (void *)unsup_heap_1, (void *)unsup_heap_2,
};

/* ---------------------------------------------------------------- CONTEXT_CHECKS */

/* Slot 2 reports flags of a context that are never set on ours; slot 3 a global that is 0. */
static CUresult cc_context_check(CUcontext ctx, uint32_t *flags, const void **detail)
{
	(void)ctx;
	(void)detail;
	if (flags)
		*flags = 0;
	return CUDA_SUCCESS;
}

static uint32_t cc_global(void)
{
	return 0;
}

static const void *const tab_ctx_checks[4] = {
	(void *)(uintptr_t)sizeof(tab_ctx_checks), (void *)unsup_cc_1, (void *)cc_context_check, (void *)cc_global,
};

/* ---------------------------------------------------------------- CONTEXT_STREAM */

/*
 * 93 slots, asked for by the CUDA libraries (cuFFT, cuBLAS). Three are known: slot 4 gives a
 * context's identity, slot 51 turns a public stream handle into the driver's private one and
 * slot 39 gives that private stream's identity. Our private stream is the public handle
 * itself (NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD included): every use of it goes
 * through the public API, which checks it.
 */
static CUresult cs_ctx_key(CUcontext ctx, unsigned long long *key)
{
	if (!key)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_drv.ctx_key(ctx, key);
}

static CUresult cs_stream_identity(CUcontext ctx, const void *priv, unsigned long long *id)
{
	(void)ctx;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	*id = (unsigned long long)(uintptr_t)priv;
	return CUDA_SUCCESS;
}

static CUresult cs_stream_private(CUcontext ctx, CUstream stream, void **priv, int per_thread)
{
	(void)ctx;
	if (!priv)
		return CUDA_ERROR_INVALID_VALUE;
	*priv = (!stream && per_thread) ? (void *)CU_STREAM_PER_THREAD : (void *)stream;
	return CUDA_SUCCESS;
}

#define CS_SLOTS 93
/* made for every slot; the three known ones are left unused */
#define CS_UNSUP(n) UNSUPPORTED(cs, "CONTEXT_STREAM", n)
CS_UNSUP(1) CS_UNSUP(2) CS_UNSUP(3) CS_UNSUP(4) CS_UNSUP(5) CS_UNSUP(6) CS_UNSUP(7) CS_UNSUP(8) CS_UNSUP(9)
UNSUPPORTED10(cs, "CONTEXT_STREAM", 1) UNSUPPORTED10(cs, "CONTEXT_STREAM", 2) UNSUPPORTED10(cs, "CONTEXT_STREAM", 3)
UNSUPPORTED10(cs, "CONTEXT_STREAM", 4) UNSUPPORTED10(cs, "CONTEXT_STREAM", 5) UNSUPPORTED10(cs, "CONTEXT_STREAM", 6)
UNSUPPORTED10(cs, "CONTEXT_STREAM", 7) UNSUPPORTED10(cs, "CONTEXT_STREAM", 8)
CS_UNSUP(90) CS_UNSUP(91) CS_UNSUP(92)

static const void *const tab_ctx_stream[CS_SLOTS] = {
	[0] = (void *)(uintptr_t)sizeof(tab_ctx_stream),
	SLOT(cs, 1), SLOT(cs, 2), SLOT(cs, 3), SLOT(cs, 5), SLOT(cs, 6), SLOT(cs, 7), SLOT(cs, 8), SLOT(cs, 9),
	SLOT10(cs, 1), SLOT10(cs, 2), SLOT(cs, 30), SLOT(cs, 31), SLOT(cs, 32), SLOT(cs, 33), SLOT(cs, 34),
	SLOT(cs, 35), SLOT(cs, 36), SLOT(cs, 37), SLOT(cs, 38), SLOT10(cs, 4), SLOT(cs, 50), SLOT(cs, 52),
	SLOT(cs, 53), SLOT(cs, 54), SLOT(cs, 55), SLOT(cs, 56), SLOT(cs, 57), SLOT(cs, 58), SLOT(cs, 59),
	SLOT10(cs, 6), SLOT10(cs, 7), SLOT10(cs, 8), SLOT(cs, 90), SLOT(cs, 91), SLOT(cs, 92),
	[4] = (void *)cs_ctx_key, [39] = (void *)cs_stream_identity, [51] = (void *)cs_stream_private,
};

/* ---------------------------------------------------------------- TOOLS_MODULE */

/*
 * Asked for by cuFFT as it plans, which gives up when the table is missing. What is known
 * of it publicly is its name (a module's functions: their names, argument descriptors and
 * an iterator over a module's functions) but not the signatures. Slot 7 is the iterator, as
 * cuFFT 12 calls it: (context, module, callback(user, function), user), 1 when every
 * function was handed over, 0 otherwise; cuFFT loads each of its kernels as a module of one
 * function and takes that function from the callback, never by name. The other slots answer
 * CUDA_ERROR_NOT_SUPPORTED with a log line naming them. 64 slots: the known names reach
 * slot 55.
 */
#define TM_SLOTS 64
UNSUPPORTED(tm, "TOOLS_MODULE", 1) UNSUPPORTED(tm, "TOOLS_MODULE", 2) UNSUPPORTED(tm, "TOOLS_MODULE", 3)
UNSUPPORTED(tm, "TOOLS_MODULE", 4) UNSUPPORTED(tm, "TOOLS_MODULE", 5) UNSUPPORTED(tm, "TOOLS_MODULE", 6)
UNSUPPORTED(tm, "TOOLS_MODULE", 8) UNSUPPORTED(tm, "TOOLS_MODULE", 9)
UNSUPPORTED10(tm, "TOOLS_MODULE", 1) UNSUPPORTED10(tm, "TOOLS_MODULE", 2) UNSUPPORTED10(tm, "TOOLS_MODULE", 3)
UNSUPPORTED10(tm, "TOOLS_MODULE", 4) UNSUPPORTED10(tm, "TOOLS_MODULE", 5)
UNSUPPORTED(tm, "TOOLS_MODULE", 60) UNSUPPORTED(tm, "TOOLS_MODULE", 61) UNSUPPORTED(tm, "TOOLS_MODULE", 62)
UNSUPPORTED(tm, "TOOLS_MODULE", 63)

static int tm_module_functions(CUcontext ctx, CUmodule mod, void (*each)(void *user, CUfunction f), void *user)
{
	(void)ctx;
	unsigned n = 0;
	if (!each || vgpu_drv.module_get_function_count(&n, mod) != CUDA_SUCCESS)
		return 0;
	CUfunction *fns = n ? calloc(n, sizeof(*fns)) : NULL;
	if (n && !fns)
		return 0;
	CUresult r = n ? vgpu_drv.module_enumerate_functions(fns, n, mod) : CUDA_SUCCESS;
	for (unsigned i = 0; r == CUDA_SUCCESS && i < n; i++)
		each(user, fns[i]);
	free(fns);
	return r == CUDA_SUCCESS;
}

static const void *const tab_tools_module[TM_SLOTS] = {
	[0] = (void *)(uintptr_t)sizeof(tab_tools_module),
	SLOT(tm, 1), SLOT(tm, 2), SLOT(tm, 3), SLOT(tm, 4), SLOT(tm, 5), SLOT(tm, 6), [7] = (void *)tm_module_functions, SLOT(tm, 8),
	SLOT(tm, 9), SLOT10(tm, 1), SLOT10(tm, 2), SLOT10(tm, 3), SLOT10(tm, 4), SLOT10(tm, 5),
	SLOT(tm, 60), SLOT(tm, 61), SLOT(tm, 62), SLOT(tm, 63),
};

/* ---------------------------------------------------------------- INTEGRITY_CHECK */

/* MD2's substitution table: RFC 1319, built from the digits of pi. */
static const uint8_t md2_s[256] = {
	41, 46, 67, 201, 162, 216, 124, 1, 61, 54, 84, 161, 236, 240, 6, 19,
	98, 167, 5, 243, 192, 199, 115, 140, 152, 147, 43, 217, 188, 76, 130, 202,
	30, 155, 87, 60, 253, 212, 224, 22, 103, 66, 111, 24, 138, 23, 229, 18,
	190, 78, 196, 214, 218, 158, 222, 73, 160, 251, 245, 142, 187, 47, 238, 122,
	169, 104, 121, 145, 21, 178, 7, 63, 148, 194, 16, 137, 11, 34, 95, 33,
	128, 127, 93, 154, 90, 144, 50, 39, 53, 62, 204, 231, 191, 247, 151, 3,
	255, 25, 48, 179, 72, 165, 181, 209, 215, 94, 146, 42, 172, 86, 170, 198,
	79, 184, 56, 210, 150, 164, 125, 182, 118, 252, 107, 226, 156, 116, 4, 241,
	69, 157, 112, 89, 100, 113, 135, 32, 134, 91, 207, 101, 230, 45, 168, 2,
	27, 96, 37, 173, 174, 176, 185, 246, 28, 70, 97, 105, 52, 64, 126, 15,
	85, 71, 163, 35, 221, 81, 175, 58, 195, 92, 249, 206, 186, 197, 234, 38,
	44, 83, 13, 110, 133, 40, 132, 9, 211, 223, 205, 244, 65, 129, 77, 82,
	106, 220, 55, 200, 108, 193, 171, 250, 36, 225, 123, 8, 12, 189, 177, 74,
	120, 136, 149, 139, 227, 99, 232, 109, 233, 203, 213, 254, 59, 0, 29, 57,
	242, 239, 183, 14, 102, 88, 208, 228, 166, 119, 114, 248, 235, 117, 75, 10,
	49, 68, 80, 180, 143, 237, 31, 26, 219, 153, 141, 51, 159, 17, 131, 20,
};

struct md2 {
	uint8_t x[48];     /* state (0..15), the block (16..31), state ^ block (32..47) */
	uint8_t sum[16];   /* running checksum */
	uint8_t n;         /* bytes of the current block so far */
	uint8_t last;      /* last checksum byte (L in the RFC) */
};

static void md2_byte(struct md2 *m, uint8_t b)
{
	m->x[16 + m->n] = b;
	m->x[32 + m->n] = (uint8_t)(m->x[m->n] ^ b);
	m->sum[m->n] ^= md2_s[b ^ m->last];
	m->last = m->sum[m->n];
	if (++m->n < 16)
		return;
	m->n = 0;
	uint8_t t = 0;
	for (unsigned j = 0; j < 18; j++) {
		for (unsigned k = 0; k < 48; k++)
			t = m->x[k] ^= md2_s[t];
		t = (uint8_t)(t + j);
	}
}

static void md2_bytes(struct md2 *m, const void *p, size_t len, uint8_t xor_with)
{
	for (size_t i = 0; i < len; i++)
		md2_byte(m, ((const uint8_t *)p)[i] ^ xor_with);
}

static void md2_final(struct md2 *m, uint8_t digest[16])
{
	uint8_t pad = (uint8_t)(16 - m->n), sum[16];

	for (unsigned i = 0; i < pad; i++)
		md2_byte(m, pad);
	memcpy(sum, m->sum, sizeof(sum));
	md2_bytes(m, sum, sizeof(sum), 0);
	memcpy(digest, m->x, 16);
}

void vgpu_md2(const void *data, size_t len, uint8_t digest[16])
{
	struct md2 m = { 0 };

	md2_bytes(&m, data, len, 0);
	md2_final(&m, digest);
}

/* What the hash covers, laid out as the runtime lays it out (48 bytes, no padding). */
struct integrity_input {
	uint32_t driver_version, version, pid, thread;
	const void *cudart_table, *integrity_table, *fn;
	uint64_t unix_seconds;
};
_Static_assert(sizeof(struct integrity_input) == 48, "integrity input layout");
_Static_assert(sizeof(struct vgpu_integrity_device) == 28, "integrity device layout");

void vgpu_darkapi_integrity_hash(uint32_t version, uint64_t unix_seconds, uint32_t driver_version,
				 uint32_t pid, uint32_t thread, const void *cudart_table,
				 const void *integrity_table, const void *fn,
				 const struct vgpu_integrity_device *devs, unsigned ndev, uint64_t out[2])
{
	/* The HMAC key, and the answers for the two versions that take no inputs. */
	static const uint8_t key[16] = { 0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
					 0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f };
	if (version % 10 == 0 || version % 10 == 1) {
		out[0] = version % 10 ? 0x1841181c03cb675cull : 0x3341181c03cb675cull;
		out[1] = 0x8ed383aa1f4cd1e8ull;
		return;
	}
	struct integrity_input in = { driver_version, version, pid, thread, cudart_table,
				      integrity_table, fn, unix_seconds };
	struct md2 m = { 0 };
	uint8_t inner[16], outer[16];

	md2_bytes(&m, key, sizeof(key), 0x36);
	md2_bytes(&m, &in, sizeof(in), 0);
	for (unsigned i = 0; i < ndev; i++)
		md2_bytes(&m, &devs[i], sizeof(devs[i]), 0);
	md2_final(&m, inner);
	memset(&m, 0, sizeof(m));
	md2_bytes(&m, key, sizeof(key), 0x5c);
	md2_bytes(&m, inner, sizeof(inner), 0);
	md2_final(&m, outer);
	memcpy(out, outer, sizeof(outer));
}

static const void *const tab_integrity[3];

/* Slot 1: cudart checks that it talks to a genuine driver by the hash of what both know. */
static CUresult ic_check(uint32_t version, uint64_t unix_seconds, uint64_t out[2])
{
	struct vgpu_integrity_device devs[16];
	int n = 0, drv = 0;
	CUresult r;

	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = vgpu_drv.driver_get_version(&drv)) != CUDA_SUCCESS ||
	    (r = vgpu_drv.device_get_count(&n)) != CUDA_SUCCESS)
		return r;
	if (n < 0 || n > 16)
		return CUDA_ERROR_INVALID_DEVICE;
	for (int d = 0; d < n; d++) {
		memset(&devs[d], 0, sizeof(devs[d]));
		if ((r = vgpu_drv.device_get_uuid(&devs[d].uuid, d)) != CUDA_SUCCESS ||
		    (r = vgpu_drv.device_get_attribute(&devs[d].pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, d)) ||
		    (r = vgpu_drv.device_get_attribute(&devs[d].pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d)) ||
		    (r = vgpu_drv.device_get_attribute(&devs[d].pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, d)))
			return r;
	}
	vgpu_darkapi_integrity_hash(version, unix_seconds, (uint32_t)drv, (uint32_t)getpid(),
				    (uint32_t)(uintptr_t)pthread_self(), tab_cudart, tab_integrity,
				    tab_integrity[1], devs, (unsigned)n, out);
	return CUDA_SUCCESS;
}

static const void *const tab_integrity[3] = {
	(void *)(uintptr_t)sizeof(tab_integrity), (void *)ic_check, (void *)unsup_ic_2,
};

static int devices_all(int *all, int *ord, int cap)
{
	return vgpu_drv.devices_all(all, ord, cap);
}

static const struct vgpu_devices_table tab_devices = { sizeof(struct vgpu_devices_table), devices_all };

/* ---------------------------------------------------------------- lookup */

struct darkapi_table {
	const char *name;
	uint8_t uuid[16];
	const void *const *table;     /* NULL: known, deliberately not offered */
};

static const struct darkapi_table tables[] = {
	{ "CUDART_INTERFACE", { 0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a,
				0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9 }, tab_cudart },
	{ "TOOLS_TLS", { 0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47,
			 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc }, tab_tools_tls },
	{ "TOOLS_RUNTIME_CALLBACK_HOOKS", { 0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74,
					    0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66 }, tab_hooks },
	{ "CONTEXT_LOCAL_STORAGE", { 0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11,
				     0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93 }, tab_cls },
	{ "CTX_CREATE_BYPASS", { 0x0c, 0xa5, 0x0b, 0x8c, 0x10, 0x04, 0x92, 0x9a,
				 0x89, 0xa7, 0xd0, 0xdf, 0x10, 0xe7, 0x72, 0x86 }, tab_ctx_bypass },
	{ "HEAP_ACCESS", { 0x19, 0x5b, 0xcb, 0xf4, 0xd6, 0x7d, 0x02, 0x4a,
			   0xac, 0xc5, 0x1d, 0x29, 0xce, 0xa6, 0x31, 0xae }, tab_heap },
	{ "CONTEXT_CHECKS", { 0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43,
			      0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e }, tab_ctx_checks },
	{ "CONTEXT_STREAM", { 0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48,
			      0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2 }, tab_ctx_stream },
	{ "TOOLS_MODULE", { 0x6e, 0x16, 0x3f, 0xbe, 0xb9, 0x58, 0x44, 0x4d,
			    0x83, 0x5c, 0xe1, 0x82, 0xaf, 0xf1, 0x99, 0x1e }, tab_tools_module },
	{ "INTEGRITY_CHECK", { 0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b,
			       0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2 }, tab_integrity },
	/*
	 * A table that lets cudart skip its CUDART_INTERFACE start-up path. A driver that
	 * does not offer it answers NOT_FOUND, and cudart takes the ordinary path.
	 */
	{ "RUNTIME_BOOTSTRAP_BYPASS", { 0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e,
					0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9 }, NULL },
	{ "VGPU_DEVICES", VGPU_DEVICES_TABLE_ID, (const void *const *)&tab_devices },
};

void vgpu_uuid_format(const CUuuid *id, char buf[37])
{
	const uint8_t *b = (const uint8_t *)id->bytes;
	char *p = buf;

	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02x", b[i]);
	}
}

/*
 * Tables asked for that are not offered and need no word: NVRTC asks for this one each time
 * it compiles and goes on without it (tests/gpu/nvrtc_jit, vkfft, hashcat); it is answered
 * CUDA_ERROR_NOT_SUPPORTED as every unknown table, without the log line every program using
 * NVRTC printed.
 */
static const uint8_t quiet_unknown[][16] = {
	{ 0xda, 0x91, 0x51, 0xd3, 0x3a, 0xe6, 0xcc, 0x41, 0xa5, 0xc0, 0x4f, 0x26, 0xd5, 0x33, 0xe3, 0x28 },
};

/* Unknown UUIDs are logged once each: cudart may ask again on every thread. */
static void log_unknown_once(const CUuuid *id)
{
	for (size_t i = 0; i < sizeof(quiet_unknown) / sizeof(quiet_unknown[0]); i++)
		if (!memcmp(quiet_unknown[i], id->bytes, 16))
			return;

	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static CUuuid seen[32];
	static unsigned nseen;
	char text[37];
	int found = 0;

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nseen && !found; i++)
		found = !memcmp(seen[i].bytes, id->bytes, 16);
	if (!found && nseen < sizeof(seen) / sizeof(seen[0]))
		seen[nseen++] = *id;
	pthread_mutex_unlock(&lock);
	if (found)
		return;
	vgpu_uuid_format(id, text);
	vgpu_drv.log("cuGetExportTable: unknown export table %s: CUDA_ERROR_NOT_SUPPORTED", text);
}

CUresult vgpu_darkapi_get(const void **table, const CUuuid *id)
{
	if (!table || !id)
		return CUDA_ERROR_INVALID_VALUE;
	*table = NULL;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (memcmp(tables[i].uuid, id->bytes, 16))
			continue;
		if (!tables[i].table)
			return CUDA_ERROR_NOT_FOUND;
		*table = tables[i].table;
		return CUDA_SUCCESS;
	}
	log_unknown_once(id);
	return CUDA_ERROR_NOT_SUPPORTED;
}
