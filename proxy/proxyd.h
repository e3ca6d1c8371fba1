/* SPDX-License-Identifier: MIT */
/* proxyd.h — vgpu-proxy internals shared by the supervisor, the workers and the channel threads. */
#ifndef VGPU_PROXYD_H
#define VGPU_PROXYD_H

#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "chan.h"
#include "session.h"
#include "drvenv.h"
#include "visible.h"
#include "stats.h"
#include "zone.h"

#if defined(VGPU_HAVE_DISPATCH)
#include "vgpu_ops.h"
#define VGPU_PROXY_OP_LIMIT VGPU_OP_COUNT
#else
#define VGPU_PROXY_OP_LIMIT 1024u   /* generated/ not built in: no generated calls at all */
#endif

enum vgpu_transport { VGPU_TRANSPORT_SHM = 0, VGPU_TRANSPORT_XEN = 1 };

/* Longest registration name (control socket: register NAME). */
#define VGPU_REG_NAME_MAX 63

/* Everything the command line decides. */
struct vgpu_proxy_config {
	char listen_path[256];
	int backend;                 /* enum vgpu_backend_kind as asked */
	int backend_resolved;        /* what the start-up probe found (CUDA or SIM), 0 = none works */
	char sim_path[512];
	struct vgpu_zone_limits limits;
	int transport;
	unsigned max_zones;
	int require_registration;    /* NEW_ZONE hellos must carry a registration's token */
	unsigned socket_mode;        /* permissions of the zone socket */
	char ctl_path[108];          /* control socket (default listen_path + ".ctl") */
	char registry_path[256];     /* registrations kept here ("" = in memory only) */
	char state_dir[200];         /* --state-dir: zones outlive the supervisor ("" = they do not) */
	unsigned adopt_timeout_s;    /* a worker without a supervisor this long ends its zone */
	unsigned rejoin_timeout_s;   /* a zone restored without its source waits this long for its channels */
	int ckpt_globals_copy;       /* checkpoints carry module globals by value, never by address */
	uint64_t devva_base, devva_size; /* --device-va fixed: the window of zones' allocations (size 0: off) */
	int mem_view_device;         /* --zone-mem-view device: the driver's memory answers, not the quota's */
	/* The devices zones are shown, as the start-up probe found them (devsel.c): how many, their
	 * UUIDs in order, and the proxy's own CUDA_VISIBLE_DEVICES (NULL: unset) they are under. */
	int ndev;
	CUuuid dev_uuid[VGPU_VISIBLE_MAX];
	const char *parent_visible;
};

/*
 * CUDA_VISIBLE_DEVICES of a zone's process (devsel.c). resolve reads a new zone's list over the
 * devices of cfg and writes the ordinals it names to devices ("" when it keeps them all in
 * order, nothing to change); returns how many (0: none, the zone is refused). env writes the
 * CUDA_VISIBLE_DEVICES that starts a worker's driver with the ordinals of devices, composed
 * over the proxy's own list: 0, or -errno with why (an ordinal this proxy has no device for:
 * a checkpoint from another node).
 */
int vgpu_devsel_resolve(const struct vgpu_proxy_config *cfg, const char *visible, char devices[VGPU_VISIBLE_TEXT]);
int vgpu_devsel_env(const struct vgpu_proxy_config *cfg, const char *devices, char *env, size_t cap, char *why,
		    size_t why_len);

/* What the supervisor passes a new worker (in memory, across fork). */
struct vgpu_worker_args {
	const struct vgpu_proxy_config *cfg;
	uint32_t zone_id;
	char name[65];
	uint8_t token[16];
	int ctrl_fd;                      /* SOCK_SEQPACKET to the supervisor: channel handoffs arrive here */
	struct vgpu_zone_stats *stats;    /* MAP_SHARED page */
	int stats_fd;                     /* its memfd (passed on to a supervisor that adopts the zone) */
	int pool_fd;                      /* the registration budget's memfd, or -1 */
	uint32_t client_pid, domid;       /* as the supervisor knows them, for an adopting one */
	char reg[64];                     /* its registration's name, "" if none */
	struct vgpu_zone_limits limits;   /* its registration's, else the command line's */
	struct vgpu_pool *pool;           /* its registration's shared budget (slot pool_slot), or NULL */
	int pool_slot;
	int restore_fd;                   /* a checkpoint to recreate the zone from (ckpt.h), or -1 */
	char devices[VGPU_VISIBLE_TEXT];  /* the devices its process chose (devsel.c), "" for all */
	char env[VGPU_DRVENV_BYTES];      /* its process's driver settings (drvenv.h), "" for none */
};

/* One channel handed from the supervisor to a worker: this struct + 2 fds (socket, memfd). */
struct vgpu_handoff {
	struct vgpu_hello hello;
	uint32_t transport;          /* enum vgpu_transport: SHM carries 2 fds, XEN none (xen below) */
	uint32_t pad;
	struct vgpu_xen_info xen;    /* XEN: where the zone published its channel */
	char xs_dir[64];             /* XEN: its xenstore directory (the worker answers there) */
};

