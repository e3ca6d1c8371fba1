/* SPDX-License-Identifier: MIT */
/* custom_link.c — proxy handlers of the JIT linker: numbers for options, checked inputs, logs and image sent back. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "proxy.h"

#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "log.h"
#include "modimage.h"
#include "proxyd.h"
#include "vgpu_dispatch.h"
#include "vgpu_ops.h"

#define ARG(T, i) (*(T *)argv[i])

/* Options a zone may give: numbers the driver reads as numbers. The log buffers, their sizes
 * and the wall time are the proxy's own; options whose values are host pointers (symbol
 * addresses, name lists) are refused. */
static int option_allowed(unsigned o)
{
	switch (o) {
	case CU_JIT_MAX_REGISTERS:
	case CU_JIT_THREADS_PER_BLOCK:
	case CU_JIT_OPTIMIZATION_LEVEL:
	case CU_JIT_TARGET_FROM_CUCONTEXT:
	case CU_JIT_TARGET:
	case CU_JIT_FALLBACK_STRATEGY:
	case CU_JIT_GENERATE_DEBUG_INFO:
	case CU_JIT_LOG_VERBOSE:
	case CU_JIT_GENERATE_LINE_INFO:
	case CU_JIT_CACHE_MODE:
	case CU_JIT_FAST_COMPILE:
	case CU_JIT_LTO:
	case CU_JIT_FTZ:
	case CU_JIT_PREC_DIV:
	case CU_JIT_PREC_SQRT:
	case CU_JIT_FMA:
	case CU_JIT_OPTIMIZE_UNUSED_DEVICE_VARIABLES:
	case CU_JIT_POSITION_INDEPENDENT_CODE:
	case CU_JIT_MIN_CTA_PER_SM:
	case CU_JIT_MAX_THREADS_PER_BLOCK:
	case CU_JIT_OVERRIDE_DIRECTIVE_VALUES:
	case CU_JIT_SPLIT_COMPILE:
		return 1;
	default:
		return 0;
	}
}

static CUresult take_options(const char *what, uint32_t n, const uint32_t *keys, const uint64_t *vals, int *opts,
			     void **ovals, unsigned *nopt)
{
	if (n > VGPU_LINK_OPT_MAX || (n && (!keys || !vals)))
		return CUDA_ERROR_INVALID_VALUE;
	for (uint32_t i = 0; i < n; i++) {
		if (!option_allowed(keys[i])) {
			vgpu_info("%s: refused JIT option %u (a log buffer, a host pointer or not an option)", what, keys[i]);
			return CUDA_ERROR_INVALID_VALUE;
		}
		opts[*nopt] = (int)keys[i];
		ovals[*nopt] = (void *)(uintptr_t)vals[i];
		(*nopt)++;
	}
	return CUDA_SUCCESS;
}

/* The logs as the driver has left them, into the reply's buffer of infoCap + errCap bytes. */
static CUresult logs_out(const struct vgpu_link_rec *r, void **argv, int log_i, int cap_i, int ilen_i, int elen_i,
			 int wall_i, int icap_i, int ecap_i)
{
	char *log = ARG(char *, log_i);
	uint32_t cap = ARG(uint32_t, cap_i), icap = ARG(uint32_t, icap_i), ecap = ARG(uint32_t, ecap_i);
	uint32_t *ilen = ARG(uint32_t *, ilen_i), *elen = ARG(uint32_t *, elen_i);
	float *wall = ARG(float *, wall_i);
	uint32_t in = 0, en = 0;

	if (r) {
		if (r->info && r->info_size_i >= 0)
			in = (uint32_t)(uintptr_t)r->vals[r->info_size_i];
		if (r->err && r->err_size_i >= 0)
			en = (uint32_t)(uintptr_t)r->vals[r->err_size_i];
		in = in < r->info_cap ? in : r->info_cap;
		en = en < r->err_cap ? en : r->err_cap;
		in = in < icap ? in : icap;
		en = en < ecap ? en : ecap;
	}
	if (log && cap >= (uint64_t)icap + ecap) {
		memset(log, 0, cap);
		if (in)
			memcpy(log, r->info, in);
		if (en)
			memcpy(log + icap, r->err, en);
	} else {
		in = en = 0;
	}
	if (ilen)
		*ilen = in;
	if (elen)
		*elen = en;
	if (wall) {
		float w = 0;
		if (r && r->wall_i >= 0)
			memcpy(&w, &r->vals[r->wall_i], sizeof(w));
		*wall = w;
	}
	return CUDA_SUCCESS;
}

