/* SPDX-License-Identifier: MIT */
/* link.c — the JIT linker: options as numbers, logs kept here and filled from each reply, the image copied back. */
#include "client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "modimage.h"
#include "vgpu_ops.h"

static const struct vgpu_call_desc desc_create =
	VGPU_WIRE_DESC("cuLinkCreate_v2", VGPU_OP_cuLinkCreate_v2, VGPU_CALLF_CUSTOM, vgpu_wire_link_create_args,
		       VGPU_LKW_NARGS);
static const struct vgpu_call_desc desc_add =
	VGPU_WIRE_DESC("cuLinkAddData_v2", VGPU_OP_cuLinkAddData_v2, VGPU_CALLF_CUSTOM, vgpu_wire_link_add_args,
		       VGPU_LAW_NARGS);
static const struct vgpu_call_desc desc_destroy =
	VGPU_WIRE_DESC("cuLinkDestroy", VGPU_OP_cuLinkDestroy, VGPU_CALLF_CUSTOM, vgpu_wire_link_destroy_args, 1);
static const struct vgpu_call_desc desc_complete =
	VGPU_WIRE_DESC("cuLinkComplete", VGPU_OP_cuLinkComplete, VGPU_CALLF_CUSTOM, vgpu_wire_link_complete_args,
		       VGPU_LCW_NARGS);

#define LINK_MAGIC 0x4b4e494cu /* "LINK" */

/*
 * A link state as the program holds it. The driver writes its logs, their lengths and the
 * wall time into the buffers and the option-value array given at creation, which must stay
 * valid until cuLinkDestroy; the same happens here after each call, from what the reply says.
 */
struct vlink {
	uint32_t magic;
	CUlinkState remote;        /* the zone's handle of the proxy's link state */
	void **vals;               /* the program's option values (written back) */
	int info_size_i, err_size_i, wall_i;
	char *info, *err;          /* the program's log buffers */
	uint32_t info_cap, err_cap;
	void *image;               /* the linked image, valid until destroy */
	size_t image_size;
};

/* The live states: a value not in here is not a link state of this process. */
static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vlink **links;
static size_t nlinks, clinks;

static int links_add(struct vlink *l)
{
	int rc = -1;
	pthread_mutex_lock(&links_lock);
	if (nlinks == clinks) {
		size_t n = clinks ? clinks * 2 : 8;
		struct vlink **p = realloc(links, n * sizeof(*p));
		if (p) {
			links = p;
			clinks = n;
		}
	}
	if (nlinks < clinks) {
		links[nlinks++] = l;
		rc = 0;
	}
	pthread_mutex_unlock(&links_lock);
	return rc;
}

/* Take l out of the live set (take = 1) or just check it is there. */
static int links_find(const struct vlink *l, int take)
{
	int found = 0;
	pthread_mutex_lock(&links_lock);
	for (size_t i = 0; i < nlinks; i++)
		if (links[i] == l) {
			found = 1;
			if (take)
				links[i] = links[--nlinks];
			break;
		}
	pthread_mutex_unlock(&links_lock);
	return found;
}

/* The options the proxy is sent: numbers only. The log buffers, their sizes and the wall
 * time are noted for writing back (l non-NULL: creation), and ignored for one input, whose
 * options the proxy applies without logs of their own. */
