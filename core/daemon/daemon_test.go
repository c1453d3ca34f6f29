package daemon

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/paths"
)

func newDaemon(t *testing.T, dir string) *Daemon {
	t.Helper()
	d, err := New(context.Background(), Options{StateDir: dir, Version: "test", Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestSetupSwitchesModelWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	d := newDaemon(t, dir)
	if !d.NeedsSetup() {
		t.Fatal("a fresh state dir needs setup")
	}
	if _, err := os.Stat(paths.ConfigFile(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("starting without config must not write one: %v", err)
	}

	// Invalid: nothing is written, the key is not stored.
	err := d.ApplySetup(context.Background(), Setup{Provider: "anthropic", BaseURL: "ftp://x", APIKey: "sk-secret-1"})
	if err == nil || !strings.Contains(err.Error(), "model.model") || !strings.Contains(err.Error(), "baseUrl") {
		t.Fatalf("want every problem reported, got %v", err)
	}
	if _, err := os.Stat(paths.SecretsFile(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a rejected setup stored its key")
	}

	srv := modeltest.New()
	defer srv.Close()
	if err := d.ApplySetup(context.Background(), Setup{Provider: "openai", BaseURL: srv.URL(), Model: "m1", APIKey: "sk-secret-2"}); err != nil {
		t.Fatal(err)
	}
	if d.NeedsSetup() {
		t.Fatal("setup did not take effect")
	}
	p, name, model, ok := d.models.Current()
	if !ok || p == nil || name != "openai" || model != "m1" {
		t.Fatalf("current model = %v %q %q %v", p, name, model, ok)
	}
	raw, err := os.ReadFile(paths.ConfigFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "sk-secret-2") || !strings.Contains(string(raw), `"apiKeyRef": "model.apiKey"`) {
		t.Fatalf("config must reference the key, not hold it:\n%s", raw)
	}
	cfg, err := config.Load(paths.ConfigFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := config.OpenSecrets(paths.SecretsFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if key, err := cfg.APIKey(sec); err != nil || key != "sk-secret-2" {
		t.Fatalf("stored key = %q, %v", key, err)
	}
}

func TestSaveSetupOffline(t *testing.T) {
	dir := t.TempDir()
	if err := SaveSetup(dir, Setup{Provider: "openai", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2"}); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t, dir)
	if d.NeedsSetup() {
		t.Fatal("a saved setup should configure the next start")
	}
	if _, err := os.Stat(paths.SecretsFile(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("no key was given, so no secrets file should exist")
	}
}

func TestSecondDaemonOnSameStateDirFails(t *testing.T) {
	dir := t.TempDir()
	newDaemon(t, dir)
	_, err := New(context.Background(), Options{StateDir: dir, Listen: "127.0.0.1:0"})
	if !errors.Is(err, paths.ErrAlreadyRunning) {
		t.Fatalf("second daemon: %v", err)
	}
}

func TestRunStopsWithinGrace(t *testing.T) {
	d := newDaemon(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestSetupFromAnotherProcessIsPickedUp(t *testing.T) {
	dir := t.TempDir()
	d := newDaemon(t, dir)
	if !d.NeedsSetup() {
		t.Fatal("fresh daemon should need setup")
	}
	// What `genos setup` does next to a running gateway.
	if err := SaveSetup(dir, Setup{Provider: "openai", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2"}); err != nil {
		t.Fatal(err)
	}
	d.models.checkMu.Lock()
	d.models.checked = time.Time{} // skip the once-a-second stat throttle
	d.models.checkMu.Unlock()
	if d.NeedsSetup() {
		t.Fatal("the running daemon did not pick up the saved setup")
	}
	if _, _, m, _ := d.models.Current(); m != "llama3.2" {
		t.Fatalf("model = %q", m)
	}
}
