/* SPDX-License-Identifier: MIT */
/*
 * ipc_zones.c — IPC handles cross zones only within one registration (tests/isolation/ipc.sh).
 *
 * The parent is a zone of registration A ($VGPU_TEST_TOKEN_A): it exports device memory and an
 * event. Forked children (each its own process, so its own zone) then try them: one of
 * registration B ($VGPU_TEST_TOKEN_B) and one without a registration get nothing; one of A
 * opens them, but only what was exported, within its size, and cannot free, close or reach
 * anything else; forged handles name nothing; a freed allocation's handle and an ended zone's
 * handles open nothing any more; the registration's table of exports is bounded. Exit 0 when
 * every check holds; each failure prints what was expected.
 */
#include <cuda.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *rname(CUresult r)
{
	const char *n = NULL;
	return cuGetErrorName(r, &n) == CUDA_SUCCESS && n ? n : "?";
}

static int failures;

#define EXPECT_RC(call, want) do { CUresult r_ = (call); if (r_ != (want)) { \
	printf("FAIL %s:%d: %s: %s, expected %s\n", __FILE__, __LINE__, #call, rname(r_), rname(want)); \
	failures++; } } while (0)
#define EXPECT(cond, ...) do { if (!(cond)) { printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
	printf(__VA_ARGS__); printf("\n"); failures++; } } while (0)
#define CK(call) EXPECT_RC(call, CUDA_SUCCESS)

#define BYTES (1u << 20)

static CUipcMemHandle mh;
static CUipcEventHandle eh;
static CUdeviceptr exported;

static void zone_open(CUcontext *ctx)
{
	CUdevice dev;
	CUresult r = cuInit(0);
	if (r == CUDA_SUCCESS)
		r = cuDeviceGet(&dev, 0);
	if (r == CUDA_SUCCESS)
		r = cuCtxCreate(ctx, NULL, 0, dev);
	if (r != CUDA_SUCCESS) {
		printf("FAIL: a zone did not open: %s\n", rname(r));
		fflush(stdout);
		_exit(1);
	}
}

/* Run fn in a child process whose zone is opened with token (NULL: none); its failure count. */
static int in_child(const char *what, const char *token, int (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (token)
			setenv("VGPU_ZONE_TOKEN", token, 1);
		else
			unsetenv("VGPU_ZONE_TOKEN");
		failures = 0;
		int f = fn();
		fflush(stdout);
		_exit(f > 100 ? 100 : f);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		printf("FAIL: %s: the child did not end normally (status 0x%x)\n", what, st);
		return 1;
	}
	if (WEXITSTATUS(st) == 0)
		printf("ok: %s\n", what);
	return WEXITSTATUS(st);
}

static int other_registration(void)
{
	CUcontext ctx;
	CUdeviceptr p = 0;
	CUevent ev = NULL;
	zone_open(&ctx);
	EXPECT_RC(cuIpcOpenMemHandle(&p, mh, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_HANDLE);
	EXPECT(p == 0, "a pointer came back: 0x%llx", (unsigned long long)p);
	EXPECT_RC(cuIpcOpenEventHandle(&ev, eh), CUDA_ERROR_INVALID_HANDLE);
	/* nor does the exporter's address mean anything here */
	unsigned char b[16];
	EXPECT(cuMemcpyDtoH(b, exported, sizeof(b)) != CUDA_SUCCESS, "the other registration's memory was read");
	return failures;
}

static int no_registration(void)
{
	CUcontext ctx;
	CUdeviceptr p = 0, mine;
	CUipcMemHandle h;
	int v = -1;
	zone_open(&ctx);
	EXPECT_RC(cuIpcOpenMemHandle(&p, mh, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_NOT_SUPPORTED);
	CK(cuMemAlloc(&mine, 4096));
	EXPECT_RC(cuIpcGetMemHandle(&h, mine), CUDA_ERROR_NOT_SUPPORTED);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED, 0));
	EXPECT(v == 0, "a zone without a registration is told it has IPC events (%d)", v);
	return failures;
}

