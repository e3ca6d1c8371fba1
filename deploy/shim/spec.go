// SPDX-License-Identifier: MIT

package main

// Reading and editing the OCI bundle's config.json. The spec is edited as
// generic JSON so that fields this build's runtime-spec package does not know
// survive the round trip unchanged.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CRI annotations (github.com/containerd/containerd/pkg/cri/annotations).
const (
	annContainerType = "io.kubernetes.cri.container-type"
	annSandboxID     = "io.kubernetes.cri.sandbox-id"
	annSandboxUID    = "io.kubernetes.cri.sandbox-uid"
	annSandboxName   = "io.kubernetes.cri.sandbox-name"
	annSandboxNS     = "io.kubernetes.cri.sandbox-namespace"

	// Pod annotations the shim reads (containerd passes them when the runtime's
	// pod_annotations lists "vgpu.dev/*").
	annMemory  = "vgpu.dev/memory"
	annHandles = "vgpu.dev/handles"
)

type bundleSpec struct {
	path  string
	mode  os.FileMode
	raw   map[string]json.RawMessage
	Annot map[string]string
}

func readBundleSpec(bundle string) (*bundleSpec, error) {
	p := filepath.Join(bundle, "config.json")
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("OCI spec: %w", err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("OCI spec: %w", err)
	}
	s := &bundleSpec{path: p, mode: st.Mode().Perm()}
	if err := json.Unmarshal(data, &s.raw); err != nil {
		return nil, fmt.Errorf("OCI spec %s: %w", p, err)
	}
	if a, ok := s.raw["annotations"]; ok {
		if err := json.Unmarshal(a, &s.Annot); err != nil {
			return nil, fmt.Errorf("OCI spec %s: annotations: %w", p, err)
		}
	}
	if s.Annot == nil {
		s.Annot = map[string]string{}
	}
	return s, nil
}

func (s *bundleSpec) write() error {
	data, err := json.Marshal(s.raw)
	if err != nil {
		return err
	}
	tmp := s.path + ".vgpu.tmp"
	if err := os.WriteFile(tmp, data, s.mode); err != nil {
		return fmt.Errorf("OCI spec: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("OCI spec: %w", err)
	}
	return nil
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"`
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// injection is what a vgpu container receives: read-only bind mounts and environment.
type injection struct {
	Mounts []ociMount
	Env    map[string]string // LD_LIBRARY_PATH is prepended to an existing value, others replace
}

func (s *bundleSpec) inject(inj *injection) error {
	var mounts []json.RawMessage
	if m, ok := s.raw["mounts"]; ok {
		if err := json.Unmarshal(m, &mounts); err != nil {
			return fmt.Errorf("OCI spec: mounts: %w", err)
		}
	}
	// An image or pod volume at one of our destinations is replaced: the pod
	// must not bring its own libcuda.so.1, socket or token there.
	taken := map[string]bool{}
	for _, m := range inj.Mounts {
		taken[filepath.Clean(m.Destination)] = true
	}
	kept := mounts[:0]
	for _, raw := range mounts {
		var m ociMount
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("OCI spec: mount: %w", err)
		}
		if !taken[filepath.Clean(m.Destination)] {
			kept = append(kept, raw)
		}
	}
	mounts = kept
	for _, m := range inj.Mounts {
		b, _ := json.Marshal(m)
		mounts = append(mounts, b)
	}
	b, err := json.Marshal(mounts)
	if err != nil {
		return err
	}
	s.raw["mounts"] = b

	var proc map[string]json.RawMessage
	if p, ok := s.raw["process"]; ok {
		if err := json.Unmarshal(p, &proc); err != nil {
			return fmt.Errorf("OCI spec: process: %w", err)
		}
	}
	if proc == nil {
		return fmt.Errorf("OCI spec %s has no process", s.path)
	}
	var env []string
	if e, ok := proc["env"]; ok {
		if err := json.Unmarshal(e, &env); err != nil {
			return fmt.Errorf("OCI spec: process.env: %w", err)
		}
	}
	env = mergeEnv(env, inj.Env)
	if proc["env"], err = json.Marshal(env); err != nil {
		return err
	}
	if s.raw["process"], err = json.Marshal(proc); err != nil {
		return err
	}
	return nil
}

func mergeEnv(env []string, set map[string]string) []string {
	done := map[string]bool{}
	for i, kv := range env {
		k := kv
		if j := strings.IndexByte(kv, '='); j >= 0 {
			k = kv[:j]
		}
		v, ok := set[k]
		if !ok {
			continue
		}
		if k == "LD_LIBRARY_PATH" && len(kv) > len(k)+1 {
			v = v + ":" + kv[len(k)+1:]
		}
		env[i] = k + "=" + v
		done[k] = true
	}
	for _, k := range sortedKeys(set) {
		if !done[k] {
			env = append(env, k+"="+set[k])
		}
	}
	return env
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// buildInjection is the libvgpu + socket + token set for one pod's containers.
func buildInjection(c *Config, z *zoneRecord) *injection {
	ro := []string{"rbind", "ro", "nosuid", "nodev"}
	// (TRITON_LIBCUDA_PATH: Triton, for torch.compile and vLLM, looks for libcuda.so.1 with
	// ldconfig, which does not know the mounted directory, unless this names it)
	inj := &injection{Env: map[string]string{
		"LD_LIBRARY_PATH":      c.ContainerLibDir,
		"TRITON_LIBCUDA_PATH":  c.ContainerLibDir,
		"VGPU_PROXY":           c.ContainerSocket,
		"VGPU_ZONE_TOKEN_FILE": c.ContainerTokenFile,
		"VGPU_ZONE_NAME":       z.Name,
	}}
	// libvgpu under both names: libcuda.so.1, which the CUDA runtime loads, and
	// libcuda.so, which programs that dlopen the unversioned name try first (hashcat,
	// cuew, numba) and which a link with -lcuda needs (Triton builds its launcher so
	// in the directory where it found libcuda.so.1).
	for _, name := range []string{"libcuda.so.1", "libcuda.so"} {
		inj.Mounts = append(inj.Mounts, ociMount{
			Destination: filepath.Join(c.ContainerLibDir, name), Type: "bind", Source: c.Libvgpu,
			Options: ro})
	}
	for _, l := range c.ExtraLibs {
		inj.Mounts = append(inj.Mounts, ociMount{
			Destination: filepath.Join(c.ContainerLibDir, filepath.Base(l)), Type: "bind", Source: l,
			Options: ro})
	}
	// The zone socket only, or (mount_socket_dir) its directory, which then
	// holds nothing else (config check): a restarted proxy's socket shows up in it.
	sockDst, sockSrc := c.ContainerSocket, c.ProxySocket
	if c.MountSocketDir {
		sockDst, sockSrc = filepath.Dir(c.ContainerSocket), filepath.Dir(c.ProxySocket)
	}
	inj.Mounts = append(inj.Mounts, ociMount{
		Destination: sockDst, Type: "bind", Source: sockSrc,
		Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	inj.Mounts = append(inj.Mounts, ociMount{
		Destination: c.ContainerTokenFile, Type: "bind", Source: z.TokenFile,
		Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	return inj
}
