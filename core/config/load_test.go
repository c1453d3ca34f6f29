package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// writeConfig writes content to a fresh genos.json and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "genos.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "genos.json"))
	if !errors.Is(err, ErrNoConfig) {
		t.Fatalf("Load(missing) = %v, want ErrNoConfig", err)
	}
}

func TestLoadDefaultsFilled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    func(c *Config)
	}{
		{"version only", `{"version": 1}`, func(c *Config) {}},
		{"zeros become defaults", `{"version":1,"gateway":{"bind":"","port":0},"logging":{"level":""}}`, func(c *Config) {}},
		{"null sections", `{"version":1,"gateway":null,"agent":null}`, func(c *Config) {}},
		{"partial", `{
  "version": 1,
  "gateway": {"port": 9000},
  "model": {"provider": "anthropic", "model": "claude-sonnet-4-5", "apiKeyRef": "model.apiKey"},
  "agent": {"toolPolicy": {"exec": "deny"}}
}`, func(c *Config) {
			c.Gateway.Port = 9000
			c.Model.Provider, c.Model.Model, c.Model.APIKeyRef = "anthropic", "claude-sonnet-4-5", "model.apiKey"
			c.Agent.ToolPolicy = map[string]string{"exec": "deny"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load(writeConfig(t, tt.content))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default()
			tt.want(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"unknown field", "{\n  \"version\": 1,\n  \"gateway\": {\n    \"prot\": 80\n  }\n}",
			[]string{"gateway.prot: unknown field", "line 4"}},
		{"unknown top-level field", `{"version":1,"colour":"blue"}`, []string{"colour: unknown field", "line 1"}},
		{"miscased field", `{"version":1,"gateway":{"Port":80}}`, []string{"gateway.Port: unknown field", `did you mean "port"?`}},
		{"unknown field inside unknown section", `{"version":1,"extra":{"a":1}}`, []string{"extra: unknown field"}},
		{"several unknown fields reported together", `{"version":1,"a":1,"model":{"b":2}}`, []string{"a: unknown field", "model.b: unknown field"}},
		{"duplicate field", "{\"version\":1,\n\"gateway\":{\"port\":1,\n\"port\":2}}", []string{"gateway.port: duplicate field", "line 3"}},
		{"trailing garbage", `{"version":1} trailing`, []string{"unexpected data after the JSON value", "column 15"}},
		{"second object", `{"version":1}{"version":1}`, []string{"unexpected data after the JSON value"}},
		{"wrong type", "{\"version\":1,\n\"gateway\":{\"port\":\"80\"}}", []string{"gateway.port: expected an integer, got JSON string", "line 2"}},
		{"wrong type for section", `{"version":1,"model":"gpt"}`, []string{"model: expected an object, got JSON string"}},
		{"wrong type in map", `{"version":1,"agent":{"toolPolicy":{"exec":true}}}`, []string{"toolPolicy", "expected a string"}},
		{"float for int", `{"version":1,"gateway":{"port":80.5}}`, []string{"gateway.port: expected an integer"}},
		{"syntax error", "{\n\"version\": 1,\n\"gateway\": {,}\n}", []string{"invalid JSON", "line 3"}},
		{"truncated", `{"version": 1, "gateway": {`, []string{"invalid JSON"}},
		{"empty file", ``, []string{"file is empty"}},
		{"not an object", `[1,2]`, []string{"must be a JSON object"}},
		{"null", `null`, []string{"must be a JSON object"}},
		{"newer version", `{"version": 2, "future": true}`, []string{"version 2 is newer than this Genos understands (1)"}},
		{"version string", `{"version": "1"}`, []string{"version: expected an integer, got a string"}},
		{"version negative", `{"version": -1}`, []string{"version: expected a small non-negative integer"}},
		{"version fraction", `{"version": 1.5}`, []string{"version: expected a small non-negative integer"}},
		{"invalid values", `{"version":1,"gateway":{"port":70000},"logging":{"level":"loud"}}`,
			[]string{"gateway.port: must be 1-65535, got 70000", "logging.level:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if errors.Is(err, ErrNoConfig) {
				t.Fatalf("Load = %v, must not be ErrNoConfig", err)
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range append([]string{path}, tt.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"version":1,"model":{"model":"` + strings.Repeat("x", maxFileSize) + `"}}`
	_, err := Load(writeConfig(t, big))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load(huge) = %v, want a size error", err)
	}
}

func TestMigrationV0(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    func(c *Config)
		wantErr string
	}{
		{"listen moves to gateway", `{"version":0,"listen":"0.0.0.0:9999","logging":{"level":"debug"}}`, func(c *Config) {
			c.Gateway.Bind, c.Gateway.Port, c.Logging.Level = "0.0.0.0", 9999, "debug"
		}, ""},
		{"no version means 0", `{"listen":"[::1]:8080","gateway":{"tickSeconds":5}}`, func(c *Config) {
			c.Gateway.Bind, c.Gateway.Port, c.Gateway.TickSeconds = "::1", 8080, 5
		}, ""},
		{"port only", `{"listen":":7000"}`, func(c *Config) { c.Gateway.Port = 7000 }, ""},
		{"nothing to migrate", `{"version":0}`, func(c *Config) {}, ""},
		{"conflict", `{"listen":"127.0.0.1:1","gateway":{"port":2}}`, nil, "both listen and gateway.port are set"},
		{"bad listen", `{"listen":"nowhere"}`, nil, "migrate config from version 0 to 1: listen:"},
		{"listen not a string", `{"listen":80}`, nil, "listen: expected a string"},
		{"bad port", `{"listen":"127.0.0.1:http"}`, nil, `port "http" is not a number`},
		{"migrated result still validated", `{"listen":"127.0.0.1:99999"}`, nil, "gateway.port: must be 1-65535, got 99999"},
		{"unknown field after migration", `{"listen":"127.0.0.1:1","bogus":1}`, nil, "after migrating from version 0: bogus: unknown field"},
		{"duplicate in old file located", "{\"listen\":\"a:1\",\n\"listen\":\"b:2\"}", nil, "listen: duplicate field (line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load(writeConfig(t, tt.content))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default()
			tt.want(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("migrated config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMigrateRunner(t *testing.T) {
	t.Parallel()
	var order []int
	step := func(from int) migration {
		return migration{from: from, apply: func(raw map[string]any) error {
			if raw["version"] != from && !(from == 0 && raw["version"] == nil) {
				t.Errorf("step %d saw version %v", from, raw["version"])
			}
			order = append(order, from)
			return nil
		}}
	}
	// Declared out of order: the runner must still go 0, 1, 2.
	steps := []migration{step(2), step(0), step(1)}
	raw := map[string]any{}
	if err := migrate(raw, 0, 3, steps); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if diff := cmp.Diff([]int{0, 1, 2}, order); diff != "" {
		t.Errorf("step order (-want +got):\n%s", diff)
	}
	if raw["version"] != 3 {
		t.Errorf("version after migrate = %v, want 3", raw["version"])
	}

	err := migrate(map[string]any{}, 0, 2, []migration{step(0)})
	if err == nil || !strings.Contains(err.Error(), "no migration from config version 1") {
		t.Errorf("migrate with a gap = %v, want a missing-step error", err)
	}
	failing := []migration{{from: 0, apply: func(map[string]any) error { return errors.New("boom") }}}
	err = migrate(map[string]any{}, 0, 1, failing)
	if err == nil || !strings.Contains(err.Error(), "from version 0 to 1: boom") {
		t.Errorf("migrate with a failing step = %v", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Gateway.Bind = "::1"
	c.Model = Model{Provider: "openai", BaseURL: "http://localhost:11434/v1?a=1&b=2", Model: "llama3:8b",
		APIKeyEnv: "OLLAMA_KEY", TimeoutSeconds: 30, MaxRetries: 1}
	c.Agent.ToolPolicy = map[string]string{"exec": "ask", "network": "deny"}
	c.Logging.Level = "debug"

	dir := t.TempDir()
	path := filepath.Join(dir, "genos.json")
	if err := Save(path, c); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("round trip mismatch (-saved +loaded):\n%s", diff)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "a=1&b=2") || !strings.HasSuffix(string(data), "}\n") {
		t.Errorf("unexpected file layout:\n%s", data)
	}
	assertFileMode(t, path)
	assertNoTempFiles(t, dir)

	// Saving the loaded config again gives the same bytes.
	if err := Save(path, got); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(data), string(again)); diff != "" {
		t.Errorf("re-save changed the file (-first +second):\n%s", diff)
	}
}

func TestSaveInvalidLeavesFileAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "genos.json")
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	bad := Default()
	bad.Gateway.Port = 0
	err := Save(path, bad)
	if err == nil || !strings.Contains(err.Error(), "gateway.port") {
		t.Fatalf("Save(invalid) = %v, want a validation error", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("Save(invalid) changed the file")
	}
	if err := Save(path, nil); err == nil {
		t.Error("Save(nil) succeeded")
	}
	if err := Save(filepath.Join(dir, "missing", "genos.json"), Default()); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
	assertNoTempFiles(t, dir)
}

func assertFileMode(t *testing.T, path string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %04o, want 0600", path, fi.Mode().Perm())
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// equateEmpty treats a nil and an empty ToolPolicy alike: omitempty writes
// neither, so they load back the same.
var equateEmpty = cmpopts.EquateEmpty()