static CUresult pack_options(struct vlink *l, unsigned n, const CUjit_option *opts, void **vals, uint32_t *keys,
			     uint64_t *nums, uint32_t *nsent)
{
	*nsent = 0;
	if (n > VGPU_LINK_OPT_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	if (n && (!opts || !vals))
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < n; i++) {
		switch (opts[i]) {
		case CU_JIT_INFO_LOG_BUFFER:
			if (l)
				l->info = vals[i];
			continue;
		case CU_JIT_ERROR_LOG_BUFFER:
			if (l)
				l->err = vals[i];
			continue;
		case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
			if (l) {
				l->info_size_i = (int)i;
				l->info_cap = (uint32_t)((uintptr_t)vals[i] > UINT32_MAX ? UINT32_MAX : (uintptr_t)vals[i]);
			}
			continue;
		case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
			if (l) {
				l->err_size_i = (int)i;
				l->err_cap = (uint32_t)((uintptr_t)vals[i] > UINT32_MAX ? UINT32_MAX : (uintptr_t)vals[i]);
			}
			continue;
		case CU_JIT_WALL_TIME:
			if (l)
				l->wall_i = (int)i;
			continue;
		case CU_JIT_GLOBAL_SYMBOL_NAMES:
		case CU_JIT_GLOBAL_SYMBOL_ADDRESSES:
		case CU_JIT_GLOBAL_SYMBOL_COUNT:
		case CU_JIT_REFERENCED_KERNEL_NAMES:
		case CU_JIT_REFERENCED_KERNEL_COUNT:
		case CU_JIT_REFERENCED_VARIABLE_NAMES:
		case CU_JIT_REFERENCED_VARIABLE_COUNT:
			return vgpu_client_unsupported("JIT linker options naming host symbols or name lists");
		default:
			keys[*nsent] = (uint32_t)opts[i];
			nums[*nsent] = (uint64_t)(uintptr_t)vals[i];
			(*nsent)++;
		}
	}
	return CUDA_SUCCESS;
}

static uint32_t cap_of(const char *buf, uint32_t cap)
{
	return buf ? (cap < VGPU_LINK_LOG_MAX ? cap : VGPU_LINK_LOG_MAX) : 0;
}

/* After a reply: the logs as the driver left them, into the program's buffers. */
static void logs_back(struct vlink *l, const char *log, uint32_t info_cap, uint32_t info_len, uint32_t err_len,
		      float wall)
{
	if (l->info && l->info_cap) {
		uint32_t n = info_len < info_cap ? info_len : info_cap;
		memcpy(l->info, log, n);
		if (n < l->info_cap)
			l->info[n] = 0;
		else
			l->info[l->info_cap - 1] = 0;
		if (l->info_size_i >= 0)
			l->vals[l->info_size_i] = (void *)(uintptr_t)n;
	}
	if (l->err && l->err_cap) {
		uint32_t ecap = cap_of(l->err, l->err_cap);
		uint32_t n = err_len < ecap ? err_len : ecap;
		memcpy(l->err, log + info_cap, n);
		if (n < l->err_cap)
			l->err[n] = 0;
		else
			l->err[l->err_cap - 1] = 0;
		if (l->err_size_i >= 0)
			l->vals[l->err_size_i] = (void *)(uintptr_t)n;
	}
	if (l->wall_i >= 0)
		memcpy(&l->vals[l->wall_i], &wall, sizeof(wall));
}

