/* SPDX-License-Identifier: MIT */
/* vgpuctl — the node orchestrator's command line to vgpu-proxy: register and drop zones, list, stats, checkpoint and migrate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"
#include "quota.h"
#include "vgpuctl.h"

static const char usage[] =
"usage: vgpuctl [--listen PATH] COMMAND\n"
"\n"
"Talks to a running vgpu-proxy on its control socket PATH.ctl (root only).\n"
"\n"
"  register NAME [--mem BYTES] [--handles N]\n"
"                 make a registration (e.g. a pod UID) and print its zone token (32 hex);\n"
"                 clients that set VGPU_ZONE_TOKEN to it open zones with these limits\n"
"                 (BYTES takes K/M/G/T suffixes; absent or 0 = the proxy's --zone-mem-limit)\n"
"  unregister NAME\n"
"                 drop it: the token stops working and its zones end now; prints how many\n"
"  list           one line per registration: name, limits, live zones\n"
"  stats          one line per live zone (as vgpu-proxy --stats)\n"
"  checkpoint ZONE FILE [--stop]\n"
"                 stop zone ZONE (an id from stats) between two calls, finish its device\n"
"                 work and write its whole state to FILE (mode 0600: it holds the zone's\n"
"                 token); the zone then goes on, or with --stop stays stopped until it is\n"
"                 restored elsewhere or thawed (needs vgpu-proxy --state-dir)\n"
"  thaw ZONE      let a stopped zone go on\n"
"  restore FILE   recreate the zone of a checkpoint in this proxy, same handles and device\n"
"                 addresses; its channels move over from the proxy that wrote it when that\n"
"                 one still holds the zone stopped, or, when that proxy is gone and the\n"
"                 file was written with --stop, its programs' channels rejoin it by\n"
"                 themselves (waited for up to vgpu-proxy --rejoin-timeout)\n"
"  migrate ZONE --to CTL\n"
"                 move the zone to the proxy whose control socket is CTL while its\n"
"                 program runs: stopped, streamed straight into a restore there, its\n"
"                 channels taken over; on failure it goes on here. Prints the pause.\n"
"                 CTL may be this proxy's own control socket: the zone then moves into\n"
"                 a new worker here (after a supervisor upgrade: one of the new binary)\n"
"  inspect FILE   check a checkpoint file offline (no proxy asked) by every rule a\n"
"                 restore applies, in one pass, and print what it holds: format version,\n"
"                 backend, zone, registration, handles, allocations, devices (never the\n"
"                 zone's token); exit status 1 with the reason when it would be refused\n"
"\n"
"  --listen PATH  the proxy's --listen socket (default " VGPU_DEFAULT_SOCKET "); the control\n"
"                 socket is PATH.ctl\n"
"  --ctl PATH     the control socket itself (vgpu-proxy --ctl)\n"
"  --help         this text\n"
"\n"
"Exit status: 0 done, 1 the proxy refused (its reason is printed; inspect: the file is not a\n"
"usable checkpoint), 2 usage or cannot reach it (inspect: cannot open the file).\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, 0, 'l' },
		{ "ctl", required_argument, 0, 'c' },
		{ "mem", required_argument, 0, 'm' },
		{ "handles", required_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' },
		{ "stop", no_argument, 0, 's' },
		{ "to", required_argument, 0, 't' },
		{ 0, 0, 0, 0 },
	};
	const char *to = NULL;
	int stop = 0;
	const char *listen = VGPU_DEFAULT_SOCKET, *ctl = NULL, *mem = NULL, *handles = NULL;
	char cmd[512], ctlbuf[128];
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'c': ctl = optarg; break;
		case 'm':
			if (vgpu_size_parse(optarg, &v) < 0) {
				fprintf(stderr, "vgpuctl: --mem %s: expected a size such as 512M or 2G\n", optarg);
				return 2;
			}
			mem = optarg;
			break;
		case 'n':
			if (vgpu_size_parse(optarg, &v) < 0 || v < 1 || v > (1u << 24) || strspn(optarg, "0123456789") != strlen(optarg)) {
				fprintf(stderr, "vgpuctl: --handles %s: expected a number from 1 to 16777216\n", optarg);
				return 2;
			}
			handles = optarg;
			break;
		case 's': stop = 1; break;
		case 't': to = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!ctl) {
		if (snprintf(ctlbuf, sizeof(ctlbuf), "%s.ctl", listen) >= (int)sizeof(ctlbuf)) {
			fprintf(stderr, "vgpuctl: --listen %s: path too long\n", listen);
			return 2;
		}
		ctl = ctlbuf;
	}
	if (optind >= argc) {
		fprintf(stderr, "vgpuctl: no command\n%s", usage);
		return 2;
	}
	const char *verb = argv[optind];
	int nargs = argc - optind - 1;
	int plain = !mem && !handles;
	if (!strcmp(verb, "checkpoint") && nargs == 2 && plain && !to)
		return vgpuctl_checkpoint(ctl, argv[optind + 1], argv[optind + 2], stop);
	if (!strcmp(verb, "thaw") && nargs == 1 && plain && !stop && !to)
		return vgpuctl_thaw(ctl, argv[optind + 1]);
	if (!strcmp(verb, "restore") && nargs == 1 && plain && !stop && !to)
		return vgpuctl_restore(ctl, argv[optind + 1]);
	if (!strcmp(verb, "migrate") && nargs == 1 && plain && !stop && to)
		return vgpuctl_migrate(ctl, argv[optind + 1], to);
	if (!strcmp(verb, "inspect") && nargs == 1 && plain && !stop && !to)
		return vgpuctl_inspect(argv[optind + 1]);
	if (stop || to) {
		fprintf(stderr, "vgpuctl: bad command line for '%s'\n%s", verb, usage);
		return 2;
	}
	if (!strcmp(verb, "register") && nargs == 1) {
		snprintf(cmd, sizeof(cmd), "register %s%s%s%s%s", argv[optind + 1], mem ? " mem=" : "", mem ? mem : "",
			 handles ? " handles=" : "", handles ? handles : "");
	} else if (!strcmp(verb, "unregister") && nargs == 1 && !mem && !handles) {
		snprintf(cmd, sizeof(cmd), "unregister %s", argv[optind + 1]);
	} else if ((!strcmp(verb, "list") || !strcmp(verb, "stats")) && nargs == 0 && !mem && !handles) {
		snprintf(cmd, sizeof(cmd), "%s", verb);
	} else {
		fprintf(stderr, "vgpuctl: bad command line for '%s'\n%s", verb, usage);
		return 2;
	}
	if (strpbrk(cmd, "\n\r")) {
		fprintf(stderr, "vgpuctl: a name cannot contain a line break\n");
		return 2;
	}
	/* register/unregister answer "ok X": print X alone (the token, the count). */
	if (!strcmp(verb, "register") || !strcmp(verb, "unregister")) {
		char *ans = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&ans, &len);
		if (!m) {
			perror("vgpuctl");
			return 2;
		}
		int rc = vgpu_ctl_client("vgpuctl", ctl, cmd, m);
		fclose(m);
		if (rc == 0 && len > 3 && !strncmp(ans, "ok ", 3))
			fputs(ans + 3, stdout);
		else if (rc != 2)
			fprintf(stderr, "vgpuctl: %s", ans && !strncmp(ans, "error ", 6) ? ans + 6 : ans ? ans : "no answer\n");
		if (ans)
			explicit_bzero(ans, len);
		free(ans);
		return rc == 0 ? 0 : rc;
	}
	return vgpu_ctl_client("vgpuctl", ctl, cmd, stdout);
}
