// SPDX-License-Identifier: MIT
// memcpy_3d — cudaMalloc3D and cudaMemcpy3D in both directions, plus a device-to-device 3D copy.
#include "rt.h"

int main()
{
	const int W = 12, H = 5, D = 4;
	int src[D][H][W], dst[D][H][W];
	for (int z = 0; z < D; z++)
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				src[z][y][x] = z * 10000 + y * 100 + x;
	cudaExtent ext = make_cudaExtent(W * sizeof(int), H, D);
	cudaPitchedPtr a, b;
	CHECK(cudaMalloc3D(&a, ext));
	CHECK(cudaMalloc3D(&b, ext));
	cudaMemcpy3DParms p = {};
	p.srcPtr = make_cudaPitchedPtr(src, W * sizeof(int), W, H);
	p.dstPtr = a;
	p.extent = ext;
	p.kind = cudaMemcpyHostToDevice;
	CHECK(cudaMemcpy3D(&p));
	cudaMemcpy3DParms q = {};
	q.srcPtr = a;
	q.dstPtr = b;
	q.extent = ext;
	q.kind = cudaMemcpyDeviceToDevice;
	CHECK(cudaMemcpy3D(&q));
	cudaMemcpy3DParms r = {};
	r.srcPtr = b;
	r.dstPtr = make_cudaPitchedPtr(dst, W * sizeof(int), W, H);
	r.extent = ext;
	r.kind = cudaMemcpyDeviceToHost;
	CHECK(cudaMemcpy3D(&r));
	VERIFY(&dst[0][0][0], &src[0][0][0], W * H * D, 0, "memcpy_3d");
	CHECK(cudaFree(a.ptr));
	CHECK(cudaFree(b.ptr));
	return 0;
}
