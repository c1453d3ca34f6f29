package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newTestStore saves Default to a fresh file and returns a Store for it.
func newTestStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "genos.json")
	c := Default()
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	return NewStore(path, c), path
}

func TestStoreModify(t *testing.T) {
	t.Parallel()
	s, path := newTestStore(t)
	err := s.Modify(func(c *Config) error {
		c.Model.Provider, c.Model.Model = "openai", "gpt-4.1"
		c.Agent.ToolPolicy = map[string]string{"exec": "deny"}
		return nil
	})
	if err != nil {
		t.Fatalf("Modify: %v", err)
	}
	got := s.Get()
	if !got.Configured() || got.Agent.ToolPolicy["exec"] != "deny" {
		t.Errorf("Get after Modify = %+v", got)
	}
	onDisk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&got, onDisk); diff != "" {
		t.Errorf("memory and disk differ (-memory +disk):\n%s", diff)
	}
}

func TestStoreModifyRollback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fn      func(c *Config) error
		wantErr string
	}{
		{"validation failure", func(c *Config) error {
			c.Gateway.Port = 0
			c.Agent.ToolPolicy = map[string]string{"exec": "allow"}
			return nil
		}, "gateway.port: must be 1-65535, got 0"},
		{"fn error", func(c *Config) error {
			c.Logging.Level = "debug"
			return errors.New("user cancelled")
		}, "user cancelled"},
		{"nil fn", nil, "nil function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, path := newTestStore(t)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := s.Get()
			err = s.Modify(tt.fn)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Modify = %v, want error containing %q", err, tt.wantErr)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(before), string(after)); diff != "" {
				t.Errorf("file changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(want, s.Get()); diff != "" {
				t.Errorf("memory changed (-before +after):\n%s", diff)
			}
			assertNoTempFiles(t, filepath.Dir(path))
		})
	}
}

func TestStoreModifySaveFailure(t *testing.T) {
	t.Parallel()
	// The directory does not exist, so the write fails after validation.
	s := NewStore(filepath.Join(t.TempDir(), "gone", "genos.json"), Default())
	want := s.Get()
	err := s.Modify(func(c *Config) error { c.Logging.Level = "error"; return nil })
	if err == nil {
		t.Fatal("Modify succeeded although the file cannot be written")
	}
	if diff := cmp.Diff(want, s.Get()); diff != "" {
		t.Errorf("memory changed although the save failed (-before +after):\n%s", diff)
	}
}

func TestStoreCopies(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Agent.ToolPolicy = map[string]string{"exec": "ask"}
	s := NewStore(filepath.Join(t.TempDir(), "genos.json"), c)

	c.Agent.ToolPolicy["exec"] = "allow" // caller keeps mutating its config
	got := s.Get()
	got.Agent.ToolPolicy["exec"] = "allow" // caller mutates what Get returned
	got.Gateway.Port = 1

	again := s.Get()
	if again.Agent.ToolPolicy["exec"] != "ask" || again.Gateway.Port != DefaultPort {
		t.Errorf("store state leaked through a copy: %+v", again)
	}
	if s.Path() == "" {
		t.Error("Path() is empty")
	}
}

func TestStoreConcurrent(t *testing.T) {
	t.Parallel()
	s, path := newTestStore(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			err := s.Modify(func(c *Config) error {
				if c.Agent.ToolPolicy == nil {
					c.Agent.ToolPolicy = map[string]string{}
				}
				c.Agent.ToolPolicy[fmt.Sprintf("tool%d", i)] = "ask"
				return nil
			})
			if err != nil {
				t.Errorf("Modify: %v", err)
			}
		})
		wg.Go(func() { _ = s.Get().Agent.ToolPolicy["tool0"] })
	}
	wg.Wait()
	// Modify calls are serialised, so no update is lost.
	if n := len(s.Get().Agent.ToolPolicy); n != 8 {
		t.Errorf("ToolPolicy has %d entries, want 8", n)
	}
	onDisk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Get()
	if diff := cmp.Diff(&got, onDisk); diff != "" {
		t.Errorf("memory and disk differ (-memory +disk):\n%s", diff)
	}
}
