// SPDX-License-Identifier: MIT

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{
		"": 0, "0": 0, "4096": 4096, "4Mi": 4 << 20, "1Gi": 1 << 30, "2G": 2e9, "3k": 3000, " 5Ki ": 5 << 10,
	} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "1.5Gi", "Gi", "12X", "99999999999999999999", "20000000Ti"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

func TestQuotas(t *testing.T) {
	cfg := defaultConfig()
	cfg.DefaultMemory, cfg.MaxMemory, cfg.MaxHandles = "1Gi", "4Gi", 1000
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	mem, h, err := quotas(cfg, map[string]string{})
	if err != nil || mem != 1<<30 || h != 1000 {
		t.Errorf("defaults: %d %d %v", mem, h, err)
	}
	mem, h, err = quotas(cfg, map[string]string{annMemory: "2Gi", annHandles: "10"})
	if err != nil || mem != 2<<30 || h != 10 {
		t.Errorf("annotated: %d %d %v", mem, h, err)
	}
	for _, a := range []map[string]string{
		{annMemory: "8Gi"}, {annMemory: "0"}, {annMemory: "lots"}, {annHandles: "1001"}, {annHandles: "-3"},
	} {
		if _, _, err := quotas(cfg, a); err == nil {
			t.Errorf("quotas(%v) accepted", a)
		}
	}
	// No cap: an unannotated pod gets the proxy's default (0 = not sent).
	cfg = defaultConfig()
	_ = cfg.check()
	if mem, h, err := quotas(cfg, nil); err != nil || mem != 0 || h != 0 {
		t.Errorf("no defaults: %d %d %v", mem, h, err)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "shim.json")
	os.WriteFile(p, []byte(`{"proxy_socket": "/x/p.sock", "max_memory": "2Gi"}`), 0o600)
	c, err := loadConfig(p, true)
	if err != nil || c.ControlSocket != "/x/p.sock.ctl" || c.maxMemory != 2<<30 || c.Libvgpu != defaultConfig().Libvgpu {
		t.Fatalf("loadConfig: %+v %v", c, err)
	}
	os.WriteFile(p, []byte(`{"proxy_sock": "/x"}`), 0o600)
	if _, err := loadConfig(p, true); err == nil {
		t.Error("unknown field accepted")
	}
	os.WriteFile(p, []byte(`{"state_dir": "relative"}`), 0o600)
	if _, err := loadConfig(p, true); err == nil {
		t.Error("relative path accepted")
	}
	if _, err := loadConfig(filepath.Join(dir, "none.json"), true); err == nil {
		t.Error("missing explicit config accepted")
	}
	if _, err := loadConfig(filepath.Join(dir, "none.json"), false); err != nil {
		t.Errorf("missing default config: %v", err)
	}
}