static CUresult link_create_do(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	CUlinkState *out = ARG(CUlinkState *, VGPU_LKW_STATE);
	uint32_t icap = ARG(uint32_t, VGPU_LKW_INFO_CAP), ecap = ARG(uint32_t, VGPU_LKW_ERR_CAP);
	CUresult res;

	if (!drv->cuLinkCreate_v2 || !drv->cuLinkDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || icap > VGPU_LINK_LOG_MAX || ecap > VGPU_LINK_LOG_MAX ||
	    ARG(uint32_t, VGPU_LKW_LOG_CAP) != icap + ecap)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_link_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r->info_size_i = r->err_size_i = -1;
	if ((res = take_options("cuLinkCreate", ARG(uint32_t, VGPU_LKW_NOPT), ARG(const uint32_t *, VGPU_LKW_KEYS),
				ARG(const uint64_t *, VGPU_LKW_VALS), r->opts, r->vals, &r->nopt)) != CUDA_SUCCESS)
		goto fail;
	res = CUDA_ERROR_OUT_OF_MEMORY;
	if (icap) {
		if (!(r->info = calloc(1, icap)))
			goto fail;
		r->info_cap = icap;
		r->opts[r->nopt] = CU_JIT_INFO_LOG_BUFFER;
		r->vals[r->nopt++] = r->info;
		r->info_size_i = (int)r->nopt;
		r->opts[r->nopt] = CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES;
		r->vals[r->nopt++] = (void *)(uintptr_t)icap;
	}
	if (ecap) {
		if (!(r->err = calloc(1, ecap)))
			goto fail;
		r->err_cap = ecap;
		r->opts[r->nopt] = CU_JIT_ERROR_LOG_BUFFER;
		r->vals[r->nopt++] = r->err;
		r->err_size_i = (int)r->nopt;
		r->opts[r->nopt] = CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES;
		r->vals[r->nopt++] = (void *)(uintptr_t)ecap;
	}
	r->wall_i = (int)r->nopt;
	r->opts[r->nopt] = CU_JIT_WALL_TIME;
	r->vals[r->nopt++] = NULL;
	r->ctx = vgpu_proxy_current_ctx(call);
	res = drv->cuLinkCreate_v2(r->nopt, (CUjit_option *)r->opts, r->vals, (CUlinkState *)&r->state);
	logs_out(r, argv, VGPU_LKW_LOG, VGPU_LKW_LOG_CAP, VGPU_LKW_INFO_LEN, VGPU_LKW_ERR_LEN, VGPU_LKW_WALL,
		 VGPU_LKW_INFO_CAP, VGPU_LKW_ERR_CAP);
	if (res != CUDA_SUCCESS)
		goto fail;
	if (vgpu_link_add(call->zone, r) < 0) {
		drv->cuLinkDestroy(r->state);
		res = CUDA_ERROR_OUT_OF_MEMORY;
		goto fail;
	}
	*out = (CUlinkState)r;   /* the zone's handle maps to the record */
	return CUDA_SUCCESS;
fail:
	vgpu_link_rec_free(r);
	return res;
}

/*
 * One input. The driver is given only what it can check against the bytes received: PTX
 * text that ends inside them, a cubin or fatbin that describes itself within them (as for a
 * module load). Host objects, archives and LTO IR are not passed on.
 */
