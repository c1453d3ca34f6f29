package tools

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLs(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	writeFile(t, filepath.Join(ws, "b.txt"), "12345")
	writeFile(t, filepath.Join(ws, "a.txt"), "")
	writeFile(t, filepath.Join(ws, "sub", "inner.txt"), "x")
	writeFile(t, filepath.Join(ws, "empty", ".keep"), "")
	symlink(t, "b.txt", filepath.Join(ws, "link"))

	tests := []struct {
		name    string
		args    string
		want    string
		wantErr string
	}{
		{name: "default path", args: `{}`, want: strings.Join([]string{
			"file\t0\ta.txt", "file\t5\tb.txt", "dir\t-\tempty/", "symlink\t-\tlink -> b.txt", "dir\t-\tsub/",
		}, "\n")},
		{name: "null args", args: `null`, want: "file\t0\ta.txt"},
		{name: "subdir", args: `{"path":"sub"}`, want: "file\t1\tinner.txt"},
		{name: "absolute inside", args: fmt.Sprintf(`{"path":%q}`, filepath.Join(ws, "sub")), want: "file\t1\tinner.txt"},
		{name: "not a dir", args: `{"path":"b.txt"}`, wantErr: `"b.txt" is not a directory; use read for files`},
		{name: "missing", args: `{"path":"nope"}`, wantErr: `path "nope" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := call(t, ws, "ls", tt.args)
			if tt.wantErr != "" {
				if !res.IsError || !strings.Contains(res.Content, tt.wantErr) {
					t.Fatalf("result = %+v, want error containing %q", res, tt.wantErr)
				}
				return
			}
			if res.IsError {
				t.Fatalf("unexpected error: %q", res.Content)
			}
			// "null args" only checks the first line.
			got := res.Content
			if tt.name == "null args" {
				got, _, _ = strings.Cut(got, "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("listing mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLsEmptyAndCapped(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	if res := call(t, ws, "ls", `{}`); res.IsError || res.Content != "(empty directory)" {
		t.Errorf("empty workspace: %+v", res)
	}
	for i := range lsMaxEntries + 5 {
		writeFile(t, filepath.Join(ws, "many", fmt.Sprintf("f%04d", i)), "")
	}
	res := call(t, ws, "ls", `{"path":"many"}`)
	lines := strings.Split(res.Content, "\n")
	if len(lines) != lsMaxEntries+1 {
		t.Fatalf("got %d lines, want %d", len(lines), lsMaxEntries+1)
	}
	if lines[0] != "file\t0\tf0000" || lines[lsMaxEntries-1] != "file\t0\tf0999" {
		t.Errorf("first/last entries = %q / %q", lines[0], lines[lsMaxEntries-1])
	}
	if want := "[showing the first 1000 of 1005 entries]"; lines[lsMaxEntries] != want {
		t.Errorf("note = %q, want %q", lines[lsMaxEntries], want)
	}
}
