// SPDX-License-Identifier: MIT

// containerd-shim-vgpu-v1: the containerd shim (v2) behind the "vgpu"
// RuntimeClass. Each pod gets a zone registered with the node's vgpu-proxy;
// its containers get libvgpu as libcuda.so.1, the zone socket and the zone's
// token; the zone is unregistered when the pod's sandbox goes away.
// See docs/KUBERNETES.md.
package main

import (
	"fmt"
	"os"

	"github.com/containerd/containerd/runtime/v2/shim"
)

const runtimeName = "io.containerd.vgpu.v1"

const usage = `containerd-shim-vgpu-v1: containerd shim v2 for the "vgpu" RuntimeClass

containerd starts this binary itself (runtime_type = "io.containerd.vgpu.v1").
Commands for people:
  containerd-shim-vgpu-v1 --help
  containerd-shim-vgpu-v1 check-config [FILE]     load and check a shim config (default %s)
  containerd-shim-vgpu-v1 xl-config [FILE] ZONE   print the xl config xen mode would use for ZONE
  containerd-shim-vgpu-v1 gc [FILE]               unregister the pod-* / sandbox-* registrations
                                                  that no pod on this node owns any more

The config (JSON) is found through the runtime's options (ConfigPath), then
$VGPU_SHIM_CONFIG, then %s. Pod annotations read: vgpu.dev/memory, vgpu.dev/handles.
`

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "--help", "-h", "help":
			fmt.Printf(usage, DefaultConfigPath, DefaultConfigPath)
			return
		case "check-config", "xl-config", "gc":
			if err := tool(os.Args[1], os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "containerd-shim-vgpu-v1:", err)
				os.Exit(1)
			}
			return
		}
	}
	shim.Run(runtimeName, newService)
}

func tool(cmd string, args []string) error {
	path, explicit := DefaultConfigPath, false
	if ((cmd == "check-config" || cmd == "gc") && len(args) == 1) || (cmd == "xl-config" && len(args) == 2) {
		path, explicit, args = args[0], true, args[1:]
	}
	cfg, err := loadConfig(path, explicit)
	if err != nil {
		return err
	}
	switch cmd {
	case "gc":
		if len(args) != 0 {
			return fmt.Errorf("usage: gc [FILE]")
		}
		n, err := gcRegistrations(cfg, os.Stdout)
		if err == nil {
			fmt.Printf("gc: %d registration(s) dropped\n", n)
		}
		return err
	case "check-config":
		if len(args) != 0 {
			return fmt.Errorf("usage: check-config [FILE]")
		}
		fmt.Printf("config %s: mode=%s proxy_socket=%s control_socket=%s libvgpu=%s state_dir=%s\n",
			cfg.source, cfg.Mode, cfg.ProxySocket, cfg.ControlSocket, cfg.Libvgpu, cfg.StateDir)
		for _, p := range append([]string{cfg.Libvgpu}, cfg.ExtraLibs...) {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("config %s: %w", cfg.source, err)
			}
		}
		return nil
	default:
		if len(args) != 1 || !zoneNameRE.MatchString(args[0]) {
			return fmt.Errorf("usage: xl-config [FILE] ZONE (ZONE: [A-Za-z0-9._-]{1,63})")
		}
		text, err := xlConfig(&cfg.Xen, xenDomainName(args[0]), args[0])
		if err != nil {
			return err
		}
		fmt.Print(text)
		return nil
	}
}
