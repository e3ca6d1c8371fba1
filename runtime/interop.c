/* SPDX-License-Identifier: MIT */
/*
 * interop.c — the graphics interop entry points libcuda exports besides cuda.h's (cudaGL.h,
 * cudaVDPAU.h and cudaEGL.h on Linux), in libvgpu and the simulator alike.
 *
 * Neither a zone nor the simulator has a display, an OpenGL or EGL context or a VDPAU device
 * to share with CUDA, so every one answers CUDA_ERROR_NOT_SUPPORTED and touches nothing. They
 * must exist all the same: programs that load the driver with dlopen resolve them at start
 * and give up on the whole driver when one is missing. FFmpeg's CUDA loader (nv-codec-headers)
 * is one: without cuGLGetDevices_v2 its "-init_hw_device cuda" failed with "Could not
 * dynamically load CUDA" before asking anything of the device.
 *
 * The toolkit's link stub does not carry these names (its headers need OpenGL's, EGL's and
 * VDPAU's), so they are written here with plain types of the same sizes, not generated from
 * cuda.h; libvgpu/interop.names adds them to libvgpu's exports.
 */
#include <cuda.h>
#include <stdint.h>

#define INTEROP __attribute__((visibility("default")))
#define UNUSED __attribute__((unused))

/* A graphics resource out-parameter is cleared where one is given, as a failed registration
 * leaves none. */
