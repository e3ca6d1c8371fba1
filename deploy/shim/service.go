// SPDX-License-Identifier: MIT

package main

// The task service: containerd's runc v2 shim, with a vgpu zone per pod.
//
//   sandbox (pause) container created  -> register a zone with vgpu-proxy, keep its token
//   application container created      -> inject libvgpu, the zone socket and the token
//   sandbox task deleted / cleaned up  -> unregister the zone (the proxy ends its processes)

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/containerd/log"
	runtimeoptions "github.com/containerd/containerd/pkg/runtimeoptions/v1"
	runcv2 "github.com/containerd/containerd/runtime/v2/runc/v2"
	"github.com/containerd/containerd/runtime/v2/shim"
	taskAPI "github.com/containerd/containerd/runtime/v2/task"
	"github.com/gogo/protobuf/proto"
)

// zoneRecord is one pod's registration; it is kept in the pod's state
// directory and, for "shim delete" after a crash, in the sandbox bundle.
type zoneRecord struct {
	Name          string `json:"name"`
	SandboxID     string `json:"sandbox_id"`
	ControlSocket string `json:"control_socket"`
	PodDir        string `json:"pod_dir"`
	TokenFile     string `json:"token_file"`
	Memory        uint64 `json:"memory"`
	Handles       uint64 `json:"handles"`
	Mode          string `json:"mode"`
	XLConfig      string `json:"xl_config,omitempty"`
	XL            string `json:"xl,omitempty"`
	Domain        string `json:"domain,omitempty"`
}

const bundleRecord = "vgpu-zone.json"

type service struct {
	shim.Shim

	mu     sync.Mutex
	cfg    *Config
	owned  map[string]*zoneRecord // task id -> the zone it registered (sandboxes, standalone containers)
	bundle map[string]string      // task id -> bundle
}

func newService(ctx context.Context, id string, publisher shim.Publisher, shutdown func()) (shim.Shim, error) {
	inner, err := runcv2.New(ctx, id, publisher, shutdown)
	if err != nil {
		return nil, err
	}
	return &service{Shim: inner, owned: map[string]*zoneRecord{}, bundle: map[string]string{}}, nil
}

// configFor resolves the configuration: the runtime options' ConfigPath
// (containerd: [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vgpu.options]
// ConfigPath = "..."), else $VGPU_SHIM_CONFIG, else /etc/vgpu/shim.json.
func configFor(r *taskAPI.CreateTaskRequest) (*Config, error) {
	if r.Options != nil && r.Options.GetTypeUrl() != "" {
		if !strings.HasSuffix(r.Options.GetTypeUrl(), "runtimeoptions.v1.Options") {
			return nil, fmt.Errorf("vgpu shim: unexpected runtime options type %q (configure the runtime's options with ConfigPath only)", r.Options.GetTypeUrl())
		}
		var o runtimeoptions.Options
		if err := proto.Unmarshal(r.Options.GetValue(), &o); err != nil {
			return nil, fmt.Errorf("vgpu shim: runtime options: %w", err)
		}
		if o.ConfigPath != "" {
			return loadConfig(o.ConfigPath, true)
		}
	}
	if p := os.Getenv("VGPU_SHIM_CONFIG"); p != "" {
		return loadConfig(p, true)
	}
	return loadConfig(DefaultConfigPath, false)
}

