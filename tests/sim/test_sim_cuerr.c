/* SPDX-License-Identifier: MIT */
/* cuGetErrorString/cuGetErrorName of libcudasim and runtime/cuerr.o's table: the CUDA 13 driver's
 * exact strings, a name and a string for every CUresult of cuda.h, NULL for unknown codes. */
#include "simtest.h"

#include "cuerr.h"

#include <stdint.h>

/* Every enumerator of cuda.h's CUresult, from $(B)/gen/cuerr_names.h (made apart from the table). */
#define CUERR_NAME(n) { n, #n },
static const struct {
	CUresult r;
	const char *name;
} all[] = {
#include "cuerr_names.h"
};
#undef CUERR_NAME
#define N_ALL (sizeof(all) / sizeof(all[0]))

/* What the real driver's cuGetErrorString returns for some well-known codes. */
static const struct {
	CUresult r;
	const char *text;
} known[] = {
	{ CUDA_SUCCESS, "no error" },
	{ CUDA_ERROR_INVALID_VALUE, "invalid argument" },
	{ CUDA_ERROR_OUT_OF_MEMORY, "out of memory" },
	{ CUDA_ERROR_NOT_INITIALIZED, "initialization error" },
	{ CUDA_ERROR_DEINITIALIZED, "driver shutting down" },
	{ CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected" },
	{ CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal" },
	{ CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid" },
	{ CUDA_ERROR_INVALID_CONTEXT, "invalid device context" },
	{ CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image is available for execution on the device" },
	{ CUDA_ERROR_INVALID_PTX, "a PTX JIT compilation failed" },
	{ CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "the provided PTX was compiled with an unsupported toolchain." },
	{ CUDA_ERROR_FILE_NOT_FOUND, "file not found" },
	{ CUDA_ERROR_INVALID_HANDLE, "invalid resource handle" },
	{ CUDA_ERROR_NOT_FOUND, "named symbol not found" },
	{ CUDA_ERROR_NOT_READY, "device not ready" },
	{ CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered" },
	{ CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch" },
	{ CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed" },
	{ CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned address" },
	{ CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure" },
	{ CUDA_ERROR_NOT_PERMITTED, "operation not permitted" },
	{ CUDA_ERROR_NOT_SUPPORTED, "operation not supported" },
	{ CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing" },
	{ CUDA_ERROR_UNKNOWN, "unknown error" },
};

static int is_code(long v)
{
	for (size_t i = 0; i < N_ALL; i++)
		if ((long)all[i].r == v)
			return 1;
	return 0;
}

/* An unknown code: CUDA_ERROR_INVALID_VALUE and *pStr set to NULL, as the driver documents. */
static void expect_unknown(CUresult r)
{
	const char *s = "untouched";
	if (cuGetErrorString(r, &s) != CUDA_ERROR_INVALID_VALUE || s != NULL) {
		fprintf(stderr, "cuGetErrorString(%d) is not INVALID_VALUE with NULL\n", (int)r);
		exit(1);
	}
	s = "untouched";
	if (cuGetErrorName(r, &s) != CUDA_ERROR_INVALID_VALUE || s != NULL) {
		fprintf(stderr, "cuGetErrorName(%d) is not INVALID_VALUE with NULL\n", (int)r);
		exit(1);
	}
	EXPECT(vgpu_cuerr_string(r) == NULL && vgpu_cuerr_name(r) == NULL);
}

int main(void)
{
	const char *s;

	/* the list from cuda.h is the whole enum, not a stray match */
	EXPECT(N_ALL >= 100);

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		s = NULL;
		CK(cuGetErrorString(known[i].r, &s));
		if (!s || strcmp(s, known[i].text) || strcmp(vgpu_cuerr_string(known[i].r), known[i].text)) {
			fprintf(stderr, "%s: libcudasim says '%s', the table '%s', the driver '%s'\n",
			        st_name(known[i].r), s ? s : "(null)", vgpu_cuerr_string(known[i].r),
			        known[i].text);
			exit(1);
		}
	}

	/* every code of cuda.h has its enum name and a string, the same in the library and the table */
	for (size_t i = 0; i < N_ALL; i++) {
		CUresult r = all[i].r;
		const char *name = NULL, *text = NULL;
		CK(cuGetErrorName(r, &name));
		CK(cuGetErrorString(r, &text));
		if (!name || strcmp(name, all[i].name) || !text || !*text) {
			fprintf(stderr, "%s (%d): name '%s', string '%s'\n", all[i].name, (int)r,
			        name ? name : "(null)", text ? text : "(null)");
			exit(1);
		}
		const char *tname = vgpu_cuerr_name(r), *ttext = vgpu_cuerr_string(r);
		if (!tname || strcmp(tname, all[i].name) || !ttext || strcmp(ttext, text)) {
			fprintf(stderr, "%s (%d): the table has name '%s', string '%s'\n", all[i].name,
			        (int)r, tname ? tname : "(null)", ttext ? ttext : "(null)");
			exit(1);
		}
	}

	/* nothing else is known: every other value in and around the enum's range, and far outside it */
	for (long v = -2; v <= 1100; v++)
		if (!is_code(v))
			expect_unknown((CUresult)v);
	expect_unknown((CUresult)123456);
	expect_unknown((CUresult)INT32_MAX);
	expect_unknown((CUresult)INT32_MIN);

	/* no pointer to write to */
	EXPECT(cuGetErrorString(CUDA_SUCCESS, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuGetErrorName(CUDA_SUCCESS, NULL) == CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuGetErrorString((CUresult)123456, NULL) == CUDA_ERROR_INVALID_VALUE);

	printf("test_sim_cuerr: ok (%zu codes)\n", N_ALL);
	return 0;
}