static int same_registration(void)
{
	CUcontext ctx;
	CUdeviceptr p = 0, p2 = 0, mine;
	CUevent ev = NULL;
	CUipcMemHandle f;
	unsigned char *h = malloc(BYTES);
	int v = -1;
	zone_open(&ctx);
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED, 0));
	EXPECT(v == 1, "a zone of a registration is told it has no IPC events (%d)", v);
	/* forged: the nonce, the index, the kind, the magic */
	static const int at[] = { 20, 8, 6, 0 };
	for (unsigned k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		f = mh;
		f.reserved[at[k]] ^= 1;
		p = 0;
		EXPECT_RC(cuIpcOpenMemHandle(&p, f, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_HANDLE);
		EXPECT(p == 0, "byte %d changed: a pointer came back", at[k]);
	}
	CUipcEventHandle fe;
	memcpy(&fe, &mh, sizeof(fe));   /* a memory handle is no event handle */
	EXPECT_RC(cuIpcOpenEventHandle(&ev, fe), CUDA_ERROR_INVALID_HANDLE);
	EXPECT_RC(cuIpcOpenMemHandle(&p, mh, 2), CUDA_ERROR_INVALID_VALUE);

	CK(cuIpcOpenMemHandle(&p, mh, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	CK(cuIpcOpenMemHandle(&p2, mh, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	EXPECT(p == p2, "opened twice: 0x%llx and 0x%llx", (unsigned long long)p, (unsigned long long)p2);
	CK(cuMemcpyDtoH(h, p, BYTES));
	unsigned bad = 0;
	for (unsigned i = 0; i < BYTES; i++)
		bad += h[i] != (unsigned char)(i * 13 + 5);
	EXPECT(bad == 0, "%u bytes of the exported memory differ from what the exporter wrote", bad);
	/* within the exported bytes only */
	EXPECT(cuMemcpyDtoH(h, p + BYTES - 8, 16) != CUDA_SUCCESS, "a copy past the exported bytes went through");
	EXPECT(cuMemsetD8(p + BYTES, 0, 1) != CUDA_SUCCESS, "a memset just past the exported bytes went through");
	CK(cuMemsetD8(p + 4096, 0xab, 16));
	/* not the importer's to free; its own memory is not closed as an import */
	CK(cuMemAlloc(&mine, 4096));
	CK(cuMemsetD8(mine, 0x5a, 4096));
	EXPECT_RC(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
	EXPECT_RC(cuIpcCloseMemHandle(mine), CUDA_ERROR_INVALID_VALUE);
	EXPECT_RC(cuIpcCloseMemHandle(p + 256), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemcpyDtoH(h, mine, 4096));
	EXPECT(h[0] == 0x5a && h[4095] == 0x5a, "the importer's own memory changed");
	/* an imported handle is not exported again from here */
	CUipcMemHandle re;
	EXPECT_RC(cuIpcGetMemHandle(&re, p), CUDA_ERROR_INVALID_VALUE);
	CK(cuIpcOpenEventHandle(&ev, eh));
	CK(cuEventSynchronize(ev));
	CK(cuEventDestroy(ev));
	CK(cuIpcCloseMemHandle(p));
	CK(cuMemcpyDtoH(h, p, 16));   /* opened twice: still there after one close */
	CK(cuIpcCloseMemHandle(p));
	EXPECT(cuMemcpyDtoH(h, p, 16) != CUDA_SUCCESS, "closed memory is still reachable");
	EXPECT_RC(cuIpcCloseMemHandle(p), CUDA_ERROR_INVALID_VALUE);
	free(h);
	return failures;
}

static int opens_nothing(void)
{
	CUcontext ctx;
	CUdeviceptr p = 0;
	CUevent ev = NULL;
	zone_open(&ctx);
	EXPECT_RC(cuIpcOpenMemHandle(&p, mh, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_HANDLE);
	EXPECT_RC(cuIpcOpenEventHandle(&ev, eh), CUDA_ERROR_INVALID_HANDLE);
	return failures;
}

/* Export, hand the handles over a pipe, end. */
static int pipe_w = -1;
static int export_and_end(void)
{
	CUcontext ctx;
	CUdeviceptr p;
	CUevent ev;
	zone_open(&ctx);
	CK(cuMemAlloc(&p, 4096));
	CK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS));
	CK(cuIpcGetMemHandle(&mh, p));
	CK(cuIpcGetEventHandle(&eh, ev));
	if (write(pipe_w, &mh, sizeof(mh)) != sizeof(mh) || write(pipe_w, &eh, sizeof(eh)) != sizeof(eh))
		failures++;
	return failures;   /* the zone ends with the process: nothing freed by hand */
}

/* An ended zone's exports open nothing once its worker has let them go (it notices the
 * process is gone within a liveness period): retried for up to 10 s. */
static int opens_nothing_eventually(void)
{
	CUcontext ctx;
	CUdeviceptr p = 0;
	CUresult r = CUDA_SUCCESS;
	zone_open(&ctx);
	for (int i = 0; i < 200; i++) {
		r = cuIpcOpenMemHandle(&p, mh, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
		if (r != CUDA_SUCCESS)
			break;
		cuIpcCloseMemHandle(p);
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	EXPECT(r == CUDA_ERROR_INVALID_HANDLE, "an ended zone's export: %s, expected CUDA_ERROR_INVALID_HANDLE", rname(r));
	CUevent ev = NULL;
	EXPECT_RC(cuIpcOpenEventHandle(&ev, eh), CUDA_ERROR_INVALID_HANDLE);
	return failures;
}

int main(int argc, char **argv)
{
	const char *a = getenv("VGPU_TEST_TOKEN_A"), *b = getenv("VGPU_TEST_TOKEN_B");
	if (argc > 1 || !a || !b) {
		(void)argv;
		fprintf(stderr, "usage: VGPU_TEST_TOKEN_A=T VGPU_TEST_TOKEN_B=T ipc_zones  (run by tests/isolation/ipc.sh)\n");
		return 2;
	}
	int bad = 0;
	{
		/* the exporter's zone lives in a child too, so that the parent never opens one and
		 * every child's zone is a zone of its own (fork after cuInit is not CUDA's way) */
		int ready[2], go[2];
		if (pipe(ready) || pipe(go))
			return 2;
		fflush(stdout);
		pid_t exp = fork();
		if (exp == 0) {
			CUcontext ctx;
			CUevent ev;
			setenv("VGPU_ZONE_TOKEN", a, 1);
			zone_open(&ctx);
			unsigned char *h = malloc(BYTES);
			for (unsigned i = 0; i < BYTES; i++)
				h[i] = (unsigned char)(i * 13 + 5);
			CK(cuMemAlloc(&exported, BYTES));
			CK(cuMemcpyHtoD(exported, h, BYTES));
			CK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS));
			CK(cuEventRecord(ev, NULL));
			CK(cuIpcGetMemHandle(&mh, exported));
			CK(cuIpcGetEventHandle(&eh, ev));
			CUipcMemHandle again;
			CK(cuIpcGetMemHandle(&again, exported));
			EXPECT(!memcmp(&again, &mh, sizeof(mh)), "two exports of one allocation gave two handles");
			CUdeviceptr self = 0;
			EXPECT_RC(cuIpcOpenMemHandle(&self, mh, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_CONTEXT);
			EXPECT_RC(cuIpcGetMemHandle(&again, exported + 64), CUDA_ERROR_INVALID_VALUE);
			/* the registration's table is bounded: fill what is left of it, then one more */
			static CUdeviceptr many[1100];
			unsigned n = 0;
			CUresult r = CUDA_SUCCESS;
			for (; n < 1100 && r == CUDA_SUCCESS; n++) {
				CUipcMemHandle x;
				CK(cuMemAlloc(&many[n], 256));
				r = cuIpcGetMemHandle(&x, many[n]);
			}
			EXPECT(r == CUDA_ERROR_OUT_OF_MEMORY && n == 1023, "export %u answered %s, expected the 1023rd "
			       "(the table's 1024 entries less the two held) to be CUDA_ERROR_OUT_OF_MEMORY", n, rname(r));
			for (unsigned i = 0; i < n; i++)
				CK(cuMemFree(many[i]));    /* and freeing gives the entries back */
			CUdeviceptr one;
			CUipcMemHandle x;
			CK(cuMemAlloc(&one, 256));
			CK(cuIpcGetMemHandle(&x, one));
			CK(cuMemFree(one));
			if (write(ready[1], &exported, sizeof(exported)) != sizeof(exported) ||
			    write(ready[1], &mh, sizeof(mh)) != sizeof(mh) || write(ready[1], &eh, sizeof(eh)) != sizeof(eh) ||
			    write(ready[1], &failures, sizeof(failures)) != sizeof(failures))
				_exit(1);
			char c;
			if (read(go[0], &c, 1) != 1)   /* the others have tried: free and destroy, then wait */
				_exit(1);
			CK(cuMemFree(exported));
			CK(cuEventDestroy(ev));
			if (write(ready[1], &failures, sizeof(failures)) != sizeof(failures))
				_exit(1);
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			fflush(stdout);
			_exit(failures ? 1 : 0);
		}
		int ef = 0;
		if (exp < 0 || read(ready[0], &exported, sizeof(exported)) != sizeof(exported) ||
		    read(ready[0], &mh, sizeof(mh)) != sizeof(mh) || read(ready[0], &eh, sizeof(eh)) != sizeof(eh) ||
		    read(ready[0], &ef, sizeof(ef)) != sizeof(ef)) {
			printf("FAIL: the exporting zone did not start\n");
			return 1;
		}
		bad += ef;
		if (!ef)
			printf("ok: exported: the same handle twice, its own handle refused (CUDA_ERROR_INVALID_CONTEXT), "
			       "an interior pointer refused, the table bounded (CUDA_ERROR_OUT_OF_MEMORY) and given back\n");
		bad += in_child("a zone of another registration opens nothing", b, other_registration);
		bad += in_child("a zone without a registration can neither open nor export", NULL, no_registration);
		bad += in_child("a zone of the same registration opens exactly what was exported", a, same_registration);
		char c = 'g';
		if (write(go[1], &c, 1) != 1 || read(ready[0], &ef, sizeof(ef)) != sizeof(ef))
			return 1;
		bad += in_child("a freed allocation's and a destroyed event's handles open nothing", a, opens_nothing);
		if (write(go[1], &c, 1) != 1)
			return 1;
		int st = 0;
		waitpid(exp, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("FAIL: the exporting zone failed (status 0x%x)\n", st);
			bad++;
		}
	}
	{
		int p[2];
		if (pipe(p))
			return 2;
		pipe_w = p[1];
		bad += in_child("a zone exports and ends", a, export_and_end);
		if (read(p[0], &mh, sizeof(mh)) != sizeof(mh) || read(p[0], &eh, sizeof(eh)) != sizeof(eh)) {
			printf("FAIL: no handles from the zone that ended\n");
			return 1;
		}
		bad += in_child("an ended zone's exports open nothing", a, opens_nothing_eventually);
	}
	printf("%s\n", bad ? "FAIL ipc_zones" : "PASS ipc_zones");
	return bad ? 1 : 0;
}
