/* SPDX-License-Identifier: MIT */
/* legacy.c — older ABI versions of graph and stream-capture calls, as forms of their current versions. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <pthread.h>
#include <stdlib.h>

/*
 * A program built with an older CUDA asks cuGetProcAddress for the version it was built
 * against and gets these ABI names: CUDA 11 and 12 runtimes (PyTorch's cu11x/cu12x builds
 * among them) capture and inspect graphs through them. Each is its current version with the
 * added arguments at their neutral values, so libvgpu and the simulator share them over
 * whatever the current version does in each.
 */

CUresult CUDAAPI cuStreamBeginCapture(CUstream hStream)
{
	return cuStreamBeginCapture_v2(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

CUresult CUDAAPI cuStreamBeginCapture_ptsz(CUstream hStream)
{
	return cuStreamBeginCapture_v2_ptsz(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

CUresult CUDAAPI cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus *captureStatus_out, cuuint64_t *id_out)
{
	return cuStreamGetCaptureInfo_v3(hStream, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

CUresult CUDAAPI cuStreamGetCaptureInfo_ptsz(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
					     cuuint64_t *id_out)
{
	return cuStreamGetCaptureInfo_v3_ptsz(hStream, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v2(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
					   cuuint64_t *id_out, CUgraph *graph_out, const CUgraphNode **dependencies_out,
					   size_t *numDependencies_out)
{
	return cuStreamGetCaptureInfo_v3(hStream, captureStatus_out, id_out, graph_out, dependencies_out, NULL,
					 numDependencies_out);
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v2_ptsz(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
						cuuint64_t *id_out, CUgraph *graph_out,
						const CUgraphNode **dependencies_out, size_t *numDependencies_out)
{
	return cuStreamGetCaptureInfo_v3_ptsz(hStream, captureStatus_out, id_out, graph_out, dependencies_out, NULL,
					      numDependencies_out);
}

CUresult CUDAAPI cuGraphGetEdges(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, size_t *numEdges)
{
	return cuGraphGetEdges_v2(hGraph, from, to, NULL, numEdges);
}

CUresult CUDAAPI cuGraphNodeGetDependencies(CUgraphNode hNode, CUgraphNode *dependencies, size_t *numDependencies)
{
	return cuGraphNodeGetDependencies_v2(hNode, dependencies, NULL, numDependencies);
}

CUresult CUDAAPI cuGraphNodeGetDependentNodes(CUgraphNode hNode, CUgraphNode *dependentNodes,
					      size_t *numDependentNodes)
{
	return cuGraphNodeGetDependentNodes_v2(hNode, dependentNodes, NULL, numDependentNodes);
}

CUresult CUDAAPI cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
					size_t numDependencies)
{
	return cuGraphAddDependencies_v2(hGraph, from, to, NULL, numDependencies);
}

CUresult CUDAAPI cuGraphRemoveDependencies(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
					   size_t numDependencies)
{
	return cuGraphRemoveDependencies_v2(hGraph, from, to, NULL, numDependencies);
}

/* The CUDA 10/11 form: no flags, an error node and a log that stay empty on success. */
static CUresult instantiate_v1(CUgraphExec *exec, CUgraph graph, CUgraphNode *errNode, char *log, size_t logSize)
{
	CUresult r = cuGraphInstantiateWithFlags(exec, graph, 0);

	if (errNode)
		*errNode = NULL;
	if (log && logSize)
		log[0] = 0;
	return r;
}

CUresult CUDAAPI cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
				    char *logBuffer, size_t bufferSize)
{
	return instantiate_v1(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

CUresult CUDAAPI cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
				       char *logBuffer, size_t bufferSize)
{
	return instantiate_v1(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

/*
 * Stream memory operations: the first ABI versions have the current ones' arguments, but the
 * driver serves them only where the device says CAN_USE_STREAM_MEM_OPS_V1 (64-bit ones: also
 * ..._64_BIT_..._V1), which needs an option of NVIDIA's kernel module; elsewhere they are "not
 * supported" (seen on an H200, driver 580), while the _v2 ones always work.
 */
static CUresult memops_v1(int wide)
{
	CUdevice d;
	int v = 0, v64 = 0;

	if (cuCtxGetDevice(&d) != CUDA_SUCCESS ||
	    cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1, d) != CUDA_SUCCESS || !v)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (wide && (cuDeviceGetAttribute(&v64, CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS_V1, d) != CUDA_SUCCESS ||
		     !v64))
		return CUDA_ERROR_NOT_SUPPORTED;
	return CUDA_SUCCESS;
}

#define MEMOP_V1(name, type, wide)                                                                      \
	CUresult CUDAAPI name(CUstream stream, CUdeviceptr addr, type value, unsigned int flags)       \
	{                                                                                               \
		CUresult r = memops_v1(wide);                                                           \
		return r != CUDA_SUCCESS ? r : name##_v2(stream, addr, value, flags);                   \
	}
#define MEMOP_V1_PTSZ(name, type, wide)                                                                 \
	CUresult CUDAAPI name##_ptsz(CUstream stream, CUdeviceptr addr, type value, unsigned int flags) \
	{                                                                                               \
		CUresult r = memops_v1(wide);                                                           \
		return r != CUDA_SUCCESS ? r : name##_v2_ptsz(stream, addr, value, flags);              \
	}
MEMOP_V1(cuStreamWaitValue32, cuuint32_t, 0)
MEMOP_V1(cuStreamWaitValue64, cuuint64_t, 1)
MEMOP_V1(cuStreamWriteValue32, cuuint32_t, 0)
MEMOP_V1(cuStreamWriteValue64, cuuint64_t, 1)
MEMOP_V1_PTSZ(cuStreamWaitValue32, cuuint32_t, 0)
MEMOP_V1_PTSZ(cuStreamWaitValue64, cuuint64_t, 1)
MEMOP_V1_PTSZ(cuStreamWriteValue32, cuuint32_t, 0)
MEMOP_V1_PTSZ(cuStreamWriteValue64, cuuint64_t, 1)

CUresult CUDAAPI cuStreamUpdateCaptureDependencies(CUstream hStream, CUgraphNode *dependencies,
						   size_t numDependencies, unsigned int flags)
{
	return cuStreamUpdateCaptureDependencies_v2(hStream, dependencies, NULL, numDependencies, flags);
}

CUresult CUDAAPI cuStreamUpdateCaptureDependencies_ptsz(CUstream hStream, CUgraphNode *dependencies,
							size_t numDependencies, unsigned int flags)
{
	return cuStreamUpdateCaptureDependencies_v2_ptsz(hStream, dependencies, NULL, numDependencies, flags);
}

/* ---- the first, 32-bit-size versions of calls whose results fit them ---- */

static unsigned int clamp32(size_t v)
{
	return v > 0xffffffffu ? 0xffffffffu : (unsigned int)v;
}

CUresult CUDAAPI cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
	size_t b = 0;
	CUresult r;

	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuDeviceTotalMem_v2(&b, dev);
	if (r == CUDA_SUCCESS)
		*bytes = clamp32(b);   /* the old ABI cannot say more than 4 GiB */
	return r;
}

CUresult CUDAAPI cuMemGetInfo(unsigned int *free, unsigned int *total)
{
	size_t f = 0, t = 0;
	CUresult r;

	if (!free || !total)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuMemGetInfo_v2(&f, &t);
	if (r == CUDA_SUCCESS) {
		*free = clamp32(f);
		*total = clamp32(t);
	}
	return r;
}

CUresult CUDAAPI cuMemAllocHost(void **pp, unsigned int bytesize)
{
	return cuMemAllocHost_v2(pp, bytesize);
}

CUresult CUDAAPI cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
	return cuMemHostRegister_v2(p, bytesize, Flags);
}

/* cuCtxCreate with execution affinity: without affinity parameters it is the plain form. */
CUresult CUDAAPI cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams, unsigned int flags,
				CUdevice dev)
{
	if (numParams < 0 || (numParams && !paramsArray))
		return CUDA_ERROR_INVALID_VALUE;
	if (numParams)
		return CUDA_ERROR_NOT_SUPPORTED;   /* SM-count affinity is the host's to partition */
	return cuCtxCreate_v4(pctx, NULL, flags, dev);
}

/*
 * The usage count of the CUDA 1-3 context API, which PyCUDA still ends every context with:
 * cuCtxAttach takes one more reference to the current context, cuCtxDetach gives one back
 * and destroys the context with the last (its creation's), popping it if it is current.
 * The extra references are kept here by the context's handle and its id, which is never
 * reused, so a context destroyed otherwise leaves no count to a later one at that address.
 */
struct attached {
	CUcontext ctx;
	unsigned long long id;
	unsigned int extra;          /* references beyond the creation's */
	struct attached *next;
};

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static struct attached *attachments;

/* The entry of (ctx, id), or NULL; with prev set to the link that points at it. Under attach_lock. */
static struct attached *attached_find(CUcontext ctx, unsigned long long id, struct attached ***prev)
{
	struct attached **pp;

	for (pp = &attachments; *pp; pp = &(*pp)->next)
		if ((*pp)->ctx == ctx && (*pp)->id == id) {
			if (prev)
				*prev = pp;
			return *pp;
		}
	return NULL;
}

CUresult CUDAAPI cuCtxAttach(CUcontext *pctx, unsigned int flags)
{
	unsigned long long id = 0;
	struct attached *a;
	CUcontext cur = NULL;
	CUresult r;

	if (!pctx || flags)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = cuCtxGetCurrent(&cur)) != CUDA_SUCCESS)
		return r;
	if (!cur)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = cuCtxGetId(cur, &id)) != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&attach_lock);
	a = attached_find(cur, id, NULL);
	if (!a && (a = calloc(1, sizeof(*a)))) {
		a->ctx = cur;
		a->id = id;
		a->next = attachments;
		attachments = a;
	}
	if (a)
		a->extra++;
	pthread_mutex_unlock(&attach_lock);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*pctx = cur;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxDetach(CUcontext ctx)
{
	unsigned long long id = 0;
	struct attached *a, **prev = NULL;
	CUresult r;

	if (!ctx)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = cuCtxGetId(ctx, &id)) != CUDA_SUCCESS)   /* a handle the driver does not know */
		return r;
	pthread_mutex_lock(&attach_lock);
	a = attached_find(ctx, id, &prev);
	if (a && --a->extra == 0) {
		*prev = a->next;
		free(a);
	}
	pthread_mutex_unlock(&attach_lock);
	return a ? CUDA_SUCCESS : cuCtxDestroy_v2(ctx);
}

