/* SPDX-License-Identifier: MIT */
/* pause.c — the pod sandbox's process for the test's private containerd (built static, alone
 * in the pause image): waits for SIGTERM/SIGINT and reaps children meanwhile. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_chld(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction term = { .sa_handler = on_term }, chld = { .sa_handler = on_chld, .sa_flags = SA_NOCLDSTOP };

	sigaction(SIGTERM, &term, NULL);
	sigaction(SIGINT, &term, NULL);
	sigaction(SIGCHLD, &chld, NULL);
	for (;;)
		pause();
}