/* One record of exactly len bytes with at most maxfds fds (chan.h vgpu_fds_recv), else
 * -EPROTO with every fd closed; 0-length with no fd: -EPIPE (peer gone). 0 or -errno. */
int vgpu_record_recv(int sock, void *buf, size_t len, int *fds /* out */, unsigned maxfds, unsigned *nfds /* out */,
		     int nonblock);

/*
 * Adoption (--state-dir): a worker whose supervisor is gone listens on STATE_DIR/zone-ID.sock;
 * a new supervisor connects, sends a request and gets the zone's description with its stats
 * page's memfd and, for a registered zone, its registration budget's memfd; that connection
 * is the worker's control socket from then on (channel handoffs arrive on it).
 */
#define VGPU_ADOPT_MAGIC 0x54504441u /* "ADPT" */
struct vgpu_adopt_req {
	uint32_t magic, version;     /* VGPU_ADOPT_MAGIC, VGPU_PROTO_VERSION */
};
struct vgpu_adopt_info {
	uint32_t magic, version;
	uint32_t zone_id;
	int32_t pid;                  /* the worker */
	uint32_t client_pid;
	uint32_t domid;
	int32_t pool_slot;            /* -1: no registration budget (no second fd) */
	uint32_t ending;              /* the worker is ending its zone: do not adopt it */
	uint8_t token[16];
	char name[65];
	char reg[64];
	char pad[7];
};

/*
 * Requests on a worker's state socket besides adoption (docs/ARCHITECTURE.md, "Checkpoint
 * and migration"): CKPT (+ the output file's fd) stops the zone's channels at a message
 * boundary, finishes its device work and writes the checkpoint, then lets the zone go on
 * unless VGPU_STATE_F_STAY_STOPPED; THAW lets a stopped zone go on; TAKE (with the zone's
 * token, the zone stopped) hands the zone's pinned host memory regions over (one
 * VGPU_STATE_PINR record with the region's memfd each) and every channel (one
 * VGPU_STATE_CHAN record with the channel's socket and memfd each), then a VGPU_STATE_DONE
 * record, and the worker ends without its peers noticing. Each answer is a struct vgpu_state_reply.
 */
#define VGPU_STATE_CKPT 0x54504b43u /* "CKPT" */
#define VGPU_STATE_THAW 0x57414854u /* "THAW" */
#define VGPU_STATE_TAKE 0x454b4154u /* "TAKE" */
#define VGPU_STATE_CHAN 0x4e414843u /* "CHAN" */
#define VGPU_STATE_DONE 0x454e4f44u /* "DONE" */
#define VGPU_STATE_RSTR 0x52545352u /* "RSTR": a restoring worker's outcome, to its supervisor */
#define VGPU_STATE_F_STAY_STOPPED 1u
struct vgpu_state_req {
	uint32_t magic, version;     /* VGPU_STATE_*, VGPU_PROTO_VERSION */
	uint32_t flags, pad;
	uint8_t token[16];           /* TAKE: the zone's token */
	char dest[108];              /* TAKE: where the zone's new channels go (the taker's --listen) */
};
/* A worker that handed its zone over tells its supervisor where it went (before it exits),
 * so that JOINs of the zone's new threads are sent there. */
struct vgpu_state_moved {
	uint32_t magic, version;     /* VGPU_STATE_MOVD */
	char dest[108];
};
#define VGPU_STATE_MOVD 0x44564f4du /* "MOVD" */
struct vgpu_state_reply {
	uint32_t magic, version;
	int32_t status;              /* 0 or -errno */
	uint32_t handles, allocs, channels;
	uint64_t mem_bytes, file_bytes;
	uint64_t stop_ns;            /* CKPT: from asking the channels to stop to all stopped */
	uint64_t work_ns;            /* CKPT: writing; RSTR: restoring; TAKE: handing over */
	uint32_t zone_id, pad;
	char msg[256];
};
#define VGPU_STATE_PINR 0x524e4950u /* "PINR": a pinned host memory region (with its memfd) */
struct vgpu_state_pinned {
	uint32_t magic, version;
	uint64_t key;                /* the zone's region-id key */
	uint64_t bytes;
	uint32_t slot, pad;
	uint64_t addr;               /* where the giving worker has it (the taker maps it there if it can) */
};
struct vgpu_state_chan {
	uint32_t magic, version;
	uint64_t ctx_id;             /* the channel's current context (wire id), 0 = none */
	uint32_t no, pad;
};

/* Send/receive a handoff with its two fds over a SOCK_SEQPACKET socket. 0 or -errno
 * (-EPIPE/0-length: peer gone -> -EPIPE). recv never leaves fds open on failure. */
int vgpu_handoff_send(int sock, const struct vgpu_handoff *h, int fd0, int fd1);
int vgpu_handoff_recv(int sock, struct vgpu_handoff *h /* out */, int *fd0 /* out */, int *fd1 /* out */, int nonblock);
/* Answer a rejoining channel on its socket (session.h: 0, VGPU_REJOIN_LATER or -errno). */
void vgpu_rejoin_answer(int sock, int status, const char *msg);

