package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// execMaxTimeout bounds timeoutSeconds so a model cannot park a run.
	execMaxTimeout = time.Hour
	// drainTimeout bounds how long output is still collected after the
	// command's process group is gone; only a process that left the group
	// (setsid) can hold the pipe open that long.
	drainTimeout = 2 * time.Second
)

type execArgs struct {
	Command        string `json:"command"`
	Cwd            string `json:"cwd"`
	TimeoutSeconds int    `json:"timeoutSeconds"`
}

func execTool(o BuiltinOptions) Tool {
	return Tool{
		Name: "exec",
		Description: fmt.Sprintf("Run a shell command (%s -c) in the workspace and return its combined stdout and stderr "+
			"and exit code. No stdin. Default timeout %s; output capped at %d bytes. Background processes "+
			"are killed when the command finishes. Secret-looking environment variables are not passed on.",
			o.Shell, o.ExecTimeout, o.ExecMaxOutput),
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"command":{"type":"string","description":"Shell command line to run."},` +
			`"cwd":{"type":"string","description":"Working directory inside the workspace (default: the workspace)."},` +
			`"timeoutSeconds":{"type":"integer","minimum":1,"maximum":3600,"description":"Kill the command after this many seconds."}` +
			`},"required":["command"],"additionalProperties":false}`),
		Category: CategoryExec,
		Run: func(ctx context.Context, env Env, raw json.RawMessage) (Result, error) {
			var a execArgs
			if msg := decodeArgs("exec", raw, &a); msg != "" {
				return Result{Content: msg, IsError: true}, nil
			}
			switch {
			case strings.TrimSpace(a.Command) == "":
				return errorResult("invalid arguments for exec: command is required"), nil
			case a.TimeoutSeconds < 0 || time.Duration(a.TimeoutSeconds)*time.Second > execMaxTimeout:
				return errorResult("invalid arguments for exec: timeoutSeconds must be between 1 and %d", int(execMaxTimeout/time.Second)), nil
			}
			timeout := o.ExecTimeout
			if a.TimeoutSeconds > 0 {
				timeout = time.Duration(a.TimeoutSeconds) * time.Second
			}
			return runExec(ctx, env, a, o, timeout)
		},
	}
}

func runExec(ctx context.Context, env Env, a execArgs, o BuiltinOptions, timeout time.Duration) (Result, error) {
	if a.Cwd == "" {
		a.Cwd = "."
	}
	// The working directory is confined like any file path. The command
	// itself can still name any path; exec is guarded by approval policy,
	// not by the file sandbox.
	t, msg, err := openTarget(env, a.Cwd)
	if err != nil || msg != "" {
		return Result{Content: msg, IsError: true}, err
	}
	fi, err := t.root.Stat(t.rel)
	dir := filepath.Join(t.root.Name(), t.rel)
	t.root.Close()
	switch {
	case err != nil:
		return Result{Content: fsMessage(a.Cwd, err), IsError: true}, nil
	case !fi.IsDir():
		return errorResult("cwd %q is not a directory", a.Cwd), nil
	}

	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, o.Shell, "-c", a.Command)
	cmd.Dir = dir
	cmd.Env = filterEnv(os.Environ(), o.HiddenEnv...)
	configureProcessGroup(cmd)
	// Record whether the context killed the command, so a command that
	// finished just before the deadline is not reported as timed out.
	var killed atomic.Bool
	cancelFn := cmd.Cancel
	cmd.Cancel = func() error {
		killed.Store(true)
		return cancelFn()
	}

	// stdout and stderr share one pipe so their output stays in order. The
	// pipe is ours (an *os.File), so Wait returns as soon as the shell exits
	// instead of waiting for background children that inherited it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("exec: create pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	out := &capWriter{max: o.ExecMaxOutput}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		switch {
		case ctx.Err() != nil:
			return errorResult("[cancelled before the command started]"), ctx.Err()
		case tctx.Err() != nil:
			return errorResult("[timed out after %s before the command started]", timeout), nil
		}
		return Result{}, fmt.Errorf("exec: start %s: %w", o.Shell, err)
	}
	pw.Close() // the children hold the write end now
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()

	waitErr := cmd.Wait()
	// Nothing the command started may outlive the call: background jobs
	// would keep running unsupervised and hold the pipe open.
	_ = killGroup(cmd)
	select {
	case <-copied:
	case <-time.After(drainTimeout):
		pr.Close() // unblocks the copy; a process escaped the group
		<-copied
	}
	pr.Close()

	res := Result{Content: out.String()}
	var note string
	switch {
	case killed.Load() && ctx.Err() != nil:
		res.IsError = true
		res.Content = appendNote(res.Content, "[cancelled]")
		return res, ctx.Err()
	case killed.Load():
		res.IsError = true
		note = fmt.Sprintf("[timed out after %s; the command and its child processes were killed]", timeout)
	case cmd.ProcessState == nil:
		return Result{}, fmt.Errorf("exec: wait: %w", waitErr)
	case cmd.ProcessState.ExitCode() == -1:
		res.IsError = true
		note = fmt.Sprintf("[terminated: %s]", cmd.ProcessState)
	default:
		code := cmd.ProcessState.ExitCode()
		res.IsError = code != 0
		note = fmt.Sprintf("[exit code %d]", code)
	}
	res.Content = appendNote(res.Content, note)
	return res, nil
}

func appendNote(s, note string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s + note
}

// capWriter keeps the first max bytes written and counts the rest.
type capWriter struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total += int64(len(p))
	if room := w.max - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// String returns the kept output, with a marker when some was dropped.
func (w *capWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total <= int64(w.max) {
		return string(w.buf)
	}
	return appendNote(string(w.buf), fmt.Sprintf("[output truncated after %d bytes]", w.max))
}
