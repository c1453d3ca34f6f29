package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault/keysource"
)

const testPass = "correct horse battery"

// running is a daemon serving on loopback with a client connected.
type running struct {
	d      *Daemon
	c      *api.Client
	events <-chan api.Frame
	stop   func()
}

func startDaemon(t *testing.T, dir string, o Options) *running {
	t.Helper()
	o.StateDir, o.Version, o.Listen = dir, "test", "127.0.0.1:0"
	if o.KeySources == nil {
		o.KeySources = noKeySources
	}
	if o.Remember == nil {
		o.Remember = noStore{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	var c *api.Client
	for {
		c, err = api.Dial(dctx, api.DialOptions{URL: "ws://" + d.Addr() + "/ws", Token: d.Token(), Client: api.ClientInfo{ID: "test", Mode: "test"}})
		if err == nil || dctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	events, _ := c.Subscribe(256)
	r := &running{d: d, c: c, events: events}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		c.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(r.stop)
	return r
}

// configure points dir at the loopback model with write allowed.
func configure(t *testing.T, dir string, m *modeltest.Server, modelName string) {
	t.Helper()
	cfg := config.Default()
	cfg.Model.Provider, cfg.Model.BaseURL, cfg.Model.Model, cfg.Model.MaxRetries = "openai", m.URL(), modelName, 1
	cfg.Agent.ToolPolicy = map[string]string{"write": "allow"}
	if err := config.Save(paths.ConfigFile(dir), cfg); err != nil {
		t.Fatal(err)
	}
}

// echoDaemon starts a daemon on a fresh state dir whose model echoes.
func echoDaemon(t *testing.T, o Options) (string, *modeltest.Server, *running) {
	t.Helper()
	dir := t.TempDir()
	m := modeltest.New()
	t.Cleanup(m.Close)
	configure(t, dir, m, "m1")
	m.SetDefault(modeltest.Echo)
	return dir, m, startDaemon(t, dir, o)
}

// chatOnce sends text on the main session and waits for the run to end.
func (r *running) chatOnce(t *testing.T, text string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := r.c.ChatSend(ctx, api.ChatSendParams{Message: text, IdempotencyKey: text})
	if err != nil {
		t.Fatalf("chat.send: %v", err)
	}
	for {
		select {
		case f := <-r.events:
			if f.Event != api.EventChat {
				continue
			}
			var ev api.ChatEvent
			if err := json.Unmarshal(f.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.RunID != res.RunID || ev.State == api.ChatDelta {
				continue
			}
			if ev.State != api.ChatFinal {
				t.Fatalf("run ended %s: %+v", ev.State, ev)
			}
			return ev.Message.Content
		case <-ctx.Done():
			t.Fatal("run did not finish")
		}
	}
}

// waitVaultEvent waits for a vault.changed event with the given state.
func (r *running) waitVaultEvent(t *testing.T, state string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f := <-r.events:
			if f.Event != api.EventVaultChanged {
				continue
			}
			var st api.VaultStatus
			if err := json.Unmarshal(f.Payload, &st); err != nil {
				t.Fatal(err)
			}
			if st.State == state {
				return
			}
		case <-timeout:
			t.Fatalf("no vault.changed %s event", state)
		}
	}
}

func TestVaultLifecycleOverRPC(t *testing.T) {
	dir, _, r := echoDaemon(t, Options{})
	ctx := context.Background()

	if st, err := r.c.VaultStatus(ctx); err != nil || st.State != api.VaultNone {
		t.Fatalf("fresh status = %+v, %v", st, err)
	}
	r.chatOnce(t, "before the vault")
	if _, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: "short"}); !api.IsCode(err, api.CodeInvalidRequest) {
		t.Fatalf("short passphrase: %v", err)
	}
	st, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: testPass})
	if err != nil || st.State != api.VaultUnlocked {
		t.Fatalf("create = %+v, %v", st, err)
	}
	r.waitVaultEvent(t, api.VaultUnlocked)
	if _, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: testPass}); err == nil {
		t.Fatal("a second vault.create succeeded")
	}
	r.chatOnce(t, "after the vault")

	if st, err := r.c.VaultLock(ctx); err != nil || st.State != api.VaultLocked {
		t.Fatalf("lock = %+v, %v", st, err)
	}
	r.waitVaultEvent(t, api.VaultLocked)
	if _, err := r.c.ChatSend(ctx, api.ChatSendParams{Message: "x", IdempotencyKey: "locked"}); !api.IsCode(err, api.CodeLocked) {
		t.Fatalf("chat.send while locked: %v", err)
	}
	if _, err := r.c.ChatHistory(ctx, api.ChatHistoryParams{}); !api.IsCode(err, api.CodeLocked) {
		t.Fatalf("chat.history while locked: %v", err)
	}
	if s, err := r.c.Status(ctx); err != nil || s.Vault != api.VaultLocked {
		t.Fatalf("status while locked = %+v, %v", s, err)
	}
	if _, err := r.c.VaultUnlock(ctx, api.VaultUnlockParams{Passphrase: "wrong passphrase"}); !api.IsCode(err, api.CodeInvalidRequest) || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if st, err := r.c.VaultUnlock(ctx, api.VaultUnlockParams{Passphrase: testPass}); err != nil || st.State != api.VaultUnlocked {
		t.Fatalf("unlock = %+v, %v", st, err)
	}
	h, err := r.c.ChatHistory(ctx, api.ChatHistoryParams{})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, rec := range h.Records {
		texts = append(texts, rec.Content)
	}
	if got := strings.Join(texts, "|"); !strings.Contains(got, "before the vault") || !strings.Contains(got, "after the vault") {
		t.Fatalf("history after unlock lost records: %s", got)
	}

	// Auto-lock (and any lock the vault makes itself) stops the engine.
	r.d.vault.Lock()
	r.waitVaultEvent(t, api.VaultLocked)
	if _, err := r.c.ChatHistory(ctx, api.ChatHistoryParams{}); !api.IsCode(err, api.CodeLocked) {
		t.Fatalf("chat.history after the vault locked itself: %v", err)
	}
	r.stop()

	// A restart starts locked; the env key source unlocks it.
	env := keysource.Env(func(k string) (string, bool) { return testPass, k == keysource.EnvVar })
	r2 := startDaemon(t, dir, Options{KeySources: []keysource.Source{env}})
	// A request that needs the vault waits for the unlock in progress.
	if _, err := r2.c.ChatHistory(ctx, api.ChatHistoryParams{}); err != nil {
		t.Fatalf("chat.history right after a start with a key source: %v", err)
	}
	if st, err := r2.c.VaultStatus(ctx); err != nil || st.State != api.VaultUnlocked {
		t.Fatalf("start with env passphrase = %+v, %v", st, err)
	}
	r2.stop()
	r3 := startDaemon(t, dir, Options{})
	if st, err := r3.c.VaultStatus(ctx); err != nil || st.State != api.VaultLocked {
		t.Fatalf("start without a key source = %+v, %v", st, err)
	}
	r3.stop()
	// A key source with a wrong passphrase: the start ends locked, and
	// waiting requests get VAULT_LOCKED rather than hanging.
	bad := keysource.Env(func(k string) (string, bool) { return "not the passphrase", k == keysource.EnvVar })
	r4 := startDaemon(t, dir, Options{KeySources: []keysource.Source{bad}})
	if _, err := r4.c.ChatHistory(ctx, api.ChatHistoryParams{}); !api.IsCode(err, api.CodeLocked) {
		t.Fatalf("chat.history after a failed key-source unlock: %v", err)
	}
	if st, err := r4.c.VaultStatus(ctx); err != nil || st.State != api.VaultLocked {
		t.Fatalf("start with a wrong key source = %+v, %v", st, err)
	}
}

