/* SPDX-License-Identifier: MIT */
/*
 * answers.c — what the driver answers at the edges, which programs read: calls made before
 * cuInit, device ordinals past the last, attribute numbers no enum has, peer queries of one
 * device, module images and files that are not modules, a global's size asked for alone.
 * Each answer is the one a GPU's driver gives (its part of make gpu-check runs this program
 * there, directly and through vgpu, and must agree); through vgpu and on the simulator they
 * must be the same.
 */
#include <stdint.h>
#include <unistd.h>

#include <cudaProfiler.h>

#include "e2e.h"

/* A module with one 16-byte global, behind a block comment as compilers may write one. */
static const char global_ptx[] =
	"/* a comment before the directives */\n"
	".version 7.0\n.target sm_52\n.address_size 64\n"
	".visible .global .align 4 .b8 counter[16];\n"
	".visible .entry touch()\n{\n\tret;\n}\n";

int main(void)
{
	CUcontext ctx = (CUcontext)(uintptr_t)1;
	CUdevice dev = -1;

	/* Before cuInit: the context calls and the profiler's answer NOT_INITIALIZED. */
	CK_ERR(cuCtxGetCurrent(&ctx), CUDA_ERROR_NOT_INITIALIZED);
	CK_ERR(cuCtxGetDevice(&dev), CUDA_ERROR_NOT_INITIALIZED);
	CK_ERR(cuCtxSetCurrent(NULL), CUDA_ERROR_NOT_INITIALIZED);
	CK_ERR(cuCtxPushCurrent(NULL), CUDA_ERROR_NOT_INITIALIZED);
	CK_ERR(cuCtxPopCurrent(&ctx), CUDA_ERROR_NOT_INITIALIZED);
	CK_ERR(cuProfilerStart(), CUDA_ERROR_NOT_INITIALIZED);
	CK_ERR(cuProfilerStop(), CUDA_ERROR_NOT_INITIALIZED);
	printf("before cuInit: NOT_INITIALIZED\n");

	CK(cuInit(0));
	int count = 0;
	CK(cuDeviceGetCount(&count));
	EXPECT(count >= 1);
	CK(cuCtxGetCurrent(&ctx));
	EXPECT(ctx == NULL);
	CK(cuDeviceGet(&dev, 0));

	/* A device ordinal past the last. */
	CUdevice bogus = count + 99, unused;
	char name[64];
	size_t bytes = 0;
	unsigned flags = 0;
	int active = 0, can = -1, value = -1;
	CUcontext pctx = NULL;
	CK_ERR(cuDeviceGet(&unused, count + 99), CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDeviceGetName(name, sizeof name, bogus), CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_WARP_SIZE, bogus), CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDeviceTotalMem(&bytes, bogus), CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDevicePrimaryCtxRetain(&pctx, bogus), CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDevicePrimaryCtxGetState(bogus, &flags, &active), CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDeviceCanAccessPeer(&can, dev, bogus), CUDA_ERROR_INVALID_DEVICE);
	printf("device ordinal past the last: INVALID_DEVICE\n");

	/* Peer attributes of a device with itself, an attribute no enum has; no place to write. */
	CK_ERR(cuDeviceGetP2PAttribute(&value, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, dev, dev),
	       CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDeviceGetP2PAttribute(&value, (CUdevice_P2PAttribute)9999, dev, dev), CUDA_ERROR_INVALID_DEVICE);
	CK_ERR(cuDeviceGetP2PAttribute(NULL, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, dev, dev),
	       CUDA_ERROR_INVALID_VALUE);
	printf("peer attributes of one device: INVALID_DEVICE\n");

	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CUdeviceptr ptr = 0;
	CK(cuMemAlloc(&ptr, 4096));
	CUmemoryPool pool = NULL;
	CK(cuDeviceGetMemPool(&pool, dev));

	/* Attribute numbers no enum has. */
	unsigned long long scratch = 0;
	CUpointer_attribute pa[] = { (CUpointer_attribute)9999 };
	void *pdata[] = { &scratch };
	CK_ERR(cuPointerGetAttribute(&scratch, (CUpointer_attribute)9999, ptr), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuPointerGetAttributes(1, pa, pdata, ptr), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemPoolGetAttribute(pool, (CUmemPool_attribute)9999, &scratch), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemPoolSetAttribute(pool, (CUmemPool_attribute)9999, &scratch), CUDA_ERROR_INVALID_VALUE);
	printf("attribute numbers no enum has: INVALID_VALUE\n");
	/* The one attribute a program sets (MPI libraries do on every device buffer they use),
	 * read back; another attribute, or a host pointer, is refused. */
	int one = 1, sync_memops = -1;
	CK(cuPointerSetAttribute(&one, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, ptr));
	CK(cuPointerGetAttribute(&sync_memops, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, ptr));
	EXPECT(sync_memops == 1);
	CK_ERR(cuPointerSetAttribute(&one, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, ptr), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuPointerSetAttribute(&one, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, (CUdeviceptr)(uintptr_t)&one),
	       CUDA_ERROR_INVALID_VALUE);
	printf("SYNC_MEMOPS set and read back\n");

	/* Images and files that are not modules; PTX behind a comment is one. */
	CUmodule mod = NULL;
	static const unsigned char garbage[64] = { 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef };
	CK_ERR(cuModuleLoadData(&mod, garbage), CUDA_ERROR_INVALID_IMAGE);
	CK_ERR(cuModuleLoadData(&mod, "hello world, not ptx\n"), CUDA_ERROR_INVALID_IMAGE);
	char empty[] = "/tmp/vgpu-answers-empty.XXXXXX";
	int fd = mkstemp(empty);
	EXPECT(fd >= 0);
	close(fd);
	CK_ERR(cuModuleLoad(&mod, empty), CUDA_ERROR_INVALID_IMAGE);
	CK_ERR(cuModuleLoad(&mod, "/tmp/vgpu-answers-no-such-module"), CUDA_ERROR_FILE_NOT_FOUND);
	CUlinkState link = NULL;
	CK(cuLinkCreate(0, NULL, NULL, &link));
	CK_ERR(cuLinkAddFile(link, CU_JIT_INPUT_PTX, empty, 0, NULL, NULL), CUDA_ERROR_INVALID_IMAGE);
	CK_ERR(cuLinkAddFile(link, CU_JIT_INPUT_PTX, "/tmp/vgpu-answers-no-such-module", 0, NULL, NULL),
	       CUDA_ERROR_FILE_NOT_FOUND);
	CK(cuLinkDestroy(link));
	unlink(empty);
	CK(cuModuleLoadData(&mod, global_ptx));
	printf("images that are not modules: INVALID_IMAGE, FILE_NOT_FOUND\n");

	/* A global's size asked for alone, then its address. */
	size_t gsize = 0, gsize2 = 0;
	CUdeviceptr g = 0;
	CK(cuModuleGetGlobal(NULL, &gsize, mod, "counter"));
	EXPECT(gsize == 16);
	CK(cuModuleGetGlobal(&g, &gsize2, mod, "counter"));
	EXPECT(g != 0 && gsize2 == 16);
	uint32_t v = 0xc0ffee, back = 0;
	CK(cuMemcpyHtoD(g, &v, sizeof v));
	CK(cuMemcpyDtoH(&back, g, sizeof back));
	EXPECT(back == v);
	printf("a global's size alone: 16 bytes\n");

	CK(cuModuleUnload(mod));
	CK(cuMemFree(ptr));
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("answers: ok\n");
	return 0;
}
