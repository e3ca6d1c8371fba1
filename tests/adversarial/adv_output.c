/* SPDX-License-Identifier: MIT */
/* adv_output.c — device printf's text: each zone gets its own and nobody else's, the worker keeps at most 1 MiB, hostile requests for it are refused. */
#include "adv.h"

#include "custom_wire.h"
#include "../../proxy/output.h"
#include "vgpu_ops.h"

/* Contract (proxy/output.h, session.h): what a zone's kernels print goes to that zone's
 * worker only and reaches the zone when it asks (VGPU_OP_OUTPUT, after a reply flagged
 * VGPU_MSG_F_OUTPUT); the worker keeps at most VGPU_OUTPUT_MAX bytes the zone has not taken
 * and drops the rest; a request for more than VGPU_OUTPUT_STEP bytes at once is malformed and
 * closes the channel. */

static const struct vgpu_call_desc launch =
	VGPU_WIRE_DESC("cuLaunchKernel", VGPU_OP_cuLaunchKernel, VGPU_CALLF_ASYNC | VGPU_CALLF_CUSTOM,
		       vgpu_wire_launch_args, VGPU_LW_NARGS);

/* say(s, times): printf("%s", s) times over, by one thread */
static const char ptx[] =
	".version 7.0\n.target sm_75\n.address_size 64\n"
	".extern .func (.param .b32 func_retval0) vprintf\n(\n.param .b64 vprintf_param_0,\n"
	".param .b64 vprintf_param_1\n)\n;\n"
	".global .align 1 .b8 fmt[3] = {37, 115, 0};\n"
	".visible .entry say(.param .u64 s, .param .u32 times)\n{\n"
	".local .align 8 .b8 depot[8];\n.reg .b64 %rd<8>;\n.reg .b32 %r<4>;\n.reg .pred %p<2>;\n"
	" mov.u64 %rd1, depot;\n cvta.local.u64 %rd2, %rd1;\n ld.param.u64 %rd3, [s];\n"
	" st.local.u64 [%rd1], %rd3;\n mov.u64 %rd4, fmt;\n cvta.global.u64 %rd5, %rd4;\n"
	" ld.param.u32 %r2, [times];\n mov.u32 %r3, 0;\n"
	"$L_loop:\n setp.ge.u32 %p1, %r3, %r2;\n @%p1 bra $L_done;\n"
	" {\n.param .b64 param0;\n st.param.b64 [param0+0], %rd5;\n.param .b64 param1;\n"
	" st.param.b64 [param1+0], %rd2;\n.param .b32 retval0;\n"
	" call.uni (retval0), vprintf, (param0, param1);\n ld.param.b32 %r1, [retval0+0];\n }\n"
	" add.u32 %r3, %r3, 1;\n bra.uni $L_loop;\n"
	"$L_done:\n ret;\n}\n"
	/* fail(): assert(0 && \"fails\") in function \"fail\" of file \"adv.cu\" at line 7 */
	".extern .func __assertfail\n(\n.param .b64 a0,\n.param .b64 a1,\n.param .b32 a2,\n.param .b64 a3,\n"
	".param .b64 a4\n)\n;\n"
	".global .align 1 .b8 amsg[6] = {102, 97, 105, 108, 115, 0};\n"
	".global .align 1 .b8 afile[7] = {97, 100, 118, 46, 99, 117, 0};\n"
	".global .align 1 .b8 afunc[5] = {102, 97, 105, 108, 0};\n"
	".visible .entry fail()\n{\n.reg .b64 %rd<7>;\n"
	" mov.u64 %rd1, amsg;\n cvta.global.u64 %rd2, %rd1;\n mov.u64 %rd3, afile;\n cvta.global.u64 %rd4, %rd3;\n"
	" mov.u64 %rd5, afunc;\n cvta.global.u64 %rd6, %rd5;\n"
	" {\n.param .b64 p0;\n st.param.b64 [p0+0], %rd2;\n.param .b64 p1;\n st.param.b64 [p1+0], %rd4;\n"
	".param .b32 p2;\n st.param.b32 [p2+0], 7;\n.param .b64 p3;\n st.param.b64 [p3+0], %rd6;\n"
	".param .b64 p4;\n st.param.b64 [p4+0], 1;\n call.uni __assertfail, (p0, p1, p2, p3, p4);\n }\n ret;\n}\n";