/* CUDA arrays: a library without them (the simulator has none) answers NOT_SUPPORTED here too. */
extern __typeof__(cuArrayCreate_v2) cuArrayCreate_v2 __attribute__((weak));
extern __typeof__(cuArrayGetDescriptor_v2) cuArrayGetDescriptor_v2 __attribute__((weak));
extern __typeof__(cuArray3DCreate_v2) cuArray3DCreate_v2 __attribute__((weak));
extern __typeof__(cuArray3DGetDescriptor_v2) cuArray3DGetDescriptor_v2 __attribute__((weak));

CUresult CUDAAPI cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *d)
{
	if (!cuArrayCreate_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_ARRAY_DESCRIPTOR v2 = { d->Width, d->Height, d->Format, d->NumChannels };
	return cuArrayCreate_v2(pHandle, &v2);
}

CUresult CUDAAPI cuArrayGetDescriptor(CUDA_ARRAY_DESCRIPTOR_v1 *d, CUarray hArray)
{
	CUDA_ARRAY_DESCRIPTOR v2;
	CUresult r;

	if (!cuArrayGetDescriptor_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuArrayGetDescriptor_v2(&v2, hArray);
	if (r == CUDA_SUCCESS)
		*d = (CUDA_ARRAY_DESCRIPTOR_v1){ clamp32(v2.Width), clamp32(v2.Height), v2.Format, v2.NumChannels };
	return r;
}

CUresult CUDAAPI cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *d)
{
	if (!cuArray3DCreate_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_ARRAY3D_DESCRIPTOR v2 = { d->Width, d->Height, d->Depth, d->Format, d->NumChannels, d->Flags };
	return cuArray3DCreate_v2(pHandle, &v2);
}

CUresult CUDAAPI cuArray3DGetDescriptor(CUDA_ARRAY3D_DESCRIPTOR_v1 *d, CUarray hArray)
{
	CUDA_ARRAY3D_DESCRIPTOR v2;
	CUresult r;

	if (!cuArray3DGetDescriptor_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuArray3DGetDescriptor_v2(&v2, hArray);
	if (r == CUDA_SUCCESS)
		*d = (CUDA_ARRAY3D_DESCRIPTOR_v1){ clamp32(v2.Width), clamp32(v2.Height), clamp32(v2.Depth), v2.Format,
						   v2.NumChannels, v2.Flags };
	return r;
}

/* The CUDA 11 form: the result and error node as separate outputs. */
CUresult CUDAAPI cuGraphExecUpdate(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphNode *hErrorNode_out,
				   CUgraphExecUpdateResult *updateResult_out)
{
	CUgraphExecUpdateResultInfo info = { 0 };
	CUresult r;

	if (!hErrorNode_out || !updateResult_out)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuGraphExecUpdate_v2(hGraphExec, hGraph, &info);
	*hErrorNode_out = info.errorNode;
	*updateResult_out = info.result;
	return r;
}

/* CUDA 10-11 kernel node parameters: the same without kern and ctx (v1 is v2's first fields). */
static CUDA_KERNEL_NODE_PARAMS knode_v2(const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
	CUDA_KERNEL_NODE_PARAMS v2 = { 0 };
	v2.func = p->func;
	v2.gridDimX = p->gridDimX, v2.gridDimY = p->gridDimY, v2.gridDimZ = p->gridDimZ;
	v2.blockDimX = p->blockDimX, v2.blockDimY = p->blockDimY, v2.blockDimZ = p->blockDimZ;
	v2.sharedMemBytes = p->sharedMemBytes;
	v2.kernelParams = p->kernelParams;
	v2.extra = p->extra;
	return v2;
}

CUresult CUDAAPI cuGraphKernelNodeGetParams(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
	CUDA_KERNEL_NODE_PARAMS v2;
	CUresult r;

	if (!nodeParams)
		return CUDA_ERROR_INVALID_VALUE;
	r = cuGraphKernelNodeGetParams_v2(hNode, &v2);
	if (r == CUDA_SUCCESS)
		*nodeParams = (CUDA_KERNEL_NODE_PARAMS_v1){ v2.func, v2.gridDimX, v2.gridDimY, v2.gridDimZ, v2.blockDimX,
							    v2.blockDimY, v2.blockDimZ, v2.sharedMemBytes,
							    v2.kernelParams, v2.extra };
	return r;
}

CUresult CUDAAPI cuGraphKernelNodeSetParams(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
	if (!nodeParams)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_KERNEL_NODE_PARAMS v2 = knode_v2(nodeParams);
	return cuGraphKernelNodeSetParams_v2(hNode, &v2);
}

CUresult CUDAAPI cuGraphExecKernelNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
						const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
	if (!nodeParams)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_KERNEL_NODE_PARAMS v2 = knode_v2(nodeParams);
	return cuGraphExecKernelNodeSetParams_v2(hGraphExec, hNode, &v2);
}

/* Managed memory's prefetch and advice before CUDA 12.2: a device (CU_DEVICE_CPU: the host)
 * where a location is now. CUDA 11 and 12 runtimes call these. */
static CUmemLocation device_location(CUdevice dev)
{
	CUmemLocation loc = { dev == CU_DEVICE_CPU ? CU_MEM_LOCATION_TYPE_HOST : CU_MEM_LOCATION_TYPE_DEVICE,
			      dev == CU_DEVICE_CPU ? 0 : dev };
	return loc;
}

CUresult CUDAAPI cuMemPrefetchAsync(CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream)
{
	return cuMemPrefetchAsync_v2(devPtr, count, device_location(dstDevice), 0, hStream);
}

CUresult CUDAAPI cuMemPrefetchAsync_ptsz(CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream)
{
	return cuMemPrefetchAsync_v2_ptsz(devPtr, count, device_location(dstDevice), 0, hStream);
}

CUresult CUDAAPI cuMemAdvise(CUdeviceptr devPtr, size_t count, CUmem_advise advice, CUdevice device)
{
	return cuMemAdvise_v2(devPtr, count, advice, device_location(device));
}
