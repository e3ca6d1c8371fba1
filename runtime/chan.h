/* SPDX-License-Identifier: MIT */
/* chan.h — the public API of a vgpu channel: one endpoint of a shared-memory grant ring. */
#ifndef VGPU_CHAN_H
#define VGPU_CHAN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A channel is one shared region holding a header page, a message ring per direction and a
 * bulk byte ring per direction (layout in docs/RING.md). Each endpoint is used by ONE thread
 * at a time (single producer / single consumer per direction); calls are not thread-safe.
 * All functions return 0 / a length on success and -errno on failure.
 */
struct vgpu_chan; /* opaque; one endpoint of a channel */

struct vgpu_chan_geom { /* per direction; powers of two; validated */
	uint32_t msg_ring_bytes; /* message ring size, 4 KiB .. 16 MiB, e.g. 64 KiB */
	uint32_t bulk_bytes;     /* bulk byte ring size, 4 KiB .. 1 GiB, e.g. 4 MiB */
};

struct vgpu_msg_hdr { /* 16 bytes, fixed, precedes every message in a ring */
	uint32_t len;     /* payload bytes that follow */
	uint16_t opcode;
	uint16_t flags;   /* VGPU_MSG_F_* (session.h), e.g. F_ASYNC: no reply expected */
	uint32_t seq;
	uint32_t reserved; /* must be 0 */
};

#define VGPU_CHAN_DEFAULT_GEOM ((struct vgpu_chan_geom){ 64u << 10, 4u << 20 })
#define VGPU_CHAN_MIN_RING  4096u
#define VGPU_CHAN_MAX_RING  (16u << 20)
#define VGPU_CHAN_MIN_BULK  4096u
#define VGPU_CHAN_MAX_BULK  (1u << 30)

/* Largest payload one message can carry on a ring of this geometry. */
static inline uint32_t vgpu_chan_max_msg(const struct vgpu_chan_geom *g)
{
	return g->msg_ring_bytes - (uint32_t)sizeof(struct vgpu_msg_hdr);
}

/* 0 when g is acceptable (powers of two within the limits above), else -EINVAL. */
int vgpu_chan_geom_check(const struct vgpu_chan_geom *g);

/* Queue one message on the outgoing ring (copies payload). Blocks while the ring is full
 * (spin, then sleep), until the peer dies (-EPIPE) or the channel is broken (-EPROTO).
 * Does NOT necessarily wake the peer: messages are batched until vgpu_chan_flush() or
 * until this side blocks (receiving, or waiting for space). -EMSGSIZE if len exceeds the
 * largest message the ring can hold (returned without breaking the channel). */
int vgpu_chan_send(struct vgpu_chan *c, uint16_t opcode, uint16_t flags, uint32_t seq,
		   const void *payload, uint32_t len);
/* Wake the peer if (and only if) it said it is waiting (notify suppression). */
int vgpu_chan_flush(struct vgpu_chan *c);
/* Receive the next message: copies header and payload out of shared memory into
 * *hdr / buf (capacity cap) before anything is parsed. Blocks (spin then futex/evtchn),
 * flushing this side's pending notifications first. Returns payload length >= 0, or
 * -errno: -EPIPE peer gone, -EPROTO garbage from the peer (channel is then broken for
 * good and every later call fails fast), -EMSGSIZE payload larger than cap (also breaks). */
int vgpu_chan_recv(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr /* out */, void *buf, uint32_t cap);
/* Same, but returns -EAGAIN at once when no message is queued. */
int vgpu_chan_try_recv(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr /* out */, void *buf, uint32_t cap);

/* Bulk byte stream, one per direction, in order, independent of the message rings; used for
 * payloads larger than a message (a 1 GiB copy through a 4 MiB area): the sender sends a
 * message announcing N bulk bytes, then writes N bytes; the receiver reads the message,
 * then reads exactly N bytes. Chunked with flow control; blocking like send/recv. */
int vgpu_chan_bulk_write(struct vgpu_chan *c, const void *src, uint64_t n);
int vgpu_chan_bulk_read(struct vgpu_chan *c, void *dst, uint64_t n);
/* Zero-copy forms: fn is called once per contiguous chunk with a pointer INTO the shared
 * bulk area (read: bytes to consume, may be changed by a hostile peer at any time, so only
 * ever treated as payload; write: space to fill). off = bytes already done. fn returns 0 or
 * -errno (a non-zero return stops calling fn but the remaining bytes are still consumed /
 * produced (zero-filled) so the stream stays in sync; the first error is returned). A NULL
 * fn on read discards the bytes. */