struct zone_k {
	struct adv_zone z;
	CUcontext ctx;
	CUfunction f;
	CUdeviceptr s;
};

static void setup(const struct ptest_proxy *p, struct zone_k *k, const char *name, const char *text)
{
	CHECK_EQ(adv_open(p, &k->z, name, NULL), 0);
	CHECK_EQ(adv_init_ctx(&k->z, &k->ctx), CUDA_SUCCESS);
	CHECK_EQ(adv_ptx_function(&k->z, ptx, sizeof(ptx), "say", &k->f), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&k->z, &k->s, 64), CUDA_SUCCESS);
	CHECK_EQ(adv_htod(&k->z, k->s, text, strlen(text) + 1), CUDA_SUCCESS);
}

/* Launch say(s, times) and wait for it. */
static void say(struct zone_k *k, uint32_t times)
{
	struct { CUdeviceptr s; uint32_t times; } pk = { k->s, times };
	uint32_t lay[4] = { 0, 8, 8, 4 };
	unsigned one = 1, shm = 0, np = 2, na = 0, kind = VGPU_LAUNCH_PLAIN, pb = 12;
	CUstream st = NULL;
	const void *params = &pk, *attrs = NULL;
	const uint32_t *playout = lay;
	void *av[VGPU_LW_NARGS] = { &k->f, &one, &one, &one, &one, &one, &one, &shm, &st, &params, &pb,
				    &playout, &np, &attrs, &na, &kind };
	CHECK_EQ(adv_call(&k->z, &launch, av), 0);
	void *sv[1] = { NULL };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuCtxSynchronize, sv), CUDA_SUCCESS);
}

/* One VGPU_OP_OUTPUT asking for cap bytes of a stream; the CUresult, *len what came. */
static long take_stream(struct adv_zone *z, uint32_t stream, char *buf, uint32_t cap, uint32_t *len)
{
	char *bp = buf;
	uint32_t *lp = len;
	void *av[VGPU_OW_NARGS] = { [VGPU_OW_BYTES] = &bp, [VGPU_OW_CAP] = &cap, [VGPU_OW_STREAM] = &stream,
				    [VGPU_OW_LEN] = &lp };
	*len = 0;
	return adv_call(z, &vgpu_wire_output, av);
}

static long take(struct adv_zone *z, char *buf, uint32_t cap, uint32_t *len)
{
	return take_stream(z, VGPU_OUT_STDOUT, buf, cap, len);
}

