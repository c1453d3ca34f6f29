package tools

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRead(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	writeFile(t, filepath.Join(ws, "three.txt"), "l1\nl2\nl3\n")
	writeFile(t, filepath.Join(ws, "nonl.txt"), "a\nb")
	writeFile(t, filepath.Join(ws, "empty.txt"), "")
	writeFile(t, filepath.Join(ws, "bin.dat"), "PNG\x00\x01\x02")
	writeFile(t, filepath.Join(ws, "caps.txt"), "aaaa\nbbbb\ncccc\n")
	writeFile(t, filepath.Join(ws, "long.txt"), "0123456789abcdef\nx\n")
	writeFile(t, filepath.Join(ws, "utf8.txt"), "aaéé\n")
	// A first line longer than the read buffer exercises the
	// partial-line paths of both skipping and collecting.
	writeFile(t, filepath.Join(ws, "huge.txt"), strings.Repeat("z", 100<<10)+"\nsecond\n")
	writeFile(t, filepath.Join(ws, "sub", "in.txt"), "inside\n")
	symlink(t, "sub/in.txt", filepath.Join(ws, "link.txt"))

	tests := []struct {
		name    string
		max     int
		args    map[string]any
		want    string
		wantErr bool
	}{
		{name: "whole file", args: map[string]any{"path": "three.txt"}, want: "l1\nl2\nl3\n"},
		{name: "absolute inside", args: map[string]any{"path": filepath.Join(ws, "three.txt")}, want: "l1\nl2\nl3\n"},
		{name: "through symlink", args: map[string]any{"path": "link.txt"}, want: "inside\n"},
		{name: "no final newline", args: map[string]any{"path": "nonl.txt"}, want: "a\nb"},
		{name: "offset", args: map[string]any{"path": "three.txt", "offset": 2}, want: "l2\nl3\n"},
		{name: "offset and limit", args: map[string]any{"path": "three.txt", "offset": 2, "limit": 1},
			want: "l2\n[showing lines 2-2; more lines follow, call read with offset=3 to continue]"},
		{name: "limit reaching the end", args: map[string]any{"path": "three.txt", "offset": 3, "limit": 1}, want: "l3\n"},
		{name: "limit past the end", args: map[string]any{"path": "nonl.txt", "limit": 5}, want: "a\nb"},
		{name: "last line without newline", args: map[string]any{"path": "nonl.txt", "offset": 2}, want: "b"},
		{name: "offset past end", args: map[string]any{"path": "three.txt", "offset": 5},
			want: `offset 5 is past the end of "three.txt", which has 3 lines`, wantErr: true},
		{name: "offset just past end", args: map[string]any{"path": "three.txt", "offset": 4},
			want: `offset 4 is past the end of "three.txt"`, wantErr: true},
		{name: "empty file", args: map[string]any{"path": "empty.txt"}, want: "(empty file)"},
		{name: "byte cap at line boundary", max: 10, args: map[string]any{"path": "caps.txt"},
			want: "aaaa\nbbbb\n[truncated: output reached the 10-byte cap in line 3; call read with offset=3 to continue]"},
		{name: "byte cap mid line", max: 7, args: map[string]any{"path": "caps.txt"},
			want: "aaaa\nbb\n[truncated: output reached the 7-byte cap in line 2; call read with offset=2 to continue]"},
		{name: "single line over cap", max: 10, args: map[string]any{"path": "long.txt"},
			want: "0123456789\n[truncated: line 1 alone is longer than the 10-byte cap; only its start is shown]"},
		{name: "cap keeps utf8 whole", max: 5, args: map[string]any{"path": "utf8.txt"},
			want: "aaé\n[truncated: line 1 alone is longer than the 5-byte cap; only its start is shown]"},
		{name: "skip line longer than buffer", args: map[string]any{"path": "huge.txt", "offset": 2}, want: "second\n"},
		{name: "binary", args: map[string]any{"path": "bin.dat"},
			want: `"bin.dat" looks like a binary file (it contains NUL bytes); read only returns text`, wantErr: true},
		{name: "directory", args: map[string]any{"path": "sub"}, want: `"sub" is a directory; use ls to list it`, wantErr: true},
		{name: "missing", args: map[string]any{"path": "nope.txt"}, want: `path "nope.txt" does not exist`, wantErr: true},
		{name: "missing path", args: map[string]any{}, want: "path is required", wantErr: true},
		{name: "negative offset", args: map[string]any{"path": "three.txt", "offset": -1}, want: "offset must be 1 or more", wantErr: true},
		{name: "negative limit", args: map[string]any{"path": "three.txt", "limit": -1}, want: "limit must be 1 or more", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := callWith(t, BuiltinOptions{ReadMaxBytes: tt.max}, ws, "read", jsonArgs(t, tt.args))
			if res.IsError != tt.wantErr {
				t.Fatalf("IsError = %v, want %v (content %q)", res.IsError, tt.wantErr, res.Content)
			}
			if tt.wantErr {
				if !strings.Contains(res.Content, tt.want) {
					t.Errorf("content = %q, want it to contain %q", res.Content, tt.want)
				}
				return
			}
			if res.Content != tt.want {
				t.Errorf("content = %q, want %q", res.Content, tt.want)
			}
		})
	}
}

