package tools

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// newWorkspace returns a fresh workspace directory with symlinks resolved, so
// expectations about absolute paths hold on systems where TMPDIR is a link.
func newWorkspace(t testing.TB) string {
	t.Helper()
	ws, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func readBack(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// builtin returns the named built-in tool built with o.
func builtin(t *testing.T, o BuiltinOptions, name string) Tool {
	t.Helper()
	for _, tl := range Builtins(o) {
		if tl.Name == name {
			return tl
		}
	}
	t.Fatalf("no builtin %q", name)
	return Tool{}
}

// call runs a built-in tool with default options and raw JSON arguments.
func call(t *testing.T, ws, name, args string) Result {
	t.Helper()
	return callWith(t, BuiltinOptions{}, ws, name, args)
}

func callWith(t *testing.T, o BuiltinOptions, ws, name, args string) Result {
	t.Helper()
	res, err := builtin(t, o, name).Run(context.Background(), Env{Workspace: ws, AgentID: "a1"}, json.RawMessage(args))
	if err != nil {
		t.Fatalf("%s(%s): internal error: %v", name, args, err)
	}
	return res
}

// jsonArgs marshals v for use as tool arguments.
func jsonArgs(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