func TestInboundHeldWhileLocked(t *testing.T) {
	store := &memStore{}
	dir := t.TempDir()
	m := modeltest.New()
	defer m.Close()
	configure(t, dir, m, "m1")
	m.SetDefault(modeltest.Echo)
	// Anyone may write on this channel, so the held message reaches the
	// model (the default, pairing, would answer a stranger with a code).
	cfg, err := config.Load(paths.ConfigFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Channels = map[string]config.Channel{"telegram": {DM: config.DMOpen, AllowFrom: []string{"*"}}}
	if err := config.Save(paths.ConfigFile(dir), cfg); err != nil {
		t.Fatal(err)
	}
	r := startDaemon(t, dir, Options{Remember: store})
	ctx := context.Background()
	if _, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: testPass, Remember: true}); err != nil {
		t.Fatal(err)
	}
	if p, err := store.Get(ctx); err != nil || string(p) != testPass {
		t.Fatalf("remember stored %q, %v", p, err)
	}
	if _, err := r.c.VaultLock(ctx); err != nil {
		t.Fatal(err)
	}
	in := chat.Inbound{Channel: "telegram", Peer: "4242", MessageID: "m1", Text: "held-message-marker-5521",
		Provenance: chat.Provenance{Sender: "4242"}}
	if err := r.d.Deliver(ctx, in); err != nil {
		t.Fatalf("deliver while locked: %v", err)
	}
	if st, _ := r.c.VaultStatus(ctx); st.QueuedInbound != 1 {
		t.Fatalf("queued = %d, want 1", st.QueuedInbound)
	}
	raw, _ := os.ReadFile(paths.InboxFile(dir))
	if bytes.Contains(raw, []byte("held-message-marker-5521")) || len(raw) == 0 {
		t.Fatalf("inbox is not sealed: %q", raw)
	}
	before := len(m.Requests())
	if _, err := r.c.VaultUnlock(ctx, api.VaultUnlockParams{Passphrase: testPass}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(m.Requests()) == before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	reqs := m.Requests()
	if len(reqs) == before || !strings.Contains(string(reqs[len(reqs)-1].Body), "held-message-marker-5521") {
		t.Fatal("the held message was not processed after unlock")
	}
	if st, _ := r.c.VaultStatus(ctx); st.QueuedInbound != 0 {
		t.Fatalf("queue not drained: %d", st.QueuedInbound)
	}
}

