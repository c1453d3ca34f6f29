//go:build unix

package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitGone waits until pid no longer runs (gone or a zombie awaiting its
// reaper). The deadline only bounds a failing test; nothing is timed.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// The state follows the parenthesised command name.
			if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d still running", pid)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(readBack(t, path)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	return pid
}

func TestExecTimeoutKillsChildren(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	res := callWith(t, BuiltinOptions{ExecTimeout: 300 * time.Millisecond}, ws, "exec",
		`{"command":"echo before; sleep 30 & echo $! > child.pid; wait"}`)
	want := "before\n[timed out after 300ms; the command and its child processes were killed]"
	if !res.IsError || res.Content != want {
		t.Errorf("result = %+v, want content %q", res, want)
	}
	waitGone(t, readPid(t, filepath.Join(ws, "child.pid")))
}

func TestExecKillsLeftoverBackgroundJobs(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	// The shell exits at once while its background child still holds the
	// output pipe; the call must return and take the child with it.
	res := call(t, ws, "exec", `{"command":"sleep 30 & echo $! > child.pid; echo done"}`)
	if res.IsError || res.Content != "done\n[exit code 0]" {
		t.Errorf("result = %+v", res)
	}
	waitGone(t, readPid(t, filepath.Join(ws, "child.pid")))
}

func TestExecParentCancelWhileRunning(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := builtin(t, BuiltinOptions{}, "exec").Run(ctx, Env{Workspace: ws},
			json.RawMessage(`{"command":"sleep 30 & echo $! > child.tmp; mv child.tmp child.pid; wait"}`))
		done <- outcome{res, err}
	}()
	// The rename makes the pid file appear complete; poll for it so the
	// cancellation hits a running command.
	pidFile := filepath.Join(ws, "child.pid")
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		select {
		case o := <-done:
			t.Fatalf("command ended before cancellation: %+v, %v", o.res, o.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	o := <-done
	if !errors.Is(o.err, context.Canceled) || !o.res.IsError || !strings.HasSuffix(o.res.Content, "[cancelled]") {
		t.Errorf("Run = %+v, %v; want a [cancelled] error result and context.Canceled", o.res, o.err)
	}
	waitGone(t, readPid(t, pidFile))
}
