/* SPDX-License-Identifier: MIT */
/* module.c — module loading: the image is measured in the zone, sent whole, and its kernel layouts kept. */
#include "client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "kernels.h"
#include "modimage.h"
#include "rdc.h"
#include "vgpu_calls.h"
#include "vgpu_ops.h"

#define MODULE_DESC(fn) \
	static const struct vgpu_call_desc desc_##fn = \
		VGPU_WIRE_DESC(#fn, VGPU_OP_##fn, VGPU_CALLF_CUSTOM, vgpu_wire_module_args, VGPU_MW_NARGS)
MODULE_DESC(cuModuleLoadData);
MODULE_DESC(cuModuleLoadDataEx);
MODULE_DESC(cuModuleLoadFatBinary);

/*
 * Send an image (bytes the application handed us; wrapper structs already unwrapped),
 * then learn its kernels' parameter layouts for cuLaunchKernel.
 */
static CUresult module_load(const struct vgpu_call_desc *d, CUmodule *module, const void *image, size_t max)
{
	struct vgpu_kernel_info *k = NULL;
	const void *img;
	uint64_t len;
	size_t n = 0, sz;
	CUresult r;

	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	img = vgpu_modimage_unwrap(image);
	if (vgpu_modimage_size(img, max, &sz) < 0) {
		vgpu_client_log(1, "%s: not a PTX, cubin or fatbin image (or longer than %zu bytes)", d->name, max);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	/* On the simulator (PTX only), a device-linked image of nvcc -rdc=true code holds only
	 * SASS: its objects' PTX, from this process's files, is linked and sent instead. */
	void *linked = NULL;
	char where[PATH_MAX + 128];
	size_t ln;
	if (vgpu_zone_backend() == 2 && vgpu_modimage_has_ptx(img, sz) == 0 &&
	    vgpu_rdc_image(img, sz, &linked, &ln, where, sizeof(where)) == 0) {
		vgpu_client_log(2, "%s: the module holds only SASS; sending %s", d->name, where);
		img = linked;
		sz = ln;
	}
	len = sz;
	void *argv[VGPU_MW_NARGS] = { [VGPU_MW_MODULE] = &module, [VGPU_MW_IMAGE] = &img,
				      [VGPU_MW_IMAGE_BYTES] = &len };
	r = vgpu_client_call(d, argv);
	if (r != CUDA_SUCCESS) {
		free(linked);
		return r;
	}
	if (vgpu_modimage_kernels(img, sz, &k, &n) < 0)
		vgpu_client_log(1, "%s: kernel parameter layouts not found in the image; launches of its "
				"kernels need the `extra` form", d->name);
	else
		vgpu_kernels_module_add(*module, k, n);
	free(linked);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleLoadData(CUmodule *module, const void *image)
{
	return module_load(&desc_cuModuleLoadData, module, image, VGPU_MODULE_IMAGE_MAX);
}

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
				    CUjit_option *options, void **optionValues)
{
	/* JIT options tune the proxy-side compiler and may point at zone buffers: not forwarded.
	 * What the driver would write back is written here, as it would be for a load that had
	 * nothing to say: empty logs, no bytes of them filled, no time taken. */
	CUresult r = module_load(&desc_cuModuleLoadDataEx, module, image, VGPU_MODULE_IMAGE_MAX);
	vgpu_jit_write_logs(numOptions, options, optionValues, NULL);
	return r;
}

CUresult CUDAAPI cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
	return module_load(&desc_cuModuleLoadFatBinary, module, fatCubin, VGPU_MODULE_IMAGE_MAX);
}

/* The file is read in the zone (the proxy never opens a zone's paths) and sent as an image. */
CUresult CUDAAPI cuModuleLoad(CUmodule *module, const char *fname)
{
	CUresult r;
	FILE *f;
	char *buf = NULL;
	long n;

	if (!module || !fname)
		return CUDA_ERROR_INVALID_VALUE;
	f = fopen(fname, "rb");
	if (!f) {
		vgpu_client_log(1, "cuModuleLoad: cannot open %s: %s", fname, strerror(errno));
		return CUDA_ERROR_FILE_NOT_FOUND;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || (uint64_t)n > VGPU_MODULE_IMAGE_MAX ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	/* One spare NUL so PTX text is terminated. */
	buf = calloc(1, (size_t)n + 1);
	if (!buf) {
		fclose(f);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return CUDA_ERROR_FILE_NOT_FOUND;
	}
	fclose(f);
	r = module_load(&desc_cuModuleLoadData, module, buf, (size_t)n + 1);
	free(buf);
	return r;
}

/* After a successful generic call: keep the kernel registry in step with the zone's modules. */
void vgpu_modules_after_call(const struct vgpu_call_desc *d, void *const *argv)
{
	switch (d->opcode) {
	case VGPU_OP_cuModuleGetFunction: {
		CUfunction *hf = *(CUfunction **)argv[0];
		CUmodule hmod = *(CUmodule *)argv[1];
		const char *name = *(const char **)argv[2];
		if (hf && name)
			vgpu_kernels_function_add(*hf, hmod, name);
		break;
	}
	case VGPU_OP_cuModuleUnload:
		vgpu_kernels_module_remove(*(CUmodule *)argv[0]);
		break;
	default:
		break;
	}
}
