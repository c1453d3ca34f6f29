//go:build unix

// Package xvfb runs UI tests against a real display: it starts Xvfb on a
// free display and re-executes the test binary there, under its own D-Bus
// session (Fyne's systray panics on quit without one). Tests skip with a
// clear message when Xvfb is not installed.
package xvfb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Start starts Xvfb on a free display and returns its name (":123"). The
// server is stopped when the test ends. It skips the test when Xvfb is not
// on PATH.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("Xvfb is not on PATH; install xvfb (apt install xvfb) to run real-window tests")
	}
	for range 10 {
		n := 99 + rand.IntN(400)
		sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
		if exists(sock) || exists(fmt.Sprintf("/tmp/.X%d-lock", n)) {
			continue
		}
		display := fmt.Sprintf(":%d", n)
		cmd := exec.Command(bin, display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start Xvfb: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if waitForSocket(sock, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return display
		}
		_ = cmd.Process.Kill() // lost the race for this display; try another
		<-exited
	}
	t.Fatal("found no free X display for Xvfb")
	return ""
}

// waitForSocket reports whether Xvfb created its socket before exiting or
// fifteen seconds passed.
func waitForSocket(sock string, exited <-chan error) bool {
	deadline := time.After(15 * time.Second)
	for {
		if exists(sock) {
			return true
		}
		select {
		case <-exited:
			return false
		case <-deadline:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Command re-executes the current test binary on display, running only the
// test named run, with env added, under dbus-run-session when available.
// Fyne's preferences and caches go to a temporary config directory, not the
// user's. The process group is killed when ctx ends, and Wait gives up on
// output pipes held by leftover bus daemons.
func Command(ctx context.Context, t testing.TB, display, run string, env ...string) *exec.Cmd {
	args := []string{os.Args[0], "-test.run=^" + run + "$"}
	if dbus, err := exec.LookPath("dbus-run-session"); err == nil {
		args = append([]string{dbus, "--"}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "LANG=en_US.UTF-8", "LC_ALL=en_US.UTF-8", "FYNE_SCALE=1",
		"XDG_CONFIG_HOME="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
