/* SPDX-License-Identifier: MIT */
/* cuerr.h — names and descriptions of CUresult codes, taken from cuda.h at build time. */
#ifndef VGPU_CUERR_H
#define VGPU_CUERR_H

#include <cuda.h>

/* "CUDA_ERROR_INVALID_VALUE" for a known code, NULL for an unknown one. Static strings. */
const char *vgpu_cuerr_name(CUresult r);
/* First sentence of cuda.h's description of the code, NULL for an unknown one. */
const char *vgpu_cuerr_string(CUresult r);

#endif
