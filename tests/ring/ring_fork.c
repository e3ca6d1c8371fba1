/* SPDX-License-Identifier: MIT */
/* ring_fork.c — two-process tests: request/reply ping-pong (spinning and sleeping), clean close, and a peer killed with SIGKILL mid-transfer. */
#include "ring_test.h"

static const struct vgpu_chan_geom geom = { 16384, 65536 };

/* Echo server: replies to each request with its payload incremented, until opcode 0. */
static int echo_server(struct vgpu_chan *s)
{
	struct vgpu_msg_hdr h;
	uint8_t buf[1024];
	int n;

	for (;;) {
		n = vgpu_chan_recv(s, &h, buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "server: recv: %d %s\n", n, vgpu_chan_strerror(s));
			return 1;
		}
		if (h.opcode == 0)
			return 0;
		for (int i = 0; i < n; i++)
			buf[i]++;
		if (!(h.flags & VGPU_MSG_F_ASYNC)) {
			if (vgpu_chan_send(s, h.opcode, VGPU_MSG_F_REPLY, h.seq, buf, (uint32_t)n) ||
			    vgpu_chan_flush(s))
				return 1;
		}
	}
}

static void ping_pong(uint32_t spin_ns, uint32_t rounds)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t buf[1024], back[1024];
	pid_t pid;

	MUST(vgpu_shm_pair(&geom, &c, &s));
	vgpu_chan_set_spin(c, spin_ns);
	vgpu_chan_set_spin(s, spin_ns);
	pid = fork();
	if (pid == 0) {
		int rc;

		vgpu_chan_forget(c);
		rc = echo_server(s);
		vgpu_chan_close(s);
		_exit(rc);
	}
	vgpu_chan_forget(s);
	for (uint32_t i = 0; i < rounds; i++) {
		uint32_t len = (i * 37u) % sizeof(buf);

		ring_test_fill(i, 0, buf, len);
		if (i % 5 == 0) /* async messages in between: no reply, batched with the next */
			CHECK_EQ(vgpu_chan_send(c, 2, VGPU_MSG_F_ASYNC, i, buf, len), 0);
		CHECK_EQ(vgpu_chan_send(c, 1, 0, i, buf, len), 0);
		CHECK_EQ(vgpu_chan_flush(c), 0);
		CHECK_EQ(vgpu_chan_recv(c, &h, back, sizeof(back)), (int)len);
		CHECK(h.seq == i && h.opcode == 1 && h.flags == VGPU_MSG_F_REPLY);
		for (uint32_t k = 0; k < len; k++)
			back[k]--;
		CHECK(!memcmp(buf, back, len));
		if (ring_test_failures)
			break;
	}
	CHECK_EQ(vgpu_chan_send(c, 0, 0, 0, NULL, 0), 0);
	CHECK_EQ(vgpu_chan_flush(c), 0);
	CHECK_EQ(ring_test_wait(pid), 0);
	/* the server closed cleanly after its last reply: we now see -EPIPE, not a hang */
	CHECK_ERR(c, vgpu_chan_recv(c, &h, back, sizeof(back)), -EPIPE, "peer closed");
	vgpu_chan_close(c);
}

/* The peer is killed (no clean close, only socket EOF tells) while we are blocked in
 * the middle of a bulk read, a bulk write, a recv and a send on a full ring. */
enum victim_op { V_BULK_READ, V_BULK_WRITE, V_RECV, V_SEND_FULL };

static void peer_killed(enum victim_op op)
{
	struct vgpu_chan *c, *s;
	struct vgpu_msg_hdr h;
	uint8_t *buf = calloc(1, 4u << 20);
	pid_t pid;
	int r = 0;

	MUST(vgpu_shm_pair(&geom, &c, &s));
	pid = fork();
	if (pid == 0) {
		vgpu_chan_forget(c);
		/* start what the victim expects, then stall forever (until killed) */
		if (op == V_BULK_READ)
			vgpu_chan_bulk_write(s, buf, 100000); /* part of the 4 MiB the victim reads */
		else if (op == V_BULK_WRITE)
			vgpu_chan_bulk_read(s, buf, 100000);
		else if (op == V_RECV)
			vgpu_chan_send(s, 1, 0, 1, NULL, 0), vgpu_chan_flush(s);
		for (;;)
			pause();
	}
	vgpu_chan_forget(s);
	vgpu_chan_set_spin(c, 1000);
	if (op == V_RECV) { /* one message arrives, then the peer goes silent and dies */
		CHECK_EQ(vgpu_chan_recv(c, &h, buf, 64), 0);
		kill(pid, SIGKILL);
		r = vgpu_chan_recv(c, &h, buf, 64);
	} else {
		pid_t killer = fork();

		if (killer == 0) { /* kill the peer while the victim is blocked mid-transfer */
			usleep(100000);
			kill(pid, SIGKILL);
			_exit(0);
		}
		if (op == V_BULK_READ)
			r = vgpu_chan_bulk_read(c, buf, 4u << 20);
		else if (op == V_BULK_WRITE)
			r = vgpu_chan_bulk_write(c, buf, 4u << 20);
		else
			for (uint32_t i = 0; i < 100000 && r == 0; i++)
				r = vgpu_chan_send(c, 1, 0, i, buf, 1000);
		CHECK_EQ(ring_test_wait(killer), 0);
	}
	CHECK_EQ(r, -EPIPE);
	CHECK(strstr(vgpu_chan_strerror(c), "gone"));
	CHECK_EQ(ring_test_wait(pid), 128 + SIGKILL);
	vgpu_chan_close(c);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		printf("usage: %s\nTwo-process ping-pong, clean close and killed-peer tests.\n", argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	ping_pong(VGPU_CHAN_DEFAULT_SPIN_NS, 20000); /* spinning */
	ping_pong(0, 2000);                          /* always sleeping: futex wakeups */
	peer_killed(V_BULK_READ);
	peer_killed(V_BULK_WRITE);
	peer_killed(V_RECV);
	peer_killed(V_SEND_FULL);
	return ring_test_done("ring_fork");
}