// TestCanary writes known markers through every path that stores user
// data, before and after the vault exists, locks it, and scans every byte
// under the state dir (the SQLite WAL and shared-memory files included).
func TestCanary(t *testing.T) {
	dir := t.TempDir()
	m := modeltest.New()
	defer m.Close()
	const (
		cfgMarker   = "canary-model-cfg-71"
		keyMarker   = "sk-canary-secret-72"
		chatMarker  = "canary-chat-73"
		replyMarker = "canary-reply-74"
		fileMarker  = "canary-file-75"
		plainMarker = "canary-plain-era-76"
		afterMarker = "canary-after-vault-77"
		auditMarker = "canary-model-audit-78"
	)
	configure(t, dir, m, cfgMarker)
	r := startDaemon(t, dir, Options{})
	ctx := context.Background()
	if err := r.d.ApplySetup(ctx, Setup{Provider: "openai", BaseURL: m.URL(), Model: cfgMarker, APIKey: keyMarker}); err != nil {
		t.Fatal(err)
	}
	// Plaintext era: a chat whose first message titles the session.
	m.Enqueue(modeltest.Reply{Text: "ok " + replyMarker})
	r.chatOnce(t, plainMarker+" first message")

	if _, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: testPass}); err != nil {
		t.Fatal(err)
	}
	// Vault era: chat, a tool file write, a config change (audited).
	args, _ := json.Marshal(map[string]string{"path": "notes/canary.md", "content": "secret " + fileMarker})
	m.Enqueue(
		modeltest.Reply{ToolCalls: []chat.ToolCall{{ID: "c1", Name: "write", Arguments: args}}},
		modeltest.Reply{Text: "written " + replyMarker},
	)
	r.chatOnce(t, chatMarker+" please write the file")
	r.chatOnce(t, afterMarker)
	if err := r.d.ApplySetup(ctx, Setup{Provider: "openai", BaseURL: m.URL(), Model: auditMarker, APIKey: keyMarker}); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, r.d.engine().info.Workspace, "notes", "canary.md")
	if _, err := os.Stat(ws); err != nil {
		t.Fatalf("the write tool did not write: %v", err)
	}
	if _, err := r.c.VaultLock(ctx); err != nil {
		t.Fatal(err)
	}

	markers := []string{cfgMarker, keyMarker, chatMarker, replyMarker, fileMarker, plainMarker, afterMarker, auditMarker}
	scan := func(when string) {
		t.Helper()
		n := 0
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n++
			for _, mk := range markers {
				if bytes.Contains(data, []byte(mk)) {
					t.Errorf("%s: %s holds %q in plaintext", when, p, mk)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n < 8 {
			t.Fatalf("%s: scanned only %d files", when, n)
		}
	}
	scan("locked, daemon running")
	if _, err := os.Stat(paths.DBFile(dir) + "-wal"); err != nil {
		t.Errorf("expected the WAL to exist while running (so the scan covered it): %v", err)
	}
	r.stop()
	scan("after shutdown")

	// Everything is still there for the owner.
	rep, err := VerifyVault(ctx, dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plain) > 0 || len(rep.Problems) > 0 || rep.Lines == 0 || rep.Titles == 0 || rep.Files == 0 {
		t.Fatalf("verify: %+v", rep)
	}
	db, err := store.Open(ctx, paths.DBFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	titles, err := db.SessionTitles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range titles {
		if !strings.HasPrefix(v, inlinePrefix) {
			t.Errorf("title of %s is not in inline form: %.20q", k, v)
		}
	}
}

func TestRekeyOverRPC(t *testing.T) {
	store := &memStore{}
	dir, _, r := echoDaemon(t, Options{Remember: store})
	ctx := context.Background()
	if _, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: testPass, Remember: true}); err != nil {
		t.Fatal(err)
	}
	r.chatOnce(t, "before rekey")
	const newPass = "a brand new passphrase"
	if _, err := r.c.VaultRekey(ctx, api.VaultRekeyParams{Passphrase: "not the passphrase", NewPassphrase: newPass}); !api.IsCode(err, api.CodeInvalidRequest) {
		t.Fatalf("rekey with a wrong passphrase: %v", err)
	}
	st, err := r.c.VaultRekey(ctx, api.VaultRekeyParams{Passphrase: testPass, NewPassphrase: newPass})
	if err != nil || st.State != api.VaultUnlocked {
		t.Fatalf("rekey = %+v, %v", st, err)
	}
	if p, _ := store.Get(ctx); string(p) != newPass {
		t.Fatalf("remembered passphrase after rekey = %q", p)
	}
	r.chatOnce(t, "after rekey")
	r.stop()

	if _, err := VerifyVault(ctx, dir, []byte(testPass)); err == nil {
		t.Fatal("the old passphrase still opens the vault")
	}
	rep, err := VerifyVault(ctx, dir, []byte(newPass))
	if err != nil || len(rep.Problems) > 0 || len(rep.Plain) > 0 || rep.Lines < 4 {
		t.Fatalf("verify with the new passphrase: %+v, %v", rep, err)
	}
}

func TestDamagedSealedConfigIsNamed(t *testing.T) {
	dir := t.TempDir()
	m := modeltest.New()
	defer m.Close()
	configure(t, dir, m, "m1")
	ctx := context.Background()
	if err := InitVault(ctx, dir, []byte(testPass)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(paths.ConfigFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x01 // one flipped bit inside the ciphertext
	if err := os.WriteFile(paths.ConfigFile(dir), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	r := startDaemon(t, dir, Options{})
	_, err = r.c.VaultUnlock(ctx, api.VaultUnlockParams{Passphrase: testPass})
	if err == nil || !strings.Contains(err.Error(), "genos.json") || !strings.Contains(err.Error(), "corrupted") {
		t.Fatalf("unlock with a damaged config = %v; want a corrupted error naming genos.json", err)
	}
	if st, _ := r.c.VaultStatus(ctx); st.State != api.VaultLocked {
		t.Fatalf("after a failed unlock the vault is %s", st.State)
	}
}
