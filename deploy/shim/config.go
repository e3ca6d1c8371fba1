// SPDX-License-Identifier: MIT

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultConfigPath is read when neither the runtime options (ConfigPath) nor
// VGPU_SHIM_CONFIG name a configuration file. A missing default file means
// "all defaults"; a missing file that was named explicitly is an error.
const DefaultConfigPath = "/etc/vgpu/shim.json"

// Config is the node-level configuration of the shim (JSON).
type Config struct {
	// Mode is "container" (default: the pod's containers run under runc with
	// libvgpu injected) or "xen" (one domU per pod, see xen.go).
	Mode string `json:"mode"`
	// ProxySocket is the node's vgpu-proxy zone socket (host path).
	ProxySocket string `json:"proxy_socket"`
	// ControlSocket is the proxy's root-only control socket; default ProxySocket + ".ctl".
	ControlSocket string `json:"control_socket"`
	// Libvgpu is the host path of libvgpu, mounted into containers as libcuda.so.1.
	Libvgpu string `json:"libvgpu"`
	// ExtraLibs are host libraries mounted read-only beside libvgpu: vgpu's
	// libnvidia-ml.so.1 (NVML for zones) and what libvgpu needs that images may
	// lack (libzstd.so.1, liblz4.so.1).
	ExtraLibs []string `json:"extra_libs"`
	// ContainerLibDir is where libcuda.so.1 appears inside containers; it is
	// prepended to LD_LIBRARY_PATH.
	ContainerLibDir string `json:"container_lib_dir"`
	// ContainerSocket is where the zone socket appears inside containers (VGPU_PROXY).
	ContainerSocket string `json:"container_socket"`
	// MountSocketDir mounts the zone socket's directory (at ContainerSocket's
	// directory) instead of the socket file: a restarted proxy's new socket then
	// reaches running pods. That directory must hold nothing else of the
	// proxy's (the control socket elsewhere: vgpu-proxy --ctl).
	MountSocketDir bool `json:"mount_socket_dir"`
	// ContainerTokenFile is where the pod's token appears inside containers (VGPU_ZONE_TOKEN_FILE).
	ContainerTokenFile string `json:"container_token_file"`
	// StateDir holds one root-only directory per vgpu pod (its token and registration).
	StateDir string `json:"state_dir"`
	// DefaultMemory is the device-memory quota of a pod without a vgpu.dev/memory
	// annotation ("" or "0": the proxy's default). Sizes take K/M/G/T and Ki/Mi/Gi/Ti suffixes.
	DefaultMemory string `json:"default_memory"`
	// MaxMemory caps what a pod may ask for ("" or "0": no cap). Annotations are
	// written by pod authors, so the node decides the ceiling.
	MaxMemory string `json:"max_memory"`
	// DefaultHandles and MaxHandles are the same for the live-handle quota.
	DefaultHandles uint64 `json:"default_handles"`
	MaxHandles     uint64 `json:"max_handles"`
	// Xen configures xen mode.
	Xen XenConfig `json:"xen"`

	defaultMemory, maxMemory uint64
	source                   string
}

// XenConfig describes how a pod's domU is built in xen mode.
type XenConfig struct {
	XL        string `json:"xl"`         // xl binary (default "xl" on PATH)
	Xenstore  string `json:"xenstore"`   // xenstore-write binary (default "xenstore-write")
	Kernel    string `json:"kernel"`     // zone kernel (deploy/zone-image output)
	Ramdisk   string `json:"ramdisk"`    // zone initramfs
	Cmdline   string `json:"cmdline"`    // extra kernel command line
	Type      string `json:"type"`       // pvh (default) or pv
	MemoryMiB int    `json:"memory_mib"` // guest RAM (default 512)
	VCPUs     int    `json:"vcpus"`      // default 1
	Bridge    string `json:"bridge"`     // network bridge for one vif ("" = no network)
	ConfigDir string `json:"config_dir"` // where the generated xl configs go (default StateDir)
}

func defaultConfig() *Config {
	return &Config{
		Mode:               "container",
		ProxySocket:        "/run/vgpu/proxy.sock",
		Libvgpu:            "/usr/lib/vgpu/libcuda.so.1",
		ContainerLibDir:    "/usr/local/vgpu/lib",
		ContainerSocket:    "/run/vgpu/proxy.sock",
		ContainerTokenFile: "/run/vgpu/zone-token",
		StateDir:           "/run/vgpu/pods",
	}
}

