/* SPDX-License-Identifier: MIT */
/* adv_wire.c — hostile messages for the hand-written calls (2D/3D copies, launches, module loads, pointer attributes). */
#include "adv.h"

#include "custom_wire.h"
#include "vgpu_ops.h"

/* Contract (proxy/custom_calls.c): a wire handler checks what its descriptor cannot say —
 * a device box inside one of the zone's allocations with overflow-checked arithmetic, host
 * rows dense and exactly as long as the box, parameter offsets inside the packed buffer,
 * only harmless launch attributes, a module image no longer than the bytes received —
 * and refuses anything else with the driver's error, the channel kept. */

static const struct vgpu_call_desc copy3d =
	VGPU_WIRE_DESC("cuMemcpy3D_v2", VGPU_OP_cuMemcpy3D_v2, VGPU_CALLF_CUSTOM, vgpu_wire_copy_args, VGPU_CW_NARGS);
static const struct vgpu_call_desc copy3d_peer =
	VGPU_WIRE_DESC("cuMemcpy3DPeer", VGPU_OP_cuMemcpy3DPeer, VGPU_CALLF_CUSTOM, vgpu_wire_copy_args, VGPU_CW_NARGS);
static const struct vgpu_call_desc launch =
	VGPU_WIRE_DESC("cuLaunchKernel", VGPU_OP_cuLaunchKernel, VGPU_CALLF_ASYNC | VGPU_CALLF_CUSTOM,
		       vgpu_wire_launch_args, VGPU_LW_NARGS);
static const struct vgpu_call_desc launch_ex =
	VGPU_WIRE_DESC("cuLaunchKernelEx", VGPU_OP_cuLaunchKernelEx, VGPU_CALLF_ASYNC | VGPU_CALLF_CUSTOM,
		       vgpu_wire_launch_args, VGPU_LW_NARGS);
static const struct vgpu_call_desc modload =
	VGPU_WIRE_DESC("cuModuleLoadData", VGPU_OP_cuModuleLoadData, VGPU_CALLF_CUSTOM, vgpu_wire_module_args,
		       VGPU_MW_NARGS);
static const struct vgpu_call_desc ptrset =
	VGPU_WIRE_DESC("cuPointerSetAttribute", VGPU_OP_cuPointerSetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pointer_set_attr_args, VGPU_PSW_NARGS);
static const struct vgpu_call_desc ptrattr =
	VGPU_WIRE_DESC("cuPointerGetAttribute", VGPU_OP_cuPointerGetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pointer_attr_args, VGPU_PW_NARGS);

/* A 2D/3D copy message of descriptor d (a 3D copy's or a peer copy's). */
static long copy_as(struct adv_zone *z, const struct vgpu_call_desc *d, const CUDA_MEMCPY3D *c, const void *in,
		    uint64_t inb, void *out, uint64_t outb)
{
	CUstream s = NULL;
	unsigned flags = 0;
	void *av[VGPU_CW_NARGS] = { &c, &in, &inb, &out, &outb, &s, &flags };
	return adv_call(z, d, av);
}

static long copy(struct adv_zone *z, const CUDA_MEMCPY3D *c, const void *in, uint64_t inb, void *out, uint64_t outb)
{
	return copy_as(z, &copy3d, c, in, inb, out, outb);
}

/* A device-to-device box of w x h bytes, pitch p, from src to dst. */
static CUDA_MEMCPY3D box(CUdeviceptr dst, CUdeviceptr src, size_t p, size_t w, size_t h)
{
	CUDA_MEMCPY3D c = { 0 };
	c.srcMemoryType = c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c.srcDevice = src;
	c.dstDevice = dst;
	c.srcPitch = c.dstPitch = p;
	c.srcHeight = c.dstHeight = h;
	c.WidthInBytes = w;
	c.Height = h;
	c.Depth = 1;
	return c;
}

static long dtod_box(struct adv_zone *z, CUdeviceptr dst, CUdeviceptr src, size_t p, size_t w, size_t h)
{
	CUDA_MEMCPY3D c = box(dst, src, p, w, h);
	return copy(z, &c, NULL, 0, NULL, 0);
}

