/* SPDX-License-Identifier: MIT */
/*
 * CUDA IPC between processes that each load the simulator: memory handles (the sharing itself
 * is the arena's, mem.c) and interprocess events. A handle names a memfd of the exporting
 * process by pid, descriptor number, inode and device; the importer opens it through
 * /proc/<pid>/fd/<fd>, so both run as one user and the exporter must be alive at the open.
 */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct sim_ipc_mem) == CU_IPC_HANDLE_SIZE, "a memory handle's bytes are its layout");

int sim_ipc_open_fd(int32_t pid, int32_t fd, uint64_t ino, uint64_t dev)
{
	char path[64];
	struct stat st;
	if (pid <= 0 || fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, (int)fd);
	/* looked at before it is opened: a handle naming a pipe, a socket or a device of that
	 * process opens nothing, and blocks on nothing */
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != ino || (uint64_t)st.st_dev != dev)
		return -1;
	int f = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f < 0)
		return -1;
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != ino || (uint64_t)st.st_dev != dev) {
		close(f);
		return -1;
	}
	return f;
}

/* ---- memory ---- */

CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!pHandle || !dptr)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_ipc_mem h;
	int e = sim_mem_ipc_export(dptr, &h);
	if (e < 0)
		return e == -EINVAL ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_OUT_OF_MEMORY;
	memcpy(pHandle->reserved, &h, sizeof(h));
	return CUDA_SUCCESS;
}

CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (c->sticky)
		return c->sticky;
	if (!pdptr || (Flags & ~(unsigned)CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS))
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_ipc_mem h;
	memcpy(&h, handle.reserved, sizeof(h));
	if (h.magic != SIM_IPC_MEM_MAGIC)
		return CUDA_ERROR_INVALID_HANDLE;
	if (h.pid == (int32_t)getpid())
		return CUDA_ERROR_INVALID_CONTEXT;   /* as the driver: a process opens no handle of its own */
	uint64_t p;
	int e = sim_mem_ipc_open(c, &h, &p);
	if (e < 0)
		return e == -ENOENT ? CUDA_ERROR_INVALID_HANDLE : e == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY
									 : CUDA_ERROR_MAP_FAILED;
	*pdptr = (CUdeviceptr)p;
	return CUDA_SUCCESS;
}

#undef cuIpcOpenMemHandle
/* The pre-11.0 ABI name, same contract. */
CUresult cuIpcOpenMemHandle(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags);
CUresult cuIpcOpenMemHandle(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags)
{
	return cuIpcOpenMemHandle_v2(pdptr, handle, Flags);
}

CUresult cuIpcCloseMemHandle(CUdeviceptr dptr)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	struct sim_alloc a;
	if (sim_mem_find(dptr, 1, &a) < 0 || a.kind != ALLOC_IPC || a.base != dptr)
		return CUDA_ERROR_INVALID_VALUE;
	/* as a free: no queued work may still use it when it is unmapped */
	if (sim_ctx_valid(a.ctx))
		sim_ctx_sync(a.ctx);
	return sim_mem_ipc_close(dptr) < 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

/* ---- events ---- */

#define IPCEV_MAGIC 0x56455056494d5356ull

/* The shared page: every process's view of one interprocess event. */
struct ipcev_page {
	uint64_t magic, nonce;
	uint64_t issued;         /* records issued, in any process */
	uint64_t done;           /* the highest record completed */
	uint32_t wake;           /* futex word: bumped at each completion */
	uint32_t sleepers;       /* waiters asleep on it (completions wake only when there are) */
};

struct sim_ipcev {
	struct ipcev_page *pg;
	int fd;                  /* kept open: handles name it */
	uint64_t ino, dev;
	int refs;
};

/* The bytes of a CUipcEventHandle. */
struct ipc_event_wire {
	uint32_t magic;          /* SIM_IPC_EVENT_MAGIC */
	int32_t pid, fd;
	uint32_t zero;
	uint64_t ino, dev, nonce;
	uint8_t pad[24];
};
_Static_assert(sizeof(struct ipc_event_wire) == CU_IPC_HANDLE_SIZE, "an event handle's bytes are its layout");

static struct sim_ipcev *ipcev_wrap(int fd)
{
	struct sim_ipcev *p = calloc(1, sizeof(*p));
	struct stat st;
	void *m = MAP_FAILED;
	if (p && fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(struct ipcev_page))
		m = mmap(NULL, sizeof(struct ipcev_page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		free(p);
		close(fd);
		return NULL;
	}
	p->pg = m;
	p->fd = fd;
	p->ino = (uint64_t)st.st_ino;
	p->dev = (uint64_t)st.st_dev;
	p->refs = 1;
	return p;
}

struct sim_ipcev *sim_ipcev_new(void)
{
	int fd = memfd_create("vgpu-sim-event", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)sysconf(_SC_PAGESIZE)) < 0) {
		sim_log("cannot make an interprocess event's shared page: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct sim_ipcev *p = ipcev_wrap(fd);
	if (!p)
		return NULL;
	uint64_t nonce;
	if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != (ssize_t)sizeof(nonce))
		nonce = p->ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	p->pg->nonce = nonce;
	__atomic_store_n(&p->pg->magic, IPCEV_MAGIC, __ATOMIC_RELEASE);
	return p;
}

