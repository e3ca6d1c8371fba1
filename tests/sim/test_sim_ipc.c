/* SPDX-License-Identifier: MIT */
/* libcudasim's CUDA IPC between processes: a parent exports device memory and an
 * interprocess event, a child (forked before either made a CUDA call) opens them and works on
 * them with copies, memsets and kernels; the memory checks bound the child's accesses to the
 * exported bytes; handles that are altered, stale, of a dead process or of the caller's own
 * process open nothing; each side's event records are waited for by the other's streams. */
#include "simtest.h"

#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 10000u                /* bytes exported: not whole pages, not at a page boundary */

struct setup {
	CUipcMemHandle h;       /* the parent's buffer */
	CUipcMemHandle stale;   /* an allocation the parent freed after exporting it */
	CUipcMemHandle gone;    /* of a process that has exited */
	CUipcEventHandle eh;
	uint64_t buf_page_off;  /* the buffer's offset in its page */
};

static void put(int fd, const void *p, size_t n)
{
	EXPECT(write(fd, p, n) == (ssize_t)n);
}

static void get(int fd, void *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		EXPECT(r > 0);
		got += (size_t)r;
	}
}

static void say(int fd, char c) { put(fd, &c, 1); }

static void expect_word(int fd, char want)
{
	char c = 0;
	get(fd, &c, 1);
	if (c != want) {
		fprintf(stderr, "expected message '%c', got '%c'\n", want, c);
		exit(1);
	}
}

/* a stream's work holds here until *flag is set */
static void hold(void *flag)
{
	while (!__atomic_load_n((int *)flag, __ATOMIC_SEQ_CST))
		usleep(1000);
}

static void set_flag(void *flag)
{
	__atomic_store_n((int *)flag, 1, __ATOMIC_SEQ_CST);
}

/* Mappings of another process's memory in this one: its memfd's name in /proc/self/maps. */
static int ipc_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	EXPECT(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "vgpu-sim-ipc") != NULL;
	fclose(f);
	return n;
}

static CUipcMemHandle flipped(CUipcMemHandle h, size_t byte, unsigned char mask)
{
	h.reserved[byte] = (char)(h.reserved[byte] ^ mask);
	return h;
}

/* ---- a process that exports memory and exits ---- */

static int exporter_that_exits(int out)
{
	CUcontext ctx;
	CUdeviceptr p;
	CUipcMemHandle h;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuMemAlloc(&p, 4096));
	CK(cuIpcGetMemHandle(&h, p));
	put(out, &h, sizeof(h));
	return 0;
}

/* ---- the importing child ---- */

static void check_words(CUdeviceptr p, size_t n, uint32_t want)
{
	uint32_t *w = malloc(n);
	EXPECT(w);
	CK(cuMemcpyDtoH(w, p, n));
	for (size_t i = 0; i < n / 4; i++)
		if (w[i] != want) {
			fprintf(stderr, "word %zu: 0x%x, expected 0x%x\n", i, w[i], want);
			exit(1);
		}
	free(w);
}

