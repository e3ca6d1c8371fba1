/* SPDX-License-Identifier: MIT */
/* library.h — the context-independent library/kernel API (cuLibrary*, cuKernel*), built on modules. */
#ifndef VGPU_LIBRARY_H
#define VGPU_LIBRARY_H

#include <cuda.h>

/*
 * runtime/library.c defines the cuLibrary* and cuKernel* entry points over vgpu_drv's module
 * calls: a library keeps its image and loads it as a module into each context that uses it,
 * on first use (lazy, the CUDA 12+ default) or at once (CUDA_MODULE_LOADING=EAGER, when a
 * context is current). A CUkernel is an object of this layer; the driver rule that a CUkernel
 * may be passed wherever a CUfunction is expected is kept by calling this on every CUfunction
 * argument first.
 *
 * *f unchanged when it is not a live CUkernel of this layer; otherwise replaced by the
 * kernel's function in the calling thread's current context (loading the library there if
 * needed). CUDA_SUCCESS, or the error of that context lookup or load.
 */
CUresult vgpu_library_resolve(CUfunction *f /* in, out */);

/* The live CUkernel whose function in the current context is f, or NULL (graph node reads). */
CUkernel vgpu_library_kernel_of(CUfunction f);

/* Libraries and kernels alive (for tests and leak checks). */
void vgpu_library_counts(unsigned *libraries /* out */, unsigned *kernels /* out */);

#endif
