/* SPDX-License-Identifier: MIT */
/* adv_texture.c — CUDA arrays, texture and surface objects made, named and forged by hostile zones. */
#include "adv.h"

#include "custom_wire.h"
#include "vgpu_ops.h"

/*
 * Contract (runtime/custom_wire.h, proxy/custom_texture.c): an array is charged to its zone's
 * memory quota when made and given back when destroyed or when its context goes; a texture or
 * surface object reads only the zone's own array or a device range inside one of its own
 * allocations; the only object values the driver is handed are those it gave the same zone
 * (any other value is INVALID_VALUE and reaches nothing); a resource read back names the
 * zone's own handle of its array, never a pointer of the worker; a mipmapped array's handle,
 * which travels inside the resource descriptor, is translated by the zone's own table, and
 * its levels are its own (not destroyed by themselves); a kernel given a forged
 * object value fails its own launch, and the proxy and other zones go on.
 */

static const struct vgpu_call_desc texcreate =
	VGPU_WIRE_DESC("cuTexObjectCreate", VGPU_OP_cuTexObjectCreate, VGPU_CALLF_CUSTOM, vgpu_wire_texobj_create_args,
		       VGPU_TXW_NARGS);
static const struct vgpu_call_desc surfcreate =
	VGPU_WIRE_DESC("cuSurfObjectCreate", VGPU_OP_cuSurfObjectCreate, VGPU_CALLF_CUSTOM,
		       vgpu_wire_texobj_create_args, VGPU_TXW_NARGS);
static const struct vgpu_call_desc texres =
	VGPU_WIRE_DESC("cuTexObjectGetResourceDesc", VGPU_OP_cuTexObjectGetResourceDesc, VGPU_CALLF_CUSTOM,
		       vgpu_wire_texobj_resource_args, VGPU_TOW_NARGS);
static const struct vgpu_call_desc copy2d =
	VGPU_WIRE_DESC("cuMemcpy2D_v2", VGPU_OP_cuMemcpy2D_v2, VGPU_CALLF_CUSTOM, vgpu_wire_copy_args, VGPU_CW_NARGS);
static const struct vgpu_call_desc launch =
	VGPU_WIRE_DESC("cuLaunchKernel", VGPU_OP_cuLaunchKernel, VGPU_CALLF_ASYNC | VGPU_CALLF_CUSTOM,
		       vgpu_wire_launch_args, VGPU_LW_NARGS);

/* rd(t, out): out[0] = tex2D(t, 0.5, 0.5).x */
static const char ptx[] =
	".version 7.0\n.target sm_75\n.address_size 64\n"
	".visible .entry rd(.param .u64 t, .param .u64 out)\n{\n.reg .b64 %rd<4>;\n.reg .f32 %f<6>;\n"
	" ld.param.u64 %rd1, [t];\n ld.param.u64 %rd2, [out];\n cvta.to.global.u64 %rd3, %rd2;\n"
	" mov.f32 %f5, 0f3F000000;\n tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f5}];\n"
	" st.global.f32 [%rd3], %f1;\n ret;\n}\n";

static long array_create(struct adv_zone *z, CUarray *a, size_t w, size_t h, unsigned flags)
{
	CUDA_ARRAY3D_DESCRIPTOR d = { .Width = w, .Height = h, .Depth = 0, .Format = CU_AD_FORMAT_FLOAT,
				      .NumChannels = 1, .Flags = flags };
	const CUDA_ARRAY3D_DESCRIPTOR *pd = &d;
	void *av[] = { &a, &pd };
	return adv_call(z, &vgpu_call_cuArray3DCreate_v2, av);
}

static long mipmap_create(struct adv_zone *z, CUmipmappedArray *m, size_t w, size_t h, unsigned levels)
{
	CUDA_ARRAY3D_DESCRIPTOR d = { .Width = w, .Height = h, .Depth = 0, .Format = CU_AD_FORMAT_FLOAT,
				      .NumChannels = 1, .Flags = 0 };
	const CUDA_ARRAY3D_DESCRIPTOR *pd = &d;
	void *av[] = { &m, &pd, &levels };
	return adv_call(z, &vgpu_call_cuMipmappedArrayCreate, av);
}

