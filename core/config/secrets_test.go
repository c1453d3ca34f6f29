package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretsLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.json")
	s, err := OpenSecrets(path)
	if err != nil {
		t.Fatalf("OpenSecrets(missing): %v", err)
	}
	if _, ok := s.Get("model.apiKey"); ok {
		t.Fatal("empty store has a secret")
	}
	if err := s.Set("model.apiKey", "sk-one"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Set("telegram.token", "123:abc"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Set("model.apiKey", "sk-two"); err != nil {
		t.Fatalf("Set (replace): %v", err)
	}
	assertFileMode(t, path)
	assertNoTempFiles(t, dir)

	reopened, err := OpenSecrets(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"model.apiKey": "sk-two", "telegram.token": "123:abc"}, reopened.values); diff != "" {
		t.Errorf("persisted secrets (-want +got):\n%s", diff)
	}

	if err := reopened.Delete("telegram.token"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := reopened.Delete("never.there"); err != nil {
		t.Fatalf("Delete of a missing secret: %v", err)
	}
	third, err := OpenSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := third.Get("telegram.token"); ok {
		t.Error("deleted secret came back")
	}
	if v, ok := third.Get("model.apiKey"); !ok || v != "sk-two" {
		t.Errorf("Get = %q, %v", v, ok)
	}
}

func TestSecretsSetRejects(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets.json")
	s, err := OpenSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, key, value, want string }{
		{"bad name", "has space", "v", "invalid name"},
		{"empty name", "", "v", "invalid name"},
		{"empty value", "k", "", "empty value"},
		{"huge value", "k", strings.Repeat("x", maxSecretLen+1), "longer than"},
	}
	for _, tt := range tests {
		err := s.Set(tt.key, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Set = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("rejected Set wrote the file: %v", err)
	}
}

func TestSecretsSetFailureKeepsState(t *testing.T) {
	t.Parallel()
	s, err := OpenSecrets(filepath.Join(t.TempDir(), "gone", "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("k", "v"); err == nil {
		t.Fatal("Set into a missing directory succeeded")
	}
	if _, ok := s.Get("k"); ok {
		t.Error("failed Set changed the store")
	}
}

func TestOpenSecretsRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    []string
	}{
		{"group readable", `{"k":"sk-secret"}`, 0o640, []string{"mode 0640", "chmod 600"}},
		{"world readable", `{"k":"sk-secret"}`, 0o604, []string{"mode 0604", "chmod 600"}},
		{"not an object", `["sk-secret"]`, 0o600, []string{"must be a JSON object"}},
		{"non-string value", `{"k": 5}`, 0o600, []string{"k: expected a string"}},
		{"bad name", `{"a b": "sk-secret"}`, 0o600, []string{`invalid secret name "a b"`}},
		{"duplicate", `{"k":"sk-secret","k":"sk-secret2"}`, 0o600, []string{"k: duplicate field"}},
		{"trailing data", `{"k":"sk-secret"} x`, 0o600, []string{"unexpected data"}},
		{"broken JSON", `{"k":"sk-secret"`, 0o600, []string{"invalid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.mode != 0o600 && runtime.GOOS == "windows" {
				t.Skip("no POSIX mode bits")
			}
			path := filepath.Join(t.TempDir(), "secrets.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := OpenSecrets(path)
			if err == nil {
				t.Fatal("OpenSecrets succeeded")
			}
			msg := err.Error()
			for _, w := range append([]string{path}, tt.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "sk-secret") {
				t.Errorf("error %q leaks a secret value", msg)
			}
		})
	}
}

func TestOpenSecretsEmptyFileAndDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSecrets(path); err != nil {
		t.Errorf("OpenSecrets(empty file) = %v, want an empty store", err)
	}
	if _, err := OpenSecrets(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("OpenSecrets(dir) = %v, want a not-a-regular-file error", err)
	}
}

func TestAPIKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	secrets, err := OpenSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := secrets.Set("model.apiKey", " sk-from-store\n"); err != nil {
		t.Fatal(err)
	}
	if err := secrets.Set("blank", " "); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GENOS_TEST_KEY", "sk-from-env")
	t.Setenv("GENOS_TEST_EMPTY", "")

	tests := []struct {
		name    string
		ref     string
		env     string
		secrets *Secrets
		want    string
		wantErr string
	}{
		{"neither is fine for local servers", "", "", nil, "", ""},
		{"from env", "", "GENOS_TEST_KEY", nil, "sk-from-env", ""},
		{"env unset", "", "GENOS_TEST_NOT_SET_ANYWHERE", nil, "", "environment variable GENOS_TEST_NOT_SET_ANYWHERE is not set"},
		{"env empty", "", "GENOS_TEST_EMPTY", nil, "", "is not set or empty"},
		{"from store, trimmed", "model.apiKey", "", secrets, "sk-from-store", ""},
		{"missing secret", "other.key", "", secrets, "", `secret "other.key" is not in ` + path},
		{"blank secret", "blank", "", secrets, "", `secret "blank" is empty`},
		{"no store", "model.apiKey", "", nil, "", "no secret store is open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Model.APIKeyRef, c.Model.APIKeyEnv = tt.ref, tt.env
			got, err := c.APIKey(tt.secrets)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("APIKey = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("APIKey = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
