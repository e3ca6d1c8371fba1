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

	/* 3D copies as one batch: a box of a pitched host volume into dense device memory (read
	 * during the call, from the stack), device memory into a float array at an offset, and
	 * the array back into host rows; extents are in elements: bytes between pointers, the
	 * array's elements (4 bytes) where one side is an array */
	{
		unsigned char vol[6][5][100];   /* layers, rows, bytes */
		unsigned char box[3][4][64];
		float rows[4][16];
		CUdeviceptr dbox;
		CUarray arr;
		CUDA_ARRAY3D_DESCRIPTOR ad = { .Width = 32, .Height = 8, .Depth = 0, .Format = CU_AD_FORMAT_FLOAT,
					       .NumChannels = 1 };
		for (unsigned z = 0; z < 6; z++)
			for (unsigned y = 0; y < 5; y++)
				for (unsigned x = 0; x < 100; x++)
					vol[z][y][x] = (unsigned char)(z * 31 + y * 7 + x);
		CK(cuMemAlloc(&dbox, sizeof(box)));
		CK(cuArray3DCreate(&arr, &ad));
		CUDA_MEMCPY3D_BATCH_OP ops3[3];
		memset(ops3, 0, sizeof(ops3));
		ops3[0].src.type = CU_MEMCPY_OPERAND_TYPE_POINTER;
		ops3[0].src.op.ptr.ptr = (CUdeviceptr)(uintptr_t)&vol[1][1][10];
		ops3[0].src.op.ptr.rowLength = 100;
		ops3[0].src.op.ptr.layerHeight = 5;
		ops3[0].dst.type = CU_MEMCPY_OPERAND_TYPE_POINTER;
		ops3[0].dst.op.ptr.ptr = dbox;   /* rowLength, layerHeight 0: packed */
		ops3[0].extent = (CUextent3D){ 64, 4, 3 };
		ops3[0].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
		ops3[1].src.type = CU_MEMCPY_OPERAND_TYPE_POINTER;
		ops3[1].src.op.ptr.ptr = dbox;
		ops3[1].dst.type = CU_MEMCPY_OPERAND_TYPE_ARRAY;
		ops3[1].dst.op.array.array = arr;
		ops3[1].dst.op.array.offset = (CUoffset3D){ 2, 1, 0 };
		ops3[1].extent = (CUextent3D){ 16, 4, 1 };   /* 16 floats: the box's first 64-byte rows */
		ops3[1].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
		ops3[2].src.type = CU_MEMCPY_OPERAND_TYPE_ARRAY;
		ops3[2].src.op.array.array = arr;
		ops3[2].src.op.array.offset = (CUoffset3D){ 2, 1, 0 };
		ops3[2].dst.type = CU_MEMCPY_OPERAND_TYPE_POINTER;
		ops3[2].dst.op.ptr.ptr = (CUdeviceptr)(uintptr_t)rows;
		ops3[2].extent = (CUextent3D){ 16, 4, 1 };
		ops3[2].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
		CK(cuMemcpy3DBatchAsync(3, ops3, 0, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(box, dbox, sizeof(box)));
		int bad = 0;
		for (unsigned z = 0; z < 3; z++)
			for (unsigned y = 0; y < 4; y++)
				bad += memcmp(box[z][y], &vol[1 + z][1 + y][10], 64) != 0;
		for (unsigned y = 0; y < 4; y++)
			bad += memcmp(rows[y], box[0][y], 64) != 0;
		EXPECT(bad == 0);
		/* a copy without a valid source access order is refused */
		ops3[1].srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_INVALID;
		CK_ERR(cuMemcpy3DBatchAsync(2, &ops3[1], 0, s), CUDA_ERROR_INVALID_VALUE);
		CK(cuStreamSynchronize(s));
		CK(cuArrayDestroy(arr));
		CK(cuMemFree(dbox));
	}

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
	/* launched again and again, as inference loops do: through vgpu each launch is posted
	 * (batch.proxylog: this graph has no memory nodes) */
	for (int i = 0; i < 64; i++)
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

	printf("batch: batched copies (1D and 3D) and memory operations, instantiation with upload, the graph as DOT\n");
	CK(cuGraphExecDestroy(ge));
	CK(cuGraphDestroy(g));
	CK(cuMemFree(a));
	CK(cuMemFree(b));
	CK(cuMemFree(flag));
	CK(cuStreamDestroy(s));
	CK(cuDevicePrimaryCtxRelease(dev));
	return 0;
}