static long mipmap_level(struct adv_zone *z, CUarray *a, CUmipmappedArray m, unsigned level)
{
	void *av[] = { &a, &m, &level };
	return adv_call(z, &vgpu_call_cuMipmappedArrayGetLevel, av);
}

static long mipmap_destroy(struct adv_zone *z, CUmipmappedArray m)
{
	void *av[] = { &m };
	return adv_call(z, &vgpu_call_cuMipmappedArrayDestroy, av);
}

static long array_destroy(struct adv_zone *z, CUarray a)
{
	void *av[] = { &a };
	return adv_call(z, &vgpu_call_cuArrayDestroy, av);
}

/* A texture (surface = 0) or surface object over res, whose array (if any) is sent as arr. */
static long obj_create(struct adv_zone *z, int surface, uint64_t *obj, const CUDA_RESOURCE_DESC *res, uint64_t arr)
{
	CUDA_RESOURCE_DESC r = *res;
	CUDA_TEXTURE_DESC t = { 0 };
	CUDA_RESOURCE_VIEW_DESC v = { 0 };
	const CUDA_RESOURCE_DESC *pr = &r;
	const CUDA_TEXTURE_DESC *pt = &t;
	const CUDA_RESOURCE_VIEW_DESC *pv = &v;
	uint32_t has_view = 0;
	if (r.resType == CU_RESOURCE_TYPE_ARRAY)
		r.res.array.hArray = NULL;
	t.addressMode[0] = t.addressMode[1] = CU_TR_ADDRESS_MODE_CLAMP;
	void *av[VGPU_TXW_NARGS] = { [VGPU_TXW_OBJ] = &obj, [VGPU_TXW_RES] = &pr, [VGPU_TXW_ARRAY] = &arr,
				     [VGPU_TXW_TEX] = &pt, [VGPU_TXW_VIEW] = &pv, [VGPU_TXW_HAS_VIEW] = &has_view };
	return adv_call(z, surface ? &surfcreate : &texcreate, av);
}

static long obj_destroy(struct adv_zone *z, int surface, uint64_t v)
{
	void *av[] = { &v };
	return adv_call(z, surface ? &vgpu_call_cuSurfObjectDestroy : &vgpu_call_cuTexObjectDestroy, av);
}

static CUDA_RESOURCE_DESC array_res(void)
{
	CUDA_RESOURCE_DESC r;
	memset(&r, 0, sizeof(r));
	r.resType = CU_RESOURCE_TYPE_ARRAY;
	return r;
}

static CUDA_RESOURCE_DESC linear_res(CUdeviceptr p, size_t bytes)
{
	CUDA_RESOURCE_DESC r;
	memset(&r, 0, sizeof(r));
	r.resType = CU_RESOURCE_TYPE_LINEAR;
	r.res.linear.devPtr = p;
	r.res.linear.format = CU_AD_FORMAT_FLOAT;
	r.res.linear.numChannels = 1;
	r.res.linear.sizeInBytes = bytes;
	return r;
}

