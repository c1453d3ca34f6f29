package tools

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// escapeFixture builds a workspace with every kind of symlink the
// confinement must handle and returns its path.
func escapeFixture(t testing.TB) (ws, outside string) {
	t.Helper()
	ws = newWorkspace(t)
	outside = newWorkspace(t)
	writeFile(t, filepath.Join(ws, "a.txt"), "a\n")
	writeFile(t, filepath.Join(ws, "sub", "b.txt"), "b\n")
	writeFile(t, filepath.Join(outside, "secret.txt"), "secret\n")
	symlink(t, "/etc", filepath.Join(ws, "link_etc"))
	symlink(t, "/etc/passwd", filepath.Join(ws, "link_passwd"))
	symlink(t, "chain2", filepath.Join(ws, "chain1"))
	symlink(t, "link_etc", filepath.Join(ws, "chain2"))
	symlink(t, "sub", filepath.Join(ws, "rel_in"))
	symlink(t, filepath.Join(ws, "sub"), filepath.Join(ws, "abs_in"))
	symlink(t, "..", filepath.Join(ws, "up"))
	symlink(t, "/nonexistent-genos/x", filepath.Join(ws, "dangling_out"))
	symlink(t, "newfile.txt", filepath.Join(ws, "dangling_in"))
	symlink(t, "../a.txt", filepath.Join(ws, "sub", "back"))
	symlink(t, "loop2", filepath.Join(ws, "loop1"))
	symlink(t, "loop1", filepath.Join(ws, "loop2"))
	symlink(t, outside, filepath.Join(ws, "link_out"))
	symlink(t, "../../"+filepath.Base(outside)+"/secret.txt", filepath.Join(ws, "sub", "rel_out"))
	return ws, outside
}

func TestResolve(t *testing.T) {
	t.Parallel()
	ws, outside := escapeFixture(t)
	tests := []struct {
		name    string
		path    string
		want    string
		escape  bool // error wraps ErrOutsideWorkspace
		symlink bool // ... through a symlink
		errText string
	}{
		{name: "plain file", path: "a.txt", want: "a.txt"},
		{name: "nested", path: "sub/b.txt", want: "sub/b.txt"},
		{name: "dot", path: ".", want: "."},
		{name: "inner dotdot", path: "sub/../a.txt", want: "a.txt"},
		{name: "absolute inside", path: filepath.Join(ws, "sub", "b.txt"), want: "sub/b.txt"},
		{name: "absolute workspace", path: ws, want: "."},
		{name: "not yet existing", path: "new/dir/file.txt", want: "new/dir/file.txt"},
		{name: "relative symlink inside", path: "rel_in/b.txt", want: "sub/b.txt"},
		{name: "absolute symlink inside", path: "abs_in/b.txt", want: "sub/b.txt"},
		{name: "symlink back up inside", path: "sub/back", want: "a.txt"},
		{name: "dangling symlink inside", path: "dangling_in", want: "newfile.txt"},
		{name: "dotdot", path: "../x", escape: true, errText: `path "../x" is outside the workspace`},
		{name: "dotdot after dir", path: "sub/../../x", escape: true},
		{name: "absolute outside", path: "/etc/passwd", escape: true, errText: `path "/etc/passwd" is outside the workspace`},
		{name: "absolute sibling", path: filepath.Join(outside, "secret.txt"), escape: true},
		{name: "prefix sibling", path: ws + "x/y", escape: true},
		{name: "symlink to /etc", path: "link_etc/passwd", escape: true, symlink: true,
			errText: `path "link_etc/passwd" resolves through a symlink outside the workspace`},
		{name: "symlink to file outside", path: "link_passwd", escape: true, symlink: true},
		{name: "symlink dir chain", path: "chain1/passwd", escape: true, symlink: true},
		{name: "symlink to parent", path: "up/x", escape: true, symlink: true},
		{name: "dangling symlink outside", path: "dangling_out", escape: true, symlink: true},
		{name: "symlink to sibling dir", path: "link_out/secret.txt", escape: true, symlink: true},
		{name: "relative symlink climbing out", path: "sub/rel_out", escape: true, symlink: true},
		{name: "symlink loop", path: "loop1", errText: "too many levels of symbolic links"},
		{name: "empty", path: "", errText: "path is empty"},
		{name: "nul byte", path: "a\x00b", errText: "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Resolve(ws, tt.path)
			wantErr := tt.escape || tt.errText != ""
			if !wantErr {
				if err != nil {
					t.Fatalf("Resolve(%q) error: %v", tt.path, err)
				}
				if got != filepath.FromSlash(tt.want) {
					t.Fatalf("Resolve(%q) = %q, want %q", tt.path, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(%q) = %q, want an error", tt.path, got)
			}
			if errors.Is(err, ErrOutsideWorkspace) != tt.escape {
				t.Errorf("errors.Is(err, ErrOutsideWorkspace) = %v, want %v (err: %v)", !tt.escape, tt.escape, err)
			}
			var ee *EscapeError
			if tt.escape && (!errors.As(err, &ee) || ee.Symlink != tt.symlink) {
				t.Errorf("err = %#v, want EscapeError with Symlink=%v", err, tt.symlink)
			}
			if tt.errText != "" && !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("err = %q, want it to contain %q", err, tt.errText)
			}
		})
	}
}

