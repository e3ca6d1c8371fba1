/* SPDX-License-Identifier: MIT */
/* adv_link.c — the JIT linker driven by hostile zones: options, inputs, logs and states that are not theirs. */
#include "adv.h"

#include "custom_wire.h"
#include "vgpu_ops.h"

/*
 * Contract (runtime/custom_wire.h, proxy/custom_link.c): a zone's options reach the driver
 * only as numbers the driver reads as numbers (a log buffer, its size, the wall time, a
 * symbol-address or name-list option sent by the zone is INVALID_VALUE); logs are at most
 * 64 KiB each and come back inside the reply; PTX must end inside the bytes sent, a cubin or
 * fatbin must describe itself within them, host objects, archives and LTO IR are refused; a
 * link state is the zone's handle (another zone's, a destroyed or a forged one is
 * INVALID_HANDLE) and goes with its context; the image comes back whole however small the
 * zone's first guess at its size.
 */

static const struct vgpu_call_desc create =
	VGPU_WIRE_DESC("cuLinkCreate_v2", VGPU_OP_cuLinkCreate_v2, VGPU_CALLF_CUSTOM, vgpu_wire_link_create_args,
		       VGPU_LKW_NARGS);
static const struct vgpu_call_desc add =
	VGPU_WIRE_DESC("cuLinkAddData_v2", VGPU_OP_cuLinkAddData_v2, VGPU_CALLF_CUSTOM, vgpu_wire_link_add_args,
		       VGPU_LAW_NARGS);
static const struct vgpu_call_desc complete =
	VGPU_WIRE_DESC("cuLinkComplete", VGPU_OP_cuLinkComplete, VGPU_CALLF_CUSTOM, vgpu_wire_link_complete_args,
		       VGPU_LCW_NARGS);

static const struct vgpu_call_desc destroy =
	VGPU_WIRE_DESC("cuLinkDestroy", VGPU_OP_cuLinkDestroy, VGPU_CALLF_CUSTOM, vgpu_wire_link_destroy_args, 1);

static const char ptx[] =
	".version 7.0\n.target sm_75\n.address_size 64\n"
	".visible .entry put(.param .u64 p, .param .u32 v)\n{\n.reg .b64 %rd<3>;\n.reg .b32 %r<2>;\n"
	" ld.param.u64 %rd1, [p];\n cvta.to.global.u64 %rd2, %rd1;\n ld.param.u32 %r1, [v];\n"
	" st.global.u32 [%rd2], %r1;\n ret;\n}\n";

static char logbuf[2 * VGPU_LINK_LOG_MAX];
static uint32_t info_len, err_len, status;

/* The call's own result: the status of a successful reply (see custom_wire.h), else the reply's. */
static long with_status(long r)
{
	return r == CUDA_SUCCESS ? (long)status : r;
}
static float wall;

static long link_create(struct adv_zone *z, CUlinkState *st, uint32_t nopt, const uint32_t *keys,
			const uint64_t *vals, uint32_t icap, uint32_t ecap, uint32_t lcap)
{
	char *log = logbuf;
	uint32_t *pil = &info_len, *pel = &err_len;
	float *pw = &wall;
	uint32_t *pst = &status;
	void *av[VGPU_LKW_NARGS] = {
		[VGPU_LKW_STATE] = &st, [VGPU_LKW_NOPT] = &nopt, [VGPU_LKW_KEYS] = &keys, [VGPU_LKW_VALS] = &vals,
		[VGPU_LKW_INFO_CAP] = &icap, [VGPU_LKW_ERR_CAP] = &ecap, [VGPU_LKW_LOG] = &log,
		[VGPU_LKW_LOG_CAP] = &lcap, [VGPU_LKW_INFO_LEN] = &pil, [VGPU_LKW_ERR_LEN] = &pel, [VGPU_LKW_WALL] = &pw,
		[VGPU_LKW_STATUS] = &pst,
	};
	return with_status(adv_call(z, &create, av));
}