static int child(int in, int out)
{
	CUcontext ctx;
	struct setup su;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	get(in, &su, sizeof(su));
	size_t free0, free1, total;
	CK(cuMemGetInfo(&free0, &total));

	/* handles that name nothing live: each opens nothing and maps nothing */
	CUdeviceptr p = 0, q = 0;
	static const struct { size_t byte; unsigned char mask; const char *what; } flips[] = {
		{0, 0x01, "magic"}, {7, 0x40, "pid"}, {8, 0x01, "fd"}, {12, 0x01, "slot"}, {16, 0x01, "inode"},
		{24, 0x01, "device"}, {32, 0x10, "offset"}, {40, 0x01, "size"}, {48, 0x01, "serial"},
		{56, 0x01, "nonce"},
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		CUresult r = cuIpcOpenMemHandle(&p, flipped(su.h, flips[i].byte, flips[i].mask), 0);
		if (r != CUDA_ERROR_INVALID_HANDLE) {
			fprintf(stderr, "a handle with its %s altered: %s\n", flips[i].what, st_name(r));
			exit(1);
		}
	}
	CUipcMemHandle junk;
	memset(&junk, 0x5a, sizeof(junk));
	CK_RC(cuIpcOpenMemHandle(&p, junk, 0), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuIpcOpenMemHandle(&p, su.stale, 0), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuIpcOpenMemHandle(&p, su.gone, 0), CUDA_ERROR_INVALID_HANDLE);
	EXPECT(p == 0);
	EXPECT(ipc_mappings() == 0);
	CK_RC(cuIpcOpenMemHandle(&p, su.h, 2), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuIpcOpenMemHandle(NULL, su.h, 0), CUDA_ERROR_INVALID_VALUE);

	/* the parent's buffer: what it wrote, at the same place in a page */
	CK(cuIpcOpenMemHandle(&p, su.h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	EXPECT(ipc_mappings() > 0);
	EXPECT(p % 4096 == su.buf_page_off);
	uint32_t w[N / 4];
	CK(cuMemcpyDtoH(w, p, N));
	for (unsigned i = 0; i < N / 4; i++)
		EXPECT(w[i] == 0xc0de0000u + i);
	CK(cuMemGetInfo(&free1, &total));
	EXPECT(free1 == free0);         /* not this process's device memory */
	CUdeviceptr base;
	size_t size;
	CK(cuMemGetAddressRange(&base, &size, p + 100));
	EXPECT(base == p && size == N);
	unsigned mt = 0;
	CK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p));
	EXPECT(mt == CU_MEMORYTYPE_DEVICE);
	size_t rs = 0;
	CK(cuPointerGetAttribute(&rs, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p + 8));
	EXPECT(rs == N);
	CK_RC(cuMemcpyDtoH(w, p, N + 4), CUDA_ERROR_INVALID_VALUE);    /* past the exported bytes */
	CK_RC(cuMemsetD32(p + N, 0, 1), CUDA_ERROR_INVALID_VALUE);

	/* opened twice: one pointer, two closes */
	CK(cuIpcOpenMemHandle(&q, su.h, 0));
	EXPECT(q == p);
	CK(cuIpcCloseMemHandle(q));
	CK(cuMemsetD32(p + N - 4, 7, 1));         /* still open */
	CK_RC(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuIpcCloseMemHandle(p + 4), CUDA_ERROR_INVALID_VALUE);
	CUdeviceptr own;
	CK(cuMemAlloc(&own, 4096));
	CK_RC(cuIpcCloseMemHandle(own), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuIpcCloseMemHandle(0), CUDA_ERROR_INVALID_VALUE);
	CK(cuIpcCloseMemHandle(p));
	CK_RC(cuMemsetD32(p, 0, 1), CUDA_ERROR_INVALID_VALUE);      /* gone */
	CK_RC(cuIpcCloseMemHandle(p), CUDA_ERROR_INVALID_VALUE);
	EXPECT(ipc_mappings() == 0);

	/* writes the parent sees: a memset, a copy, a kernel's store at the last word */
	CK(cuIpcOpenMemHandle(&p, su.h, 0));
	CK(cuMemsetD32(p, 0x11223344u, 4));
	unsigned char ab[16];
	memset(ab, 0xab, sizeof(ab));
	CK(cuMemcpyHtoD(p + 64, ab, sizeof(ab)));
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CUmodule mod;
	CK(cuModuleLoadData(&mod, img));
	CUfunction oob;
	CK(cuModuleGetFunction(&oob, mod, "oob_write"));
	long long off = N / 4 - 1;
	void *args[] = {&p, &off};
	CK(st_launch1(oob, args));
	say(out, 'W');

	/* the parent's event, recorded behind work held back: pending here until it runs */
	CUevent ev, plain;
	expect_word(in, 'R');
	CK(cuIpcOpenEventHandle(&ev, su.eh));
	CK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	CUstream cs;
	CK(cuStreamCreate(&cs, CU_STREAM_NON_BLOCKING));
	CK(cuStreamWaitEvent(cs, ev, 0));
	int passed = 0;
	CK(cuLaunchHostFunc(cs, set_flag, &passed));
	usleep(100000);
	EXPECT(!__atomic_load_n(&passed, __ATOMIC_SEQ_CST));
	CK_RC(cuStreamQuery(cs), CUDA_ERROR_NOT_READY);
	CK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	say(out, 'w');
	CK(cuEventSynchronize(ev));
	CK(cuEventQuery(ev));
	CK(cuStreamSynchronize(cs));
	EXPECT(__atomic_load_n(&passed, __ATOMIC_SEQ_CST));
	check_words(p, N, 0xa5a5a5a5u);          /* the parent's memset came before its record */

	/* this side records it, behind held work: the parent waits for it */
	expect_word(in, 'G');
	int gate = 0;
	CK(cuLaunchHostFunc(cs, hold, &gate));
	CK(cuMemsetD32Async(p, 0x5a5a5a5au, N / 4, cs));
	CK(cuEventRecord(ev, cs));
	CK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	say(out, 'r');
	expect_word(in, 'g');
	__atomic_store_n(&gate, 1, __ATOMIC_SEQ_CST);
	CK(cuStreamSynchronize(cs));
	CK(cuEventQuery(ev));
	CK_RC(cuIpcOpenEventHandle(NULL, su.eh), CUDA_ERROR_INVALID_VALUE);
	CUipcEventHandle ejunk = su.eh;
	ejunk.reserved[0] ^= 1;
	CK_RC(cuIpcOpenEventHandle(&plain, ejunk), CUDA_ERROR_INVALID_HANDLE);
	ejunk = su.eh;
	ejunk.reserved[16] ^= 1;                 /* its inode */
	CK_RC(cuIpcOpenEventHandle(&plain, ejunk), CUDA_ERROR_INVALID_HANDLE);
	ejunk = su.eh;
	ejunk.reserved[32] ^= 1;                 /* its nonce */
	CK_RC(cuIpcOpenEventHandle(&plain, ejunk), CUDA_ERROR_INVALID_HANDLE);
	CK(cuEventDestroy(ev));
	CK(cuStreamDestroy(cs));
	CK(cuIpcCloseMemHandle(p));
	CK(cuModuleUnload(mod));

	expect_word(in, 'C');
	/* in a context of its own: a kernel's store 4 bytes past the exported ones faults, as
	 * past any allocation; the context's end unmaps what it opened */
	CUcontext c2;
	CK(cuCtxCreate(&c2, NULL, 0, 0));
	CK(cuIpcOpenMemHandle(&q, su.h, 0));
	EXPECT(ipc_mappings() > 0);
	CK(cuModuleLoadData(&mod, img));
	CK(cuModuleGetFunction(&oob, mod, "oob_write"));
	void *qargs[] = {&q, &off};
	off = N / 4 - 1;
	CK(st_launch1(oob, qargs));
	off = N / 4;
	CK_RC(st_launch1(oob, qargs), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK(cuCtxDestroy(c2));
	EXPECT(ipc_mappings() == 0);
	free(img);
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemFree(own));
	CK(cuCtxDestroy(ctx));
	say(out, 'D');
	return 0;
}

