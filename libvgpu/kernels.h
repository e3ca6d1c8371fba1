/* SPDX-License-Identifier: MIT */
/* kernels.h — the zone-side registry of modules' kernel parameter layouts, used to pack launches. */
#ifndef VGPU_KERNELS_H
#define VGPU_KERNELS_H

#include <stddef.h>
#include <cuda.h>

#include "modimage.h"

/* Remember the kernels of a loaded module (takes ownership of k). */
void vgpu_kernels_module_add(CUmodule mod, struct vgpu_kernel_info *k, size_t n);
/* Forget a module and every function obtained from it. */
void vgpu_kernels_module_remove(CUmodule mod);
/* Remember that f is kernel `name` of mod (f's layout is unknown if mod's image had none). */
void vgpu_kernels_function_add(CUfunction f, CUmodule mod, const char *name);
/* f's layout (a copy whose params pointer stays valid until the module is unloaded); 0 or -1. */
int vgpu_kernels_lookup(CUfunction f, struct vgpu_kernel_info *out /* out */);

/* Copies of the names of mod's kernels, in the order of its image (free with
 * vgpu_modimage_free_names). 0, -ENOENT (a module libvgpu did not load or whose image had no
 * layouts) or -ENOMEM. */
int vgpu_kernels_module_names(CUmodule mod, char ***names /* out */, size_t *n /* out */);
/* f's kernel name (valid until its module is unloaded), or NULL. */
const char *vgpu_kernels_name(CUfunction f);

#endif
