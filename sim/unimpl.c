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
#undef cuGraphExecKernelNodeSetParams

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

/* Setting a kernel node's parameters in an executable graph: graphs are built by stream
 * capture here (docs/COMPATIBILITY.md); the node keeps what was captured. */
CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec exec, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *params)
{
	(void)exec, (void)node, (void)params;
	return not_in_simulator("cuGraphExecKernelNodeSetParams_v2");
}

/* The same under their names before CUDA 12 (older ABI), which the libraries also look up. */
CUresult cuGraphExecKernelNodeSetParams(CUgraphExec exec, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1 *params);
CUresult cuGraphExecKernelNodeSetParams(CUgraphExec exec, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1 *params)
{
	(void)exec, (void)node, (void)params;
	return not_in_simulator("cuGraphExecKernelNodeSetParams");
}

