/* SPDX-License-Identifier: MIT */
/* green.c — cuDevSmResourceSplitByCount: the result array travels with its room, the remainder only when asked for. */
#include "client.h"

#include <string.h>

#include "custom_wire.h"
#include "vgpu_ops.h"

static const struct vgpu_call_desc desc_split =
	VGPU_WIRE_DESC("cuDevSmResourceSplitByCount", VGPU_OP_cuDevSmResourceSplitByCount, VGPU_CALLF_CUSTOM,
		       vgpu_wire_green_split_args, VGPU_GSW_NARGS);

CUresult CUDAAPI cuDevSmResourceSplitByCount(CUdevResource *result, unsigned int *nbGroups, const CUdevResource *input,
					     CUdevResource *remaining, unsigned int useFlags, unsigned int minCount)
{
	CUdevResource rem, *prem = &rem;
	unsigned nb = 0, *pnb = &nb;

	if (!nbGroups || !input)
		return CUDA_ERROR_INVALID_VALUE;
	uint32_t cap = result ? *nbGroups : 0, want_rem = remaining != NULL;
	if (cap > VGPU_GREEN_SPLIT_MAX)
		cap = VGPU_GREEN_SPLIT_MAX;   /* (more groups than this are more than a GPU has SMs) */
	if (result && !cap)
		return CUDA_ERROR_INVALID_VALUE;
	memset(&rem, 0, sizeof(rem));
	void *argv[VGPU_GSW_NARGS] = {
		[VGPU_GSW_CAP] = &cap, [VGPU_GSW_RESULT] = &result, [VGPU_GSW_NB] = &pnb,
		[VGPU_GSW_INPUT] = &input, [VGPU_GSW_REMAINING] = &prem, [VGPU_GSW_WANT_REM] = &want_rem,
		[VGPU_GSW_FLAGS] = &useFlags, [VGPU_GSW_MIN] = &minCount,
	};
	CUresult r = vgpu_client_call(&desc_split, argv);
	if (r == CUDA_SUCCESS) {
		*nbGroups = nb;
		if (remaining)
			*remaining = rem;
	}
	return r;
}