/* The worker process's main: never returns (exits 0 after the zone's last channel closed). */
void vgpu_worker_main(const struct vgpu_worker_args *a) __attribute__((noreturn));

/* The supervisor: listens, forks workers, reaps them; returns the exit status. */
int vgpu_supervisor_run(struct vgpu_proxy_config *cfg);
/* Send one control command line (no newline) to the control socket ctl_path and copy the answer to out.
 * Returns 0 when the answer was read and does not start with "error", 1 when it does,
 * 2 when the proxy cannot be reached (said on stderr, prefixed with who). */
int vgpu_ctl_client(const char *who, const char *ctl_path, const char *cmd, FILE *out);

/* Channel serving (chanloop.c). */
struct vgpu_worker;
struct vgpu_chan;
struct vgpu_backend;
/* How a worker steers a channel thread (may be NULL: plain serving). */
struct vgpu_serve_opts {
	const atomic_int *stop;     /* when non-zero the channel stops at its next message boundary and calls park */
	/* In the channel thread, stack = its contexts, bottom first, the last the current one (n
	 * of them; VGPU_CKPT_CTX_MAX + 1 when it holds more than a checkpoint carries, then not
	 * listed): returns when the zone goes on (0) or when the channel was handed over to
	 * another worker (1). */
	int (*park)(void *arg, void *const *stack, unsigned n);
	void *arg;
	/* a channel taken over or rejoined: its thread's stack, made before the first request */
	void *const *initial_stack;
	unsigned initial_n;
};
/* Serve one attached channel until BYE, peer death or a protocol error (0: the caller closes
 * it) or until it was handed over (1: the caller forgets it, its peer must not notice). */
int vgpu_chan_serve(struct vgpu_zone *z, const struct vgpu_backend *be, struct vgpu_chan *ch, unsigned chan_no,
		    const struct vgpu_serve_opts *o);
/* Load the generated driver table from the backend's dlopen handle (NULL when not built in). */
int vgpu_dispatch_load(struct vgpu_backend *be);

struct vgpu_proxy_call;
/* A handle was destroyed by a successful call: forget it, and if it was a context, every
 * handle and allocation made in it. Idempotent. */
void vgpu_proxy_handle_destroyed(struct vgpu_proxy_call *c, unsigned htype, uint64_t id);
/* A context was destroyed, or a primary context went idle: forget everything made in it (its
 * modules with their functions and globals, streams, events, memory, limits' charges). */
/* The context current on the calling channel thread (objects made now belong to it), or NULL. */
const void *vgpu_proxy_current_ctx(const struct vgpu_proxy_call *c);
/* 1 when the zone's array is a level of one of its mipmapped arrays (custom_texture.c). */
int vgpu_proxy_array_is_level(struct vgpu_zone *z, const void *array);
/* The graph the call's stream is being captured into (the call's first stream argument), or
 * NULL when it is not capturing: a stream-ordered allocation there is a graph memory node's. */
const void *vgpu_proxy_captured_into(const struct vgpu_proxy_call *c);
/* The JIT link states made in ctx (all: every one) are destroyed and forgotten: the context
 * went, or the zone (proxy/custom_link.c). */
/* The zone's end, for the fixed window's memory (devva.h): the device done with it (each of
 * the n_ctx contexts synchronised, ctxs[0] current again after), its allocations out of the
 * map and uncharged, every chunk unmapped and released. How many allocations, *bytes their size. */
unsigned vgpu_proxy_fixed_va_end(struct vgpu_zone *z, const struct vgpu_backend_fns *f, CUcontext const *ctxs,
				  unsigned n_ctx, uint64_t *bytes);
void vgpu_proxy_links_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *ctx, int all);
/* VGPU_OP_HOSTFN (custom_hostfn.c): the zone's host-function thread reports one done and
 * waits for the next, at most vgpu_hostfn_wait_ms (VGPU_HOSTFN_WAIT_MS; harnesses set 0). */
CUresult vgpu_proxy_hostfn_wait(struct vgpu_proxy_call *call, void **argv);
extern unsigned vgpu_hostfn_wait_ms;
void vgpu_proxy_context_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *ctx,
			     unsigned *handles, unsigned *allocs, uint64_t *bytes);
/* A reset of device dev (cuDevicePrimaryCtxReset) freed the zone's stream-ordered memory on it,
 * which no context owned: its ranges and charge go (and its fixed-window memory). */
void vgpu_proxy_device_reset(struct vgpu_zone *z, const struct vgpu_backend *be, int dev, unsigned *allocs,
			     uint64_t *bytes);

/* The backend calls a zone's pinned regions use (chanloop.c). */
struct vgpu_pinned_drv vgpu_pinned_drv_of(const struct vgpu_backend *be);

/* Zone names in logs: printable ASCII only, copied and NUL-terminated into out[65]. */
void vgpu_name_sanitize(const char *in, unsigned in_len, char out[65]);

#endif
