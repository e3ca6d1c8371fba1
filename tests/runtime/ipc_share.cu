/* SPDX-License-Identifier: MIT */
/* ipc_share.cu — device memory and events shared between processes with IPC handles (simpleIPC's and PyTorch's pattern). */
#include <cstdint>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"

/*
 * What torch.multiprocessing does with a CUDA tensor and the CUDA samples' simpleIPC: a
 * producer process allocates device memory, records an interprocess event after the kernel
 * that fills it and sends both IPC handles to a consumer process (here through a pipe). The
 * consumer opens them, makes its stream wait for the producer's event, works on the memory in
 * place with its own kernel, records the event again and says so; the producer waits on the
 * event and checks what the consumer wrote. Each process initialises CUDA itself (the child
 * is forked before any CUDA call, as a CUDA context does not survive fork).
 */

__global__ void fill(int *p, int n, int mul)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = i * mul;
}

/* One thread holding the stream for about ms milliseconds of the device's clock, so that what
 * follows on the stream is still to come when the consumer gets the handles. */
__global__ void hold(long long cycles)
{
	long long t0 = clock64();
	while (clock64() - t0 < cycles)
		;
}

__global__ void twice_plus_one(int *p, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = p[i] * 2 + 1;
}

struct msg {
	cudaIpcMemHandle_t mem;
	cudaIpcEventHandle_t ev;
	int n;
};

static void xwrite(int fd, const void *p, size_t len)
{
	EXPECT(write(fd, p, len) == (ssize_t)len, "write to the pipe");
}

static void xread(int fd, void *p, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, (char *)p + got, len - got);
		EXPECT(r > 0, "read from the pipe (%zu of %zu bytes)", got, len);
		got += (size_t)r;
	}
}