CUresult CUDAAPI cuLinkCreate_v2(unsigned int numOptions, CUjit_option *options, void **optionValues,
				 CUlinkState *stateOut)
{
	uint32_t keys[VGPU_LINK_OPT_MAX], nopt, info_len = 0, err_len = 0;
	uint64_t nums[VGPU_LINK_OPT_MAX];
	float wall = 0;
	CUresult r;

	if (!stateOut)
		return CUDA_ERROR_INVALID_VALUE;
	struct vlink *l = calloc(1, sizeof(*l));
	if (!l)
		return CUDA_ERROR_OUT_OF_MEMORY;
	l->magic = LINK_MAGIC;
	l->info_size_i = l->err_size_i = l->wall_i = -1;
	l->vals = optionValues;
	if ((r = pack_options(l, numOptions, options, optionValues, keys, nums, &nopt)) != CUDA_SUCCESS) {
		free(l);
		return r;
	}
	uint32_t icap = cap_of(l->info, l->info_cap), ecap = cap_of(l->err, l->err_cap), lcap = icap + ecap;
	char *log = malloc(lcap ? lcap : 1);
	if (!log) {
		free(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	CUlinkState *premote = &l->remote;
	const uint32_t *pk = keys;
	const uint64_t *pn = nums;
	uint32_t *pil = &info_len, *pel = &err_len;
	float *pw = &wall;
	uint32_t status = CUDA_ERROR_UNKNOWN, *pst = &status;
	void *argv[VGPU_LKW_NARGS] = {
		[VGPU_LKW_STATE] = &premote, [VGPU_LKW_NOPT] = &nopt, [VGPU_LKW_KEYS] = &pk, [VGPU_LKW_VALS] = &pn,
		[VGPU_LKW_INFO_CAP] = &icap, [VGPU_LKW_ERR_CAP] = &ecap, [VGPU_LKW_LOG] = &log,
		[VGPU_LKW_LOG_CAP] = &lcap, [VGPU_LKW_INFO_LEN] = &pil, [VGPU_LKW_ERR_LEN] = &pel, [VGPU_LKW_WALL] = &pw,
		[VGPU_LKW_STATUS] = &pst,
	};
	r = vgpu_client_call(&desc_create, argv);
	if (r == CUDA_SUCCESS)
		r = (CUresult)status;
	logs_back(l, log, icap, info_len, err_len, wall);
	free(log);
	if (r != CUDA_SUCCESS) {
		free(l);
		return r;
	}
	if (links_add(l) < 0) {
		CUlinkState rem = l->remote;
		void *dv[] = { &rem };
		vgpu_client_call(&desc_destroy, dv);
		free(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*stateOut = (CUlinkState)l;
	return CUDA_SUCCESS;
}

struct host_add {
	CUlinkState state;
	const char *name;
	unsigned int nopt;
	CUjit_option *opts;
	void **vals;
	CUresult rc;
};

static int host_fatbin(void *ctx, const void *fatbin, size_t len, const char *member)
{
	struct host_add *h = ctx;
	char label[512];
	vgpu_modimage_member_label(label, sizeof(label), h->name, member);
	h->rc = cuLinkAddData_v2(h->state, CU_JIT_INPUT_FATBINARY, (void *)fatbin, len, label, h->nopt, h->opts,
				 h->vals);
	return h->rc != CUDA_SUCCESS;
}

/*
 * A host object or a static library of them (libcudadevrt.a for dynamic parallelism, as
 * CuPy and PyCUDA add it; a library built with -rdc): its device code is taken out here,
 * in the zone, and goes to the proxy as the fatbins it is, which the proxy checks as any
 * other. The proxy never parses host objects or archives.
 */
static CUresult add_host_file(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
			      unsigned int numOptions, CUjit_option *options, void **optionValues)
{
	struct host_add h = {state, name ? name : "", numOptions, options, optionValues, CUDA_SUCCESS};
	unsigned n = 0;
	int rc = vgpu_modimage_devcode(data, size, host_fatbin, &h, &n);
	if (rc < 0) {
		vgpu_client_log(1, "cuLinkAddData: '%s' is not %s (or is truncated)", h.name,
				type == CU_JIT_INPUT_LIBRARY ? "an ar archive of ELF objects" : "an ELF object");
		return CUDA_ERROR_INVALID_IMAGE;
	}
	return rc > 0 ? h.rc : CUDA_SUCCESS;
}

CUresult CUDAAPI cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
				  unsigned int numOptions, CUjit_option *options, void **optionValues)
{
	struct vlink *l = (struct vlink *)state;
	uint32_t keys[VGPU_LINK_OPT_MAX], nopt, info_len = 0, err_len = 0, t = type;
	uint64_t nums[VGPU_LINK_OPT_MAX], sz = size;
	float wall = 0;
	CUresult r;

	if (!l || !links_find(l, 0))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!data || !size)
		return CUDA_ERROR_INVALID_VALUE;
	if (type == CU_JIT_INPUT_OBJECT || type == CU_JIT_INPUT_LIBRARY)
		return add_host_file(state, type, data, size, name, numOptions, options, optionValues);
	if (type == CU_JIT_INPUT_PTX && size < VGPU_LINK_INPUT_MAX && !memchr(data, 0, size)) {
		/* PTX given as exactly its text's bytes (PyCUDA and CuPy pass a Python bytes object
		 * and its length): the driver takes it so; the proxy wants the text terminated */
		char *z = malloc(size + 1);
		if (!z)
			return CUDA_ERROR_OUT_OF_MEMORY;
		memcpy(z, data, size);
		z[size] = 0;
		r = cuLinkAddData_v2(state, type, z, size + 1, name, numOptions, options, optionValues);
		free(z);
		return r;
	}
	if (size > VGPU_LINK_INPUT_MAX)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if ((r = pack_options(NULL, numOptions, options, optionValues, keys, nums, &nopt)) != CUDA_SUCCESS)
		return r;
	uint32_t icap = cap_of(l->info, l->info_cap), ecap = cap_of(l->err, l->err_cap), lcap = icap + ecap;
	char *log = malloc(lcap ? lcap : 1);
	if (!log)
		return CUDA_ERROR_OUT_OF_MEMORY;
	const char *nm = name ? name : "";
	const void *d = data;
	const uint32_t *pk = keys;
	const uint64_t *pn = nums;
	uint32_t *pil = &info_len, *pel = &err_len;
	float *pw = &wall;
	uint32_t status = CUDA_ERROR_UNKNOWN, *pst = &status;
	void *argv[VGPU_LAW_NARGS] = {
		[VGPU_LAW_STATE] = &l->remote, [VGPU_LAW_TYPE] = &t, [VGPU_LAW_DATA] = &d, [VGPU_LAW_SIZE] = &sz,
		[VGPU_LAW_NAME] = &nm, [VGPU_LAW_NOPT] = &nopt, [VGPU_LAW_KEYS] = &pk, [VGPU_LAW_VALS] = &pn,
		[VGPU_LAW_INFO_CAP] = &icap, [VGPU_LAW_ERR_CAP] = &ecap, [VGPU_LAW_LOG] = &log,
		[VGPU_LAW_LOG_CAP] = &lcap, [VGPU_LAW_INFO_LEN] = &pil, [VGPU_LAW_ERR_LEN] = &pel, [VGPU_LAW_WALL] = &pw,
		[VGPU_LAW_STATUS] = &pst,
	};
	r = vgpu_client_call(&desc_add, argv);
	if (r == CUDA_SUCCESS)
		r = (CUresult)status;
	logs_back(l, log, icap, info_len, err_len, wall);
	free(log);
	return r;
}

/* The file is read here, in the zone: the proxy never opens a path a zone names. */
CUresult CUDAAPI cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char *path, unsigned int numOptions,
				  CUjit_option *options, void **optionValues)
{
	if (!state || !links_find((struct vlink *)state, 0))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!path)
		return CUDA_ERROR_INVALID_VALUE;
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? CUDA_ERROR_FILE_NOT_FOUND : CUDA_ERROR_OPERATING_SYSTEM;
	size_t n = 0;
	char *buf = vgpu_read_file(f, VGPU_LINK_INPUT_MAX, &n);
	int err = errno;
	CUresult r = CUDA_SUCCESS;
	if (!buf)
		r = err == EFBIG || err == ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_OPERATING_SYSTEM;
	else if (ferror(f))
		r = CUDA_ERROR_OPERATING_SYSTEM;
	fclose(f);
	if (r == CUDA_SUCCESS && n == 0)
		r = CUDA_ERROR_INVALID_IMAGE;
	/* PTX text is handed on NUL-terminated (the reader put a NUL after the bytes) */
	if (r == CUDA_SUCCESS && type == CU_JIT_INPUT_PTX)
		n++;
	if (r == CUDA_SUCCESS)
		r = cuLinkAddData_v2(state, type, buf, n, path, numOptions, options, optionValues);
	free(buf);
	return r;
}

