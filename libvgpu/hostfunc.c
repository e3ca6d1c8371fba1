/* SPDX-License-Identifier: MIT */
/* hostfunc.c — host callbacks on a stream: run in the zone once the stream's earlier work is done. */
#include "client.h"

#include "vgpu_calls.h"

/*
 * A zone's function pointer means nothing to the proxy, so the callback runs here: the stream
 * is synchronised (every earlier operation on it has completed, as the driver guarantees
 * before a host function runs) and the function is called on the calling thread. The cost of
 * this model is that the call blocks until then, where the driver would return at once.
 */
static CUresult stream_sync(CUstream s, int ptsz)
{
	void *argv[1] = { &s };
	return vgpu_client_call(ptsz ? &vgpu_call_cuStreamSynchronize_ptsz : &vgpu_call_cuStreamSynchronize, argv);
}

/*
 * A host function on a stream being captured would be a host node of the graph, run each
 * time the graph runs: a callback of the proxy into the zone, which this model does not
 * have. Synchronising a capturing stream would end the program's capture in error, so the
 * call is refused before that, with the capture left as it was.
 */
static CUresult refuse_if_capturing(CUstream s, int ptsz, const char *what /* NULL: not capturable at all */)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE, *pst = &st;
	void *argv[2] = { &s, &pst };
	CUresult r = vgpu_client_call(ptsz ? &vgpu_call_cuStreamIsCapturing_ptsz : &vgpu_call_cuStreamIsCapturing, argv);
	if (r != CUDA_SUCCESS || st == CU_STREAM_CAPTURE_STATUS_NONE)
		return r;
	return what ? vgpu_client_unsupported(what) : CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

static CUresult host_func(CUstream s, CUhostFn fn, void *userData, int ptsz)
{
	CUresult r;

	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = refuse_if_capturing(s, ptsz, "a host function on a stream being captured (a graph's host node)")) !=
	    CUDA_SUCCESS)
		return r;
	r = stream_sync(s, ptsz);
	if (r != CUDA_SUCCESS)
		return r;
	fn(userData);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
	return host_func(hStream, fn, userData, 0);
}

CUresult CUDAAPI cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
	return host_func(hStream, fn, userData, 1);
}

static CUresult stream_callback(CUstream s, CUstreamCallback cb, void *userData, unsigned int flags, int ptsz)
{
	CUresult r;

	if (!cb || flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	/* a stream callback cannot be captured, as with the driver */
	if ((r = refuse_if_capturing(s, ptsz, NULL)) != CUDA_SUCCESS)
		return r;
	r = stream_sync(s, ptsz);
	/* The driver passes the stream's error status to the callback rather than failing the call. */
	cb(s, r, userData);
	return r == CUDA_ERROR_DEVICE_UNAVAILABLE ? r : CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData, unsigned int flags)
{
	return stream_callback(hStream, callback, userData, flags, 0);
}

CUresult CUDAAPI cuStreamAddCallback_ptsz(CUstream hStream, CUstreamCallback callback, void *userData,
					  unsigned int flags)
{
	return stream_callback(hStream, callback, userData, flags, 1);
}