func TestInject(t *testing.T) {
	dir := t.TempDir()
	spec := `{"ociVersion":"1.0.2","process":{"args":["/app"],"env":["PATH=/bin","LD_LIBRARY_PATH=/opt/lib","VGPU_PROXY=/evil"],"futureField":7},
"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/usr/local/vgpu/lib/libcuda.so.1","type":"bind","source":"/host/fake"}],
"annotations":{"io.kubernetes.cri.container-type":"container"},"linux":{"unknownThing":{"a":1}}}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(spec), 0o640)
	s, err := readBundleSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.ExtraLibs = []string{"/usr/lib/x86_64-linux-gnu/libzstd.so.1"}
	_ = cfg.check()
	z := &zoneRecord{Name: "pod-x", TokenFile: "/run/vgpu/pods/sb/token"}
	if err := s.inject(buildInjection(cfg, z)); err != nil {
		t.Fatal(err)
	}
	if err := s.write(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var out struct {
		Process struct {
			Env         []string
			FutureField int `json:"futureField"`
		}
		Mounts []ociMount
		Linux  map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	env := strings.Join(out.Process.Env, " ")
	for _, want := range []string{"PATH=/bin", "LD_LIBRARY_PATH=/usr/local/vgpu/lib:/opt/lib", "VGPU_PROXY=/run/vgpu/proxy.sock",
		"VGPU_ZONE_TOKEN_FILE=/run/vgpu/zone-token", "VGPU_ZONE_NAME=pod-x"} {
		if !strings.Contains(" "+env+" ", " "+want+" ") {
			t.Errorf("env %q lacks %q", env, want)
		}
	}
	if strings.Contains(env, "/evil") {
		t.Errorf("the pod's own VGPU_PROXY survived: %q", env)
	}
	if out.Process.FutureField != 7 || out.Linux["unknownThing"] == nil {
		t.Errorf("unknown spec fields were lost: %s", data)
	}
	dest := map[string]ociMount{}
	for _, m := range out.Mounts {
		if _, dup := dest[m.Destination]; dup {
			t.Errorf("two mounts at %s", m.Destination)
		}
		dest[m.Destination] = m
	}
	if m := dest["/usr/local/vgpu/lib/libcuda.so.1"]; m.Source != cfg.Libvgpu || !contains(m.Options, "ro") {
		t.Errorf("libcuda mount: %+v", m)
	}
	if !contains(out.Process.Env, "TRITON_LIBCUDA_PATH=/usr/local/vgpu/lib") {
		t.Errorf("TRITON_LIBCUDA_PATH not set to the library directory: %q", out.Process.Env)
	}
	if m := dest["/usr/local/vgpu/lib/libcuda.so"]; m.Source != cfg.Libvgpu || !contains(m.Options, "ro") {
		t.Errorf("libcuda.so (unversioned) mount: %+v", m)
	}
	if m := dest["/usr/local/vgpu/lib/libzstd.so.1"]; m.Source != cfg.ExtraLibs[0] {
		t.Errorf("extra lib mount: %+v", m)
	}
	if m := dest["/run/vgpu/proxy.sock"]; m.Source != "/run/vgpu/proxy.sock" {
		t.Errorf("socket mount: %+v", m)
	}
	if m := dest["/run/vgpu/zone-token"]; m.Source != z.TokenFile || !contains(m.Options, "ro") {
		t.Errorf("token mount: %+v", m)
	}
	for d, m := range dest {
		if strings.HasSuffix(m.Source, ".ctl") || d == "/run/vgpu" {
			t.Errorf("control socket or socket directory exposed: %+v", m)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "config.json")); st.Mode().Perm() != 0o640 {
		t.Errorf("config.json mode changed to %v", st.Mode())
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// fakeProxy answers the control protocol like vgpu-proxy does.
func fakeProxy(t *testing.T) (string, *[]string) {
	p := filepath.Join(t.TempDir(), "p.sock.ctl")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	regs := map[string]bool{}
	var seen []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			line = strings.TrimSpace(line)
			seen = append(seen, line)
			f := strings.Fields(line)
			switch {
			case f[0] == "register" && regs[f[1]]:
				c.Write([]byte("error registration exists\n"))
			case f[0] == "register":
				regs[f[1]] = true
				c.Write([]byte("ok 0123456789abcdef0123456789ABCDEF\n"))
			case f[0] == "unregister" && regs[f[1]]:
				delete(regs, f[1])
				c.Write([]byte("ok 2\n"))
			case f[0] == "unregister":
				c.Write([]byte("error no such registration\n"))
			case f[0] == "list":
				for n := range regs {
					c.Write([]byte("reg " + n + " mem=0 handles=0 zones=0\n"))
				}
			}
			c.Close()
		}
	}()
	return p, &seen
}

func TestProxyCtl(t *testing.T) {
	p, seen := fakeProxy(t)
	ctl := proxyCtl{p}
	tok, err := ctl.Register("pod-1", 4<<20, 10)
	if err != nil || tok != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("register: %q %v", tok, err)
	}
	if (*seen)[0] != "register pod-1 mem=4194304 handles=10" {
		t.Errorf("sent %q", (*seen)[0])
	}
	if _, err := ctl.Register("pod-1", 0, 0); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("duplicate register: %v", err)
	}
	if ok, err := ctl.Registered("pod-1"); !ok || err != nil {
		t.Errorf("Registered: %v %v", ok, err)
	}
	if n, err := ctl.Unregister("pod-1"); n != 2 || err != nil {
		t.Errorf("unregister: %d %v", n, err)
	}
	if _, err := ctl.Unregister("pod-1"); err == nil {
		t.Error("second unregister succeeded")
	}
	if _, err := ctl.Register("bad name", 0, 0); err == nil {
		t.Error("bad name accepted")
	}
	if _, err := (proxyCtl{p + ".none"}).Register("x", 0, 0); err == nil || !strings.Contains(err.Error(), "vgpu-proxy running") {
		t.Errorf("missing socket: %v", err)
	}
}

func TestZoneName(t *testing.T) {
	if n := podZoneName(map[string]string{annSandboxUID: "0b5a6c2e-1f7e-4c44-9d43-1a2b3c4d5e6f"}, "abc"); n != "pod-0b5a6c2e-1f7e-4c44-9d43-1a2b3c4d5e6f" {
		t.Errorf("uid name %q", n)
	}
	id := strings.Repeat("f", 64)
	if n := podZoneName(nil, id); n != "sandbox-"+strings.Repeat("f", 32) || !zoneNameRE.MatchString(n) {
		t.Errorf("id name %q", n)
	}
	if n := podZoneName(map[string]string{annSandboxUID: "has space/slash"}, "x"); n != "sandbox-x" {
		t.Errorf("bad uid name %q", n)
	}
}

func TestXLConfig(t *testing.T) {
	c := defaultConfig()
	c.Xen.Kernel, c.Xen.Ramdisk, c.Xen.Bridge, c.Xen.Cmdline = "/var/lib/vgpu/zone/vmlinuz", "/var/lib/vgpu/zone/initrd", "xenbr0", "console=hvc0"
	_ = c.check()
	text, err := xlConfig(&c.Xen, "vgpu-pod-1", "pod-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name = "vgpu-pod-1"`, `type = "pvh"`, `kernel = "/var/lib/vgpu/zone/vmlinuz"`,
		`ramdisk = "/var/lib/vgpu/zone/initrd"`, `extra = "console=hvc0 vgpu.zone=pod-1"`, "memory = 512", "vcpus = 1",
		`vif = [ "bridge=xenbr0" ]`, `on_crash = "destroy"`} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("xl config lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "token") {
		t.Error("the token is in the xl config (it goes to xenstore)")
	}
	c.Xen.Kernel = ""
	if _, err := xlConfig(&c.Xen, "d", "z"); err == nil {
		t.Error("no kernel accepted")
	}
}

