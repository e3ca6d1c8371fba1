/* SPDX-License-Identifier: MIT */
/* procaddr.h — cuGetProcAddress's version table and lookup, shared by libvgpu and the simulator. */
#ifndef VGPU_PROCADDR_H
#define VGPU_PROCADDR_H

#include <cuda.h>

/*
 * Resolve the entry point of driver function `symbol` (API name, e.g. "cuMemAlloc") for
 * CUDA version cudaVersion and flags (CU_GET_PROC_ADDRESS_*), as the driver's
 * cuGetProcAddress does: the newest variant not newer than cudaVersion, its per-thread
 * default stream twin when flags ask for one. The chosen ABI symbol (e.g. "cuMemAlloc_v2")
 * is looked up in the shared object that contains `anchor` (an address inside the calling
 * library), so each library hands out its own functions. status (may be NULL) tells
 * success, unknown symbol or version too old. CUDA_ERROR_NOT_FOUND when nothing fits.
 */
CUresult vgpu_procaddr_lookup(const void *anchor, const char *symbol, void **pfn, int cudaVersion,
			      cuuint64_t flags, CUdriverProcAddressQueryResult *status);

#endif