func TestResolveBadWorkspace(t *testing.T) {
	t.Parallel()
	for _, ws := range []string{"", "relative/ws", filepath.Join(t.TempDir(), "missing")} {
		if _, err := Resolve(ws, "a.txt"); err == nil || errors.Is(err, ErrOutsideWorkspace) {
			t.Errorf("Resolve(%q, a.txt) error = %v, want a workspace error", ws, err)
		}
	}
	file := filepath.Join(t.TempDir(), "f")
	writeFile(t, file, "x")
	if _, err := Resolve(file, "a.txt"); err == nil {
		t.Errorf("Resolve with a file as workspace succeeded")
	}
}

// TestResolveWorkspaceThroughSymlink checks that a workspace configured via
// a symlinked path accepts absolute paths written either way.
func TestResolveWorkspaceThroughSymlink(t *testing.T) {
	t.Parallel()
	real := newWorkspace(t)
	writeFile(t, filepath.Join(real, "a.txt"), "a")
	alias := filepath.Join(newWorkspace(t), "alias")
	symlink(t, real, alias)
	for _, p := range []string{filepath.Join(real, "a.txt"), filepath.Join(alias, "a.txt"), "a.txt"} {
		got, err := Resolve(alias, p)
		if err != nil || got != "a.txt" {
			t.Errorf("Resolve(alias, %q) = %q, %v; want a.txt", p, got, err)
		}
	}
}

// TestRootEscapeMapped checks that os.Root's own refusal (the defence when a
// symlink is swapped in after Resolve) is recognised and explained.
func TestRootEscapeMapped(t *testing.T) {
	t.Parallel()
	ws, _ := escapeFixture(t)
	root, err := os.OpenRoot(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = root.Open("link_etc/passwd")
	if !isRootEscape(err) {
		t.Fatalf("isRootEscape(%v) = false", err)
	}
	want := `path "link_etc/passwd" resolves through a symlink outside the workspace`
	if got := fsMessage("link_etc/passwd", err); got != want {
		t.Errorf("fsMessage = %q, want %q", got, want)
	}
}

// TestFileToolsRefuseEscapes runs every file tool against escaping paths and
// checks the model gets the confinement message and nothing is touched.
func TestFileToolsRefuseEscapes(t *testing.T) {
	t.Parallel()
	ws, outside := escapeFixture(t)
	tests := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"read", map[string]any{"path": "../x"}, `path "../x" is outside the workspace`},
		{"read", map[string]any{"path": "/etc/passwd"}, `path "/etc/passwd" is outside the workspace`},
		{"read", map[string]any{"path": "link_etc/passwd"}, `path "link_etc/passwd" resolves through a symlink outside the workspace`},
		{"read", map[string]any{"path": "chain1/hostname"}, `resolves through a symlink outside the workspace`},
		{"write", map[string]any{"path": "link_out/new.txt", "content": "x"}, `resolves through a symlink outside the workspace`},
		{"write", map[string]any{"path": "dangling_out", "content": "x"}, `resolves through a symlink outside the workspace`},
		{"write", map[string]any{"path": filepath.Join(outside, "new.txt"), "content": "x"}, `is outside the workspace`},
		{"edit", map[string]any{"path": "link_out/secret.txt", "oldText": "secret", "newText": "x"}, `resolves through a symlink outside the workspace`},
		{"ls", map[string]any{"path": "link_out"}, `resolves through a symlink outside the workspace`},
		{"ls", map[string]any{"path": ".."}, `is outside the workspace`},
		{"exec", map[string]any{"command": "true", "cwd": "link_etc"}, `resolves through a symlink outside the workspace`},
		{"exec", map[string]any{"command": "true", "cwd": "/"}, `is outside the workspace`},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+tt.want, func(t *testing.T) {
			t.Parallel()
			res := call(t, ws, tt.tool, jsonArgs(t, tt.args))
			if !res.IsError || !strings.Contains(res.Content, tt.want) {
				t.Errorf("%s(%v) = %+v, want error containing %q", tt.tool, tt.args, res, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "new.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was created outside the workspace (stat err %v)", err)
	}
	if got := readBack(t, filepath.Join(outside, "secret.txt")); got != "secret\n" {
		t.Errorf("outside file changed to %q", got)
	}
}