static long link_add(struct adv_zone *z, CUlinkState st, uint32_t type, const void *data, uint64_t size,
		     uint32_t nopt, const uint32_t *keys, const uint64_t *vals, uint32_t icap, uint32_t ecap)
{
	const char *name = "input";
	char *log = logbuf;
	uint32_t lcap = icap + ecap, *pil = &info_len, *pel = &err_len;
	float *pw = &wall;
	uint32_t *pst = &status;
	void *av[VGPU_LAW_NARGS] = {
		[VGPU_LAW_STATE] = &st, [VGPU_LAW_TYPE] = &type, [VGPU_LAW_DATA] = &data, [VGPU_LAW_SIZE] = &size,
		[VGPU_LAW_NAME] = &name, [VGPU_LAW_NOPT] = &nopt, [VGPU_LAW_KEYS] = &keys, [VGPU_LAW_VALS] = &vals,
		[VGPU_LAW_INFO_CAP] = &icap, [VGPU_LAW_ERR_CAP] = &ecap, [VGPU_LAW_LOG] = &log,
		[VGPU_LAW_LOG_CAP] = &lcap, [VGPU_LAW_INFO_LEN] = &pil, [VGPU_LAW_ERR_LEN] = &pel, [VGPU_LAW_WALL] = &pw,
		[VGPU_LAW_STATUS] = &pst,
	};
	return with_status(adv_call(z, &add, av));
}

static long link_complete(struct adv_zone *z, CUlinkState st, void *img, uint64_t cap, uint64_t *size)
{
	uint32_t icap = 4096, ecap = 4096, lcap = 8192, *pil = &info_len, *pel = &err_len;
	char *log = logbuf;
	float *pw = &wall;
	uint32_t *pst = &status;
	void *av[VGPU_LCW_NARGS] = {
		[VGPU_LCW_STATE] = &st, [VGPU_LCW_IMAGE] = &img, [VGPU_LCW_CAP] = &cap, [VGPU_LCW_SIZE] = &size,
		[VGPU_LCW_INFO_CAP] = &icap, [VGPU_LCW_ERR_CAP] = &ecap, [VGPU_LCW_LOG] = &log,
		[VGPU_LCW_LOG_CAP] = &lcap, [VGPU_LCW_INFO_LEN] = &pil, [VGPU_LCW_ERR_LEN] = &pel, [VGPU_LCW_WALL] = &pw,
		[VGPU_LCW_STATUS] = &pst,
	};
	return with_status(adv_call(z, &complete, av));
}

