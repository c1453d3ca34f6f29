package durable

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dirNames lists dir's entries, so tests can assert that no temp file is left.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func mustWrite(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFileReplaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing string // "" means no file beforehand
		perm     os.FileMode
	}{
		{"new file", "", 0o600},
		{"replace loose file", "old content that is longer than the new one", 0o600},
		{"other perm", "old", 0o640},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			if tc.existing != "" {
				mustWrite(t, path, tc.existing, 0o644)
			}
			if err := WriteFile(path, []byte("new"), tc.perm); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new" {
				t.Fatalf("content = %q, %v; want %q", got, err, "new")
			}
			if diff := cmp.Diff([]string{"f.json"}, dirNames(t, dir)); diff != "" {
				t.Errorf("directory after write (-want +got):\n%s", diff)
			}
			if runtime.GOOS == "windows" {
				return
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.perm {
				t.Errorf("mode = %04o, want %04o", fi.Mode().Perm(), tc.perm)
			}
		})
	}
}

// TestWriteFileFailureKeepsOld checks that a failed replacement leaves the old
// content and no temp file behind.
func TestWriteFileFailureKeepsOld(t *testing.T) {
	t.Parallel()
	t.Run("target is a non-empty directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		target := filepath.Join(dir, "blocked")
		if err := os.MkdirAll(filepath.Join(target, "inside"), 0o700); err != nil {
			t.Fatal(err)
		}
		err := WriteFile(target, []byte("x"), 0o600)
		if err == nil || !strings.Contains(err.Error(), target) {
			t.Fatalf("WriteFile over a directory = %v, want an error naming it", err)
		}
		if diff := cmp.Diff([]string{"blocked"}, dirNames(t, dir)); diff != "" {
			t.Errorf("directory after failed write (-want +got):\n%s", diff)
		}
	})
	t.Run("parent is a file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		parent := filepath.Join(dir, "file")
		mustWrite(t, parent, "keep", 0o600)
		if err := WriteFile(filepath.Join(parent, "f"), []byte("x"), 0o600); err == nil {
			t.Fatal("WriteFile under a regular file succeeded")
		}
		if got, _ := os.ReadFile(parent); string(got) != "keep" {
			t.Errorf("parent content = %q, want %q", got, "keep")
		}
		if diff := cmp.Diff([]string{"file"}, dirNames(t, dir)); diff != "" {
			t.Errorf("directory after failed write (-want +got):\n%s", diff)
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		t.Parallel()
		if runtime.GOOS == "windows" || os.Geteuid() == 0 {
			t.Skip("directory permissions are not enforced here")
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		mustWrite(t, path, "old", 0o600)
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		if err := WriteFile(path, []byte("new"), 0o600); err == nil {
			t.Fatal("WriteFile into a read-only directory succeeded")
		}
		if got, _ := os.ReadFile(path); string(got) != "old" {
			t.Errorf("content = %q, want the old %q", got, "old")
		}
		if diff := cmp.Diff([]string{"f"}, dirNames(t, dir)); diff != "" {
			t.Errorf("directory after failed write (-want +got):\n%s", diff)
		}
	})
}

func TestCreateExclusive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "check")
	if err := CreateExclusive(path, []byte("first"), 0o600); err != nil {
		t.Fatalf("first CreateExclusive: %v", err)
	}
	if err := CreateExclusive(path, []byte("second"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateExclusive = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Errorf("content = %q, want %q", got, "first")
	}
	if diff := cmp.Diff([]string{"check"}, dirNames(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %04o, want 0600", fi.Mode().Perm())
		}
	}
}

func TestSyncDir(t *testing.T) {
	t.Parallel()
	if err := SyncDir(t.TempDir()); err != nil {
		t.Errorf("SyncDir(existing dir) = %v", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if err := SyncDir(missing); err == nil {
		t.Error("SyncDir(missing dir) succeeded")
	}
}

func TestOpenAppendOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "log.jsonl")

	f, created, err := OpenAppendOnly(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !created {
		t.Error("created = false for a new file")
	}
	if _, err := f.WriteAt([]byte("line\n"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s mode = %04o, want %04o", p, fi.Mode().Perm(), want)
			}
		}
	}

	f, created, err = OpenAppendOnly(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer f.Close()
	if created {
		t.Error("created = true for an existing file")
	}
	got := make([]byte, 5)
	if _, err := f.ReadAt(got, 0); err != nil || string(got) != "line\n" {
		t.Errorf("reopened content = %q, %v; want the earlier line", got, err)
	}
}

func TestOpenAppendOnlyRefusesNonRegular(t *testing.T) {
	t.Parallel()
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, _, err := OpenAppendOnly(dir); err == nil {
			t.Error("directory accepted")
		}
	})
	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		if runtime.GOOS == "windows" {
			t.Skip("no FIFOs on Windows")
		}
		path := filepath.Join(t.TempDir(), "fifo")
		if err := mkfifo(path); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		f, _, err := OpenAppendOnly(path)
		if err == nil {
			f.Close()
			t.Fatal("FIFO accepted")
		}
		if !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("error = %v, want it to say not a regular file", err)
		}
	})
	t.Run("parent is a file", func(t *testing.T) {
		t.Parallel()
		parent := filepath.Join(t.TempDir(), "file")
		mustWrite(t, parent, "x", 0o600)
		if _, _, err := OpenAppendOnly(filepath.Join(parent, "log")); err == nil {
			t.Error("path under a regular file accepted")
		}
	})
}

func TestLastNewline(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 200<<10)
	bigWithNL := append([]byte("a\n"), big...)
	tests := []struct {
		name string
		data []byte
		end  int64
		want int64
	}{
		{"empty", nil, 0, -1},
		{"no newline", []byte("abc"), 3, -1},
		{"last before end", []byte("a\nb\nc"), 5, 3},
		{"end excludes trailing newline", []byte("a\nb\n"), 3, 1},
		{"newline at end-1", []byte("a\nb\n"), 4, 3},
		{"first byte", []byte("\nabc"), 4, 0},
		{"across chunks", bigWithNL, int64(len(bigWithNL)), 1},
		{"large without newline", big, int64(len(big)), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LastNewline(bytes.NewReader(tc.data), tc.end)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("LastNewline = %d, want %d", got, tc.want)
			}
		})
	}
}