static CUresult none(CUgraphicsResource *res)
{
	if (res)
		*res = NULL;
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* ---- cudaGL.h (GLuint and GLenum are 32-bit unsigned) ---- */
INTEROP CUresult cuGraphicsGLRegisterBuffer(CUgraphicsResource *res, UNUSED uint32_t buffer, UNUSED unsigned int flags)
{
	return none(res);
}
INTEROP CUresult cuGraphicsGLRegisterImage(CUgraphicsResource *res, UNUSED uint32_t image, UNUSED uint32_t target,
					   UNUSED unsigned int flags)
{
	return none(res);
}
INTEROP CUresult cuGLGetDevices_v2(unsigned int *count, UNUSED CUdevice *devices, UNUSED unsigned int max,
				   UNUSED int list)
{
	if (count)
		*count = 0;   /* no CUDA device drives a display here */
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuGLGetDevices(unsigned int *count, CUdevice *devices, unsigned int max, int list)
{
	return cuGLGetDevices_v2(count, devices, max, list);
}
INTEROP CUresult cuGLCtxCreate_v2(CUcontext *ctx, UNUSED unsigned int flags, UNUSED CUdevice dev)
{
	if (ctx)
		*ctx = NULL;
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuGLCtxCreate(CUcontext *ctx, unsigned int flags, CUdevice dev)
{
	return cuGLCtxCreate_v2(ctx, flags, dev);
}
INTEROP CUresult cuGLInit(void) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuGLRegisterBufferObject(UNUSED uint32_t buffer) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuGLMapBufferObject_v2(UNUSED CUdeviceptr *dptr, UNUSED size_t *size, UNUSED uint32_t buffer)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuGLMapBufferObject_v2_ptds(CUdeviceptr *dptr, size_t *size, uint32_t buffer)
{
	return cuGLMapBufferObject_v2(dptr, size, buffer);
}
INTEROP CUresult cuGLMapBufferObject(UNUSED uint32_t *dptr, UNUSED uint32_t *size, UNUSED uint32_t buffer)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuGLMapBufferObjectAsync_v2(UNUSED CUdeviceptr *dptr, UNUSED size_t *size, UNUSED uint32_t buffer,
					     UNUSED CUstream s)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuGLMapBufferObjectAsync_v2_ptsz(CUdeviceptr *dptr, size_t *size, uint32_t buffer, CUstream s)
{
	return cuGLMapBufferObjectAsync_v2(dptr, size, buffer, s);
}
INTEROP CUresult cuGLMapBufferObjectAsync(UNUSED uint32_t *dptr, UNUSED uint32_t *size, UNUSED uint32_t buffer,
					  UNUSED CUstream s)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuGLUnmapBufferObject(UNUSED uint32_t buffer) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuGLUnmapBufferObjectAsync(UNUSED uint32_t buffer, UNUSED CUstream s) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuGLUnregisterBufferObject(UNUSED uint32_t buffer) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuGLSetBufferObjectMapFlags(UNUSED uint32_t buffer, UNUSED unsigned int flags)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* ---- cudaVDPAU.h (VdpDevice and the surfaces are 32-bit handles; the proc address a pointer) ---- */
INTEROP CUresult cuVDPAUGetDevice(CUdevice *dev, UNUSED uint32_t vdp, UNUSED void *get_proc_address)
{
	if (dev)
		*dev = -1;
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuVDPAUCtxCreate_v2(CUcontext *ctx, UNUSED unsigned int flags, UNUSED CUdevice dev, UNUSED uint32_t vdp,
				     UNUSED void *get_proc_address)
{
	if (ctx)
		*ctx = NULL;
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuVDPAUCtxCreate(CUcontext *ctx, unsigned int flags, CUdevice dev, uint32_t vdp, void *get_proc_address)
{
	return cuVDPAUCtxCreate_v2(ctx, flags, dev, vdp, get_proc_address);
}
INTEROP CUresult cuGraphicsVDPAURegisterVideoSurface(CUgraphicsResource *res, UNUSED uint32_t surface,
						     UNUSED unsigned int flags)
{
	return none(res);
}
INTEROP CUresult cuGraphicsVDPAURegisterOutputSurface(CUgraphicsResource *res, UNUSED uint32_t surface,
						      UNUSED unsigned int flags)
{
	return none(res);
}

/* ---- cudaEGL.h (EGL's images, streams and syncs are pointers; a frame is returned by value) ---- */
INTEROP CUresult cuGraphicsEGLRegisterImage(CUgraphicsResource *res, UNUSED void *image, UNUSED unsigned int flags)
{
	return none(res);
}
INTEROP CUresult cuEGLStreamConsumerConnect(UNUSED void *conn, UNUSED void *stream) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuEGLStreamConsumerConnectWithFlags(UNUSED void *conn, UNUSED void *stream, UNUSED unsigned int flags)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuEGLStreamConsumerDisconnect(UNUSED void *conn) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuEGLStreamConsumerAcquireFrame(UNUSED void *conn, UNUSED CUgraphicsResource *res, UNUSED CUstream *s,
						 UNUSED unsigned int timeout)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuEGLStreamConsumerReleaseFrame(UNUSED void *conn, UNUSED CUgraphicsResource res, UNUSED CUstream *s)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuEGLStreamProducerConnect(UNUSED void *conn, UNUSED void *stream, UNUSED int32_t width,
					    UNUSED int32_t height)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuEGLStreamProducerDisconnect(UNUSED void *conn) { return CUDA_ERROR_NOT_SUPPORTED; }
/* (CUeglFrame is passed by value: a struct of 104 bytes, in memory on the caller's stack, so
 * a pointer-sized stand-in never reads it) */
INTEROP CUresult cuEGLStreamProducerPresentFrame(UNUSED void *conn, ...) { return CUDA_ERROR_NOT_SUPPORTED; }
INTEROP CUresult cuEGLStreamProducerReturnFrame(UNUSED void *conn, UNUSED void *frame, UNUSED CUstream *s)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuGraphicsResourceGetMappedEglFrame(UNUSED void *frame, UNUSED CUgraphicsResource res,
						     UNUSED unsigned int index, UNUSED unsigned int level)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}
INTEROP CUresult cuEventCreateFromEGLSync(CUevent *event, UNUSED void *sync, UNUSED unsigned int flags)
{
	if (event)
		*event = NULL;
	return CUDA_ERROR_NOT_SUPPORTED;
}