static long link_destroy(struct adv_zone *z, CUlinkState st)
{
	void *av[] = { &st };
	return adv_call(z, &destroy, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "linker", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "intruder", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	/* Options: numbers only. A log buffer, its size, the wall time or a symbol-address list
	 * named by the zone, an unknown option, too many options: refused before the driver. */
	CUlinkState st = NULL;
	const uint32_t bad_keys[] = { CU_JIT_INFO_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_WALL_TIME,
				      CU_JIT_GLOBAL_SYMBOL_ADDRESSES, CU_JIT_REFERENCED_KERNEL_NAMES, 999 };
	for (unsigned i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		uint64_t v = 0x1000;
		CHECK_EQ(link_create(&a, &st, 1, &bad_keys[i], &v, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
	}
	uint32_t many_keys[VGPU_LINK_OPT_MAX + 1];
	uint64_t many_vals[VGPU_LINK_OPT_MAX + 1];
	for (unsigned i = 0; i <= VGPU_LINK_OPT_MAX; i++) {
		many_keys[i] = CU_JIT_OPTIMIZATION_LEVEL;
		many_vals[i] = 3;
	}
	CHECK(link_create(&a, &st, VGPU_LINK_OPT_MAX + 1, many_keys, many_vals, 0, 0, 0) != CUDA_SUCCESS);
	/* logs past 64 KiB each, or a reply buffer that is not exactly both */
	CHECK_EQ(link_create(&a, &st, 0, NULL, NULL, VGPU_LINK_LOG_MAX + 1, 0, VGPU_LINK_LOG_MAX + 1),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(link_create(&a, &st, 0, NULL, NULL, 100, 100, 100), CUDA_ERROR_INVALID_VALUE);
	CHECK(st == NULL);

	/* A good state, with logs and a numeric option. */
	const uint32_t keys[] = { CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_LOG_VERBOSE };
	const uint64_t vals[] = { 4, 1 };
	CHECK_EQ(link_create(&a, &st, 2, keys, vals, 4096, 4096, 8192), CUDA_SUCCESS);
	CHECK(st != NULL);

	/* Inputs the driver would read past, or cannot check: refused. */
	char noterm[64];
	memset(noterm, 'x', sizeof(noterm));
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_PTX, noterm, sizeof(noterm), 0, NULL, NULL, 4096, 4096),
		 CUDA_ERROR_INVALID_VALUE);
	uint8_t fake_fatbin[64] = { 0x50, 0xed, 0x55, 0xba, 0x01, 0x00, 0x10, 0x00, 0xff, 0xff, 0xff, 0x7f };
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_FATBINARY, fake_fatbin, sizeof(fake_fatbin), 0, NULL, NULL, 4096, 4096),
		 CUDA_ERROR_INVALID_IMAGE);
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_CUBIN, noterm, sizeof(noterm), 0, NULL, NULL, 4096, 4096),
		 CUDA_ERROR_INVALID_IMAGE);
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_OBJECT, ptx, sizeof(ptx), 0, NULL, NULL, 4096, 4096),
		 CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_LIBRARY, ptx, sizeof(ptx), 0, NULL, NULL, 4096, 4096),
		 CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_NVVM, ptx, sizeof(ptx), 0, NULL, NULL, 4096, 4096),
		 CUDA_ERROR_NOT_SUPPORTED);
	CHECK_EQ(link_add(&a, st, 77, ptx, sizeof(ptx), 0, NULL, NULL, 4096, 4096), CUDA_ERROR_INVALID_VALUE);
	uint64_t v = 0x1000;
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_PTX, ptx, sizeof(ptx), 1, &bad_keys[3], &v, 4096, 4096),
		 CUDA_ERROR_INVALID_VALUE);
	/* The intruder cannot add to, complete or destroy a's state. */
	CHECK_EQ(link_add(&b, st, CU_JIT_INPUT_PTX, ptx, sizeof(ptx), 0, NULL, NULL, 0, 0), CUDA_ERROR_INVALID_HANDLE);
	uint64_t size = 0;
	static uint8_t img[1 << 16];
	CHECK_EQ(link_complete(&b, st, img, sizeof(img), &size), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(link_destroy(&b, st), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(link_destroy(&a, (CUlinkState)(uintptr_t)0x123456789ull), CUDA_ERROR_INVALID_HANDLE);

	/* The good input links; a first guess of 16 bytes gets the size, the second the image. */
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_PTX, ptx, sizeof(ptx), 2, keys, vals, 4096, 4096), CUDA_SUCCESS);
	CHECK_EQ(link_complete(&a, st, img, 16, &size), CUDA_SUCCESS);
	CHECK(size > 16 && size <= sizeof(img));
	uint64_t size2 = 0;
	CHECK_EQ(link_complete(&a, st, img, sizeof(img), &size2), CUDA_SUCCESS);
	CHECK_EQ(size2, size);
	CHECK(info_len <= 4096 && err_len <= 4096);
	/* nothing more goes into a linked image */
	CHECK_EQ(link_add(&a, st, CU_JIT_INPUT_PTX, ptx, sizeof(ptx), 0, NULL, NULL, 0, 0), CUDA_ERROR_INVALID_VALUE);
	/* the image loads and its kernel runs */
	CUfunction f = NULL;
	CHECK_EQ(adv_ptx_function(&a, (const char *)img, size, "put", &f), CUDA_SUCCESS);
	CHECK_EQ(link_destroy(&a, st), CUDA_SUCCESS);
	CHECK_EQ(link_destroy(&a, st), CUDA_ERROR_INVALID_HANDLE);

	/* A state goes with its context: after a reset its handle names nothing. */
	CUlinkState st2 = NULL;
	CHECK_EQ(link_create(&a, &st2, 0, NULL, NULL, 0, 0, 0), CUDA_SUCCESS);
	CUdevice dev = 0;
	void *rs[] = { &dev };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuDevicePrimaryCtxReset_v2, rs), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(link_add(&a, st2, CU_JIT_INPUT_PTX, ptx, sizeof(ptx), 0, NULL, NULL, 0, 0), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(link_destroy(&a, st2), CUDA_ERROR_INVALID_HANDLE);
	/* states left at the zone's end are the worker's to destroy (LeakSanitizer checks) */
	CUlinkState st3 = NULL;
	CHECK_EQ(link_create(&b, &st3, 0, NULL, NULL, 128, 128, 256), CUDA_SUCCESS);

	CHECK(adv_alive(&a) && adv_alive(&b));
	(void)cb;
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
