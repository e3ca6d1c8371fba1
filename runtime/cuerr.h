/* SPDX-License-Identifier: MIT */
/* cuerr.h — names and descriptions of CUresult codes, from a table made at build time (runtime/tables.mk). */
#ifndef VGPU_CUERR_H
#define VGPU_CUERR_H

#include <cuda.h>

/* "CUDA_ERROR_INVALID_VALUE" for a known code, NULL for an unknown one. Static strings. */
const char *vgpu_cuerr_name(CUresult r);
/* The CUDA driver's cuGetErrorString text (runtime/cuerr_strings.txt; for a code missing there, the
 * first sentence of cuda.h's description of it), NULL for an unknown code. Static strings. */
const char *vgpu_cuerr_string(CUresult r);

#endif
