package daemon

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/policy"
)

func newDaemon(t *testing.T, dir string) *Daemon {
	t.Helper()
	d, err := New(context.Background(), Options{StateDir: dir, Version: "test", Listen: "127.0.0.1:0", KeySources: noKeySources, Remember: noStore{}})
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
	if sec, err := config.OpenSecrets(paths.SecretsFile(dir)); err != nil {
		t.Fatal(err)
	} else if _, ok := sec.Get(apiKeyRef); ok {
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
	p, name, model, ok := d.engine().models.Current()
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
	if err := SaveSetup(dir, Setup{Provider: "openai", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2"}, nil); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t, dir)
	if d.NeedsSetup() {
		t.Fatal("a saved setup should configure the next start")
	}
	sec, err := config.OpenSecrets(paths.SecretsFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sec.Get(apiKeyRef); ok {
		t.Fatal("no key was given, so none should be stored")
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
	if err := SaveSetup(dir, Setup{Provider: "openai", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2"}, nil); err != nil {
		t.Fatal(err)
	}
	d.engine().models.checkMu.Lock()
	d.engine().models.checked = time.Time{} // skip the once-a-second stat throttle
	d.engine().models.checkMu.Unlock()
	if d.NeedsSetup() {
		t.Fatal("the running daemon did not pick up the saved setup")
	}
	if _, _, m, _ := d.engine().models.Current(); m != "llama3.2" {
		t.Fatalf("model = %q", m)
	}
}

func TestAuditRecordsSetupApprovalsAndAuthFailures(t *testing.T) {
	dir := t.TempDir()
	d := newDaemon(t, dir)
	srv := modeltest.New()
	defer srv.Close()
	if err := d.ApplySetup(context.Background(), Setup{Provider: "openai", BaseURL: srv.URL(), Model: "m1"}); err != nil {
		t.Fatal(err)
	}
	d.auditApproval(policy.Event{Kind: policy.EventResolved, Decision: policy.DecisionDeny,
		Request: policy.Request{ID: "ap_1", Tool: "exec", SessionKey: "agent:x:main", AgentID: "x"}})
	d.auditToolRun(agent.ToolRun{Tool: "exec", Category: "exec", Args: []byte(`{"command":"ls"}`)})
	d.auditToolRun(agent.ToolRun{Tool: "read", Category: "read"}) // not audited
	d.Close()

	res, err := VerifyAudit(dir, nil)
	if err != nil || !res.OK() {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	recs, errs := audit.ReadRecords(mustOpenFile(t, AuditFile(dir)), audit.PlainCodec{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var events []string
	for _, r := range recs {
		events = append(events, r.Event)
	}
	want := []string{audit.EventConfigChanged, audit.EventApprovalDecided, audit.EventExecRun}
	if !slices.Equal(events, want) {
		t.Fatalf("audit events = %v, want %v", events, want)
	}
	if recs[1].Fields["decision"] != "deny" || recs[2].Fields["args"] != `{"command":"ls"}` {
		t.Fatalf("fields: %+v / %+v", recs[1].Fields, recs[2].Fields)
	}
}

func mustOpenFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