/* A host-to-array 2D copy of w x h floats into arr at (x, y), sent as libvgpu sends it. */
static long copy_to_array(struct adv_zone *z, uint64_t arr, size_t x, size_t y, size_t w, size_t h, const float *src)
{
	CUDA_MEMCPY3D c;
	memset(&c, 0, sizeof(c));
	c.srcMemoryType = CU_MEMORYTYPE_HOST;
	c.srcPitch = w * sizeof(float);
	c.srcHeight = h;
	c.dstMemoryType = CU_MEMORYTYPE_ARRAY;
	c.dstArray = (CUarray)(uintptr_t)arr;
	c.dstXInBytes = x * sizeof(float);
	c.dstY = y;
	c.WidthInBytes = w * sizeof(float);
	c.Height = h;
	c.Depth = 1;
	const CUDA_MEMCPY3D *pc = &c;
	const void *in = src;
	uint64_t in_bytes = w * h * sizeof(float), out_bytes = 0;
	void *out = NULL;
	CUstream s = NULL;
	uint32_t fl = 0;
	void *av[VGPU_CW_NARGS] = { [VGPU_CW_COPY] = &pc, [VGPU_CW_HOST_IN] = &in, [VGPU_CW_HOST_IN_BYTES] = &in_bytes,
				    [VGPU_CW_HOST_OUT] = &out, [VGPU_CW_HOST_OUT_BYTES] = &out_bytes,
				    [VGPU_CW_STREAM] = &s, [VGPU_CW_FLAGS] = &fl };
	return adv_call(z, &copy2d, av);
}

