/* SPDX-License-Identifier: MIT */
/* batch.c — end to end: batched copies and stream memory operations, instantiation with parameters, a graph printed as DOT. */
#include "e2e.h"

#include <unistd.h>

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUstream s;
	CUdeviceptr a, b, flag;
	unsigned char host[4096], back[4096];

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&a, sizeof(host)));
	CK(cuMemAlloc(&b, sizeof(host)));
	CK(cuMemAlloc(&flag, 16));
	for (unsigned i = 0; i < sizeof(host); i++)
		host[i] = (unsigned char)(i * 13 + 5);

	/* host -> a, a -> b (second half only), b -> host: one batch, in order */
	CUdeviceptr dsts[3] = { a, b + 2048, (CUdeviceptr)(uintptr_t)back };
	CUdeviceptr srcs[3] = { (CUdeviceptr)(uintptr_t)host, a + 2048, b + 2048 };
	size_t sizes[3] = { sizeof(host), 2048, 2048 };
	CUmemcpyAttributes attr = { .srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM };
	size_t idx = 0;
	CK(cuMemcpyBatchAsync(dsts, srcs, sizes, 3, &attr, &idx, 1, s));
	CK(cuStreamSynchronize(s));
	EXPECT(memcmp(back, host + 2048, 2048) == 0);

	/* write two flags, then wait for one of them, as one batch */
	CUstreamBatchMemOpParams ops[3];
	memset(ops, 0, sizeof(ops));
	ops[0].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
	ops[0].writeValue.address = flag;
	ops[0].writeValue.value = 7;
	ops[1].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
	ops[1].writeValue.address = flag + 8;
	ops[1].writeValue.value64 = 0x1122334455667788ull;
	ops[2].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
	ops[2].waitValue.address = flag;
	ops[2].waitValue.value = 7;
	ops[2].waitValue.flags = CU_STREAM_WAIT_VALUE_EQ;
	CK(cuStreamBatchMemOp(s, 3, ops, 0));
	CK(cuStreamSynchronize(s));
	unsigned long long f64 = 0;
	CK(cuMemcpyDtoH(&f64, flag + 8, 8));
	EXPECT(f64 == 0x1122334455667788ull);

	/* a captured memset, instantiated with parameters (and uploaded), printed as DOT */
	CUgraph g;
	CUgraphExec ge;
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemsetD8Async(a, 0x3c, sizeof(host), s));
	CK(cuStreamEndCapture(s, &g));
	CUDA_GRAPH_INSTANTIATE_PARAMS ip = { .flags = CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD, .hUploadStream = s };
	CK(cuGraphInstantiateWithParams(&ge, g, &ip));
	EXPECT(ip.result_out == CUDA_GRAPH_INSTANTIATE_SUCCESS);
	CK(cuGraphLaunch(ge, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(back, a, sizeof(back)));
	EXPECT(back[0] == 0x3c && back[sizeof(back) - 1] == 0x3c);
	char path[] = "/tmp/vgpu-dot-XXXXXX";
	int fd = mkstemp(path);
	EXPECT(fd >= 0);
	close(fd);
	CK(cuGraphDebugDotPrint(g, path, 0));
	FILE *f = fopen(path, "r");
	char line[256] = "";
	EXPECT(f && fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	EXPECT(strncmp(line, "digraph", 7) == 0);

	printf("batch: batched copies and memory operations, instantiation with upload, the graph as DOT\n");
	CK(cuGraphExecDestroy(ge));
	CK(cuGraphDestroy(g));
	CK(cuMemFree(a));
	CK(cuMemFree(b));
	CK(cuMemFree(flag));
	CK(cuStreamDestroy(s));
	CK(cuDevicePrimaryCtxRelease(dev));
	return 0;
}