CUresult CUDAAPI cuLinkComplete(CUlinkState state, void **cubinOut, size_t *sizeOut)
{
	struct vlink *l = (struct vlink *)state;
	uint32_t info_len = 0, err_len = 0;
	uint64_t cap = 1u << 20, size = 0;
	float wall = 0;
	CUresult r;

	if (!l || !links_find(l, 0))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!cubinOut || !sizeOut)
		return CUDA_ERROR_INVALID_VALUE;
	uint32_t icap = cap_of(l->info, l->info_cap), ecap = cap_of(l->err, l->err_cap), lcap = icap + ecap;
	char *log = malloc(lcap ? lcap : 1);
	if (!log)
		return CUDA_ERROR_OUT_OF_MEMORY;
	/* A first guess at the image's size; when it is larger the proxy says so and sends it
	 * whole on the second call (the driver links once). */
	for (int attempt = 0; attempt < 2; attempt++) {
		void *img = realloc(l->image, cap ? cap : 1);
		if (!img) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
			break;
		}
		l->image = img;
		uint64_t *psz = &size;
		uint32_t *pil = &info_len, *pel = &err_len;
		float *pw = &wall;
		uint32_t status = CUDA_ERROR_UNKNOWN, *pst = &status;
		void *argv[VGPU_LCW_NARGS] = {
			[VGPU_LCW_STATE] = &l->remote, [VGPU_LCW_IMAGE] = &img, [VGPU_LCW_CAP] = &cap,
			[VGPU_LCW_SIZE] = &psz, [VGPU_LCW_INFO_CAP] = &icap, [VGPU_LCW_ERR_CAP] = &ecap,
			[VGPU_LCW_LOG] = &log, [VGPU_LCW_LOG_CAP] = &lcap, [VGPU_LCW_INFO_LEN] = &pil,
			[VGPU_LCW_ERR_LEN] = &pel, [VGPU_LCW_WALL] = &pw, [VGPU_LCW_STATUS] = &pst,
		};
		r = vgpu_client_call(&desc_complete, argv);
		if (r == CUDA_SUCCESS)
			r = (CUresult)status;
		if (r != CUDA_SUCCESS || size <= cap)
			break;
		if (size > VGPU_LINK_IMAGE_MAX) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
			break;
		}
		cap = size;
	}
	logs_back(l, log, icap, info_len, err_len, wall);
	free(log);
	if (r == CUDA_SUCCESS && size > cap)
		r = CUDA_ERROR_UNKNOWN;   /* the proxy's image grew between the two calls */
	if (r != CUDA_SUCCESS)
		return r;
	l->image_size = size;
	*cubinOut = l->image;
	*sizeOut = size;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLinkDestroy(CUlinkState state)
{
	struct vlink *l = (struct vlink *)state;

	if (!l || !links_find(l, 1))
		return CUDA_ERROR_INVALID_HANDLE;
	CUlinkState rem = l->remote;
	void *dv[] = { &rem };
	CUresult r = vgpu_client_call(&desc_destroy, dv);
	l->magic = 0;
	free(l->image);
	free(l);
	return r;
}

/* The names programs built before CUDA 5.5 import: the same calls. */
CUresult CUDAAPI cuLinkCreate(unsigned int numOptions, CUjit_option *options, void **optionValues,
			      CUlinkState *stateOut)
{
	return cuLinkCreate_v2(numOptions, options, optionValues, stateOut);
}

CUresult CUDAAPI cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
			       unsigned int numOptions, CUjit_option *options, void **optionValues)
{
	return cuLinkAddData_v2(state, type, data, size, name, numOptions, options, optionValues);
}

CUresult CUDAAPI cuLinkAddFile(CUlinkState state, CUjitInputType type, const char *path, unsigned int numOptions,
			       CUjit_option *options, void **optionValues)
{
	return cuLinkAddFile_v2(state, type, path, numOptions, options, optionValues);
}