/* ---- the exporting parent ---- */

static long long file_bytes(int fd)
{
	struct stat st;
	EXPECT(fstat(fd, &st) == 0);
	return (long long)st.st_blocks * 512;
}

int main(void)
{
	int p2c[2], c2p[2], gone[2];
	EXPECT(pipe(p2c) == 0 && pipe(c2p) == 0 && pipe(gone) == 0);
	fflush(NULL);
	/* both before any CUDA call here; each ends with this process, should it fail first, and
	 * each closes the pipe ends it does not use, so that one side's end is the other's EOF */
	pid_t ex = fork();
	EXPECT(ex >= 0);
	if (ex == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p2c[0]), close(p2c[1]), close(c2p[0]), close(c2p[1]), close(gone[0]);
		_exit(exporter_that_exits(gone[1]));
	}
	pid_t kid = fork();
	EXPECT(kid >= 0);
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p2c[1]), close(c2p[0]), close(gone[0]), close(gone[1]);
		_exit(child(p2c[0], c2p[1]));
	}
	close(p2c[0]), close(c2p[1]), close(gone[1]);
	int in = c2p[0], out = p2c[1];

	CUcontext ctx;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	int v = 0;
	CK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED, 0));
	EXPECT(v == 1);
	struct setup su;
	memset(&su, 0, sizeof(su));
	get(gone[0], &su.gone, sizeof(su.gone));
	int st;
	EXPECT(waitpid(ex, &st, 0) == ex && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* the buffer, after a small allocation so that it starts inside a page */
	CUdeviceptr small, buf;
	CK(cuMemAlloc(&small, 256));
	CK(cuMemAlloc(&buf, N));
	EXPECT(buf % 4096 != 0);
	su.buf_page_off = buf % 4096;
	uint32_t w[N / 4];
	for (unsigned i = 0; i < N / 4; i++)
		w[i] = 0xc0de0000u + i;
	CK(cuMemcpyHtoD(buf, w, N));

	/* only the base of cuMemAlloc memory is exported; each export gives the same bytes */
	CUipcMemHandle h2, h3;
	CK(cuIpcGetMemHandle(&su.h, buf));
	CK(cuIpcGetMemHandle(&h2, buf));
	EXPECT(memcmp(&su.h, &h2, sizeof(h2)) == 0);
	CK(cuMemcpyDtoH(w, buf, N));           /* sharing it changed nothing here */
	for (unsigned i = 0; i < N / 4; i++)
		EXPECT(w[i] == 0xc0de0000u + i);
	int cap = 0;
	CK(cuPointerGetAttribute(&cap, CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE, buf));
	EXPECT(cap == 1);
	CK_RC(cuIpcGetMemHandle(NULL, buf), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuIpcGetMemHandle(&h3, buf + 256), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuIpcGetMemHandle(&h3, 0), CUDA_ERROR_INVALID_VALUE);
	void *pinned;
	CK(cuMemAllocHost(&pinned, 4096));
	CK_RC(cuIpcGetMemHandle(&h3, (CUdeviceptr)(uintptr_t)pinned), CUDA_ERROR_INVALID_VALUE);
	CUdeviceptr managed, pooled;
	CK(cuMemAllocManaged(&managed, 4096, CU_MEM_ATTACH_GLOBAL));
	CK_RC(cuIpcGetMemHandle(&h3, managed), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemAllocAsync(&pooled, 4096, NULL));
	CK_RC(cuIpcGetMemHandle(&h3, pooled), CUDA_ERROR_INVALID_VALUE);
	cap = 1;
	CK(cuPointerGetAttribute(&cap, CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE, pooled));
	EXPECT(cap == 0);
	CK(cuMemFreeAsync(pooled, NULL));
	CK(cuCtxSynchronize());                /* its place is free again before t1 is made */
	CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
				    .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
	size_t gran;
	CK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	CUdeviceptr va;
	CUmemGenericAllocationHandle ph;
	CK(cuMemAddressReserve(&va, gran, 0, 0, 0));
	CK(cuMemCreate(&ph, gran, &prop, 0));
	CK(cuMemMap(va, gran, 0, ph, 0));
	CK_RC(cuIpcGetMemHandle(&h3, va), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemUnmap(va, gran));
	CK(cuMemRelease(ph));
	CK(cuMemAddressFree(va, gran));
	/* a process opens no handle of its own */
	CUdeviceptr self;
	CK_RC(cuIpcOpenMemHandle(&self, su.h, 0), CUDA_ERROR_INVALID_CONTEXT);

	/* a new allocation where an exported one was is another export */
	CUdeviceptr t1, t2;
	CK(cuMemAlloc(&t1, 3 << 20));
	CK(cuIpcGetMemHandle(&su.stale, t1));
	/* shared memory that is freed goes back: the memfd the handle names (its descriptor,
	 * bytes 8..11, is this process's) holds its pages until then */
	int32_t mfd;
	memcpy(&mfd, su.stale.reserved + 8, sizeof(mfd));
	long long held0 = file_bytes(mfd);
	CK(cuMemsetD8(t1, 1, 3 << 20));
	long long held1 = file_bytes(mfd);
	EXPECT(held1 >= held0 + (3 << 20) - 8192);
	CK(cuMemFree(t1));
	EXPECT(file_bytes(mfd) <= held1 - (3 << 20) + 8192);
	CK(cuMemAlloc(&t2, 3 << 20));
	EXPECT(t2 == t1);
	CK(cuIpcGetMemHandle(&h3, t2));
	EXPECT(memcmp(&h3, &su.stale, sizeof(h3)) != 0);

	/* the interprocess event; an ordinary one has no handle */
	CUevent ev, plain;
	CK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS));
	CK(cuEventCreate(&plain, CU_EVENT_DISABLE_TIMING));
	CUipcEventHandle eh2;
	CK_RC(cuIpcGetEventHandle(&eh2, plain), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuIpcGetEventHandle(NULL, ev), CUDA_ERROR_INVALID_VALUE);
	CK(cuIpcGetEventHandle(&su.eh, ev));
	CK(cuIpcGetEventHandle(&eh2, ev));
	EXPECT(memcmp(&su.eh, &eh2, sizeof(eh2)) == 0);
	CUevent mine;
	CK_RC(cuIpcOpenEventHandle(&mine, su.eh), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuEventQuery(ev));                  /* never recorded: complete */
	CK(cuEventSynchronize(ev));
	put(out, &su, sizeof(su));

	/* what the child wrote */
	expect_word(in, 'W');
	CK(cuMemcpyDtoH(w, buf, N));
	for (unsigned i = 0; i < N / 4; i++) {
		uint32_t want = i < 4 ? 0x11223344u : i >= 16 && i < 20 ? 0xababababu : i == N / 4 - 1 ? 1u
			      : 0xc0de0000u + i;
		if (w[i] != want) {
			fprintf(stderr, "word %u: 0x%x, expected 0x%x\n", i, w[i], want);
			return 1;
		}
	}

	/* a record behind held work, which the child waits for */
	CUstream s, s2;
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	int gate = 0;
	CK(cuLaunchHostFunc(s, hold, &gate));
	CK(cuMemsetD32Async(buf, 0xa5a5a5a5u, N / 4, s));
	CK(cuEventRecord(ev, s));
	CK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	say(out, 'R');
	expect_word(in, 'w');
	CK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	__atomic_store_n(&gate, 1, __ATOMIC_SEQ_CST);
	CK(cuEventSynchronize(ev));
	CK(cuEventQuery(ev));
	say(out, 'G');              /* (the child records it next, which would make it pending) */

	/* the child's record: this process's stream waits for it */
	expect_word(in, 'r');
	CK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	CK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
	CK(cuStreamWaitEvent(s2, ev, 0));
	int passed = 0;
	CK(cuLaunchHostFunc(s2, set_flag, &passed));
	usleep(100000);
	EXPECT(!__atomic_load_n(&passed, __ATOMIC_SEQ_CST));
	CK_RC(cuStreamQuery(s2), CUDA_ERROR_NOT_READY);
	say(out, 'g');
	CK(cuEventSynchronize(ev));
	CK(cuEventQuery(ev));
	CK(cuStreamSynchronize(s2));
	EXPECT(__atomic_load_n(&passed, __ATOMIC_SEQ_CST));
	CK(cuMemcpyDtoH(w, buf, N));
	for (unsigned i = 0; i < N / 4; i++)
		EXPECT(w[i] == 0x5a5a5a5au);
	say(out, 'C');              /* (the child writes it again next) */

	expect_word(in, 'D');
	EXPECT(waitpid(kid, &st, 0) == kid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "the importing process failed (status 0x%x)\n", st);
		return 1;
	}
	CK(cuStreamDestroy(s));
	CK(cuStreamDestroy(s2));
	CK(cuEventDestroy(ev));
	CK(cuEventDestroy(plain));
	CK(cuMemFree(buf));
	CK(cuMemFree(small));
	CK(cuMemFree(t2));
	CK(cuMemFree(managed));
	CK(cuMemFreeHost(pinned));
	CK(cuCtxDestroy(ctx));
	printf("test_sim_ipc: memory and events shared between two processes\n");
	return 0;
}