void sim_ipcev_ref(struct sim_ipcev *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void sim_ipcev_unref(struct sim_ipcev *p)
{
	if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL))
		return;
	munmap(p->pg, sizeof(*p->pg));
	close(p->fd);
	free(p);
}

uint64_t sim_ipcev_issue(struct sim_ipcev *p)
{
	return __atomic_add_fetch(&p->pg->issued, 1, __ATOMIC_SEQ_CST);
}

uint64_t sim_ipcev_issued(const struct sim_ipcev *p)
{
	return __atomic_load_n(&p->pg->issued, __ATOMIC_SEQ_CST);
}

int sim_ipcev_reached(const struct sim_ipcev *p, uint64_t target)
{
	return __atomic_load_n(&p->pg->done, __ATOMIC_SEQ_CST) >= target;
}

static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

/* Records complete in stream order in each process but in any order between processes: the
 * event is complete once its latest record is, so done only ever rises. */
void sim_ipcev_complete(struct sim_ipcev *p, uint64_t ticket)
{
	struct ipcev_page *pg = p->pg;
	uint64_t d = __atomic_load_n(&pg->done, __ATOMIC_SEQ_CST);
	while (d < ticket && !__atomic_compare_exchange_n(&pg->done, &d, ticket, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	__atomic_add_fetch(&pg->wake, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pg->sleepers, __ATOMIC_SEQ_CST))
		futex(&pg->wake, FUTEX_WAKE, INT_MAX, NULL);
}

void sim_ipcev_wait(const struct sim_ipcev *p, uint64_t target)
{
	struct ipcev_page *pg = p->pg;
	for (;;) {
		uint32_t w = __atomic_load_n(&pg->wake, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&pg->done, __ATOMIC_SEQ_CST) >= target)
			return;
		/* a shared futex, so a completion in another process wakes it; the timeout only
		 * bounds the wait should that process die between its two steps */
		struct timespec ts = {0, 50 * 1000 * 1000};
		__atomic_add_fetch(&pg->sleepers, 1, __ATOMIC_SEQ_CST);
		futex(&pg->wake, FUTEX_WAIT, w, &ts);
		__atomic_sub_fetch(&pg->sleepers, 1, __ATOMIC_SEQ_CST);
	}
}

static struct sim_event *ipc_event_arg(CUevent h)
{
	struct sim_event *e = (struct sim_event *)h;
	return e && e->magic == MAGIC_EVENT ? e : NULL;
}

CUresult cuIpcGetEventHandle(CUipcEventHandle *pHandle, CUevent event)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	struct sim_event *e = ipc_event_arg(event);
	if (!e)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!pHandle || !(e->flags & CU_EVENT_INTERPROCESS) || !e->ipc)
		return CUDA_ERROR_INVALID_VALUE;
	struct ipc_event_wire w = {.magic = SIM_IPC_EVENT_MAGIC, .pid = (int32_t)getpid(), .fd = e->ipc->fd,
				   .ino = e->ipc->ino, .dev = e->ipc->dev, .nonce = e->ipc->pg->nonce};
	memcpy(pHandle->reserved, &w, sizeof(w));
	return CUDA_SUCCESS;
}

CUresult cuIpcOpenEventHandle(CUevent *phEvent, CUipcEventHandle handle)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!phEvent)
		return CUDA_ERROR_INVALID_VALUE;
	struct ipc_event_wire w;
	memcpy(&w, handle.reserved, sizeof(w));
	if (w.magic != SIM_IPC_EVENT_MAGIC)
		return CUDA_ERROR_INVALID_HANDLE;
	if (w.pid == (int32_t)getpid())
		return CUDA_ERROR_INVALID_CONTEXT;
	int fd = sim_ipc_open_fd(w.pid, w.fd, w.ino, w.dev);
	if (fd < 0)
		return CUDA_ERROR_INVALID_HANDLE;
	struct sim_ipcev *p = ipcev_wrap(fd);
	if (!p)
		return CUDA_ERROR_INVALID_HANDLE;
	if (__atomic_load_n(&p->pg->magic, __ATOMIC_ACQUIRE) != IPCEV_MAGIC || p->pg->nonce != w.nonce) {
		sim_ipcev_unref(p);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	rc = sim_event_create(c, CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS, p, phEvent);
	return rc;
}
