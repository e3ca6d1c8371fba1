/* SPDX-License-Identifier: MIT */
/* vmm.c — end to end: virtual memory management as PyTorch's expandable segments use it (reserve, create, map, grow, unmap). */
#include "e2e.h"

#include <stdint.h>

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction fill;
	size_t gran = 0;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev } };
	CK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
	EXPECT(gran > 0 && (gran & (gran - 1)) == 0);

	/* a segment reserved for four granules, backed one granule at a time as it grows */
	CUdeviceptr base;
	CUmemGenericAllocationHandle h[4];
	CK(cuMemAddressReserve(&base, 4 * gran, 0, 0, 0));
	CUmemAccessDesc acc = { .location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	for (int i = 0; i < 2; i++) {
		CK(cuMemCreate(&h[i], gran, &prop, 0));
		CK(cuMemMap(base + i * gran, gran, 0, h[i], 0));
		CK(cuMemSetAccess(base + i * gran, gran, &acc, 1));
	}
	unsigned long long fl = 0;
	CK(cuMemGetAccess(&fl, &prop.location, base));
	EXPECT(fl == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);

	/* copies, memsets and a kernel across the two mapped granules */
	size_t n = 2 * gran / sizeof(float);
	float *hbuf = malloc(2 * gran), *back = malloc(2 * gran);
	for (size_t i = 0; i < n; i++)
		hbuf[i] = (float)(i % 1000);
	CK(cuMemcpyHtoD(base, hbuf, 2 * gran));
	CK(cuModuleLoad(&mod, e2e_kernel_path("basic.ptx")));
	CK(cuModuleGetFunction(&fill, mod, "vec_add"));
	int ni = (int)(gran / sizeof(float));
	CUdeviceptr a = base, b = base, c = base + gran;   /* c = a + a over the first granule */
	void *params[] = { &a, &b, &c, &ni };
	CK(cuLaunchKernel(fill, (unsigned)(ni + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, params, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(back, base, 2 * gran));
	for (size_t i = 0; i < (size_t)ni; i++)
		EXPECT(back[i] == hbuf[i] && back[ni + i] == 2 * hbuf[i]);
	CK(cuMemsetD32(base + gran - 4, 0, 2));   /* straddles the two granules */
	CK(cuMemcpyDtoH(back, base + gran - 4, 8));
	EXPECT(back[0] == 0 && back[1] == 0);

	/* grow: a third granule joins, asked for with a POSIX descriptor as PyTorch's expandable
	 * segments ask whether they share or not (a zone gets it made without one) */
	CUmemAllocationProp xprop = prop;
	xprop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
	CK(cuMemCreate(&h[2], gran, &xprop, 0));
	CK(cuMemMap(base + 2 * gran, gran, 0, h[2], 0));
	CK(cuMemSetAccess(base + 2 * gran, gran, &acc, 1));
	CK(cuMemcpyDtoD(base + 2 * gran, base, gran));
	CK(cuMemcpyDtoH(back, base + 2 * gran, 64));
	EXPECT(back[5] == hbuf[5]);

	/* the range of an address in mapped memory: the mapping holding it, as the driver answers */
	CUdeviceptr rb = 0;
	size_t rs = 0;
	CK(cuMemGetAddressRange(&rb, &rs, base + 2 * gran + 4096));
	EXPECT(rb == base + 2 * gran && rs == gran);

	/* errors: a range beyond the physical allocation, a handle never made, an unmap of half a mapping */
	CK(cuMemCreate(&h[3], gran, &prop, 0));
	CK_ERR(cuMemMap(base + 3 * gran, 2 * gran, 0, h[3], 0), CUDA_ERROR_NOT_SUPPORTED);   /* as the driver answers */
	CK_ERR(cuMemMap(base + 3 * gran, gran, 0, h[3] ^ 0x5555, 0), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemUnmap(base, gran / 2), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemRelease(h[3]));
	CK_ERR(cuMemRelease(h[3]), CUDA_ERROR_INVALID_VALUE);

	/* the handle behind an address, retained (one more release owed), and its properties */
	CUmemGenericAllocationHandle rh;
	CUmemAllocationProp got;
	CK(cuMemRetainAllocationHandle(&rh, (void *)(uintptr_t)(base + gran + 64)));
	EXPECT(rh == h[1]);
	CK(cuMemGetAllocationPropertiesFromHandle(&got, rh));
	EXPECT(got.type == CU_MEM_ALLOCATION_TYPE_PINNED && got.location.type == CU_MEM_LOCATION_TYPE_DEVICE &&
	       got.location.id == dev);
	CK(cuMemRelease(rh));
	CK_ERR(cuMemRetainAllocationHandle(&rh, (void *)(uintptr_t)(base + 3 * gran)), CUDA_ERROR_INVALID_VALUE);

	/* the handles go while their mappings stay usable; unmapping frees the memory */
	for (int i = 0; i < 3; i++)
		CK(cuMemRelease(h[i]));
	CK(cuMemcpyDtoH(back, base, 64));
	EXPECT(back[7] == hbuf[7]);
	CK(cuMemUnmap(base, 3 * gran));
	CK_ERR(cuMemcpyDtoH(back, base, 64), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemAddressFree(base, 4 * gran));
	CK(cuModuleUnload(mod));
	free(hbuf);
	free(back);
	printf("vmm: a segment grown granule by granule, used by copies, memsets and a kernel, then freed\n");
	CK(cuDevicePrimaryCtxRelease(dev));
	return 0;
}
