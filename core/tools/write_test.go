package tools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	writeFile(t, filepath.Join(ws, "sub", "x"), "")
	tests := []struct {
		name    string
		args    map[string]any
		file    string // checked when set
		want    string
		wantErr string
	}{
		{name: "new file", args: map[string]any{"path": "a.txt", "content": "hello\n"}, file: "a.txt", want: "hello\n"},
		{name: "creates parents", args: map[string]any{"path": "d1/d2/b.txt", "content": "deep"}, file: "d1/d2/b.txt", want: "deep"},
		{name: "absolute inside", args: map[string]any{"path": filepath.Join(ws, "abs.txt"), "content": "abs"}, file: "abs.txt", want: "abs"},
		{name: "empty content", args: map[string]any{"path": "empty.txt", "content": ""}, file: "empty.txt", want: ""},
		{name: "directory target", args: map[string]any{"path": "sub", "content": "x"}, wantErr: `"sub" is a directory`},
		{name: "parent is a file", args: map[string]any{"path": "sub/x/y.txt", "content": "x"}, wantErr: `path "sub/x/y.txt": not a directory`},
		{name: "missing content", args: map[string]any{"path": "c.txt"}, wantErr: "content is required"},
		{name: "missing path", args: map[string]any{"content": "x"}, wantErr: "path is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := call(t, ws, "write", jsonArgs(t, tt.args))
			if tt.wantErr != "" {
				if !res.IsError || !strings.Contains(res.Content, tt.wantErr) {
					t.Fatalf("result = %+v, want error containing %q", res, tt.wantErr)
				}
				return
			}
			if res.IsError {
				t.Fatalf("unexpected error: %q", res.Content)
			}
			if got := readBack(t, filepath.Join(ws, tt.file)); got != tt.want {
				t.Errorf("file = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteOverwriteKeepsModeAndLeavesNoTemp(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	p := filepath.Join(ws, "conf.txt")
	writeFile(t, p, "old")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	res := call(t, ws, "write", `{"path":"conf.txt","content":"new"}`)
	if res.IsError || res.Content != "Wrote 3 bytes to conf.txt" {
		t.Fatalf("result = %+v", res)
	}
	if got := readBack(t, p); got != "new" {
		t.Errorf("content = %q", got)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	assertNoTempFiles(t, ws)
}

func TestWriteThroughSymlinkUpdatesTarget(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	writeFile(t, filepath.Join(ws, "real.txt"), "old")
	symlink(t, "real.txt", filepath.Join(ws, "alias.txt"))
	if res := call(t, ws, "write", `{"path":"alias.txt","content":"new"}`); res.IsError {
		t.Fatalf("write: %q", res.Content)
	}
	if got := readBack(t, filepath.Join(ws, "real.txt")); got != "new" {
		t.Errorf("target = %q, want new", got)
	}
	if fi, err := os.Lstat(filepath.Join(ws, "alias.txt")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("alias.txt is no longer a symlink (err %v)", err)
	}
}

func assertNoTempFiles(t *testing.T, ws string) {
	t.Helper()
	err := filepath.WalkDir(ws, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".genos-tmp-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEdit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		initial string
		args    map[string]any
		want    string // file content afterwards
		result  string
		wantErr string
	}{
		{name: "single", initial: "a b c", args: map[string]any{"oldText": "b", "newText": "B"}, want: "a B c",
			result: "Replaced 1 occurrence(s) in f.txt"},
		{name: "delete", initial: "a b c", args: map[string]any{"oldText": " b", "newText": ""}, want: "a c"},
		{name: "multiline", initial: "x\n  y\nz\n", args: map[string]any{"oldText": "x\n  y\n", "newText": "X\n"}, want: "X\nz\n"},
		{name: "replace all", initial: "b b b", args: map[string]any{"oldText": "b", "newText": "c", "replaceAll": true}, want: "c c c",
			result: "Replaced 3 occurrence(s) in f.txt"},
		{name: "not found", initial: "abc", args: map[string]any{"oldText": "zzz", "newText": "y"}, want: "abc",
			wantErr: `oldText was not found in "f.txt"`},
		{name: "ambiguous", initial: "b b", args: map[string]any{"oldText": "b", "newText": "c"}, want: "b b",
			wantErr: `oldText occurs 2 times in "f.txt"`},
		{name: "identical", initial: "abc", args: map[string]any{"oldText": "b", "newText": "b"}, want: "abc",
			wantErr: "identical"},
		{name: "empty oldText", initial: "abc", args: map[string]any{"oldText": "", "newText": "b"}, want: "abc",
			wantErr: "oldText is required"},
		{name: "missing newText", initial: "abc", args: map[string]any{"oldText": "b"}, want: "abc",
			wantErr: "newText is required"},
		{name: "binary", initial: "a\x00b", args: map[string]any{"oldText": "a", "newText": "c"}, want: "a\x00b",
			wantErr: "binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := newWorkspace(t)
			p := filepath.Join(ws, "f.txt")
			writeFile(t, p, tt.initial)
			tt.args["path"] = "f.txt"
			res := call(t, ws, "edit", jsonArgs(t, tt.args))
			switch {
			case tt.wantErr != "" && (!res.IsError || !strings.Contains(res.Content, tt.wantErr)):
				t.Errorf("result = %+v, want error containing %q", res, tt.wantErr)
			case tt.wantErr == "" && res.IsError:
				t.Errorf("unexpected error: %q", res.Content)
			case tt.result != "" && res.Content != tt.result:
				t.Errorf("result = %q, want %q", res.Content, tt.result)
			}
			if got := readBack(t, p); got != tt.want {
				t.Errorf("file = %q, want %q", got, tt.want)
			}
			assertNoTempFiles(t, ws)
		})
	}
}

func TestEditTargets(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	writeFile(t, filepath.Join(ws, "dir", "real.txt"), "hello world")
	symlink(t, "dir/real.txt", filepath.Join(ws, "alias.txt"))
	if res := call(t, ws, "edit", `{"path":"alias.txt","oldText":"world","newText":"genos"}`); res.IsError {
		t.Fatalf("edit through symlink: %q", res.Content)
	}
	if got := readBack(t, filepath.Join(ws, "dir", "real.txt")); got != "hello genos" {
		t.Errorf("target = %q", got)
	}
	for _, tc := range []struct{ path, want string }{
		{"missing.txt", `path "missing.txt" does not exist`},
		{"dir", `"dir" is a directory`},
	} {
		res := call(t, ws, "edit", jsonArgs(t, map[string]any{"path": tc.path, "oldText": "a", "newText": "b"}))
		if !res.IsError || !strings.Contains(res.Content, tc.want) {
			t.Errorf("edit %s = %+v, want error containing %q", tc.path, res, tc.want)
		}
	}
}

func TestWritePermissionDenied(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	ws := newWorkspace(t)
	ro := filepath.Join(ws, "ro")
	writeFile(t, filepath.Join(ro, "f.txt"), "old")
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })
	for _, tc := range []struct{ tool, args string }{
		{"write", `{"path":"ro/f.txt","content":"new"}`},
		{"write", `{"path":"ro/sub/g.txt","content":"new"}`},
		{"edit", `{"path":"ro/f.txt","oldText":"old","newText":"new"}`},
	} {
		res := call(t, ws, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(res.Content, "permission denied") {
			t.Errorf("%s %s = %+v, want a permission error", tc.tool, tc.args, res)
		}
	}
	if got := readBack(t, filepath.Join(ro, "f.txt")); got != "old" {
		t.Errorf("file changed to %q", got)
	}
}