static CUresult link_add_do(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	struct vgpu_link_rec *r = ARG(struct vgpu_link_rec *, VGPU_LAW_STATE);
	uint32_t type = ARG(uint32_t, VGPU_LAW_TYPE);
	const void *data = ARG(const void *, VGPU_LAW_DATA);
	uint64_t size = ARG(uint64_t, VGPU_LAW_SIZE);
	const char *name = ARG(const char *, VGPU_LAW_NAME);
	int opts[VGPU_LINK_OPT_MAX];
	void *vals[VGPU_LINK_OPT_MAX];
	unsigned nopt = 0;
	size_t self_len = 0;
	CUresult res;

	if (!drv->cuLinkAddData_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!r || !data || !size)
		return CUDA_ERROR_INVALID_VALUE;
	if ((res = take_options("cuLinkAddData", ARG(uint32_t, VGPU_LAW_NOPT), ARG(const uint32_t *, VGPU_LAW_KEYS),
				ARG(const uint64_t *, VGPU_LAW_VALS), opts, vals, &nopt)) != CUDA_SUCCESS)
		return res;
	switch (type) {
	case CU_JIT_INPUT_PTX:
		if (!memchr(data, 0, size)) {
			vgpu_info("cuLinkAddData: refused PTX '%s' of %llu bytes without its terminating NUL", name ? name : "",
				  (unsigned long long)size);
			return CUDA_ERROR_INVALID_VALUE;
		}
		break;
	case CU_JIT_INPUT_CUBIN:
	case CU_JIT_INPUT_FATBINARY:
		if (vgpu_modimage_size(data, size, &self_len) < 0 || self_len > size) {
			vgpu_info("cuLinkAddData: refused '%s', %llu bytes that are not a well-formed cubin or fatbin",
				  name ? name : "", (unsigned long long)size);
			return CUDA_ERROR_INVALID_IMAGE;
		}
		break;
	case CU_JIT_INPUT_OBJECT:
	case CU_JIT_INPUT_LIBRARY:
	case CU_JIT_INPUT_NVVM:
		vgpu_info("cuLinkAddData: refused '%s': host objects, archives and LTO IR are not passed to the driver",
			  name ? name : "");
		return CUDA_ERROR_NOT_SUPPORTED;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (r->completed)
		return CUDA_ERROR_INVALID_VALUE;   /* nothing more goes into a linked image */
	res = drv->cuLinkAddData_v2(r->state, (CUjitInputType)type, (void *)data, size, name, nopt,
				    (CUjit_option *)opts, vals);
	logs_out(r, argv, VGPU_LAW_LOG, VGPU_LAW_LOG_CAP, VGPU_LAW_INFO_LEN, VGPU_LAW_ERR_LEN, VGPU_LAW_WALL,
		 VGPU_LAW_INFO_CAP, VGPU_LAW_ERR_CAP);
	return res;
}

/* The driver links once; the image stays the state's, so a second request (the zone's first
 * guess at its size was too small) is answered from it. */
static CUresult link_complete_do(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	struct vgpu_link_rec *r = ARG(struct vgpu_link_rec *, VGPU_LCW_STATE);
	void *img = ARG(void *, VGPU_LCW_IMAGE);
	uint64_t cap = ARG(uint64_t, VGPU_LCW_CAP), *size = ARG(uint64_t *, VGPU_LCW_SIZE);
	CUresult res = CUDA_SUCCESS;

	if (!drv->cuLinkComplete)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (img)
		memset(img, 0, cap);   /* the reply carries cap bytes whatever happens */
	if (!r || !size)
		return CUDA_ERROR_INVALID_VALUE;
	if (!r->completed) {
		void *out = NULL;
		size_t n = 0;
		res = drv->cuLinkComplete(r->state, &out, &n);
		if (res == CUDA_SUCCESS) {
			if (!out || n > VGPU_LINK_IMAGE_MAX)
				res = out ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_UNKNOWN;
			else {
				r->image = out;
				r->image_size = n;
				r->completed = 1;
			}
		}
	}
	logs_out(r, argv, VGPU_LCW_LOG, VGPU_LCW_LOG_CAP, VGPU_LCW_INFO_LEN, VGPU_LCW_ERR_LEN, VGPU_LCW_WALL,
		 VGPU_LCW_INFO_CAP, VGPU_LCW_ERR_CAP);
	if (res != CUDA_SUCCESS)
		return res;
	*size = r->image_size;
	/* the reply carries cap bytes (zeroed above): the image, or nothing when it does not fit */
	if (img && r->image_size <= cap)
		memcpy(img, r->image, r->image_size);
	return CUDA_SUCCESS;
}

/*
 * The call's result goes back as `status` in a successful reply: a failed link must still
 * bring back its error log. Outputs start zeroed, so a refusal before the driver sends no
 * byte it did not mean to.
 */
static CUresult with_status(struct vgpu_proxy_call *call, void **argv, CUresult (*fn)(struct vgpu_proxy_call *, void **),
			    int log_i, int cap_i, int ilen_i, int elen_i, int wall_i, int status_i)
{
	char *log = ARG(char *, log_i);
	uint32_t cap = ARG(uint32_t, cap_i), *ilen = ARG(uint32_t *, ilen_i), *elen = ARG(uint32_t *, elen_i),
		 *status = ARG(uint32_t *, status_i);
	float *wall = ARG(float *, wall_i);

	if (!status)
		return CUDA_ERROR_INVALID_VALUE;
	if (log)
		memset(log, 0, cap);
	if (ilen)
		*ilen = 0;
	if (elen)
		*elen = 0;
	if (wall)
		*wall = 0;
	*status = (uint32_t)fn(call, argv);
	return CUDA_SUCCESS;
}

static CUresult link_create(struct vgpu_proxy_call *call, void **argv)
{
	return with_status(call, argv, link_create_do, VGPU_LKW_LOG, VGPU_LKW_LOG_CAP, VGPU_LKW_INFO_LEN,
			   VGPU_LKW_ERR_LEN, VGPU_LKW_WALL, VGPU_LKW_STATUS);
}

static CUresult link_add(struct vgpu_proxy_call *call, void **argv)
{
	return with_status(call, argv, link_add_do, VGPU_LAW_LOG, VGPU_LAW_LOG_CAP, VGPU_LAW_INFO_LEN,
			   VGPU_LAW_ERR_LEN, VGPU_LAW_WALL, VGPU_LAW_STATUS);
}

static CUresult link_complete(struct vgpu_proxy_call *call, void **argv)
{
	return with_status(call, argv, link_complete_do, VGPU_LCW_LOG, VGPU_LCW_LOG_CAP, VGPU_LCW_INFO_LEN,
			   VGPU_LCW_ERR_LEN, VGPU_LCW_WALL, VGPU_LCW_STATUS);
}

static CUresult link_destroy(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_link_rec *r = ARG(struct vgpu_link_rec *, 0);

	if (!call->drv->cuLinkDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!r || vgpu_link_take(call->zone, r) < 0)
		return CUDA_ERROR_INVALID_HANDLE;
	CUresult res = call->drv->cuLinkDestroy(r->state);
	vgpu_link_rec_free(r);
	return res;
}

void vgpu_proxy_links_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *ctx, int all)
{
	const struct vgpu_driver *drv = be ? be->drv : NULL;
	struct vgpu_link_rec *recs[32];
	uint32_t n;

	do {
		n = vgpu_link_take_ctx(z, ctx, all, recs, 32);
		for (uint32_t i = 0; i < n; i++) {
			if (drv && drv->cuLinkDestroy)
				drv->cuLinkDestroy(recs[i]->state);
			vgpu_link_rec_free(recs[i]);
		}
	} while (n == 32);
}