static long run_rd(struct adv_zone *z, CUfunction f, uint64_t t, CUdeviceptr out)
{
	struct { uint64_t t; CUdeviceptr out; } pk = { t, out };
	uint32_t lay[4] = { 0, 8, 8, 8 };
	unsigned one = 1, shm = 0, np = 2, na = 0, kind = VGPU_LAUNCH_PLAIN, pb = 16;
	const void *params = &pk, *attrs = NULL;
	const uint32_t *playout = lay;
	CUstream s = NULL;
	void *av[VGPU_LW_NARGS] = { &f, &one, &one, &one, &one, &one, &one, &shm, &s, &params, &pb,
				    &playout, &np, &attrs, &na, &kind };
	long r = adv_call(z, &launch, av);
	if (r != 0)
		return r;
	return adv_call(z, &vgpu_call_cuCtxSynchronize, (void *[]){ NULL });
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b, c;
	CUcontext ca = NULL, cb = NULL, cc = NULL;
	const char *extra[] = { "--zone-mem-limit", "4M", NULL };

	if (adv_start(&p, extra) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "painter", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "thief", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	/* Zone a: an array with known texels, a texture over it, a texture over its own memory. */
	CUarray arr = NULL;
	CHECK_EQ(array_create(&a, &arr, 64, 64, CUDA_ARRAY3D_SURFACE_LDST), CUDA_SUCCESS);
	float px[64 * 64];
	for (int i = 0; i < 64 * 64; i++)
		px[i] = (float)i;
	CHECK_EQ(copy_to_array(&a, (uint64_t)(uintptr_t)arr, 0, 0, 64, 64, px), CUDA_SUCCESS);
	/* a box past the array's right edge or bottom: refused, nothing written */
	CHECK_EQ(copy_to_array(&a, (uint64_t)(uintptr_t)arr, 1, 0, 64, 1, px), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy_to_array(&a, (uint64_t)(uintptr_t)arr, 0, 64, 1, 1, px), CUDA_ERROR_INVALID_VALUE);
	CUDA_RESOURCE_DESC ra = array_res();
	uint64_t ta = 0, tl = 0, sa = 0;
	CHECK_EQ(obj_create(&a, 0, &ta, &ra, (uint64_t)(uintptr_t)arr), CUDA_SUCCESS);
	CHECK(ta != 0);
	CHECK_EQ(obj_create(&a, 1, &sa, &ra, (uint64_t)(uintptr_t)arr), CUDA_SUCCESS);
	CUdeviceptr da = 0;
	CHECK_EQ(adv_alloc(&a, &da, 4096), CUDA_SUCCESS);
	CUDA_RESOURCE_DESC rl = linear_res(da, 4096);
	CHECK_EQ(obj_create(&a, 0, &tl, &rl, 0), CUDA_SUCCESS);

	/* Its own resources, misnamed: past the allocation's end, a pitched image taller than the
	 * allocation, a surface over linear memory, a mipmapped array, an array resource without
	 * an array, resource flags. */
	rl = linear_res(da, 4097);
	uint64_t junk = 0;
	CHECK_EQ(obj_create(&a, 0, &junk, &rl, 0), CUDA_ERROR_INVALID_VALUE);
	rl = linear_res(da + 512, 4096);
	CHECK_EQ(obj_create(&a, 0, &junk, &rl, 0), CUDA_ERROR_INVALID_VALUE);
	CUDA_RESOURCE_DESC rp;
	memset(&rp, 0, sizeof(rp));
	rp.resType = CU_RESOURCE_TYPE_PITCH2D;
	rp.res.pitch2D.devPtr = da;
	rp.res.pitch2D.format = CU_AD_FORMAT_FLOAT;
	rp.res.pitch2D.numChannels = 1;
	rp.res.pitch2D.width = 16;
	rp.res.pitch2D.pitchInBytes = 512;
	rp.res.pitch2D.height = 9;   /* 8 rows of 512 bytes + one of 64: past 4096 */
	CHECK_EQ(obj_create(&a, 0, &junk, &rp, 0), CUDA_ERROR_INVALID_VALUE);
	rp.res.pitch2D.height = (size_t)1 << 62;   /* the extent overflows */
	CHECK_EQ(obj_create(&a, 0, &junk, &rp, 0), CUDA_ERROR_INVALID_VALUE);
	rl = linear_res(da, 4096);
	CHECK_EQ(obj_create(&a, 1, &junk, &rl, 0), CUDA_ERROR_INVALID_VALUE);
	CUDA_RESOURCE_DESC rm;
	memset(&rm, 0, sizeof(rm));
	rm.resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY;   /* without its handle */
	CHECK_EQ(obj_create(&a, 0, &junk, &rm, 0), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(obj_create(&a, 0, &junk, &ra, 0), CUDA_ERROR_INVALID_HANDLE);
	ra.flags = 1;
	CHECK_EQ(obj_create(&a, 0, &junk, &ra, (uint64_t)(uintptr_t)arr), CUDA_ERROR_INVALID_VALUE);
	ra.flags = 0;
	CHECK_EQ(junk, 0);

	/* What a reads back names its own handle of the array and no pointer of the worker. */
	CUDA_RESOURCE_DESC back;
	memset(&back, 0xa5, sizeof(back));
	uint64_t back_arr = 7, *pback_arr = &back_arr;
	CUDA_RESOURCE_DESC *pback = &back;
	void *rv[VGPU_TOW_NARGS] = { [VGPU_TOW_RES] = &pback, [VGPU_TOW_ARRAY] = &pback_arr, [VGPU_TOW_OBJ] = &ta };
	CHECK_EQ(adv_call(&a, &texres, rv), CUDA_SUCCESS);
	CHECK_EQ(back.resType, CU_RESOURCE_TYPE_ARRAY);
	CHECK(back.res.array.hArray == NULL);
	CHECK_EQ(back_arr, (uint64_t)(uintptr_t)arr);

	/* A mipmapped array: its handle travels inside the resource descriptor, translated by the
	 * zone's own table; a level belongs to it (not destroyed by itself, gone with it). */
	CUmipmappedArray mm = NULL;
	CHECK_EQ(mipmap_create(&a, &mm, 64, 64, 3), CUDA_SUCCESS);
	CUarray lv1 = NULL, lv1b = NULL;
	CHECK_EQ(mipmap_level(&a, &lv1, mm, 1), CUDA_SUCCESS);
	CHECK_EQ(mipmap_level(&a, &lv1b, mm, 1), CUDA_SUCCESS);
	CHECK(lv1 == lv1b);                                     /* the same handle each time */
	CHECK_EQ(mipmap_level(&a, &lv1b, mm, 3), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy_to_array(&a, (uint64_t)(uintptr_t)lv1, 0, 0, 32, 32, px), CUDA_SUCCESS);
	CHECK_EQ(copy_to_array(&a, (uint64_t)(uintptr_t)lv1, 0, 0, 33, 1, px), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(array_destroy(&a, lv1), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(copy_to_array(&a, (uint64_t)(uintptr_t)lv1, 0, 0, 1, 1, px), CUDA_SUCCESS);   /* still there */
	uint64_t tm = 0;
	rm.res.mipmap.hMipmappedArray = mm;
	CHECK_EQ(obj_create(&a, 0, &tm, &rm, 0), CUDA_SUCCESS);
	back_arr = 7;
	void *rvm[VGPU_TOW_NARGS] = { [VGPU_TOW_RES] = &pback, [VGPU_TOW_ARRAY] = &pback_arr, [VGPU_TOW_OBJ] = &tm };
	CHECK_EQ(adv_call(&a, &texres, rvm), CUDA_SUCCESS);
	CHECK_EQ(back.resType, CU_RESOURCE_TYPE_MIPMAPPED_ARRAY);
	CHECK(back.res.mipmap.hMipmappedArray == NULL);
	CHECK_EQ(back_arr, (uint64_t)(uintptr_t)mm);
	/* an array's handle is no mipmapped array's, nor a forged one */
	rm.res.mipmap.hMipmappedArray = (CUmipmappedArray)arr;
	CHECK_EQ(obj_create(&a, 0, &junk, &rm, 0), CUDA_ERROR_INVALID_HANDLE);
	rm.res.mipmap.hMipmappedArray = (CUmipmappedArray)(uintptr_t)((uint64_t)(uintptr_t)mm ^ 0x10000);
	CHECK_EQ(obj_create(&a, 0, &junk, &rm, 0), CUDA_ERROR_INVALID_HANDLE);
	/* zone b names it */
	rm.res.mipmap.hMipmappedArray = mm;
	CHECK_EQ(obj_create(&b, 0, &junk, &rm, 0), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(mipmap_level(&b, &lv1b, mm, 0), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(mipmap_destroy(&b, mm), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(copy_to_array(&b, (uint64_t)(uintptr_t)lv1, 0, 0, 1, 1, px), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(junk, 0);
	CHECK_EQ(obj_destroy(&a, 0, tm), CUDA_SUCCESS);
	/* destroyed, its levels go with it; charged while it lived: 4 MiB cannot hold 4 MiB of levels */
	CHECK_EQ(mipmap_destroy(&a, mm), CUDA_SUCCESS);
	CHECK_EQ(copy_to_array(&a, (uint64_t)(uintptr_t)lv1, 0, 0, 1, 1, px), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(mipmap_destroy(&a, mm), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(mipmap_create(&a, &mm, 1024, 1024, 2), CUDA_ERROR_OUT_OF_MEMORY);   /* 4 MiB + 1 MiB */
	CHECK_EQ(mipmap_create(&a, &mm, 1024, 512, 1), CUDA_SUCCESS);   /* 2 MiB alone fits */
	CHECK_EQ(mipmap_destroy(&a, mm), CUDA_SUCCESS);
	CHECK_EQ(mipmap_create(&a, &mm, 64, 64, 0), CUDA_ERROR_INVALID_VALUE);

	/* Zone b names a's array, memory and objects: none of it reaches a's worker. */
	CUdeviceptr db = 0;
	CHECK_EQ(adv_alloc(&b, &db, 4096), CUDA_SUCCESS);
	CHECK_EQ(obj_create(&b, 0, &junk, &ra, (uint64_t)(uintptr_t)arr), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(obj_create(&b, 1, &junk, &ra, (uint64_t)(uintptr_t)arr), CUDA_ERROR_INVALID_HANDLE);
	rl = linear_res(da, 4096);
	CHECK_EQ(obj_create(&b, 0, &junk, &rl, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy_to_array(&b, (uint64_t)(uintptr_t)arr, 0, 0, 1, 1, px), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(array_destroy(&b, arr), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(obj_destroy(&b, 0, ta), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(obj_destroy(&b, 1, sa), CUDA_ERROR_INVALID_VALUE);
	pback_arr = &back_arr;
	void *rvb[VGPU_TOW_NARGS] = { [VGPU_TOW_RES] = &pback, [VGPU_TOW_ARRAY] = &pback_arr, [VGPU_TOW_OBJ] = &ta };
	CHECK_EQ(adv_call(&b, &texres, rvb), CUDA_ERROR_INVALID_VALUE);
	CUDA_TEXTURE_DESC td, *ptd = &td;
	void *tdv[] = { &ptd, &tl };
	CHECK_EQ(adv_call(&b, &vgpu_call_cuTexObjectGetTextureDesc, tdv), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(junk, 0);
	/* forged values and the wrong kind, in a's own zone too */
	CHECK_EQ(obj_destroy(&a, 0, 0xdeadbeefull), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(obj_destroy(&a, 1, ta), CUDA_ERROR_INVALID_VALUE);   /* a texture is not a surface */
	CHECK_EQ(obj_destroy(&a, 0, sa), CUDA_ERROR_INVALID_VALUE);

	/* a's objects still work: a kernel reads texel (0, 0) through its texture. */
	CUfunction fa = NULL;
	CHECK_EQ(adv_ptx_function(&a, ptx, sizeof(ptx), "rd", &fa), CUDA_SUCCESS);
	CHECK_EQ(run_rd(&a, fa, ta, da), CUDA_SUCCESS);
	float got = -1;
	CHECK_EQ(adv_dtoh(&a, &got, da, sizeof(got)), CUDA_SUCCESS);
	CHECK(got == 0.0f);
	/* destroyed once, not twice */
	CHECK_EQ(obj_destroy(&a, 0, tl), CUDA_SUCCESS);
	CHECK_EQ(obj_destroy(&a, 0, tl), CUDA_ERROR_INVALID_VALUE);

	/* Quota: arrays count. 4 MiB: a's 64x64 array took 64 KiB and its allocation 4 KiB; three
	 * 1 MiB arrays fit, a fourth does not; a destroyed one makes room again. */
	CUarray big[4] = { 0 };
	for (int i = 0; i < 3; i++)
		CHECK_EQ(array_create(&a, &big[i], 256, 1024, 0), CUDA_SUCCESS);
	CHECK_EQ(array_create(&a, &big[3], 256, 1024, 0), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(array_create(&a, &big[3], 65536, 65536, 0), CUDA_ERROR_OUT_OF_MEMORY);   /* 16 GiB */
	CHECK_EQ(array_create(&a, &big[3], (size_t)1 << 40, 1, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(array_destroy(&a, big[0]), CUDA_SUCCESS);
	CHECK_EQ(array_destroy(&a, big[0]), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(array_create(&a, &big[3], 256, 1024, 0), CUDA_SUCCESS);
	/* b's quota is its own */
	CUarray bb = NULL;
	CHECK_EQ(array_create(&b, &bb, 256, 1024, 0), CUDA_SUCCESS);
	/* A primary context reset takes the arrays and objects with it, and their charges. */
	CUdevice dev = 0;
	void *rs[] = { &dev };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxReset_v2, rs), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(obj_destroy(&a, 0, ta), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(array_destroy(&a, big[1]), CUDA_ERROR_INVALID_HANDLE);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(array_create(&a, &big[i], 256, 1024, 0), CUDA_SUCCESS);

	/* Zone c hands a kernel a forged texture value: its launch fails, nothing else does. */
	CHECK_EQ(adv_open(&p, &c, "forger", NULL), 0);
	CHECK_EQ(adv_init_ctx(&c, &cc), CUDA_SUCCESS);
	CUfunction fc = NULL;
	CUdeviceptr dc = 0;
	CHECK_EQ(adv_ptx_function(&c, ptx, sizeof(ptx), "rd", &fc), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&c, &dc, 64), CUDA_SUCCESS);
	long r = run_rd(&c, fc, 0x100000001ull, dc);
	CHECK(r != CUDA_SUCCESS && r > 0);
	CHECK(adv_alive(&a) && adv_alive(&b));
	(void)cb;
	(void)ca;
	(void)cc;
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	vgpu_chan_close(c.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
