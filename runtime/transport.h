/* SPDX-License-Identifier: MIT */
/* transport.h — the small internal interface between the ring and its transports (shm, xen). */
#ifndef VGPU_TRANSPORT_H
#define VGPU_TRANSPORT_H

#include <stdatomic.h>
#include <stdint.h>

struct vgpu_transport;

struct vgpu_transport_ops {
	/* Wake the peer (it said it is sleeping); word is the peer's futex word in the shared
	 * header (shm wakes waiters on it; xen ignores it and signals the event channel). */
	int (*notify)(struct vgpu_transport *t, atomic_uint *word);
	/* Sleep until woken, until *word != expected (shm: futex semantics; xen: the word is
	 * only re-checked before sleeping) or timeout_ms passed. Spurious returns are allowed:
	 * callers always re-check ring state. 0 when woken (or spuriously), -ETIMEDOUT when
	 * timeout_ms passed, other -errno on failure. */
	int (*wait)(struct vgpu_transport *t, atomic_uint *word, uint32_t expected, int timeout_ms);
	/* 1 if the peer may still be alive, 0 if it is known dead (socket EOF, ...). */
	int (*alive)(struct vgpu_transport *t);
	/* Release everything: unmap the region, close fds/handles. */
	void (*close)(struct vgpu_transport *t);
	/* Release local resources only (after fork, the other process keeps using them). */
	void (*forget)(struct vgpu_transport *t);
	/* Optional (NULL: the transport cannot): pass a file descriptor to the peer, and take
	 * one the peer passed without waiting (-ENOENT: none queued, -EPROTO: not exactly one
	 * fd with its one-byte record). The receiver owns what it gets. */
	int (*send_fd)(struct vgpu_transport *t, int fd);
	int (*recv_fd)(struct vgpu_transport *t, int *fd);
	/* 1 when both ends run under one kernel, so that the CPU numbers they publish compare
	 * (shm); 0 when not (xen: each domain numbers its own vCPUs). */
	int shares_cpus;
};

/* Each transport embeds this first. */
struct vgpu_transport {
	const struct vgpu_transport_ops *ops;
};

#endif