// loadConfig reads path (explicit == true: it must exist) over the defaults and checks it.
func loadConfig(path string, explicit bool) (*Config, error) {
	c := defaultConfig()
	c.source = "defaults"
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			dec := json.NewDecoder(strings.NewReader(string(data)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(c); err != nil {
				return nil, fmt.Errorf("vgpu shim config %s: %w", path, err)
			}
			c.source = path
		case errors.Is(err, os.ErrNotExist) && !explicit:
		default:
			return nil, fmt.Errorf("vgpu shim config: %w", err)
		}
	}
	return c, c.check()
}

func (c *Config) check() error {
	if c.Mode == "" {
		c.Mode = "container"
	}
	if c.Mode != "container" && c.Mode != "xen" {
		return fmt.Errorf("vgpu shim config %s: mode %q: want \"container\" or \"xen\"", c.source, c.Mode)
	}
	if c.ControlSocket == "" {
		c.ControlSocket = c.ProxySocket + ".ctl"
	}
	for name, p := range map[string]string{
		"proxy_socket": c.ProxySocket, "control_socket": c.ControlSocket, "libvgpu": c.Libvgpu,
		"container_lib_dir": c.ContainerLibDir, "container_socket": c.ContainerSocket,
		"container_token_file": c.ContainerTokenFile, "state_dir": c.StateDir,
	} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("vgpu shim config %s: %s must be an absolute path, got %q", c.source, name, p)
		}
	}
	if c.MountSocketDir {
		dir := filepath.Dir(filepath.Clean(c.ProxySocket))
		if dir == "/" || strings.HasPrefix(filepath.Clean(c.ControlSocket), dir+"/") {
			return fmt.Errorf("vgpu shim config %s: mount_socket_dir: the control socket %s would be mounted "+
				"into pods with %s; give the zone socket a directory of its own (vgpu-proxy --ctl elsewhere)",
				c.source, c.ControlSocket, dir)
		}
		if filepath.Base(c.ProxySocket) != filepath.Base(c.ContainerSocket) {
			return fmt.Errorf("vgpu shim config %s: mount_socket_dir: container_socket must end in %q like proxy_socket",
				c.source, filepath.Base(c.ProxySocket))
		}
	}
	for _, l := range c.ExtraLibs {
		if !filepath.IsAbs(l) {
			return fmt.Errorf("vgpu shim config %s: extra_libs entry %q is not an absolute path", c.source, l)
		}
	}
	var err error
	if c.defaultMemory, err = parseBytes(c.DefaultMemory); err != nil {
		return fmt.Errorf("vgpu shim config %s: default_memory: %w", c.source, err)
	}
	if c.maxMemory, err = parseBytes(c.MaxMemory); err != nil {
		return fmt.Errorf("vgpu shim config %s: max_memory: %w", c.source, err)
	}
	if c.maxMemory != 0 && c.defaultMemory > c.maxMemory {
		return fmt.Errorf("vgpu shim config %s: default_memory is above max_memory", c.source)
	}
	if c.MaxHandles != 0 && c.DefaultHandles > c.MaxHandles {
		return fmt.Errorf("vgpu shim config %s: default_handles is above max_handles", c.source)
	}
	if c.Xen.XL == "" {
		c.Xen.XL = "xl"
	}
	if c.Xen.Xenstore == "" {
		c.Xen.Xenstore = "xenstore-write"
	}
	if c.Xen.Type == "" {
		c.Xen.Type = "pvh"
	}
	if c.Xen.MemoryMiB == 0 {
		c.Xen.MemoryMiB = 512
	}
	if c.Xen.VCPUs == 0 {
		c.Xen.VCPUs = 1
	}
	if c.Xen.ConfigDir == "" {
		c.Xen.ConfigDir = c.StateDir
	}
	return nil
}

// parseBytes reads a size: plain bytes, or a decimal (K, M, G, T) or binary
// (Ki, Mi, Gi, Ti) suffix as in Kubernetes quantities. "" is 0.
func parseBytes(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	mult := uint64(1)
	for _, u := range []struct {
		suf string
		m   uint64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	} {
		if strings.HasSuffix(s, u.suf) {
			mult, s = u.m, strings.TrimSuffix(s, u.suf)
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with K/M/G/T or Ki/Mi/Gi/Ti)", s)
	}
	if n != 0 && mult > ^uint64(0)/n {
		return 0, fmt.Errorf("size %s overflows", s)
	}
	return n * mult, nil
}
