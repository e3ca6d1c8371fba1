/* SPDX-License-Identifier: MIT */
/* unimpl.c — driver entry points the simulator (a CPU test double) exports but does not implement. */
#include "sim.h"

/*
 * The CUDA libraries (cuBLAS, cuFFT) look these up by name as they start and give up when
 * one is missing, before they ever load a kernel. Exported, they let a library get as far as
 * its kernels, which the simulator then refuses with CUDA_ERROR_NO_BINARY_FOR_GPU (they are
 * SASS only). A call to one of them is answered CUDA_ERROR_NOT_SUPPORTED with one log line.
 */
static CUresult not_in_simulator(const char *call)
{
	sim_log("%s: not implemented by the simulator; returning CUDA_ERROR_NOT_SUPPORTED", call);
	return CUDA_ERROR_NOT_SUPPORTED;
}

#undef cuLinkCreate
#undef cuLinkAddData
#undef cuLinkAddFile

/* The JIT linker: the simulator runs the PTX of one module; it links nothing. */
CUresult cuLinkCreate_v2(unsigned int n, CUjit_option *opts, void **vals, CUlinkState *state)
{
	(void)n, (void)opts, (void)vals;
	if (state)
		*state = NULL;
	return not_in_simulator("cuLinkCreate_v2");
}

CUresult cuLinkCreate(unsigned int n, CUjit_option *opts, void **vals, CUlinkState *state);
CUresult cuLinkCreate(unsigned int n, CUjit_option *opts, void **vals, CUlinkState *state)
{
	return cuLinkCreate_v2(n, opts, vals, state);
}

CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
			  unsigned int n, CUjit_option *opts, void **vals)
{
	(void)state, (void)type, (void)data, (void)size, (void)name, (void)n, (void)opts, (void)vals;
	return not_in_simulator("cuLinkAddData_v2");
}

CUresult cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char *path, unsigned int n,
			  CUjit_option *opts, void **vals)
{
	(void)state, (void)type, (void)path, (void)n, (void)opts, (void)vals;
	return not_in_simulator("cuLinkAddFile_v2");
}

CUresult cuLinkComplete(CUlinkState state, void **cubin, size_t *size)
{
	(void)state, (void)cubin, (void)size;
	return not_in_simulator("cuLinkComplete");
}

CUresult cuLinkDestroy(CUlinkState state)
{
	(void)state;
	return not_in_simulator("cuLinkDestroy");
}

