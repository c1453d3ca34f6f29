package tools

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func skipWithoutShell(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("exec tests need /bin/sh")
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	skipWithoutShell(t)
	ws := newWorkspace(t)
	writeFile(t, filepath.Join(ws, "sub", "f.txt"), "in sub\n")
	tests := []struct {
		name    string
		args    map[string]any
		want    string
		wantErr bool
	}{
		{name: "ok", args: map[string]any{"command": "echo hello"}, want: "hello\n[exit code 0]"},
		{name: "stdout and stderr in order", args: map[string]any{"command": "echo a; echo b >&2; echo c"},
			want: "a\nb\nc\n[exit code 0]"},
		{name: "no output", args: map[string]any{"command": "true"}, want: "[exit code 0]"},
		{name: "no final newline", args: map[string]any{"command": "printf x"}, want: "x\n[exit code 0]"},
		{name: "non-zero exit", args: map[string]any{"command": "echo oops; exit 3"}, want: "oops\n[exit code 3]", wantErr: true},
		{name: "runs in workspace", args: map[string]any{"command": "cat sub/f.txt"}, want: "in sub\n[exit code 0]"},
		{name: "cwd", args: map[string]any{"command": "cat f.txt", "cwd": "sub"}, want: "in sub\n[exit code 0]"},
		{name: "absolute cwd inside", args: map[string]any{"command": "cat f.txt", "cwd": filepath.Join(ws, "sub")},
			want: "in sub\n[exit code 0]"},
		{name: "no stdin", args: map[string]any{"command": "cat"}, want: "[exit code 0]"},
		{name: "killed by signal", args: map[string]any{"command": "kill -9 $$"}, want: "[terminated: signal: killed]", wantErr: true},
		{name: "cwd is a file", args: map[string]any{"command": "true", "cwd": "sub/f.txt"},
			want: `cwd "sub/f.txt" is not a directory`, wantErr: true},
		{name: "cwd missing", args: map[string]any{"command": "true", "cwd": "nope"},
			want: `path "nope" does not exist`, wantErr: true},
		{name: "empty command", args: map[string]any{"command": "  "}, want: "command is required", wantErr: true},
		{name: "timeout too large", args: map[string]any{"command": "true", "timeoutSeconds": 3601},
			want: "timeoutSeconds must be between 1 and 3600", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := call(t, ws, "exec", jsonArgs(t, tt.args))
			if res.IsError != tt.wantErr {
				t.Errorf("IsError = %v, want %v", res.IsError, tt.wantErr)
			}
			if !strings.HasSuffix(res.Content, tt.want) {
				t.Errorf("content = %q, want it to end with %q", res.Content, tt.want)
			}
		})
	}
}

func TestExecOutputCap(t *testing.T) {
	t.Parallel()
	skipWithoutShell(t)
	ws := newWorkspace(t)
	res := callWith(t, BuiltinOptions{ExecMaxOutput: 100}, ws, "exec",
		`{"command":"i=0; while [ $i -lt 50 ]; do echo 0123456789; i=$((i+1)); done"}`)
	want := strings.Repeat("0123456789\n", 9) + "0" + "\n[output truncated after 100 bytes]\n[exit code 0]"
	if res.IsError || res.Content != want {
		t.Errorf("content = %q, want %q", res.Content, want)
	}
}

func TestExecSecretEnvStripped(t *testing.T) {
	// t.Setenv forbids t.Parallel.
	skipWithoutShell(t)
	t.Setenv("GENOS_TEST_PASSPHRASE", "s1")
	t.Setenv("GENOS_OTHER", "s2")
	t.Setenv("OPENAI_API_KEY", "s3")
	t.Setenv("telegram_bot_token", "s4")
	t.Setenv("DB_PASSWORD", "s5")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s6")
	t.Setenv("GIT_CREDENTIAL_HELPER_X", "s7")
	t.Setenv("GENOS_VISIBLE_CHECK", "s8")
	t.Setenv("PLAIN_TEST_VAR", "visible")
	ws := newWorkspace(t)
	res := call(t, ws, "exec", `{"command":"env"}`)
	if res.IsError {
		t.Fatalf("env failed: %q", res.Content)
	}
	for _, s := range []string{"=s1", "=s2", "=s3", "=s4", "=s5", "=s6", "=s7", "=s8"} {
		if strings.Contains(res.Content, s) {
			t.Errorf("secret value %q visible to the command", s)
		}
	}
	for _, s := range []string{"PLAIN_TEST_VAR=visible", "PATH="} {
		if !strings.Contains(res.Content, s) {
			t.Errorf("%q missing from the command environment", s)
		}
	}
}

func TestExecCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	skipWithoutShell(t)
	ws := newWorkspace(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := builtin(t, BuiltinOptions{}, "exec").Run(ctx, Env{Workspace: ws}, json.RawMessage(`{"command":"touch ran"}`))
	if !errors.Is(err, context.Canceled) || !res.IsError {
		t.Errorf("Run = %+v, %v; want an error result and context.Canceled", res, err)
	}
	if _, serr := os.Stat(filepath.Join(ws, "ran")); serr == nil {
		t.Errorf("the command ran despite the cancelled context")
	}
}

func TestExecTimeoutArgument(t *testing.T) {
	t.Parallel()
	skipWithoutShell(t)
	ws := newWorkspace(t)
	// The default timeout is tiny, the explicit one generous: the command
	// must finish, proving timeoutSeconds overrides the default.
	res := callWith(t, BuiltinOptions{ExecTimeout: time.Nanosecond}, ws, "exec", `{"command":"echo ok","timeoutSeconds":60}`)
	if res.IsError || res.Content != "ok\n[exit code 0]" {
		t.Errorf("result = %+v", res)
	}
	res = callWith(t, BuiltinOptions{ExecTimeout: time.Nanosecond}, ws, "exec", `{"command":"echo ok"}`)
	if !res.IsError || !strings.Contains(res.Content, "[timed out after 1ns") {
		t.Errorf("result = %+v, want a timeout", res)
	}
}
