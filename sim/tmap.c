/* SPDX-License-Identifier: MIT */
/* tmap.c — tensor map descriptors in the simulator: checked and encoded, for programs that build them. */
#include "sim.h"

#include <string.h>

/*
 * A well-formed map is accepted and an ill-formed one refused; the executor's tensor bulk
 * copies (cp.async.bulk.tensor, tiled) read the maps made here (tmap.h).
 */

#include "tmap.h"

_Static_assert(sizeof(struct sim_tmap) <= sizeof(CUtensorMap), "a tensor map holds the encoding");

static CUresult tmap_check(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *address,
			   const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *estrides,
			   struct sim_tmap *t)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!map || !address || ((uintptr_t)address & 15) || rank < 1 || rank > 5 || !dims || !estrides ||
	    (rank > 1 && !strides) || (unsigned)type > CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B)
		return CUDA_ERROR_INVALID_VALUE;
	memset(t, 0, sizeof(*t));
	t->address = (uint64_t)(uintptr_t)address;
	t->type = (uint8_t)type;
	t->rank = (uint8_t)rank;
	for (cuuint32_t i = 0; i < rank; i++) {
		if (!dims[i] || dims[i] > (1ull << 32) || !estrides[i] || estrides[i] > 8)
			return CUDA_ERROR_INVALID_VALUE;
		if (i + 1 < rank && (strides[i] % 16 || strides[i] >= (1ull << 40)))
			return CUDA_ERROR_INVALID_VALUE;
		t->dims[i] = dims[i];
		t->estrides[i] = (uint8_t)estrides[i];
		if (i + 1 < rank)
			t->strides[i] = strides[i];
	}
	return CUDA_SUCCESS;
}

static CUresult tmap_store(CUtensorMap *map, const struct sim_tmap *t)
{
	struct sim_tmap m = *t;
	m.magic = SIM_TMAP_MAGIC;
	memset(map, 0, sizeof(*map));
	memcpy(map, &m, sizeof(m));
	return CUDA_SUCCESS;
}

CUresult cuTensorMapEncodeTiled(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *address,
				const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
				const cuuint32_t *estrides, CUtensorMapInterleave il, CUtensorMapSwizzle sw,
				CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob)
{
	struct sim_tmap t;
	CUresult rc = tmap_check(map, type, rank, address, dims, strides, estrides, &t);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!box)
		return CUDA_ERROR_INVALID_VALUE;
	for (cuuint32_t i = 0; i < rank; i++) {
		if (!box[i] || box[i] > 256)
			return CUDA_ERROR_INVALID_VALUE;
		t.box[i] = (uint16_t)box[i];
	}
	t.flags = (uint16_t)(il | sw << 4 | l2 << 8 | oob << 12);
	return tmap_store(map, &t);
}

CUresult cuTensorMapEncodeIm2col(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *address,
				 const cuuint64_t *dims, const cuuint64_t *strides, const int *lower, const int *upper,
				 cuuint32_t channels, cuuint32_t pixels, const cuuint32_t *estrides,
				 CUtensorMapInterleave il, CUtensorMapSwizzle sw, CUtensorMapL2promotion l2,
				 CUtensorMapFloatOOBfill oob)
{
	struct sim_tmap t;
	CUresult rc = tmap_check(map, type, rank, address, dims, strides, estrides, &t);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (rank < 3 || !lower || !upper || !channels || channels > 256 || !pixels || pixels > 1024)
		return CUDA_ERROR_INVALID_VALUE;
	t.layout = 1;
	t.box[0] = (uint16_t)channels;
	t.box[1] = (uint16_t)pixels;
	t.flags = (uint16_t)(il | sw << 4 | l2 << 8 | oob << 12);
	return tmap_store(map, &t);
}

CUresult cuTensorMapEncodeIm2colWide(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *address,
				     const cuuint64_t *dims, const cuuint64_t *strides, int lowerW, int upperW,
				     cuuint32_t channels, cuuint32_t pixels, const cuuint32_t *estrides,
				     CUtensorMapInterleave il, CUtensorMapIm2ColWideMode mode, CUtensorMapSwizzle sw,
				     CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob)
{
	struct sim_tmap t;
	CUresult rc = tmap_check(map, type, rank, address, dims, strides, estrides, &t);
	(void)lowerW;
	(void)upperW;
	(void)mode;
	if (rc != CUDA_SUCCESS)
		return rc;
	if (rank < 3 || !channels || channels > 256 || !pixels || pixels > 1024)
		return CUDA_ERROR_INVALID_VALUE;
	t.layout = 2;
	t.box[0] = (uint16_t)channels;
	t.box[1] = (uint16_t)pixels;
	t.flags = (uint16_t)(il | sw << 4 | l2 << 8 | oob << 12);
	return tmap_store(map, &t);
}

CUresult cuTensorMapReplaceAddress(CUtensorMap *map, void *address)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!map || !address || ((uintptr_t)address & 15))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t a = (uint64_t)(uintptr_t)address;
	memcpy(map, &a, sizeof(a));   /* the first word of the encoding */
	return CUDA_SUCCESS;
}
