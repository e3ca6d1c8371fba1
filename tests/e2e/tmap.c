/* SPDX-License-Identifier: MIT */
/* tmap.c — end to end: tensor map descriptors (tiled and im2col) encoded, re-addressed and refused when ill-formed. */
#include "e2e.h"

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr d, d2;
	CUtensorMap a, b;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, 1 << 20));
	CK(cuMemAlloc(&d2, 1 << 20));

	/* a 256 x 512 fp32 matrix in 64 x 32 tiles */
	cuuint64_t dims[2] = { 256, 512 }, strides[1] = { 256 * 4 };
	cuuint32_t box[2] = { 64, 32 }, es[2] = { 1, 1 };
	CK(cuTensorMapEncodeTiled(&a, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, (void *)d, dims, strides, box, es,
				  CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
				  CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
	CK(cuTensorMapEncodeTiled(&b, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, (void *)d, dims, strides, box, es,
				  CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
				  CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
	EXPECT(memcmp(&a, &b, sizeof(a)) == 0);   /* an encoding of numbers: the same every time */
	CK(cuTensorMapReplaceAddress(&b, (void *)d2));
	EXPECT(memcmp(&a, &b, sizeof(a)) != 0);
	CK(cuTensorMapReplaceAddress(&b, (void *)d));
	EXPECT(memcmp(&a, &b, sizeof(a)) == 0);

	/* an NHWC activation tensor read as im2col columns */
	cuuint64_t idims[4] = { 16, 8, 8, 2 }, istrides[3] = { 16 * 2, 16 * 2 * 8, 16 * 2 * 8 * 8 };
	cuuint32_t ies[4] = { 1, 1, 1, 1 };
	int lower[2] = { -1, -1 }, upper[2] = { -1, -1 };
	CK(cuTensorMapEncodeIm2col(&a, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4, (void *)d, idims, istrides, lower, upper,
				   16, 32, ies, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
				   CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));

	/* ill-formed: rank 0, a misaligned address, a zero dimension */
	CK_ERR(cuTensorMapEncodeTiled(&a, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 0, (void *)d, dims, strides, box, es,
				      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
				      CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
	       CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuTensorMapEncodeTiled(&a, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, (void *)(d + 4), dims, strides, box, es,
				      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
				      CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
	       CUDA_ERROR_INVALID_VALUE);
	dims[1] = 0;
	CK_ERR(cuTensorMapEncodeTiled(&a, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, (void *)d, dims, strides, box, es,
				      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
				      CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
	       CUDA_ERROR_INVALID_VALUE);
	printf("tmap: tiled and im2col maps encoded, re-addressed, ill-formed ones refused\n");
	CK(cuMemFree(d));
	CK(cuMemFree(d2));
	CK(cuDevicePrimaryCtxRelease(dev));
	return 0;
}