typedef int (*vgpu_bulk_fn)(void *ctx, void *chunk, uint64_t len, uint64_t off);
int vgpu_chan_bulk_read_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx);
int vgpu_chan_bulk_write_cb(struct vgpu_chan *c, uint64_t n, vgpu_bulk_fn fn, void *ctx);
/* The same, calling fn on at least step bytes at a time (less only at the area's end and for
 * the last piece; step is capped at a quarter of the area): for an fn with a fixed cost per
 * call, such as a driver copy, which should move a lot at once yet overlap the peer. */
int vgpu_chan_bulk_read_cb_step(struct vgpu_chan *c, uint64_t n, uint32_t step, vgpu_bulk_fn fn, void *ctx);
int vgpu_chan_bulk_write_cb_step(struct vgpu_chan *c, uint64_t n, uint32_t step, vgpu_bulk_fn fn, void *ctx);
/* The shared bulk areas, both directions, contiguous (for cuMemHostRegister on a GPU machine). */
void vgpu_chan_bulk_areas(struct vgpu_chan *c, void **base /* out */, size_t *len /* out */);

/* Pass a file descriptor to the peer beside the rings (shm transport: SCM_RIGHTS on the
 * channel's socket), and take the one the peer passed, without waiting. -EOPNOTSUPP when
 * the transport cannot (Xen); recv: -ENOENT none queued, -EPROTO anything but one fd. */
int vgpu_chan_send_fd(struct vgpu_chan *c, int fd);
int vgpu_chan_recv_fd(struct vgpu_chan *c, int *fd /* out */);

/* SOCK_SEQPACKET records with file descriptors (SCM_RIGHTS), as the shm transport passes
 * its region and pinned memory, and the proxy's processes their channels. send: one record
 * of len bytes with nfds (<= VGPU_FDS_MAX) fds, 0 or -errno. recv: one record of at most
 * cap bytes; its length or -errno; the first maxfds fds are kept in fds, the others closed,
 * *nfds counts them all (close what was kept with vgpu_fds_close_kept); -EPROTO, all closed:
 * truncated. */
#define VGPU_FDS_MAX 4
int vgpu_fds_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);
ssize_t vgpu_fds_recv(int sock, void *buf, size_t cap, int *fds /* out */, unsigned maxfds, unsigned *nfds /* out */,
		      int flags);
void vgpu_fds_close(const int *fds, unsigned n);
/* Close what vgpu_fds_recv kept in fds of the nfds it counted (at most maxfds of them). */
void vgpu_fds_close_kept(const int *fds, unsigned nfds, unsigned maxfds);

/*
 * vgpu_chan_recv that gives up waiting for the next message when *stop becomes non-zero:
 * -EINTR, nothing consumed, the channel intact (a zone being quiesced stops its channels at a
 * message boundary). Waits inside a request (bulk data, ring space) are never stopped.
 * Another thread makes a sleeping receive re-check *stop with vgpu_chan_interrupt.
 */
int vgpu_chan_recv_stoppable(struct vgpu_chan *c, struct vgpu_msg_hdr *hdr, void *buf, uint32_t cap,
			     const atomic_int *stop);
int vgpu_chan_interrupt(struct vgpu_chan *c);

/* Human-readable reason of the last failure on this channel ("peer wrote msg len 0xffffff00
 * > ring max 65520 at index 0x...") for logs. "" when nothing failed. */
const char *vgpu_chan_strerror(const struct vgpu_chan *c);
/* Reason of the last failed setup call (vgpu_shm_*, vgpu_xen_*) in this thread, for logs. */
const char *vgpu_chan_setup_error(void);
/* Close and free this endpoint; the peer then sees -EPIPE. NULL is fine. */
void vgpu_chan_close(struct vgpu_chan *c);
/* Free this endpoint's local resources WITHOUT telling the peer (the other process's copy
 * after fork() keeps the channel open). NULL is fine. */
void vgpu_chan_forget(struct vgpu_chan *c);
/* Tuning: the longest (ns) a blocking call spins before sleeping (0 = always sleep at once;
 * default VGPU_CHAN_DEFAULT_SPIN_NS). The spin adapts below this bound: it halves after a
 * spin that ended in sleep and doubles after one that succeeded. A sleeping side re-checks
 * peer liveness every VGPU_CHAN_LIVENESS_MS milliseconds. */
#define VGPU_CHAN_DEFAULT_SPIN_NS 50000u
#define VGPU_CHAN_LIVENESS_MS 100
void vgpu_chan_set_spin(struct vgpu_chan *c, uint32_t spin_ns);
/* The answer to the request just sent moves `bytes` bytes (a synchronous copy): until the
 * next send, a wait may spin on for as long as that takes at VGPU_CHAN_SPIN_FLOOR_BPNS bytes
 * per nanosecond, at most VGPU_CHAN_SPIN_MAX_NS in all, scaled down like the adaptive spin
 * when the peer has not been answering in time. The caller is blocked on the copy either
 * way (as it would be in the driver, which spins too); without this, a copy longer than the
 * spin pays a sleep and a wake-up on top of its own time. */
