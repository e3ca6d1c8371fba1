/* SPDX-License-Identifier: MIT */
/* rdc.h — PTX for relocatable device code (nvcc -rdc=true) whose linked image holds only SASS. */
#ifndef VGPU_RDC_H
#define VGPU_RDC_H
#include <stddef.h>
#include <cuda.h>

/*
 * For an image (len bytes, measured) that holds only SASS: the PTX of the relocatable
 * objects it was device-linked from (nvcc -rdc=true), found in the __nv_relfatbin section
 * of one of the process's files (the executable or a shared library) whose objects define
 * every function the image names, linked by the library's own JIT linker (cuLinkCreate_v2
 * ... cuLinkComplete). 0 with *out (malloc'd, *out_len bytes) and `where` saying what was
 * used and from which file (for the caller's log line), -ENOENT when no file has them,
 * -EINVAL when the image's functions cannot be listed, -EIO when the link failed.
 */
int vgpu_rdc_image(const void *image, size_t len, void **out /* out */, size_t *out_len /* out */,
                   char *where, size_t where_cap);
#endif