// TestXenBootSequence runs xenBoot and xenDestroy against stand-in xl and
// xenstore-* commands that record their arguments: the domain is created
// paused, handed its zone name and token readable by it alone, then unpaused;
// a failure while publishing destroys the half-booted domain.
func TestXenBootSequence(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "calls")
	fake := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >>" + logf + "\n" +
		"[ \"$1\" = domid ] && echo 7\n" +
		"[ -n \"$FAIL_ON\" ] && [ \"$(basename \"$0\")\" = \"$FAIL_ON\" ] && exit 1\nexit 0\n"
	for _, n := range []string{"xl", "xenstore-write", "xenstore-chmod"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("00112233445566778899aabbccddeeff\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	c := defaultConfig()
	c.Xen.Kernel, c.Xen.XL, c.Xen.Xenstore, c.Xen.ConfigDir = "/zone/vmlinuz", filepath.Join(dir, "xl"), filepath.Join(dir, "xenstore-write"), dir
	_ = c.check()
	z := &zoneRecord{Name: "pod-1", TokenFile: tok}
	if err := xenBoot(context.Background(), c, z); err != nil {
		t.Fatal(err)
	}
	if err := xenDestroy(context.Background(), z); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(logf)
	want := "xl create -q -p " + filepath.Join(dir, "vgpu-pod-1.cfg") + "\n" +
		"xl domid vgpu-pod-1\n" +
		"xenstore-write /local/domain/7/vgpu/zone pod-1 /local/domain/7/vgpu/token 00112233445566778899aabbccddeeff\n" +
		"xenstore-chmod /local/domain/7/vgpu/zone n0 r7\n" +
		"xenstore-chmod /local/domain/7/vgpu/token n0 r7\n" +
		"xl unpause vgpu-pod-1\n" +
		"xl destroy vgpu-pod-1\n"
	if string(got) != want {
		t.Errorf("commands:\n%s\nwant:\n%s", got, want)
	}

	os.Remove(logf)
	t.Setenv("FAIL_ON", "xenstore-chmod")
	z = &zoneRecord{Name: "pod-2", TokenFile: tok}
	if err := xenBoot(context.Background(), c, z); err == nil {
		t.Fatal("xenBoot succeeded although xenstore-chmod failed")
	}
	got, _ = os.ReadFile(logf)
	if !strings.HasSuffix(string(got), "xl destroy vgpu-pod-2\n") || strings.Contains(string(got), "unpause") {
		t.Errorf("a failed publish must destroy the paused domain, never unpause it:\n%s", got)
	}
}

// TestMountSocketDir: with mount_socket_dir the zone socket's directory is
// mounted (so a restarted proxy's socket reaches running pods), and a config
// that would mount the control socket with it is refused.
func TestMountSocketDir(t *testing.T) {
	c := defaultConfig()
	c.ProxySocket, c.ControlSocket, c.ContainerSocket = "/run/vgpu/zone/proxy.sock", "/run/vgpu/ctl.sock", "/run/vgpu/zone/proxy.sock"
	c.MountSocketDir = true
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	inj := buildInjection(c, &zoneRecord{Name: "pod-x", TokenFile: "/t"})
	found := false
	for _, m := range inj.Mounts {
		if m.Source == "/run/vgpu/zone/proxy.sock" {
			t.Errorf("the socket file is mounted although mount_socket_dir is set: %+v", m)
		}
		if m.Source == "/run/vgpu/zone" && m.Destination == "/run/vgpu/zone" && contains(m.Options, "ro") {
			found = true
		}
	}
	if !found {
		t.Errorf("no read-only mount of the socket directory: %+v", inj.Mounts)
	}
	if inj.Env["VGPU_PROXY"] != "/run/vgpu/zone/proxy.sock" {
		t.Errorf("VGPU_PROXY %q", inj.Env["VGPU_PROXY"])
	}
	for _, bad := range []struct{ sock, ctl, csock string }{
		{"/run/vgpu/proxy.sock", "", "/run/vgpu/proxy.sock"},                             // ctl defaults to proxy.sock.ctl beside it
		{"/run/vgpu/zone/proxy.sock", "/run/vgpu/zone/ctl", "/run/vgpu/zone/proxy.sock"}, // ctl in the same directory
		{"/proxy.sock", "/run/ctl.sock", "/proxy.sock"},                                  // the root directory
		{"/run/vgpu/zone/proxy.sock", "/run/ctl.sock", "/run/vgpu/zone/other.sock"},      // different socket names
	} {
		c := defaultConfig()
		c.ProxySocket, c.ControlSocket, c.ContainerSocket, c.MountSocketDir = bad.sock, bad.ctl, bad.csock, true
		if err := c.check(); err == nil {
			t.Errorf("accepted mount_socket_dir with socket %s, control %q, container %s", bad.sock, bad.ctl, bad.csock)
		}
	}
}

// TestGC: only shim-made registrations that no pod state directory names are
// dropped; a pod being created (its name file written, no record yet) keeps its own.
func TestGC(t *testing.T) {
	p, seen := fakeProxy(t)
	ctl := proxyCtl{p}
	for _, n := range []string{"pod-a", "pod-b", "sandbox-c", "pod-d", "other"} {
		if _, err := ctl.Register(n, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	os.MkdirAll(filepath.Join(state, "sa"), 0o700)
	rec, _ := json.Marshal(&zoneRecord{Name: "pod-a", ControlSocket: p, PodDir: filepath.Join(state, "sa")})
	os.WriteFile(filepath.Join(state, "sa", "zone.json"), rec, 0o600)
	os.MkdirAll(filepath.Join(state, "sc"), 0o700)
	os.WriteFile(filepath.Join(state, "sc", "name"), []byte("sandbox-c\n"), 0o600)
	os.MkdirAll(filepath.Join(state, "empty"), 0o700)
	c := defaultConfig()
	c.StateDir, c.ControlSocket = state, p
	var out strings.Builder
	n, err := gcRegistrations(c, &out)
	if err != nil || n != 2 {
		t.Fatalf("gc: %d %v\n%s", n, err, out.String())
	}
	names, _ := ctl.List()
	got := strings.Join(sortedCopy(names), " ")
	if got != "other pod-a sandbox-c" {
		t.Errorf("left registered: %q (sent %q)", got, *seen)
	}
	if !strings.Contains(out.String(), "unregistered pod-b") || !strings.Contains(out.String(), "unregistered pod-d") {
		t.Errorf("gc output: %q", out.String())
	}
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