/* The consumer: everything it checks, it says on its own stdout before its result byte. */
static int consumer(int rfd, int wfd)
{
	struct msg m;
	xread(rfd, &m, sizeof(m));
	int *p = nullptr, *again = nullptr;
	CHECK(cudaIpcOpenMemHandle((void **)&p, m.mem, cudaIpcMemLazyEnablePeerAccess));
	CHECK(cudaIpcOpenMemHandle((void **)&again, m.mem, cudaIpcMemLazyEnablePeerAccess));
	EXPECT(again == p, "a handle opened twice in one context gives the same pointer (%p, %p)", (void *)p,
	       (void *)again);
	cudaEvent_t ev;
	CHECK(cudaIpcOpenEventHandle(&ev, m.ev));
	cudaStream_t s;
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CHECK(cudaStreamWaitEvent(s, ev, 0));   /* the producer's fill is done before this stream goes on */

	/* what the producer wrote, then this process's kernel in place */
	int *h = (int *)malloc(m.n * sizeof(int));
	EXPECT(h, "malloc");
	CHECK(cudaMemcpyAsync(h, p, m.n * sizeof(int), cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < m.n; i++)
		EXPECT(h[i] == i * 3, "consumer: element %d of the shared memory is %d, expected %d", i, h[i], i * 3);
	printf("consumer: %d values the producer wrote read through the IPC handle\n", m.n);
	twice_plus_one<<<(m.n + 255) / 256, 256, 0, s>>>(p, m.n);
	CHECK(cudaGetLastError());
	/* a copy with the direction left to the runtime: the opened pointer is device memory */
	int tail[4];
	CHECK(cudaMemcpyAsync(tail, p + m.n - 4, sizeof(tail), cudaMemcpyDefault, s));
	CHECK(cudaEventRecord(ev, s));
	CHECK(cudaStreamSynchronize(s));
	for (int k = 0; k < 4; k++)
		EXPECT(tail[k] == (m.n - 4 + k) * 6 + 1, "consumer: tail %d is %d", k, tail[k]);
	printf("consumer: kernel on the shared memory done, event recorded\n");

	/* a handle that names nothing: every byte changed */
	cudaIpcMemHandle_t bad = m.mem;
	for (size_t k = 0; k < sizeof(bad.reserved); k++)
		bad.reserved[k] = (char)~bad.reserved[k];
	int *q = nullptr;
	cudaError_t e = cudaIpcOpenMemHandle((void **)&q, bad, cudaIpcMemLazyEnablePeerAccess);
	EXPECT(e != cudaSuccess && q == nullptr, "a forged handle opened (%s)", cudaGetErrorName(e));
	printf("consumer: a forged handle is refused\n");
	cudaGetLastError();
	CHECK(cudaIpcCloseMemHandle(again));
	CHECK(cudaIpcCloseMemHandle(p));
	e = cudaIpcCloseMemHandle(p);
	EXPECT(e != cudaSuccess, "a third close of a handle opened twice succeeded");
	cudaGetLastError();
	printf("consumer: opened twice, closed twice, a third close refused\n");
	CHECK(cudaEventDestroy(ev));
	CHECK(cudaStreamDestroy(s));
	free(h);
	char done = 'y';
	fflush(stdout);   /* its lines before the producer's next ones */
	xwrite(wfd, &done, 1);
	return 0;
}

int main()
{
	int to_child[2], to_parent[2];
	EXPECT(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipe");
	fflush(stdout);
	pid_t pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		int rc = consumer(to_child[0], to_parent[1]);
		fflush(stdout);
		_exit(rc);
	}
	close(to_child[0]);
	close(to_parent[1]);

	const int n = 100000;
	int *d = nullptr;
	CHECK(cudaMalloc(&d, n * sizeof(int)));
	CHECK(cudaMemset(d, 0, n * sizeof(int)));
	cudaEvent_t ev;
	CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming | cudaEventInterprocess));

	struct msg m;
	memset(&m, 0, sizeof(m));
	m.n = n;
	CHECK(cudaIpcGetMemHandle(&m.mem, d));
	CHECK(cudaIpcGetEventHandle(&m.ev, ev));
	cudaIpcMemHandle_t again;
	CHECK(cudaIpcGetMemHandle(&again, d));
	EXPECT(memcmp(&again, &m.mem, sizeof(again)) == 0, "two handles of one allocation differ");
	printf("producer: two handles of one allocation are the same bytes\n");

	/* what only another process may do, and what cannot be exported */
	int *mine = nullptr;
	cudaError_t e = cudaIpcOpenMemHandle((void **)&mine, m.mem, cudaIpcMemLazyEnablePeerAccess);
	EXPECT(e == cudaErrorDeviceUninitialized, "opening its own handle: %s, expected cudaErrorDeviceUninitialized",
	       cudaGetErrorName(e));
	cudaGetLastError();
	cudaEvent_t timed;
	CHECK(cudaEventCreate(&timed));
	cudaIpcEventHandle_t eh2;
	e = cudaIpcGetEventHandle(&eh2, timed);
	EXPECT(e != cudaSuccess, "an IPC handle of an event made without cudaEventInterprocess");
	cudaGetLastError();
	CHECK(cudaEventDestroy(timed));
	printf("producer: its own handle and an ordinary event are refused\n");

	/* the fill comes after 100 ms on the stream, and the handles go now: only the event's
	 * wait makes the consumer see it */
	int rate_khz = 0;
	CHECK(cudaDeviceGetAttribute(&rate_khz, cudaDevAttrClockRate, 0));
	hold<<<1, 1>>>((long long)rate_khz * 100);
	fill<<<(n + 255) / 256, 256>>>(d, n, 3);
	CHECK(cudaGetLastError());
	CHECK(cudaEventRecord(ev, 0));
	fflush(stdout);
	xwrite(to_child[1], &m, sizeof(m));
	char done = 0;
	xread(to_parent[0], &done, 1);
	EXPECT(done == 'y', "the consumer did not finish");
	/* the consumer recorded the event after its kernel: waiting on it is waiting for that */
	CHECK(cudaEventSynchronize(ev));
	CHECK(cudaEventQuery(ev));
	int *h = (int *)malloc(n * sizeof(int));
	EXPECT(h, "malloc");
	CHECK(cudaMemcpy(h, d, n * sizeof(int), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == i * 6 + 1, "producer: element %d is %d after the consumer's kernel, expected %d", i, h[i],
		       i * 6 + 1);
	printf("producer: %d values the consumer's kernel wrote verified\n", n);
	int st = 0;
	EXPECT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the consumer failed (status %d)",
	       st);
	CHECK(cudaEventDestroy(ev));
	CHECK(cudaFree(d));
	free(h);
	printf("PASS ipc_share\n");
	return 0;
}
