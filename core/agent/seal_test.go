package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/vault"
)

// marker is a string that must never appear in the bytes on disk.
const marker = "milk-and-honey-7731"

func newVault(t testing.TB) *vault.Vault {
	t.Helper()
	v, err := vault.Create(t.TempDir(), []byte("pass"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// writeSealed seals content with v into path.
func writeSealed(t *testing.T, v *vault.Vault, path, content string) {
	t.Helper()
	data, err := v.SealFile([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// isSealedFile reports whether the file at path is sealed and free of the
// plaintext snippet leak.
func isSealedFile(t *testing.T, path, leak string) bool {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return vault.IsSealed(raw) && !bytes.Contains(raw, []byte(leak))
}

func TestLoadOrCreateSealed(t *testing.T) {
	dir := t.TempDir()
	v := newVault(t)
	a, err := LoadOrCreate(dir, "main", v)
	if err != nil {
		t.Fatal(err)
	}
	if !isSealedFile(t, filepath.Join(dir, "agents", a.ID, "agent.json"), `"createdAt"`) {
		t.Error("agent.json is not sealed")
	}
	ws := filepath.Join(dir, a.Workspace)
	for _, name := range promptFiles {
		if !isSealedFile(t, filepath.Join(ws, name), "\n- ") {
			t.Errorf("%s is not sealed", name)
		}
	}
	b, err := LoadOrCreate(dir, "main", v)
	if err != nil || b != a {
		t.Fatalf("reload = %+v, %v; want %+v", b, err, a)
	}
	if _, err := LoadOrCreate(dir, "main", nil); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("a sealed agent.json without a vault: err = %v", err)
	}

	p, err := SystemPrompt(a, ws, v, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## AGENTS.md", "## SOUL.md", "## USER.md", "Be direct and useful"} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt from the sealed templates lacks %q:\n%s", want, p)
		}
	}
	writeSealed(t, v, filepath.Join(ws, "USER.md"), "The user is called "+marker+".")
	if p, err := SystemPrompt(a, ws, v, time.Now()); err != nil || !strings.Contains(p, marker) {
		t.Fatalf("prompt after a sealed edit: %v\n%s", err, p)
	}

	v.Lock()
	if _, err := LoadOrCreate(dir, "main", v); !errors.Is(err, vault.ErrLocked) {
		t.Errorf("LoadOrCreate while locked: err = %v, want vault.ErrLocked", err)
	}
	if _, err := SystemPrompt(a, ws, v, time.Now()); !errors.Is(err, vault.ErrLocked) || !strings.Contains(err.Error(), "AGENTS.md") {
		t.Errorf("SystemPrompt while locked: err = %v, want vault.ErrLocked naming the file", err)
	}
	fresh := t.TempDir()
	if _, err := LoadOrCreate(fresh, "main", v); !errors.Is(err, vault.ErrLocked) {
		t.Errorf("creating an agent while locked: err = %v, want vault.ErrLocked", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(fresh, "agents")); len(entries) != 0 {
		t.Errorf("a failed creation left %d agent dirs", len(entries))
	}
}

func TestLoadOrCreatePlaintextInstall(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, a.Workspace)
	if isSealedFile(t, filepath.Join(ws, "SOUL.md"), marker) {
		t.Fatal("SOUL.md sealed without a sealer")
	}
	// The vault arrives later; the daemon migrates, but until then
	// plaintext state must keep working, also mixed with sealed files.
	v := newVault(t)
	b, err := LoadOrCreate(dir, "main", v)
	if err != nil || b != a {
		t.Fatalf("plaintext agent with a sealer = %+v, %v; want %+v", b, err, a)
	}
	writeSealed(t, v, filepath.Join(ws, "AGENTS.md"), "Sealed rule: "+marker)
	p, err := SystemPrompt(a, ws, v, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{marker, "## SOUL.md", "Be direct and useful"} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
	if _, err := SystemPrompt(a, ws, nil, time.Now()); err == nil || !strings.Contains(err.Error(), "AGENTS.md") {
		t.Errorf("a sealed AGENTS.md without a sealer: err = %v", err)
	}
}

func TestLoadOrCreateKeepsExistingTemplates(t *testing.T) {
	dir := t.TempDir()
	ws := filepath.Join(dir, "workspace", "main")
	if err := os.MkdirAll(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "SOUL.md"), []byte("my own soul"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, "main", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(ws, "SOUL.md")); string(got) != "my own soul" {
		t.Errorf("SOUL.md overwritten: %q", got)
	}
	if !fileExists(filepath.Join(ws, "AGENTS.md")) || !fileExists(filepath.Join(ws, "USER.md")) {
		t.Error("missing templates not written")
	}
}

func TestSystemPromptSealedFileForms(t *testing.T) {
	ws := t.TempDir()
	v := newVault(t)
	// A sealed file is capped after opening, like a plaintext one.
	writeSealed(t, v, filepath.Join(ws, "AGENTS.md"), strings.Repeat("x", 3*maxPromptFileBytes))
	// GenosOS's bare object form: the envelope without its magic line.
	sealed, err := v.SealFile([]byte(strings.Repeat(marker+"\n", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "SOUL.md"), bytes.TrimPrefix(sealed, []byte("NYXENC1\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := SystemPrompt(Info{Name: "main"}, ws, v, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(p, "x"); n < maxPromptFileBytes-100 || n > maxPromptFileBytes+100 {
		t.Errorf("prompt carries %d bytes of AGENTS.md, want the %d-byte cap", n, maxPromptFileBytes)
	}
	if !strings.Contains(p, marker) {
		t.Error("bare-object SOUL.md was not opened")
	}
}

func TestRunnerReadsSealedPrompt(t *testing.T) {
	f := newFixture(t, policy.DefaultRules(), nil)
	v := newVault(t)
	writeSealed(t, v, filepath.Join(f.ws, "AGENTS.md"), "Always sign with "+marker)
	f.runner.Sealer = v
	f.srv.Enqueue(modeltest.Reply{Text: "ok"})
	if _, err := f.run(context.Background(), "hi", nil); err != nil {
		t.Fatal(err)
	}
	reqs := f.srv.Requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].System, marker) {
		t.Fatalf("system prompt lacks the sealed AGENTS.md: %+v", reqs)
	}
}

// The file tools and the prompt builder agree on the sealed format: what
// the agent writes with the write tool reaches the next system prompt.
func TestSealedToolWriteReachesPrompt(t *testing.T) {
	ws := t.TempDir()
	v := newVault(t)
	var write tools.Tool
	for _, tl := range tools.Builtins(tools.BuiltinOptions{Sealer: v}) {
		if tl.Name == "write" {
			write = tl
		}
	}
	res, err := write.Run(context.Background(), tools.Env{Workspace: ws}, []byte(`{"path":"USER.md","content":"Name: `+marker+`"}`))
	if err != nil || res.IsError {
		t.Fatalf("write: %+v, %v", res, err)
	}
	if !isSealedFile(t, filepath.Join(ws, "USER.md"), marker) {
		t.Fatal("USER.md not sealed by the tool")
	}
	if p, err := SystemPrompt(Info{Name: "main"}, ws, v, time.Now()); err != nil || !strings.Contains(p, marker) {
		t.Fatalf("prompt: %v\n%s", err, p)
	}
}
