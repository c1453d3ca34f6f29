package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/genos-project/genos/core/vault"
)

func newVault(t *testing.T) *vault.Vault {
	t.Helper()
	v, err := vault.Create(t.TempDir(), []byte("correct horse"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealedConfigRoundTrip(t *testing.T) {
	v := newVault(t)
	path := filepath.Join(t.TempDir(), "genos.json")
	c := Default()
	c.Model.Provider, c.Model.Model = ProviderOpenAI, "marker-model-7c1"
	never := 0
	c.Vault.AutoLockMinutes = &never
	if err := SaveSealed(path, c, v); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !vault.IsSealed(raw) || bytes.Contains(raw, []byte("marker-model-7c1")) {
		t.Fatalf("config on disk is not sealed: %q", raw)
	}
	got, err := LoadSealed(path, v)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model.Model != "marker-model-7c1" || *got.Vault.AutoLockMinutes != 0 {
		t.Errorf("round trip lost data: %+v", got)
	}
	if _, err := Load(path); !errors.Is(err, ErrSealed) {
		t.Errorf("Load of a sealed config without a vault = %v, want ErrSealed", err)
	}
	v.Lock()
	if _, err := LoadSealed(path, v); !errors.Is(err, vault.ErrLocked) {
		t.Errorf("LoadSealed while locked = %v, want ErrLocked", err)
	}
	if err := SaveSealed(path, c, v); !errors.Is(err, vault.ErrLocked) {
		t.Errorf("SaveSealed while locked = %v, want ErrLocked", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, raw) {
		t.Error("a refused save changed the file")
	}
}

func TestLoadSealedReadsPlaintext(t *testing.T) {
	v := newVault(t)
	path := filepath.Join(t.TempDir(), "genos.json")
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSealed(path, v); err != nil {
		t.Fatalf("a plaintext config from before the vault must still load: %v", err)
	}
}

func TestSealedSecrets(t *testing.T) {
	v := newVault(t)
	path := filepath.Join(t.TempDir(), "vault.enc")
	s, err := OpenSecretsSealed(path, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("model.apiKey", "sk-marker-secret-91"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !vault.IsSealed(raw) || bytes.Contains(raw, []byte("sk-marker-secret-91")) {
		t.Fatalf("secrets on disk are not sealed")
	}
	s2, err := OpenSecretsSealed(path, v)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s2.Get("model.apiKey"); !ok || got != "sk-marker-secret-91" {
		t.Errorf("reopened secret = %q, %v", got, ok)
	}
	if names := s2.Names(); len(names) != 1 || names[0] != "model.apiKey" {
		t.Errorf("Names = %v", names)
	}
	if _, err := OpenSecrets(path); !errors.Is(err, ErrSealed) {
		t.Errorf("OpenSecrets without the vault = %v, want ErrSealed", err)
	}
	v.Lock()
	if err := s2.Set("other", "x"); !errors.Is(err, vault.ErrLocked) {
		t.Errorf("Set while locked = %v, want ErrLocked", err)
	}
	if _, ok := s2.Get("other"); ok {
		t.Error("a refused Set changed the store")
	}
}

func TestBoot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.json")
	b, err := LoadBoot(path)
	if err != nil || b != (Boot{Bind: DefaultBind, Port: DefaultPort}) {
		t.Fatalf("missing boot file = %+v, %v; want defaults", b, err)
	}
	c := Default()
	c.Gateway.Port = 19001
	if err := WriteBoot(path, BootOf(c)); err != nil {
		t.Fatal(err)
	}
	if b, err := LoadBoot(path); err != nil || b.Port != 19001 {
		t.Fatalf("LoadBoot = %+v, %v", b, err)
	}
	for name, data := range map[string]string{
		"bad port":      `{"bind":"127.0.0.1","port":0}`,
		"unknown field": `{"bind":"127.0.0.1","port":1,"x":1}`,
		"not json":      `port=1`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadBoot(path); err == nil {
				t.Errorf("LoadBoot(%s) accepted it", data)
			}
		})
	}
}