func (s *service) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (*taskAPI.CreateTaskResponse, error) {
	cfg, err := configFor(r)
	if err != nil {
		return nil, err
	}
	// The runc task service reads runc options from here; ours are not those.
	r.Options = nil
	spec, err := readBundleSpec(r.Bundle)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cfg = cfg
	s.bundle[r.ID] = r.Bundle
	s.mu.Unlock()

	var owned *zoneRecord
	switch spec.Annot[annContainerType] {
	case "sandbox":
		// The pod's zone: registered before anything of the pod runs.
		z, err := s.registerZone(ctx, cfg, r.ID, podZoneName(spec.Annot, r.ID), spec.Annot, r.Bundle)
		if err != nil {
			return nil, err
		}
		owned = z
		if cfg.Mode == "xen" {
			if err := xenBoot(ctx, cfg, z); err != nil {
				s.releaseZone(ctx, z, r.Bundle)
				return nil, err
			}
			writeRecord(z, r.Bundle)
		}
	case "container":
		sid := spec.Annot[annSandboxID]
		if sid == "" {
			return nil, fmt.Errorf("vgpu shim: container %s has no %s annotation", r.ID, annSandboxID)
		}
		if cfg.Mode == "xen" {
			return nil, fmt.Errorf("vgpu shim: xen mode runs the pod in its own domU; starting application containers inside it needs the in-zone agent, which is not implemented yet (see docs/KUBERNETES.md)")
		}
		z, err := readRecord(filepath.Join(cfg.StateDir, sid, "zone.json"))
		if err != nil {
			return nil, fmt.Errorf("vgpu shim: pod sandbox %s has no vgpu zone, refusing to start container %s without one: %w", sid, r.ID, err)
		}
		if err := spec.inject(buildInjection(cfg, z)); err != nil {
			return nil, err
		}
		if err := spec.write(); err != nil {
			return nil, err
		}
		log.G(ctx).WithField("zone", z.Name).Infof("vgpu: container %s of sandbox %s gets libvgpu, the zone socket and the zone token", r.ID, sid)
	default:
		// Not a CRI container (ctr run --runtime io.containerd.vgpu.v1): a zone of its own.
		if cfg.Mode == "xen" {
			return nil, fmt.Errorf("vgpu shim: xen mode serves Kubernetes pods only (container %s has no %s annotation)", r.ID, annContainerType)
		}
		z, err := s.registerZone(ctx, cfg, r.ID, "ctr-"+shortID(r.ID), spec.Annot, r.Bundle)
		if err != nil {
			return nil, err
		}
		owned = z
		if err := spec.inject(buildInjection(cfg, z)); err == nil {
			err = spec.write()
		}
		if err != nil {
			s.releaseZone(ctx, z, r.Bundle)
			return nil, err
		}
	}

	resp, err := s.Shim.Create(ctx, r)
	if err != nil {
		if owned != nil {
			s.releaseZone(ctx, owned, r.Bundle)
		}
		return nil, err
	}
	if owned != nil {
		s.mu.Lock()
		s.owned[r.ID] = owned
		s.mu.Unlock()
	}
	return resp, nil
}

func (s *service) Delete(ctx context.Context, r *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	resp, err := s.Shim.Delete(ctx, r)
	if r.ExecID != "" {
		return resp, err
	}
	s.mu.Lock()
	z := s.owned[r.ID]
	bundle := s.bundle[r.ID]
	if err == nil {
		delete(s.owned, r.ID)
		delete(s.bundle, r.ID)
	}
	s.mu.Unlock()
	if z != nil && err == nil {
		s.releaseZone(ctx, z, bundle)
	}
	return resp, err
}

// Cleanup runs as "containerd-shim-vgpu-v1 delete" in the bundle directory when
// the shim process is gone (crash, node restart): end the zone from the record.
func (s *service) Cleanup(ctx context.Context) (*taskAPI.DeleteResponse, error) {
	if cwd, err := os.Getwd(); err == nil {
		if z, err := readRecord(filepath.Join(cwd, bundleRecord)); err == nil {
			s.releaseZone(ctx, z, cwd)
		}
	}
	return s.Shim.Cleanup(ctx)
}

// podZoneName names the zone after the pod UID (unique in the cluster, stable
// over sandbox restarts); without one, after the sandbox id.
func podZoneName(annot map[string]string, id string) string {
	if uid := annot[annSandboxUID]; uid != "" && zoneNameRE.MatchString("pod-"+uid) {
		return "pod-" + uid
	}
	return "sandbox-" + shortID(id)
}

func shortID(id string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, id)
	if len(clean) > 32 {
		clean = clean[:32]
	}
	return clean
}

// quotas takes the pod's annotations within the node's limits.
func quotas(cfg *Config, annot map[string]string) (mem, handles uint64, err error) {
	mem = cfg.defaultMemory
	if v, ok := annot[annMemory]; ok {
		if mem, err = parseBytes(v); err != nil {
			return 0, 0, fmt.Errorf("vgpu shim: annotation %s: %w", annMemory, err)
		}
		if mem == 0 {
			return 0, 0, fmt.Errorf("vgpu shim: annotation %s: 0 is not a quota", annMemory)
		}
	}
	if cfg.maxMemory != 0 && (mem == 0 || mem > cfg.maxMemory) {
		if _, asked := annot[annMemory]; asked {
			return 0, 0, fmt.Errorf("vgpu shim: annotation %s=%s is above this node's max_memory %s", annMemory, annot[annMemory], cfg.MaxMemory)
		}
		mem = cfg.maxMemory
	}
	handles = cfg.DefaultHandles
	if v, ok := annot[annHandles]; ok {
		if handles, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64); err != nil || handles == 0 {
			return 0, 0, fmt.Errorf("vgpu shim: annotation %s=%q: want a positive number", annHandles, v)
		}
		if cfg.MaxHandles != 0 && handles > cfg.MaxHandles {
			return 0, 0, fmt.Errorf("vgpu shim: annotation %s=%s is above this node's max_handles %d", annHandles, v, cfg.MaxHandles)
		}
	}
	if cfg.MaxHandles != 0 && handles == 0 {
		handles = cfg.MaxHandles
	}
	return mem, handles, nil
}