int main(void)
{
	struct ptest_proxy p;
	static struct zone_k a, b;
	static char buf[VGPU_OUTPUT_STEP + 1];
	uint32_t len = 0;

	if (adv_start(&p, NULL) < 0)
		return 1;
	setup(&p, &a, "printer-a", "zone a speaks\n");
	setup(&p, &b, "printer-b", "zone b speaks\n");

	/* Each zone takes exactly what its own kernels printed, and then nothing more. */
	say(&a, 2);
	say(&b, 1);
	CHECK_EQ(take(&b.z, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
	CHECK_EQ(len, 14u);
	CHECK(!memcmp(buf, "zone b speaks\n", 14));
	CHECK_EQ(take(&a.z, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
	CHECK_EQ(len, 28u);
	CHECK(!memcmp(buf, "zone a speaks\nzone a speaks\n", 28));
	CHECK_EQ(take(&a.z, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
	CHECK_EQ(len, 0u);
	/* A small capacity takes a part; the rest stays, in order. */
	say(&a, 1);
	CHECK_EQ(take(&a.z, buf, 5, &len), CUDA_SUCCESS);
	CHECK_EQ(len, 5u);
	CHECK(!memcmp(buf, "zone ", 5));
	CHECK_EQ(take(&a.z, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
	CHECK_EQ(len, 9u);
	CHECK(!memcmp(buf, "a speaks\n", 9));
	/* More than a step at once (a request libvgpu's encoder would not even make: its bytes
	 * patched): a malformed message, which closes the channel. */
	say(&a, 1);
	{
		struct vgpu_wbuf wb = { 0 };
		struct vgpu_bulk_list bl;
		uint32_t cap = VGPU_OUTPUT_STEP, stream = VGPU_OUT_STDOUT;
		char *bp = buf;
		uint32_t *lp = &len;
		void *av[VGPU_OW_NARGS] = { [VGPU_OW_BYTES] = &bp, [VGPU_OW_CAP] = &cap, [VGPU_OW_STREAM] = &stream,
					    [VGPU_OW_LEN] = &lp };
		CHECK_EQ(vgpu_encode_request(&vgpu_wire_output, av, &wb, &bl), 0);
		int patched = 0;
		for (size_t i = 0; i + 2 < wb.len && !patched; i++)
			if (wb.data[i] == 0xcd && wb.data[i + 1] == (VGPU_OUTPUT_STEP >> 8) &&
			    wb.data[i + 2] == (VGPU_OUTPUT_STEP & 0xff)) {
				wb.data[i + 2] = 1;   /* VGPU_OUTPUT_STEP + 1 */
				patched = 1;
			}
		CHECK(patched);
		long r = adv_raw(&a.z, VGPU_OP_OUTPUT, 0, wb.data, (uint32_t)wb.len);
		CHECK(r < 0);   /* a malformed message: the channel is closed, its zone ends */
		vgpu_wbuf_free(&wb);
		CHECK(!adv_alive(&a.z));
	}

	/* A failed device assertion (in a zone of its own: it ends the context's work): its report,
	 * on the driver's stderr, is that zone's to take from the stderr stream, not from stdout,
	 * and names the assertion. */
	static struct zone_k c;
	setup(&p, &c, "asserter", "unused\n");
	{
		CUfunction ff = NULL;
		CHECK_EQ(adv_ptx_function(&c.z, ptx, sizeof(ptx), "fail", &ff), CUDA_SUCCESS);
		unsigned one = 1, shm = 0, np = 0, na = 0, kind = VGPU_LAUNCH_PLAIN, pb = 0;
		CUstream st = NULL;
		static const uint32_t none[2];
		const void *params = none, *attrs = NULL;
		const uint32_t *playout = none;
		void *av[VGPU_LW_NARGS] = { &ff, &one, &one, &one, &one, &one, &one, &shm, &st, &params, &pb,
					    &playout, &np, &attrs, &na, &kind };
		CHECK_EQ(adv_call(&c.z, &launch, av), 0);
		void *sv[1] = { NULL };
		CHECK_EQ(adv_call(&c.z, &vgpu_call_cuCtxSynchronize, sv), CUDA_ERROR_ASSERT);
		CHECK_EQ(take(&c.z, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
		CHECK_EQ(len, 0u);
		CHECK_EQ(take_stream(&c.z, VGPU_OUT_STDERR, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
		buf[len] = 0;
		CHECK(strstr(buf, "adv.cu:7: fail:") && strstr(buf, "Assertion `fails` failed."));
		CHECK_EQ(take_stream(&b.z, VGPU_OUT_STDERR, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
		CHECK_EQ(len, 0u);   /* nothing of it in the neighbour's */
		CHECK_EQ(take_stream(&c.z, 2, buf, VGPU_OUTPUT_STEP, &len), CUDA_ERROR_INVALID_VALUE);  /* no such stream */
		vgpu_chan_close(c.z.ch);
	}

	/* A flood never taken: b's worker keeps 1 MiB and drops the rest (81,000 lines of 14 bytes
	 * printed, 1,134,000 bytes); what b then takes is exactly the first 1 MiB of them. */
	say(&b, 81000);
	uint64_t total = 0;
	int ok = 1;
	for (;;) {
		CHECK_EQ(take(&b.z, buf, VGPU_OUTPUT_STEP, &len), CUDA_SUCCESS);
		if (!len)
			break;
		for (uint32_t i = 0; i < len && ok; i++)
			ok = buf[i] == "zone b speaks\n"[(total + i) % 14];
		total += len;
	}
	CHECK(ok);
	CHECK_EQ(total, (uint64_t)VGPU_OUTPUT_MAX);
	CHECK(adv_alive(&b.z));
	vgpu_chan_close(a.z.ch);
	vgpu_chan_close(b.z.ch);
	adv_wait_zones_ended(&p, 3);
	/* b's worker says how much it dropped: 1,134,000 printed, 1 MiB kept */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "grep -q '85424 bytes of device output (printf) were dropped' %s", p.log);
	CHECK_EQ(system(cmd), 0);
	adv_finish(&p);
	CHECK_DONE();
}
