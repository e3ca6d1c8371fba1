// SPDX-License-Identifier: MIT

package main

// Client of vgpu-proxy's control socket (<listen path>.ctl, root only): one
// command line per connection, the answer is read until EOF.

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	zoneNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,63}$`)
	tokenRE    = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

const ctlTimeout = 10 * time.Second

type proxyCtl struct{ path string }

func (p proxyCtl) command(line string) (string, error) {
	conn, err := net.DialTimeout("unix", p.path, ctlTimeout)
	if err != nil {
		return "", fmt.Errorf("vgpu-proxy control socket %s: %w (is vgpu-proxy running on this node?)", p.path, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ctlTimeout))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", fmt.Errorf("vgpu-proxy control socket %s: sending %q: %w", p.path, line, err)
	}
	out, err := io.ReadAll(io.LimitReader(conn, 1<<20))
	if err != nil {
		return "", fmt.Errorf("vgpu-proxy control socket %s: reading the answer to %q: %w", p.path, line, err)
	}
	return string(out), nil
}

// single runs a command whose answer is one "ok ..." or "error ..." line.
func (p proxyCtl) single(line string) (string, error) {
	out, err := p.command(line)
	if err != nil {
		return "", err
	}
	out = strings.TrimRight(out, "\n")
	switch {
	case strings.HasPrefix(out, "ok"):
		return strings.TrimSpace(strings.TrimPrefix(out, "ok")), nil
	case strings.HasPrefix(out, "error"):
		return "", fmt.Errorf("vgpu-proxy refused %q: %s", strings.Fields(line)[0], strings.TrimSpace(strings.TrimPrefix(out, "error")))
	default:
		return "", fmt.Errorf("vgpu-proxy: unexpected answer to %q: %q", strings.Fields(line)[0], out)
	}
}

// Register creates a registration and returns its token.
func (p proxyCtl) Register(name string, mem, handles uint64) (string, error) {
	if !zoneNameRE.MatchString(name) {
		return "", fmt.Errorf("zone name %q does not match [A-Za-z0-9._-]{1,63}", name)
	}
	line := "register " + name
	if mem != 0 {
		line += " mem=" + strconv.FormatUint(mem, 10)
	}
	if handles != 0 {
		line += " handles=" + strconv.FormatUint(handles, 10)
	}
	tok, err := p.single(line)
	if err != nil {
		return "", err
	}
	if !tokenRE.MatchString(tok) {
		return "", fmt.Errorf("vgpu-proxy: register %s: the answer is not a 32-hex-digit token", name)
	}
	return strings.ToLower(tok), nil
}

// Unregister ends a registration (the proxy kills its zones) and returns how
// many live zones it ended.
func (p proxyCtl) Unregister(name string) (int, error) {
	if !zoneNameRE.MatchString(name) {
		return 0, fmt.Errorf("zone name %q does not match [A-Za-z0-9._-]{1,63}", name)
	}
	n, err := p.single("unregister " + name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.Fields(n + " 0")[0])
	if err != nil {
		return 0, fmt.Errorf("vgpu-proxy: unregister %s: unexpected answer %q", name, n)
	}
	return v, nil
}

// List returns the names of every registration.
func (p proxyCtl) List() ([]string, error) {
	out, err := p.command("list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "error" {
			return nil, fmt.Errorf("vgpu-proxy refused \"list\": %s", l)
		}
		if len(f) >= 2 && f[0] == "reg" {
			names = append(names, f[1])
		}
	}
	return names, nil
}

// Registered reports whether a registration of that name exists.
func (p proxyCtl) Registered(name string) (bool, error) {
	out, err := p.command("list")
	if err != nil {
		return false, err
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "reg" && f[1] == name {
			return true, nil
		}
		if len(f) > 0 && f[0] == "error" {
			return false, fmt.Errorf("vgpu-proxy refused \"list\": %s", l)
		}
	}
	return false, nil
}
