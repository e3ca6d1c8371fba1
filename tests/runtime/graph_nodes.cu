// SPDX-License-Identifier: MIT
// graph_nodes — kernel, memset and memcpy nodes added by hand (and through the generic
// cudaGraphAddNode), with explicit dependencies, instantiated and relaunched.
#include "rt.h"

__global__ void scale_add(const int *in, int *out, int a, int b, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = a * in[i] + b;
}

int main()
{
	const int n = 1000;
	int h[n], out[n], want[n], *x, *y, *z;
	cudaStream_t s;
	cudaGraph_t g;
	cudaGraphExec_t ge;
	CHECK(cudaStreamCreate(&s));
	CHECK(cudaMalloc(&x, sizeof(h)));
	CHECK(cudaMalloc(&y, sizeof(h)));
	CHECK(cudaMalloc(&z, sizeof(h)));
	CHECK(cudaGraphCreate(&g, 0));

	/* memset y := 0 -> kernel y = 3x + 1 -> copy z := y -> (generic) kernel z = 2z - 4 */
	cudaGraphNode_t ms, k1, cp, k2;
	cudaMemsetParams mp = {};
	mp.dst = y;
	mp.value = 0;
	mp.elementSize = 4;
	mp.width = n;
	mp.height = 1;
	CHECK(cudaGraphAddMemsetNode(&ms, g, NULL, 0, &mp));
	int a1 = 3, b1 = 1, nn = n;
	void *args1[] = { &x, &y, &a1, &b1, &nn };
	cudaKernelNodeParams kp = {};
	kp.func = (void *)scale_add;
	kp.gridDim = dim3((n + 127) / 128);
	kp.blockDim = dim3(128);
	kp.kernelParams = args1;
	CHECK(cudaGraphAddKernelNode(&k1, g, &ms, 1, &kp));
	cudaMemcpy3DParms cpy = {};
	cpy.srcPtr = make_cudaPitchedPtr(y, sizeof(h), n, 1);
	cpy.dstPtr = make_cudaPitchedPtr(z, sizeof(h), n, 1);
	cpy.extent = make_cudaExtent(sizeof(h), 1, 1);
	cpy.kind = cudaMemcpyDeviceToDevice;
	CHECK(cudaGraphAddMemcpyNode(&cp, g, &k1, 1, &cpy));
	int a2 = 2, b2 = -4;
	void *args2[] = { &z, &z, &a2, &b2, &nn };
	cudaGraphNodeParams np = {};
	np.type = cudaGraphNodeTypeKernel;
	np.kernel.func = (void *)scale_add;
	np.kernel.gridDim = dim3((n + 127) / 128);
	np.kernel.blockDim = dim3(128);
	np.kernel.kernelParams = args2;
	CHECK(cudaGraphAddNode(&k2, g, &cp, NULL, 1, &np));

	size_t nodes = 0, edges = 0;
	CHECK(cudaGraphGetNodes(g, NULL, &nodes));
	CHECK(cudaGraphGetEdges(g, NULL, NULL, NULL, &edges));
	EXPECT(nodes == 4 && edges == 3, "%zu nodes, %zu edges", nodes, edges);
	cudaGraphNodeType t;
	CHECK(cudaGraphNodeGetType(k2, &t));
	EXPECT(t == cudaGraphNodeTypeKernel, "generic node of type %d", (int)t);
	CHECK(cudaGraphNodeGetType(ms, &t));
	EXPECT(t == cudaGraphNodeTypeMemset, "memset node of type %d", (int)t);
	/* the memset node's parameters read back and changed; a kernel node's attribute set and copied */
	cudaMemsetParams back = {};
	CHECK(cudaGraphMemsetNodeGetParams(ms, &back));
	EXPECT(back.dst == (void *)y && back.elementSize == 4 && back.width == (size_t)n && back.height == 1,
	       "memset node parameters read back wrong");
	mp.value = 9;
	CHECK(cudaGraphMemsetNodeSetParams(ms, &mp));
	CHECK(cudaGraphMemsetNodeGetParams(ms, &back));
	EXPECT(back.value == 9, "memset value %u", back.value);
	int lo = 0, hi = 0;
	CHECK(cudaDeviceGetStreamPriorityRange(&lo, &hi));
	cudaKernelNodeAttrValue av = {}, ab = {};
	av.priority = hi;
	CHECK(cudaGraphKernelNodeSetAttribute(k1, cudaKernelNodeAttributePriority, &av));
	CHECK(cudaGraphKernelNodeCopyAttributes(k2, k1));
	CHECK(cudaGraphKernelNodeGetAttribute(k2, cudaKernelNodeAttributePriority, &ab));
	EXPECT(ab.priority == hi, "copied priority %d", ab.priority);
	CHECK(cudaGraphInstantiate(&ge, g, 0));
	mp.value = 0;
	CHECK(cudaGraphExecMemsetNodeSetParams(ge, ms, &mp));

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < n; i++) {
			h[i] = i * (round + 2) - 500;
			want[i] = 2 * (3 * h[i] + 1) - 4;
		}
		CHECK(cudaMemcpy(x, h, sizeof(h), cudaMemcpyHostToDevice));
		CHECK(cudaGraphLaunch(ge, s));
		CHECK(cudaStreamSynchronize(s));
		CHECK(cudaMemcpy(out, z, sizeof(out), cudaMemcpyDeviceToHost));
		VERIFY(out, want, n, 0, "graph_nodes launch");
	}
	CHECK(cudaGraphExecDestroy(ge));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaFree(x));
	CHECK(cudaFree(y));
	CHECK(cudaFree(z));
	CHECK(cudaStreamDestroy(s));
	return 0;
}
