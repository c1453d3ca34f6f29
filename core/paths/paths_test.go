package paths

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestStateDir(t *testing.T) {
	tmp := t.TempDir()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  string
		want string
	}{
		{"absolute", tmp, tmp},
		{"cleaned", tmp + string(filepath.Separator) + "a" + string(filepath.Separator) + ".." + string(filepath.Separator), tmp},
		{"relative is made absolute", "rel" + string(filepath.Separator) + "dir", filepath.Join(cwd, "rel", "dir")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvStateDir, tt.env)
			got, err := StateDir()
			if err != nil {
				t.Fatalf("StateDir: %v", err)
			}
			if got != tt.want {
				t.Errorf("StateDir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStateDirDefault(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("home is not taken from $HOME on this OS")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvStateDir, "") // empty counts as unset
	got, err := StateDir()
	if err != nil {
		t.Fatalf("StateDir: %v", err)
	}
	if want := filepath.Join(home, ".genosv1"); got != want {
		t.Errorf("StateDir = %q, want %q", got, want)
	}
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	t.Run("creates nested dirs 0700", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "a", "b")
		if err := Ensure(dir); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		assertDirPerm(t, dir)
		// A second call on an existing, correct dir is a no-op.
		if err := Ensure(dir); err != nil {
			t.Fatalf("Ensure again: %v", err)
		}
	})
	t.Run("tightens loose perms", func(t *testing.T) {
		t.Parallel()
		if runtime.GOOS == "windows" {
			t.Skip("no POSIX mode bits")
		}
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // defeat umask
			t.Fatal(err)
		}
		if err := Ensure(dir); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		assertDirPerm(t, dir)
	})
	t.Run("refuses a file", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := Ensure(file)
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("Ensure(file) = %v, want a not-a-directory error", err)
		}
	})
	t.Run("refuses empty path", func(t *testing.T) {
		t.Parallel()
		if err := Ensure(""); err == nil {
			t.Fatal("Ensure(\"\") succeeded")
		}
	})
}

func assertDirPerm(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("%s mode = %v, want 0700", dir, fi.Mode().Perm())
	}
}

func TestFileNames(t *testing.T) {
	t.Parallel()
	s := filepath.Join("x", "state")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"LogDir", LogDir(s), filepath.Join(s, "logs")},
		{"ConfigFile", ConfigFile(s), filepath.Join(s, "genos.json")},
		{"DBFile", DBFile(s), filepath.Join(s, "genos.db")},
		{"TokenFile", TokenFile(s), filepath.Join(s, "gateway.token")},
		{"SecretsFile", SecretsFile(s), filepath.Join(s, "secrets.json")},
		{"LockFile", LockFile(s), filepath.Join(s, "genos.lock")},
		{"AgentDir", AgentDir(s, "0badc0de"), filepath.Join(s, "agents", "0badc0de")},
		{"WorkspaceDir", WorkspaceDir(s, "main"), filepath.Join(s, "workspace", "main")},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
