/* SPDX-License-Identifier: MIT */
/* ring_socket.c — the shm transport's real bootstrap: listen, connect with hello + memfd, recv_hello in one process, attach in another. */
#include <sys/socket.h>

#include "ring_test.h"

int main(int argc, char **argv)
{
	char path[64], hello[64];
	struct vgpu_chan *cl = NULL, *sv = NULL;
	struct vgpu_msg_hdr h;
	uint32_t len = 0;
	int lfd, sock, memfd = -1;
	pid_t pid;

	if (argc > 1) {
		printf("usage: %s\nshm transport bootstrap over a unix socket path.\n", argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	snprintf(path, sizeof(path), "/tmp/vgpu-ring-test-%d.sock", (int)getpid());
	CHECK_EQ(vgpu_shm_connect(path, "x", 1, &VGPU_CHAN_DEFAULT_GEOM, &cl), -ENOENT);
	CHECK(strstr(vgpu_chan_setup_error(), "is vgpu-proxy running"));
	MUST(vgpu_shm_listen(path, &lfd));
	pid = fork();
	if (pid == 0) { /* the zone */
		uint8_t buf[100];
		int rc = 1;

		close(lfd);
		if (vgpu_shm_connect(path, "zone-hello", 10, &VGPU_CHAN_DEFAULT_GEOM, &cl) == 0 &&
		    vgpu_chan_send(cl, 1, 0, 7, "ping", 4) == 0 && vgpu_chan_flush(cl) == 0 &&
		    vgpu_chan_recv(cl, &h, buf, sizeof(buf)) == 4 && !memcmp(buf, "pong", 4) && h.seq == 7)
			rc = 0;
		vgpu_chan_close(cl);
		_exit(rc);
	}
	sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(sock >= 0);
	MUST(vgpu_shm_recv_hello(sock, hello, sizeof(hello), &len, &memfd));
	CHECK(len == 10 && !memcmp(hello, "zone-hello", 10));
	pid_t worker = fork();
	if (worker == 0) { /* the per-zone worker attaches with the fds passed on */
		uint8_t buf[100];
		int rc = 1;

		if (vgpu_shm_attach(sock, memfd, &sv) == 0 &&
		    vgpu_chan_recv(sv, &h, buf, sizeof(buf)) == 4 && !memcmp(buf, "ping", 4) &&
		    vgpu_chan_send(sv, 1, VGPU_MSG_F_REPLY, h.seq, "pong", 4) == 0 && vgpu_chan_flush(sv) == 0 &&
		    vgpu_chan_recv(sv, &h, buf, sizeof(buf)) == -EPIPE) /* the zone closed */
			rc = 0;
		else
			fprintf(stderr, "worker: %s / %s\n", vgpu_chan_setup_error(), sv ? vgpu_chan_strerror(sv) : "");
		vgpu_chan_close(sv);
		_exit(rc);
	}
	close(sock);
	close(memfd);
	CHECK_EQ(ring_test_wait(pid), 0);
	CHECK_EQ(ring_test_wait(worker), 0);
	close(lfd);
	unlink(path);
	return ring_test_done("ring_socket");
}