#define WIRE(nm, args, n) \
	static const struct vgpu_call_desc wire_##nm = VGPU_WIRE_DESC(#nm, VGPU_OP_##nm, VGPU_CALLF_CUSTOM, args, n)
WIRE(cuLinkCreate_v2, vgpu_wire_link_create_args, VGPU_LKW_NARGS);
WIRE(cuLinkAddData_v2, vgpu_wire_link_add_args, VGPU_LAW_NARGS);
WIRE(cuLinkComplete, vgpu_wire_link_complete_args, VGPU_LCW_NARGS);
WIRE(cuLinkDestroy, vgpu_wire_link_destroy_args, 1);

__attribute__((constructor)) static void link_register(void)
{
	vgpu_proxy_wire_register(VGPU_OP_cuLinkCreate_v2, &wire_cuLinkCreate_v2, link_create, "cuLinkCreate_v2");
	vgpu_proxy_wire_register(VGPU_OP_cuLinkAddData_v2, &wire_cuLinkAddData_v2, link_add, "cuLinkAddData_v2");
	vgpu_proxy_wire_register(VGPU_OP_cuLinkComplete, &wire_cuLinkComplete, link_complete, "cuLinkComplete");
	vgpu_proxy_wire_register(VGPU_OP_cuLinkDestroy, &wire_cuLinkDestroy, link_destroy, "cuLinkDestroy");
}
