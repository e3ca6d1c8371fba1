/* SPDX-License-Identifier: MIT */
/* adv_green.c — green contexts made, split, forged and named by hostile zones. */
#include "adv.h"

#include "custom_wire.h"
#include "vgpu_ops.h"

/*
 * Contract (proxy/custom_green.c, green.h): the driver sees only device resources it gave the
 * same zone, byte for byte (a changed byte, another zone's split or an invented resource is
 * CUDA_ERROR_INVALID_VALUE and reaches nothing); green contexts, their descriptors and their
 * CUcontexts are the zone's handles (another zone's are CUDA_ERROR_INVALID_HANDLE); memory made
 * while a green context's CUcontext is current is the primary context's, so it stays when the
 * green context goes; a zone that ends with green contexts leaves nothing behind.
 */

static const struct vgpu_call_desc split =
	VGPU_WIRE_DESC("cuDevSmResourceSplitByCount", VGPU_OP_cuDevSmResourceSplitByCount, VGPU_CALLF_CUSTOM,
		       vgpu_wire_green_split_args, VGPU_GSW_NARGS);

static long dev_resource(struct adv_zone *z, CUdevResource *r)
{
	CUdevice dev = 0;
	CUdevResourceType t = CU_DEV_RESOURCE_TYPE_SM;
	void *av[] = { &dev, &r, &t };
	return adv_call(z, &vgpu_call_cuDeviceGetDevResource, av);
}

static long split_by(struct adv_zone *z, CUdevResource *res, uint32_t cap, unsigned *nb, const CUdevResource *in,
		     CUdevResource *rem, unsigned min)
{
	uint32_t want = 1, flags = 0;
	void *av[VGPU_GSW_NARGS] = { [VGPU_GSW_CAP] = &cap, [VGPU_GSW_RESULT] = &res, [VGPU_GSW_NB] = &nb,
				     [VGPU_GSW_INPUT] = &in, [VGPU_GSW_REMAINING] = &rem, [VGPU_GSW_WANT_REM] = &want,
				     [VGPU_GSW_FLAGS] = &flags, [VGPU_GSW_MIN] = &min };
	return adv_call(z, &split, av);
}

static long gen_desc(struct adv_zone *z, CUdevResourceDesc *d, CUdevResource *res, unsigned n)
{
	void *av[] = { &d, &res, &n };
	return adv_call(z, &vgpu_call_cuDevResourceGenerateDesc, av);
}

static long green_create(struct adv_zone *z, CUgreenCtx *g, CUdevResourceDesc d)
{
	CUdevice dev = 0;
	unsigned fl = CU_GREEN_CTX_DEFAULT_STREAM;
	void *av[] = { &g, &d, &dev, &fl };
	return adv_call(z, &vgpu_call_cuGreenCtxCreate, av);
}

static long green_destroy(struct adv_zone *z, CUgreenCtx g)
{
	void *av[] = { &g };
	return adv_call(z, &vgpu_call_cuGreenCtxDestroy, av);
}

static long from_green(struct adv_zone *z, CUcontext *c, CUgreenCtx g)
{
	void *av[] = { &c, &g };
	return adv_call(z, &vgpu_call_cuCtxFromGreenCtx, av);
}

static long set_current(struct adv_zone *z, CUcontext c)
{
	void *av[] = { &c };
	return adv_call(z, &vgpu_call_cuCtxSetCurrent, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "partitioner", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "forger", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	/* a: the device's SMs, split in two groups, a descriptor and a green context of the first */
	CUdevResource all, groups[2], rem;
	unsigned nb = 0;
	CHECK_EQ(dev_resource(&a, &all), CUDA_SUCCESS);
	CHECK_EQ(all.type, CU_DEV_RESOURCE_TYPE_SM);
	CHECK(all.sm.smCount >= 2);
	unsigned half = all.sm.smCount / 2;
	CHECK_EQ(split_by(&a, NULL, 0, &nb, &all, &rem, half), CUDA_SUCCESS);   /* counting only */
	CHECK(nb >= 1);
	nb = 0;
	CHECK_EQ(split_by(&a, groups, 2, &nb, &all, &rem, half), CUDA_SUCCESS);
	CHECK(nb >= 1 && nb <= 2);
	CUdevResourceDesc da = NULL;
	CHECK_EQ(gen_desc(&a, &da, groups, 1), CUDA_SUCCESS);
	CUgreenCtx ga = NULL;
	CHECK_EQ(green_create(&a, &ga, da), CUDA_SUCCESS);
	CUcontext gca = NULL;
	CHECK_EQ(from_green(&a, &gca, ga), CUDA_SUCCESS);

	/* a's own resources, changed: a byte of the driver's inside, the count, an invented one */
	CUdevResource forged = groups[0];
	CUdevResourceDesc junk = NULL;
	((unsigned char *)&forged)[4 + 10] ^= 0x5a;
	CHECK_EQ(gen_desc(&a, &junk, &forged, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(split_by(&a, groups, 2, &nb, &forged, &rem, half), CUDA_ERROR_INVALID_VALUE);
	forged = groups[0];
	forged.sm.smCount += 1;
	CHECK_EQ(gen_desc(&a, &junk, &forged, 1), CUDA_ERROR_INVALID_VALUE);
	memset(&forged, 0, sizeof(forged));
	forged.type = CU_DEV_RESOURCE_TYPE_SM;
	forged.sm.smCount = all.sm.smCount;
	CHECK_EQ(gen_desc(&a, &junk, &forged, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK(junk == NULL);

	/* b: a's split groups were never b's, nor are a's handles */
	CHECK_EQ(gen_desc(&b, &junk, groups, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(split_by(&b, groups, 2, &nb, &groups[0], &rem, 1), CUDA_ERROR_INVALID_VALUE);
	CUgreenCtx gb = NULL;
	CHECK_EQ(green_create(&b, &gb, da), CUDA_ERROR_INVALID_HANDLE);
	CUcontext junk_ctx = NULL;
	CHECK_EQ(from_green(&b, &junk_ctx, ga), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(set_current(&b, gca), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(green_destroy(&b, ga), CUDA_ERROR_INVALID_HANDLE);
	/* b's own resource of the whole device works for b */
	CUdevResource ball;
	CHECK_EQ(dev_resource(&b, &ball), CUDA_SUCCESS);
	CHECK_EQ(gen_desc(&b, &junk, &ball, 1), CUDA_SUCCESS);

	/* memory a makes with its green context current is the primary context's: it stays when
	 * the green context goes */
	CHECK_EQ(set_current(&a, gca), CUDA_SUCCESS);
	CUdeviceptr m = 0;
	CHECK_EQ(adv_alloc(&a, &m, 4096), CUDA_SUCCESS);
	CHECK_EQ(set_current(&a, ca), CUDA_SUCCESS);
	CHECK_EQ(green_destroy(&a, ga), CUDA_SUCCESS);
	CHECK_EQ(green_destroy(&a, ga), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(set_current(&a, gca), CUDA_ERROR_INVALID_HANDLE);   /* its CUcontext went with it */
	unsigned char buf[16];
	CHECK_EQ(adv_dtoh(&a, buf, m, sizeof(buf)), CUDA_SUCCESS);
	void *fa[] = { &m };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuMemFree_v2, fa), CUDA_SUCCESS);

	/* a zone that ends holding a green context leaves nothing behind */
	CHECK_EQ(green_create(&a, &ga, da), CUDA_SUCCESS);
	CHECK_EQ(from_green(&a, &gca, ga), CUDA_SUCCESS);
	CHECK(adv_alive(&a) && adv_alive(&b));
	(void)cb;
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