func TestReadHugeLineCapped(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	writeFile(t, filepath.Join(ws, "huge.txt"), strings.Repeat("é", 200<<10))
	res := callWith(t, BuiltinOptions{ReadMaxBytes: 100001}, ws, "read", `{"path":"huge.txt"}`)
	if res.IsError {
		t.Fatalf("unexpected error: %q", res.Content)
	}
	body, note, ok := strings.Cut(res.Content, "\n[truncated")
	if !ok {
		t.Fatalf("no truncation note in %d bytes of output", len(res.Content))
	}
	if len(body) != 100000 || !utf8.ValidString(body) {
		t.Errorf("body is %d bytes (valid UTF-8: %v), want 100000 valid bytes", len(body), utf8.ValidString(body))
	}
	if !strings.Contains(note, "line 1 alone is longer") {
		t.Errorf("note = %q", note)
	}
}

func TestFileToolsKeepOutOfPrivateMemory(t *testing.T) {
	ws := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ws, "memory"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"MEMORY.md", "memory/2026-11-20.md", "notes.md"} {
		if err := os.WriteFile(filepath.Join(ws, f), []byte("secret 4711"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := NewRegistry(Builtins(BuiltinOptions{})...)
	if err != nil {
		t.Fatal(err)
	}
	call := func(env Env, tool string, args string) Result {
		t.Helper()
		tl, _ := reg.Get(tool)
		res, err := tl.Run(context.Background(), env, json.RawMessage(args))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	private := Env{Workspace: ws, NoPrivate: true}
	for _, c := range []struct{ tool, args string }{
		{"read", `{"path":"MEMORY.md"}`},
		{"read", `{"path":"memory.md"}`},
		{"read", `{"path":"./memory/../MEMORY.md"}`},
		{"read", `{"path":"memory/2026-11-20.md"}`},
		{"ls", `{"path":"memory"}`},
		{"write", `{"path":"MEMORY.md","content":"overwritten"}`},
		{"edit", `{"path":"memory/2026-11-20.md","oldText":"secret","newText":"public"}`},
	} {
		res := call(private, c.tool, c.args)
		if !res.IsError || !strings.Contains(res.Content, "private memory") || strings.Contains(res.Content, "4711") {
			t.Errorf("%s %s without private access = %+v", c.tool, c.args, res)
		}
	}
	if res := call(private, "read", `{"path":"notes.md"}`); res.IsError || !strings.Contains(res.Content, "4711") {
		t.Errorf("an ordinary file was refused: %+v", res)
	}
	if res := call(Env{Workspace: ws}, "read", `{"path":"MEMORY.md"}`); res.IsError || !strings.Contains(res.Content, "4711") {
		t.Errorf("the owner's run could not read MEMORY.md: %+v", res)
	}
	if data, _ := os.ReadFile(filepath.Join(ws, "MEMORY.md")); string(data) != "secret 4711" {
		t.Errorf("MEMORY.md changed: %q", data)
	}
}
