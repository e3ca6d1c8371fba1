// SPDX-License-Identifier: MIT

package main

// gc: registrations that no pod on this node owns any more. A pod deleted while
// the proxy was unreachable keeps its registration (and, with --registry, keeps
// it across proxy restarts); "containerd-shim-vgpu-v1 gc" drops those. Only
// names the shim makes (pod-*, sandbox-*) are considered; a registration is a
// pod's while a directory under state_dir names it (written before the pod
// registers, removed after it unregistered).

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// livePodZones is the set of zone names that a pod state directory names.
func livePodZones(stateDir string) (map[string]bool, error) {
	live := map[string]bool{}
	ents, err := os.ReadDir(stateDir)
	if err != nil {
		if os.IsNotExist(err) {
			return live, nil
		}
		return nil, fmt.Errorf("vgpu shim gc: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(stateDir, e.Name())
		if z, err := readRecord(filepath.Join(dir, "zone.json")); err == nil {
			live[z.Name] = true
		}
		if b, err := os.ReadFile(filepath.Join(dir, "name")); err == nil {
			live[strings.TrimSpace(string(b))] = true
		} else if !os.IsNotExist(err) {
			return nil, fmt.Errorf("vgpu shim gc: %w", err)
		}
		// Neither file: the directory of a pod whose registration has not
		// been asked for yet (the name is written first), so nothing to keep.
	}
	return live, nil
}

// gcRegistrations unregisters the shim-made registrations no pod names and
// reports each on w. It returns how many it dropped.
func gcRegistrations(cfg *Config, w io.Writer) (int, error) {
	live, err := livePodZones(cfg.StateDir)
	if err != nil {
		return 0, err
	}
	ctl := proxyCtl{cfg.ControlSocket}
	names, err := ctl.List()
	if err != nil {
		return 0, err
	}
	dropped := 0
	for _, n := range names {
		if live[n] || !(strings.HasPrefix(n, "pod-") || strings.HasPrefix(n, "sandbox-")) {
			continue
		}
		ended, err := ctl.Unregister(n)
		if err != nil {
			return dropped, fmt.Errorf("vgpu shim gc: unregister %s: %w", n, err)
		}
		fmt.Fprintf(w, "gc: unregistered %s: no pod on this node owns it (%d zone processes ended)\n", n, ended)
		dropped++
	}
	return dropped, nil
}
