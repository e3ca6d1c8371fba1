/* SPDX-License-Identifier: MIT */
/* rdc.h — PTX for relocatable device code (nvcc -rdc=true) whose linked image holds only SASS. */
#ifndef VGPU_RDC_H
#define VGPU_RDC_H
#include <stddef.h>
#include <cuda.h>

struct vgpu_rdc_inputs {
	char *path;     /* the file of the process whose __nv_relfatbin held them */
	char **ptx;     /* NUL-terminated PTX texts, one per relocatable object */
	size_t n;
};

/*
 * For an image (len bytes, measured) that holds only SASS: the PTX of the relocatable
 * objects it was device-linked from, found in the __nv_relfatbin section of one of the
 * process's files (the executable or a shared library) whose objects define every kernel
 * the image names. 0 and *out filled (free with vgpu_rdc_inputs_free), -ENOENT when no file
 * has them, -EINVAL when the image's kernels cannot be listed.
 */
int vgpu_rdc_find(const void *image, size_t len, struct vgpu_rdc_inputs *out /* out */);
void vgpu_rdc_inputs_free(struct vgpu_rdc_inputs *in);

/* The inputs linked by the library's own JIT linker (cuLinkCreate_v2 ... cuLinkComplete)
 * into one image: *image malloc'd, *len bytes. */
CUresult vgpu_rdc_link(const struct vgpu_rdc_inputs *in, void **image /* out */, size_t *len /* out */);
#endif