func (s *service) registerZone(ctx context.Context, cfg *Config, id, name string, annot map[string]string, bundle string) (*zoneRecord, error) {
	mem, handles, err := quotas(cfg, annot)
	if err != nil {
		return nil, err
	}
	ctl := proxyCtl{cfg.ControlSocket}
	// The pod's state directory names the zone before it is registered, so that
	// "gc" never takes a registration being made for an orphan.
	podDir := filepath.Join(cfg.StateDir, id)
	if err := os.MkdirAll(podDir, 0o700); err != nil {
		return nil, fmt.Errorf("vgpu shim: pod state dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(podDir, "name"), []byte(name+"\n"), 0o600); err != nil {
		os.RemoveAll(podDir)
		return nil, fmt.Errorf("vgpu shim: pod state dir: %w", err)
	}
	token, err := ctl.Register(name, mem, handles)
	if err != nil {
		// A registration left by an earlier sandbox of the same pod (its
		// processes are gone with that sandbox): end it and register again.
		if exists, lerr := ctl.Registered(name); lerr == nil && exists {
			log.G(ctx).Warnf("vgpu: zone %s is still registered from an earlier sandbox of this pod; ending it", name)
			if _, uerr := ctl.Unregister(name); uerr == nil {
				token, err = ctl.Register(name, mem, handles)
			}
		}
		if err != nil {
			os.RemoveAll(podDir)
			return nil, err
		}
	}
	z := &zoneRecord{Name: name, SandboxID: id, ControlSocket: cfg.ControlSocket, Memory: mem, Handles: handles,
		Mode: cfg.Mode, PodDir: filepath.Join(cfg.StateDir, id)}
	z.TokenFile = filepath.Join(z.PodDir, "token")
	if err := writePodState(cfg, z, token); err != nil {
		_, _ = ctl.Unregister(name)
		os.RemoveAll(z.PodDir)
		return nil, err
	}
	writeRecord(z, bundle)
	log.G(ctx).WithField("zone", name).Infof("vgpu: registered zone for %s (mem=%d handles=%d)", id, mem, handles)
	return z, nil
}

func writePodState(cfg *Config, z *zoneRecord, token string) error {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("vgpu shim: state dir: %w", err)
	}
	if err := os.Mkdir(z.PodDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("vgpu shim: pod state dir: %w", err)
	}
	// Readable by any user inside the pod's containers (they see this one file
	// only, through a read-only bind mount); the directories above are root-only.
	if err := os.WriteFile(z.TokenFile, []byte(token+"\n"), 0o444); err != nil {
		return fmt.Errorf("vgpu shim: token file: %w", err)
	}
	if err := os.Chmod(z.TokenFile, 0o444); err != nil {
		return fmt.Errorf("vgpu shim: token file: %w", err)
	}
	data, _ := json.MarshalIndent(z, "", "  ")
	if err := os.WriteFile(filepath.Join(z.PodDir, "zone.json"), data, 0o600); err != nil {
		return fmt.Errorf("vgpu shim: zone record: %w", err)
	}
	return nil
}

func writeRecord(z *zoneRecord, bundle string) {
	if bundle == "" {
		return
	}
	data, _ := json.MarshalIndent(z, "", "  ")
	_ = os.WriteFile(filepath.Join(bundle, bundleRecord), data, 0o600)
	_ = os.WriteFile(filepath.Join(z.PodDir, "zone.json"), data, 0o600)
}

func readRecord(path string) (*zoneRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var z zoneRecord
	if err := json.Unmarshal(data, &z); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !zoneNameRE.MatchString(z.Name) || z.ControlSocket == "" || z.PodDir == "" {
		return nil, fmt.Errorf("%s: incomplete zone record", path)
	}
	return &z, nil
}

// releaseZone ends the domU (xen mode), the registration and the pod's state.
func (s *service) releaseZone(ctx context.Context, z *zoneRecord, bundle string) {
	if z.Domain != "" {
		if err := xenDestroy(ctx, z); err != nil {
			log.G(ctx).WithError(err).Warnf("vgpu: zone %s: destroying domain %s", z.Name, z.Domain)
		}
	}
	n, err := proxyCtl{z.ControlSocket}.Unregister(z.Name)
	if err != nil {
		log.G(ctx).WithError(err).Warnf("vgpu: zone %s: unregister", z.Name)
	} else {
		log.G(ctx).WithField("zone", z.Name).Infof("vgpu: unregistered zone (%d live zone processes ended)", n)
	}
	if err := os.RemoveAll(z.PodDir); err != nil {
		log.G(ctx).WithError(err).Warnf("vgpu: zone %s: removing %s", z.Name, z.PodDir)
	}
	if bundle != "" {
		os.Remove(filepath.Join(bundle, bundleRecord))
	}
}
