/* SPDX-License-Identifier: MIT */
/* supervisor.h — the supervisor's state, shared by supervisor.c (zones, channels, workers), sv_ctl.c (control socket, registrations, registry) and sv_xen.c (Xen zones through xenstore). */
#ifndef VGPU_PROXY_SUPERVISOR_H
#define VGPU_PROXY_SUPERVISOR_H

#include <stdint.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/un.h>

#include "pool.h"
#include "proxyd.h"

struct szone {
	uint32_t id;
	pid_t pid;
	int ctrl_fd;                     /* handoffs to the worker */
	uint8_t token[16];
	char name[65];
	uint32_t client_pid;             /* as the NEW_ZONE hello claimed (logs/stats only, never trusted) */
	struct vgpu_zone_stats *stats;   /* MAP_SHARED page, written by the worker */
	char reg[VGPU_REG_NAME_MAX + 1]; /* registration it was opened with, "" if none */
	int ending;                      /* SIGKILLed by an unregister or its domain's end */
	uint32_t domid;                  /* Xen zones: the guest domain; NO_DOMID for local (shm) zones */
	struct vgpu_pool *pool;          /* its registration's budget (slot pool_slot), or NULL */
	int pool_slot;
	int adopted;                     /* started by an earlier supervisor: not our child, its end
					  * is seen as the control socket closing (adopt.c) */
	int replaced;                    /* restored into a new worker of this proxy (vgpuctl migrate
					  * to itself): its worker hands over and exits; JOINs go to the new one */
	int restored;                    /* made by a restore: its domain (if a guest's) is the one whose
					  * channel first rejoins it with its token */
};
#define NO_DOMID 0xffffffffu

/*
 * A registration: a name (e.g. a pod's UID), a secret token and the limits of the zones
 * opened with it. Made and dropped by the orchestrator through the control socket; a
 * NEW_ZONE hello carrying the token opens a zone under it.
 */
struct reg {
	char name[VGPU_REG_NAME_MAX + 1];
	uint8_t token[16];
	struct vgpu_zone_limits lim;
	struct vgpu_pool *pool;          /* device memory of all its zones together */
	int pool_fd;                     /* the pool's memfd (zones' workers keep it to pass on) */
};
#define REG_MAX 4096

/* Accepted connections whose hello has not arrived yet (polled, never waited for). */
#define PENDING_MAX 64
#define HELLO_TIMEOUT_MS 2000

struct pending {
	int fd;
	int64_t deadline_ms;   /* CLOCK_MONOTONIC */
};

struct supervisor {
	struct vgpu_proxy_config *cfg;
	int lfd, ctl_fd, sig_fd;
	int ctl_conn;                    /* the control connection being answered, -1 (a worker forked meanwhile must not keep it) */
	struct pending pend[PENDING_MAX];
	unsigned npend;
	char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct szone *zones;
	unsigned nzones;
	uint32_t next_id;
	int stopping;
	int stop_signal;                 /* what stopped it (SIGTERM keeps zones with --state-dir) */
	int leaving;                     /* stopping, its zones left for the next supervisor */
	struct reg *regs;
	unsigned nregs;
	struct xs_handle *xs;            /* --transport xen: xenstore, watched */
	struct { uint8_t token[16]; char dest[108]; } moved[64]; /* zones migrated away, newest last */
	unsigned nmoved;                 /* entries ever added (the table keeps the last 64) */
};

extern const uint8_t sv_zero_token[16];

/* supervisor.c */
int token_eq(const uint8_t *a, const uint8_t *b);
void zone_forget(struct supervisor *s, unsigned i);
/* A new zone's worker, given its first channel, the devices its process chose (ordinals of
 * the proxy's, devsel.c; "" or NULL: all) and its driver settings (drvenv.h; "" or NULL:
 * none); or (first NULL) a zone restored from the checkpoint
 * restore_fd with its old token. Returns the zone's index, -1 if none was made. */
int zone_create(struct supervisor *s, const struct vgpu_handoff *first, const char *name,
		const struct reg *r, int sock, int memfd, const uint8_t *token, int restore_fd, const char *devices,
		const char *env);
/* visible, env: a new zone's CUDA_VISIBLE_DEVICES and checked driver settings (NULL: none) */
const char *route(struct supervisor *s, struct vgpu_handoff *h, const char *name, uint32_t domid,
		  const char *visible, const char *env, int sock, int memfd, uint32_t *status,
		  const char **moved_to /* out: VGPU_STATUS_MOVED */);
void reaped(struct supervisor *s, pid_t pid, int st);
int make_parent_dirs(const char *path);

/* adopt.c: zones that outlive their supervisor (--state-dir) */
#define ADOPT_POLL_MAX 1024   /* adopted zones watched at once (the rest are seen at their next JOIN) */
void adopt_all(struct supervisor *s);
int adopt_poll_fill(struct supervisor *s, struct pollfd *p, unsigned max);
void adopt_poll_check(struct supervisor *s, const struct pollfd *p, unsigned n);
void reg_pool_release(struct reg *r);

/* sv_ctl.c */
struct reg *reg_by_token(struct supervisor *s, const uint8_t *token);
struct reg *reg_by_name(struct supervisor *s, const char *name);
unsigned reg_zone_count(const struct supervisor *s, const char *name);
int registry_load(struct supervisor *s);
int listen_ctl(struct supervisor *s);
void on_ctl(struct supervisor *s);

/* sv_xen.c */
int xen_start(struct supervisor *s);
void on_xs(struct supervisor *s);

#endif
