package tools

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzResolve feeds arbitrary paths to Resolve against a workspace full of
// symlinks and checks the confinement invariant: an accepted path is local
// and, where it exists, really lies inside the workspace.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"a.txt", "../x", "/etc/passwd", "link_etc/passwd", "chain1/x", "rel_in/b.txt",
		"up/x", "sub/back", "loop1", "sub/rel_out", "./././a.txt", "sub//b.txt", "", ".",
	} {
		f.Add(s)
	}
	ws, _ := escapeFixture(f)
	f.Fuzz(func(t *testing.T, p string) {
		rel, err := Resolve(ws, p)
		if err != nil {
			var ee *EscapeError
			if errors.Is(err, ErrOutsideWorkspace) && !errors.As(err, &ee) {
				t.Fatalf("ErrOutsideWorkspace without EscapeError: %v", err)
			}
			return
		}
		if !filepath.IsLocal(rel) {
			t.Fatalf("Resolve(%q) = %q, not local", p, rel)
		}
		real, err := filepath.EvalSymlinks(filepath.Join(ws, rel))
		if err != nil {
			return // the tail does not exist yet
		}
		if r, ok := within(ws, real); !ok || strings.HasPrefix(r, "..") {
			t.Fatalf("Resolve(%q) = %q, which really is %q outside %q", p, rel, real, ws)
		}
	})
}