#define VGPU_CHAN_SPIN_FLOOR_BPNS 4u
#define VGPU_CHAN_SPIN_MAX_NS 2000000u
void vgpu_chan_expect(struct vgpu_chan *c, uint64_t bytes);

/*
 * Saved channels (docs/ARCHITECTURE.md, "Rejoining a restored zone"). A server whose zone
 * stays stopped with its state in a checkpoint marks each channel saved (and clears the
 * mark when the zone goes on, or when a new server takes the ring over). A client whose
 * server vanished while the mark was set calls its rejoin function from inside the wait
 * (set with vgpu_chan_set_rejoin): 0 means a restored server serves the ring again (the
 * wait goes on where it was), anything else fails the channel as before. Position: what
 * this end has consumed and produced (messages, bulk bytes), as four free-running indices.
 */
typedef int (*vgpu_rejoin_fn)(struct vgpu_chan *c, void *arg);
void vgpu_chan_set_saved(struct vgpu_chan *c, int saved);
void vgpu_chan_set_rejoin(struct vgpu_chan *c, vgpu_rejoin_fn fn, void *arg);
void vgpu_chan_position(const struct vgpu_chan *c, uint32_t pos[4]);

/* runtime/transport_shm.c: memfd region passed over a unix socket with SCM_RIGHTS; the
 * socket also gives liveness (EOF = peer dead). */
int vgpu_shm_listen(const char *path, int *lfd /* out */); /* unlinks stale socket */
/* Client: create the region (geom), connect, send hello bytes + memfd in one sendmsg. */
int vgpu_shm_connect(const char *path, const void *hello, uint32_t hello_len,
		     const struct vgpu_chan_geom *g, struct vgpu_chan **out /* out */);
/* Server, step 1 (supervisor): read hello (<= cap bytes) and the memfd from an accepted socket. */
int vgpu_shm_recv_hello(int sock, void *hello, uint32_t cap, uint32_t *len /* out */, int *memfd /* out */);
/* Server, step 2 (possibly another process, fds passed on): map the region, copy and
 * validate the geometry ONCE, create the server endpoint. Takes ownership of both fds
 * (closes them on failure too). */
int vgpu_shm_attach(int sock, int memfd, struct vgpu_chan **out /* out */);
/* Client, rejoining (from its rejoin function): connect to path and send hello bytes with
 * the channel's own region (the client keeps a copy of its memfd); *sock gets the socket,
 * which the caller owns until vgpu_shm_resocket makes it the channel's. -ENOTSUP for a
 * channel of another transport. */
int vgpu_shm_redial(struct vgpu_chan *c, const char *path, const void *hello, uint32_t hello_len, int *sock /* out */);
void vgpu_shm_resocket(struct vgpu_chan *c, int sock);
/* Both endpoints in one call over a socketpair (tests, benchmarks; usable across fork():
 * each process then vgpu_chan_forget()s the endpoint it does not use). */
int vgpu_shm_pair(const struct vgpu_chan_geom *g, struct vgpu_chan **client /* out */,
		  struct vgpu_chan **server /* out */);

/* runtime/transport_xen.c: libxengnttab/libxenevtchn. The zone allocates+grants the pages
 * (xengntshr / gntalloc) and an unbound event channel for the backend domain; Dom0 maps the
 * grants (xengnttab / gntdev) and binds the event channel. Bootstrap info: what the zone
 * publishes in xenstore (runtime/xenbus.h). Without /dev/xen both return -ENOENT. */
struct vgpu_xen_info {
	uint16_t domid;       /* the zone's (granting) domain id */
	uint32_t evtchn_port; /* unbound port allocated by the zone for the backend */
	uint32_t dir_gref;    /* grant ref of the first directory page listing the region's grefs */
	uint32_t npages;      /* region pages: set by create; attach refuses a directory listing
			       * another count before mapping the region (0: not checked) */
};
int vgpu_xen_create(uint16_t backend_domid, const struct vgpu_chan_geom *g,
		    struct vgpu_xen_info *info /* out */, struct vgpu_chan **out /* out */);
int vgpu_xen_attach(const struct vgpu_xen_info *info, struct vgpu_chan **out /* out */);
/* A zone's Xen channel: what it was published with (to offer it again when rejoining).
 * -ENOTSUP for a channel of another transport or the backend's end. */
int vgpu_xen_chan_info(const struct vgpu_chan *c, struct vgpu_xen_info *info /* out */,
		       struct vgpu_chan_geom *g /* out */);

#endif
