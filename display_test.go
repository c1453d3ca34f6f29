//go:build !nogui

package main

import (
	"net"
	"path/filepath"
	"testing"
)

func TestX11Address(t *testing.T) {
	for _, tt := range []struct {
		in, network, addr string
		ok                bool
	}{
		{":0", "unix", "/tmp/.X11-unix/X0", true},
		{":12.0", "unix", "/tmp/.X11-unix/X12", true},
		{"unix:3", "unix", "/tmp/.X11-unix/X3", true},
		{"localhost:10.0", "tcp", "localhost:6010", true},
		{"nonsense", "", "", false},
		{":x", "", "", false},
	} {
		network, addr, ok := x11Address(tt.in)
		if network != tt.network || addr != tt.addr || ok != tt.ok {
			t.Errorf("x11Address(%q) = %q %q %v", tt.in, network, addr, ok)
		}
	}
}

func TestDisplayProblem(t *testing.T) {
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("DISPLAY", "")
	if p := displayProblem(); p != "No display found" {
		t.Fatalf("no DISPLAY: %q", p)
	}
	t.Setenv("DISPLAY", ":9999")
	if p := displayProblem(); p == "" {
		t.Fatal("an unreachable display was accepted")
	}
	// A Wayland socket that answers counts as a display.
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "wayland-0"))
	if err != nil {
		t.Skipf("unix sockets unavailable: %v", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("WAYLAND_DISPLAY", "wayland-0")
	if p := displayProblem(); p != "" {
		t.Fatalf("reachable Wayland socket rejected: %q", p)
	}
}