/* The same box as a peer copy (CUDA_MEMCPY3D_PEER: a CUDA_MEMCPY3D with the contexts in
 * reserved0/1), from src in context sc to dst in context dc. */
static long peer_box(struct adv_zone *z, CUdeviceptr dst, CUcontext dc, CUdeviceptr src, CUcontext sc, size_t p, size_t w,
		     size_t h)
{
	CUDA_MEMCPY3D c = box(dst, src, p, w, h);
	c.reserved0 = sc;
	c.reserved1 = dc;
	return copy_as(z, &copy3d_peer, &c, NULL, 0, NULL, 0);
}

static long launch_msg(struct adv_zone *z, const struct vgpu_call_desc *d, CUfunction f, const void *params,
		       unsigned pbytes, const uint32_t *layout, unsigned nparams, const CUlaunchAttribute *attrs,
		       unsigned nattrs, unsigned kind)
{
	unsigned one = 1, bx = 32, shm = 0;
	CUstream s = NULL;
	void *av[VGPU_LW_NARGS] = { &f, &one, &one, &one, &bx, &one, &one, &shm, &s, &params, &pbytes,
				    &layout, &nparams, &attrs, &nattrs, &kind };
	return adv_call(z, d, av);
}

/* The pending error of posted calls, reported by the next synchronising call. */
static long ctx_sync(struct adv_zone *z)
{
	void *av[1] = { NULL };
	return adv_call(z, &vgpu_call_cuCtxSynchronize, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	CUdeviceptr pa = 0, pb = 0;
	enum { N = 4096 };
	static uint8_t host[4 * N], back[4 * N];
	char path[512];

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "attacker", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "victim", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &pa, N), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&b, &pb, N), CUDA_SUCCESS);
	for (unsigned i = 0; i < sizeof(host); i++)
		host[i] = (uint8_t)(i * 7 + 3);

	/* ---- 2D/3D copies ---- */
	/* Positive control: a dense 64 x 16 host rectangle in and back out. */
	CUDA_MEMCPY3D c = { 0 };
	c.srcMemoryType = CU_MEMORYTYPE_HOST;
	c.srcPitch = 64;
	c.srcHeight = 16;
	c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c.dstDevice = pa;
	c.dstPitch = 256;
	c.dstHeight = 16;
	c.WidthInBytes = 64;
	c.Height = 16;
	c.Depth = 1;
	CHECK_EQ(copy(&a, &c, host, 64 * 16, NULL, 0), CUDA_SUCCESS);
	CUDA_MEMCPY3D r = c;
	r.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	r.srcDevice = pa;
	r.srcPitch = 256;
	r.dstMemoryType = CU_MEMORYTYPE_HOST;
	r.dstDevice = 0;
	r.dstPitch = 64;
	CHECK_EQ(copy(&a, &r, NULL, 0, back, 64 * 16), CUDA_SUCCESS);
	CHECK(memcmp(host, back, 64 * 16) == 0);
	/* Host bytes that do not match the box, or rows that are not dense. */
	CHECK_EQ(copy(&a, &c, host, 64 * 16 - 1, NULL, 0), CUDA_ERROR_INVALID_VALUE);
	c.srcPitch = 128;
	CHECK_EQ(copy(&a, &c, host, 64 * 16, NULL, 0), CUDA_ERROR_INVALID_VALUE);
	c.srcPitch = 64;
	c.srcXInBytes = 1;
	CHECK_EQ(copy(&a, &c, host, 64 * 16, NULL, 0), CUDA_ERROR_INVALID_VALUE);
	c.srcXInBytes = 0;
	/* A box whose last row runs past the allocation; one in the other zone's memory. */
	CHECK_EQ(dtod_box(&a, pa, pa + 1024, 256, 64, 13), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod_box(&a, pa, pb, 256, 64, 4), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod_box(&a, pb, pa, 256, 64, 4), CUDA_ERROR_INVALID_VALUE);
	/* Overflowing geometry: pitch * rows wraps, pitch smaller than a row. */
	CHECK_EQ(dtod_box(&a, pa, pa + 64, (size_t)1 << 63, 16, 3), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(dtod_box(&a, pa, pa + 64, 8, 16, 3), CUDA_ERROR_INVALID_VALUE);
	/* An array side names one of the zone's arrays by its handle: none, a forged one; a
	 * memory type that is not one; host-to-host never leaves a zone. */
	c.srcMemoryType = CU_MEMORYTYPE_ARRAY;
	c.srcArray = NULL;
	CHECK_EQ(copy(&a, &c, NULL, 0, NULL, 0), CUDA_ERROR_INVALID_HANDLE);
	c.srcArray = (CUarray)(uintptr_t)0x5a5a5a5a5aull;
	CHECK_EQ(copy(&a, &c, NULL, 0, NULL, 0), CUDA_ERROR_INVALID_HANDLE);
	c.srcArray = NULL;
	c.srcMemoryType = (CUmemorytype)7;
	CHECK_EQ(copy(&a, &c, NULL, 0, NULL, 0), CUDA_ERROR_INVALID_VALUE);
	c.srcMemoryType = c.dstMemoryType = CU_MEMORYTYPE_HOST;
	CHECK_EQ(copy(&a, &c, host, 64 * 16, back, 64 * 16), CUDA_ERROR_INVALID_VALUE);
	/* Peer copies (cuMemcpy3DPeer): the zone's own contexts and memory copy (positive
	 * control, the bytes checked); the other zone's context, a forged one, or the other
	 * zone's memory on either side is refused. */
	CHECK_EQ(peer_box(&a, pa + 2048, ca, pa, ca, 256, 64, 4), CUDA_SUCCESS);
	CUDA_MEMCPY3D r4 = r;            /* the 4 rows at pa + 2048 read back: the first 4 rows */
	r4.srcDevice = pa + 2048;
	r4.Height = r4.srcHeight = r4.dstHeight = 4;
	memset(back, 0, sizeof(back));
	CHECK_EQ(copy(&a, &r4, NULL, 0, back, 64 * 4), CUDA_SUCCESS);
	CHECK(memcmp(host, back, 64 * 4) == 0);
	CHECK_EQ(peer_box(&a, pa + 2048, cb, pa, ca, 256, 64, 4), CUDA_ERROR_INVALID_CONTEXT);
	CHECK_EQ(peer_box(&a, pa + 2048, ca, pa, cb, 256, 64, 4), CUDA_ERROR_INVALID_CONTEXT);
	CHECK_EQ(peer_box(&a, pa + 2048, ca, pa, (CUcontext)(uintptr_t)0x5a5a5a5a5aull, 256, 64, 4),
		 CUDA_ERROR_INVALID_CONTEXT);
	CHECK_EQ(peer_box(&a, pb, ca, pa, ca, 256, 64, 4), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(peer_box(&a, pa, ca, pb, ca, 256, 64, 4), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(peer_box(&a, pa, ca, pa + 1024, ca, 256, 64, 13), CUDA_ERROR_INVALID_VALUE);
	CHECK(adv_alive(&a) && adv_alive(&b));

	/* ---- module loads ---- */
	snprintf(path, sizeof(path), "%s/tests/kernels/basic.fatbin", getenv("VGPU_BUILD") ? getenv("VGPU_BUILD") : "build/san");
	FILE *fp = fopen(path, "rb");
	CHECK(fp != NULL);
	static uint8_t img[1 << 20];
	uint64_t n = fp ? fread(img, 1, sizeof(img), fp) : 0;
	if (fp)
		fclose(fp);
	CHECK(n > 256);
	CUmodule mod = NULL, *pmod = &mod;
	const void *pimg = img;
	/* Truncated: the image says it is longer than what arrived. */
	uint64_t cut = n / 2;
	void *mv[VGPU_MW_NARGS] = { &pmod, &pimg, &cut };
	CHECK_EQ(adv_call(&a, &modload, mv), CUDA_ERROR_INVALID_IMAGE);
	/* Garbage of the right length. */
	static uint8_t junk[4096];
	memset(junk, 0x41, sizeof(junk));
	const void *pj = junk;
	uint64_t jn = sizeof(junk);
	void *jv[VGPU_MW_NARGS] = { &pmod, &pj, &jn };
	CHECK_EQ(adv_call(&a, &modload, jv), CUDA_ERROR_INVALID_IMAGE);
	/* The whole image loads. */
	CHECK_EQ(adv_call(&a, &modload, mv) == CUDA_ERROR_INVALID_IMAGE, 1);
	void *mv2[VGPU_MW_NARGS] = { &pmod, &pimg, &n };
	CHECK_EQ(adv_call(&a, &modload, mv2), CUDA_SUCCESS);
	CHECK(mod != NULL);

	/* ---- launches ---- */
	CUfunction f = NULL, *pf = &f;
	const char *name = "vec_add";
	void *gv[] = { &pf, &mod, &name };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuModuleGetFunction, gv), CUDA_SUCCESS);
	struct { CUdeviceptr x, y, z; int n; } pk = { pa, pa, pa, 0 };
	uint32_t lay[8] = { 0, 8, 8, 8, 16, 8, 24, 4 };
	CHECK_EQ(launch_msg(&a, &launch, f, &pk, sizeof(pk), lay, 4, NULL, 0, VGPU_LAUNCH_PLAIN), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_SUCCESS); /* positive control */
	/* A parameter placed past the packed bytes. */
	uint32_t bad[8] = { 0, 8, 8, 8, 16, 8, 28, 8 };
	CHECK_EQ(launch_msg(&a, &launch, f, &pk, sizeof(pk), bad, 4, NULL, 0, VGPU_LAUNCH_PLAIN), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_VALUE);
	uint32_t huge[8] = { 0, 8, 8, 8, 16, 8, 0xfffffff8u, 16 };
	CHECK_EQ(launch_msg(&a, &launch, f, &pk, sizeof(pk), huge, 4, NULL, 0, VGPU_LAUNCH_PLAIN), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_VALUE);
	/* Attributes on a plain launch; an attribute that names memory on an Ex launch. */
	CUlaunchAttribute at = { 0 };
	at.id = CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW;
	at.value.accessPolicyWindow.base_ptr = (void *)(uintptr_t)pb;
	at.value.accessPolicyWindow.num_bytes = N;
	CHECK_EQ(launch_msg(&a, &launch, f, &pk, sizeof(pk), lay, 4, &at, 1, VGPU_LAUNCH_PLAIN), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(launch_msg(&a, &launch_ex, f, &pk, sizeof(pk), lay, 4, &at, 1, VGPU_LAUNCH_EX), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_VALUE);   /* the window is the victim's memory */
	at.value.accessPolicyWindow.base_ptr = (void *)(uintptr_t)pa;
	at.value.accessPolicyWindow.num_bytes = N + 1;        /* one byte past the zone's own */
	CHECK_EQ(launch_msg(&a, &launch_ex, f, &pk, sizeof(pk), lay, 4, &at, 1, VGPU_LAUNCH_EX), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_VALUE);
	/* An event attribute naming an event the zone does not have; a device-updatable node's
	 * attribute (it writes a device handle back); an attribute no driver knows. */
	CUlaunchAttribute ev = { 0 };
	ev.id = CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT;
	ev.value.launchCompletionEvent.event = (CUevent)(uintptr_t)0x1234567800000001ull;
	CHECK_EQ(launch_msg(&a, &launch_ex, f, &pk, sizeof(pk), lay, 4, &ev, 1, VGPU_LAUNCH_EX), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_HANDLE);
	ev.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT;
	CHECK_EQ(launch_msg(&a, &launch_ex, f, &pk, sizeof(pk), lay, 4, &ev, 1, VGPU_LAUNCH_EX), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_HANDLE);
	ev = (CUlaunchAttribute){ .id = CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE };
	CHECK_EQ(launch_msg(&a, &launch_ex, f, &pk, sizeof(pk), lay, 4, &ev, 1, VGPU_LAUNCH_EX), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_NOT_SUPPORTED);
	ev = (CUlaunchAttribute){ .id = (CUlaunchAttributeID)999 };
	CHECK_EQ(launch_msg(&a, &launch_ex, f, &pk, sizeof(pk), lay, 4, &ev, 1, VGPU_LAUNCH_EX), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_NOT_SUPPORTED);
	/* The window over the zone's own memory is a hint the driver takes. */
	at.value.accessPolicyWindow.num_bytes = N;
	CHECK_EQ(launch_msg(&a, &launch_ex, f, &pk, sizeof(pk), lay, 4, &at, 1, VGPU_LAUNCH_EX), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_SUCCESS);
	/* An unknown launch kind. */
	CHECK_EQ(launch_msg(&a, &launch, f, &pk, sizeof(pk), lay, 4, NULL, 0, 7), 0);
	CHECK_EQ(ctx_sync(&a), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(ctx_sync(&a), CUDA_SUCCESS);

	/* ---- pointer attributes ---- */
	uint64_t val = 0, *pv = &val;
	unsigned attr = CU_POINTER_ATTRIBUTE_MEMORY_TYPE;
	CUdeviceptr q = pb;
	void *av[VGPU_PW_NARGS] = { &pv, &attr, &q };
	CHECK_EQ(adv_call(&a, &ptrattr, av), CUDA_ERROR_INVALID_VALUE); /* the victim's pointer */
	q = pa + 100;
	CHECK_EQ(adv_call(&a, &ptrattr, av), CUDA_SUCCESS);
	CHECK_EQ(val, CU_MEMORYTYPE_DEVICE);
	attr = CU_POINTER_ATTRIBUTE_CONTEXT;
	CHECK_EQ(adv_call(&a, &ptrattr, av), CUDA_SUCCESS);
	CHECK_EQ(val, (uint64_t)(uintptr_t)ca); /* the zone's own id for its context, never a driver pointer */
	attr = CU_POINTER_ATTRIBUTE_P2P_TOKENS;
	CHECK_EQ(adv_call(&a, &ptrattr, av), CUDA_ERROR_NOT_SUPPORTED);
	attr = 9999;                           /* no attribute has the number */
	CHECK_EQ(adv_call(&a, &ptrattr, av), CUDA_ERROR_INVALID_VALUE);
	/* cuPointerSetAttribute: SYNC_MEMOPS on the zone's own memory only, no other attribute */
	uint32_t one = 1, sattr = CU_POINTER_ATTRIBUTE_SYNC_MEMOPS;
	CUdeviceptr sq = pb;
	void *sv[VGPU_PSW_NARGS] = { &one, &sattr, &sq };
	CHECK_EQ(adv_call(&a, &ptrset, sv), CUDA_ERROR_INVALID_VALUE);   /* the victim's pointer */
	sq = pa + 8;
	CHECK_EQ(adv_call(&a, &ptrset, sv), CUDA_SUCCESS);
	sattr = CU_POINTER_ATTRIBUTE_MEMORY_TYPE;
	CHECK_EQ(adv_call(&a, &ptrset, sv), CUDA_ERROR_INVALID_VALUE);
	sq = pa + N;                           /* one past the end of the zone's allocation */
	sattr = CU_POINTER_ATTRIBUTE_SYNC_MEMOPS;
	CHECK_EQ(adv_call(&a, &ptrset, sv), CUDA_ERROR_INVALID_VALUE);

	/* Both zones and the proxy still serve; the victim's bytes were never touched. */
	CHECK(adv_alive(&a) && adv_alive(&b));
	CHECK_EQ(adv_dtoh(&b, back, pb, N), CUDA_SUCCESS);
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	ptest_sleep_ms(500); /* let both workers see their zone end before the proxy stops */
	adv_finish(&p);
	return check_failures ? 1 : 0;
}
