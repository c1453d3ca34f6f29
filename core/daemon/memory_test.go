package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/paths"
)

// embedServer is a loopback OpenAI-compatible /v1/embeddings endpoint. Each
// text becomes a bag of hashed words: not semantic, only deterministic, so
// texts sharing words come out similar. It counts what it is asked.
type embedServer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests int
	inputs   []string
}

const testEmbedDims = 64

func newEmbedServer(t *testing.T) *embedServer {
	t.Helper()
	s := &embedServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *embedServer) URL() string { return s.srv.URL + "/v1" }

func (s *embedServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Input) == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	s.inputs = append(s.inputs, req.Input...)
	s.mu.Unlock()
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	out := struct {
		Object string         `json:"object"`
		Data   []item         `json:"data"`
		Model  string         `json:"model"`
		Usage  map[string]int `json:"usage"`
	}{Object: "list", Model: req.Model, Usage: map[string]int{"prompt_tokens": 1, "total_tokens": 1}}
	for i, text := range req.Input {
		out.Data = append(out.Data, item{Object: "embedding", Index: i, Embedding: bagOfWords(text)})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func bagOfWords(text string) []float64 {
	v := make([]float64, testEmbedDims)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[h.Sum32()%testEmbedDims]++
	}
	v[0] += 0.01 // never the zero vector
	return v
}

func (s *embedServer) counts() (requests int, inputs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, slices.Clone(s.inputs)
}

// configureMemory points the daemon's memory at the loopback embedder.
func configureMemory(t *testing.T, dir string, m *modeltest.Server, e *embedServer) {
	t.Helper()
	cfg := config.Default()
	cfg.Model.Provider, cfg.Model.BaseURL, cfg.Model.Model, cfg.Model.MaxRetries = "openai", m.URL(), "m1", 1
	cfg.Agent.ToolPolicy = map[string]string{"write": "allow", "memory": "allow"}
	cfg.Memory.Embedder, cfg.Memory.BaseURL, cfg.Memory.Model = config.EmbedderOpenAI, e.URL(), "bag-of-words"
	if err := config.Save(paths.ConfigFile(dir), cfg); err != nil {
		t.Fatal(err)
	}
}

// memoryDaemon starts a daemon on a fresh state dir whose memory embeds
// through a loopback embeddings server; the caller stops it.
func memoryDaemon(t *testing.T) (string, *modeltest.Server, *embedServer, *running) {
	t.Helper()
	dir := t.TempDir()
	m := modeltest.New()
	t.Cleanup(m.Close)
	e := newEmbedServer(t)
	configureMemory(t, dir, m, e)
	return dir, m, e, startDaemon(t, dir, Options{})
}

// waitMemory waits for the engine's background sync and filter build.
func waitMemory(t *testing.T, d *Daemon) {
	t.Helper()
	select {
	case <-d.engine().memory.ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the memory's background sync did not finish")
	}
}

func writeNote(t *testing.T, d *Daemon, dir, rel, text string) {
	t.Helper()
	p := filepath.Join(dir, d.engine().info.Workspace, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOneEmbeddingPerMessage: an inbound message costs exactly one
// embedding request, whose vector serves both the memory prefetch (the
// relevant note reaches the model's prompt) and the tool filter.
func TestOneEmbeddingPerMessage(t *testing.T) {
	dir, m, e, r := memoryDaemon(t)
	defer r.stop()
	waitMemory(t, r.d)
	writeNote(t, r.d, dir, "MEMORY.md", "# Memory\n\n## Health\n\nMara's cardiologist is Dr. Lindqvist; jogging is fine below heart rate 150.\n")
	if _, err := r.c.MemoryReindex(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, _ := e.counts()

	m.Enqueue(modeltest.Reply{Text: "Keep your heart rate under 150."})
	r.chatOnce(t, "what did the cardiologist say about jogging?")

	after, inputs := e.counts()
	if after-before != 1 {
		t.Fatalf("%d embedding requests for one message, want exactly 1 (inputs since: %q)", after-before, inputs[len(inputs)-(after-before):])
	}
	if last := inputs[len(inputs)-1]; last != "what did the cardiologist say about jogging?" {
		t.Errorf("embedded %q, want the message", last)
	}
	reqs := m.Requests()
	req := reqs[len(reqs)-1]
	if !strings.Contains(req.System, "memories[") || !strings.Contains(req.System, "Dr. Lindqvist") {
		t.Errorf("the relevant note was not prefetched into the prompt:\n%s", req.System)
	}
	all := r.d.engine().memory.filter.Load()
	if all == nil {
		t.Fatal("no tool filter")
	}
	for _, core := range []string{"read", "write", "edit", "memory_search", "memory_write"} {
		if !slices.Contains(req.Tools, core) {
			t.Errorf("core tool %s was filtered out: %v", core, req.Tools)
		}
	}

	// The run's usage says what the prefetch cost.
	h, err := r.c.ChatHistory(context.Background(), api.ChatHistoryParams{SessionKey: "agent:" + r.d.engine().info.ID + ":main"})
	if err != nil {
		t.Fatal(err)
	}
	last := h.Records[len(h.Records)-1]
	if last.Role != chat.RoleAssistant {
		t.Fatalf("last record %+v", last)
	}
}

// TestMemoryRPC drives memory.status, memory.search and memory.reindex
// through the gateway, and checks a note written by the agent's tool is
// searchable at once.
func TestMemoryRPC(t *testing.T) {
	_, m, _, r := memoryDaemon(t)
	defer r.stop()
	waitMemory(t, r.d)
	ctx := context.Background()

	args, _ := json.Marshal(map[string]string{"text": "The spare key is under the blue flowerpot.", "target": "memory", "section": "Home"})
	m.Enqueue(
		modeltest.Reply{ToolCalls: []chat.ToolCall{{ID: "w1", Name: "memory_write", Arguments: args}}},
		modeltest.Reply{Text: "Noted."},
	)
	r.chatOnce(t, "remember where the spare key is")

	st, err := r.c.MemoryStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Notes != 1 || st.Chunks == 0 || st.Mode != "hybrid" || st.Embedder == "" || st.Dimensions != testEmbedDims {
		t.Fatalf("status = %+v", st)
	}
	for _, mode := range []string{"", "bm25", "vector"} {
		res, err := r.c.MemorySearch(ctx, api.MemorySearchParams{Query: "where is the spare key", Mode: mode})
		if err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
		if len(res.Hits) == 0 || res.Hits[0].Source != "MEMORY.md" || !strings.Contains(res.Hits[0].Text, "blue flowerpot") {
			t.Fatalf("mode %q: hits = %+v", mode, res.Hits)
		}
	}
	if _, err := r.c.MemorySearch(ctx, api.MemorySearchParams{Query: "  "}); err == nil {
		t.Error("an empty query was accepted")
	}
	if _, err := r.c.MemorySearch(ctx, api.MemorySearchParams{Query: "x", Mode: "fuzzy"}); err == nil {
		t.Error("an unknown mode was accepted")
	}
	st, err = r.c.MemoryReindex(ctx)
	if err != nil || st.Chunks == 0 {
		t.Fatalf("reindex = %+v, %v", st, err)
	}
}

// TestMemoryWithoutEmbedder: with no embedder configured, search runs on
// keywords and says so once; nothing fails.
func TestMemoryWithoutEmbedder(t *testing.T) {
	dir, m, r := echoDaemon(t, Options{})
	defer r.stop()
	_ = m
	waitMemory(t, r.d)
	writeNote(t, r.d, dir, "memory/2026-11-20.md", "# 2026-11-20\n\nBooked flight LH 1234 to Lisbon, seat 14C.\n")
	ctx := context.Background()
	if _, err := r.c.MemoryReindex(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.c.MemorySearch(ctx, api.MemorySearchParams{Query: "LH 1234"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "bm25" || !strings.Contains(res.Notice, "BM25") || len(res.Hits) != 1 || res.Hits[0].Source != "memory/2026-11-20.md" {
		t.Fatalf("search = %+v", res)
	}
	if _, err := r.c.MemorySearch(ctx, api.MemorySearchParams{Query: "LH 1234", Mode: "vector"}); err == nil {
		t.Error("vector search without an embedder was accepted")
	}
}

// TestCanaryMemory: with a vault, memory notes, chunks, vectors and the
// embedding cache all populated, no marker text and no vector bytes are
// anywhere under the state dir, running or stopped.
func TestCanaryMemory(t *testing.T) {
	dir, m, _, r := memoryDaemon(t)
	ctx := context.Background()
	if _, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: testPass}); err != nil {
		t.Fatal(err)
	}
	waitMemory(t, r.d)
	const (
		noteMarker  = "canary-memory-note-81"
		queryMarker = "canary-memory-query-82"
		userMarker  = "canary-memory-user-83"
	)
	args, _ := json.Marshal(map[string]string{"text": "Mara's locker code is " + noteMarker, "target": "today"})
	m.Enqueue(
		modeltest.Reply{ToolCalls: []chat.ToolCall{{ID: "w1", Name: "memory_write", Arguments: args}}},
		modeltest.Reply{Text: "Saved."},
	)
	r.chatOnce(t, userMarker+" remember my locker code")
	writeSealedNote := filepath.Join(dir, r.d.engine().info.Workspace, "memory")
	if entries, err := os.ReadDir(writeSealedNote); err != nil || len(entries) != 1 {
		t.Fatalf("memory dir: %v %v", entries, err)
	}
	res, err := r.c.MemorySearch(ctx, api.MemorySearchParams{Query: queryMarker + " locker code"})
	if err != nil || len(res.Hits) == 0 || !strings.Contains(res.Hits[0].Text, noteMarker) {
		t.Fatalf("search = %+v, %v", res, err)
	}
	st, err := r.c.MemoryStatus(ctx)
	if err != nil || st.Chunks == 0 || st.CacheEntries == 0 {
		t.Fatalf("status = %+v, %v (want chunks and cached vectors)", st, err)
	}
	// The vectors as stored: what the cache answers for texts it has seen.
	vecs, err := r.d.engine().memory.emb.Embed(ctx, []string{userMarker + " remember my locker code"})
	if err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{[]byte(noteMarker), []byte(queryMarker), []byte(userMarker), vectorBytes(vecs[0][:8])}
	if err := r.d.engine().memory.mem.SaveSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(MemorySnapshotFile(dir, r.d.engine().info.ID)); err != nil {
		t.Fatalf("no index snapshot to scan: %v", err)
	}
	if _, err := r.c.VaultLock(ctx); err != nil {
		t.Fatal(err)
	}
	scan := func(when string) {
		t.Helper()
		err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
			if err != nil || !de.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for i, n := range needles {
				if bytes.Contains(data, n) {
					t.Errorf("%s: %s holds needle %d in plaintext", when, p, i)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	scan("locked, running")
	r.stop()
	scan("after shutdown")
	rep, err := VerifyVault(ctx, dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plain) > 0 || len(rep.Problems) > 0 || rep.Rows == 0 {
		t.Fatalf("verify: %+v", rep)
	}
}

func vectorBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// TestMemorySnapshotAcrossUnlock: the second unlock loads the index from
// its sealed snapshot; a rekey drops the snapshot (it was under the old
// key) and the next unlock rebuilds from the rows.
func TestMemorySnapshotAcrossUnlock(t *testing.T) {
	dir, _, _, r := memoryDaemon(t)
	defer r.stop()
	ctx := context.Background()
	if _, err := r.c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: testPass}); err != nil {
		t.Fatal(err)
	}
	waitMemory(t, r.d)
	writeNote(t, r.d, dir, "MEMORY.md", "# Memory\n\n## Car\n\nThe car is a blue 2019 Corolla, plate 68-KLM-3.\n")
	if _, err := r.c.MemoryReindex(ctx); err != nil { // saves the snapshot too
		t.Fatal(err)
	}
	snap := MemorySnapshotFile(dir, r.d.engine().info.ID)
	if _, err := os.Stat(snap); err != nil {
		t.Fatalf("reindex did not save the snapshot: %v", err)
	}
	relock := func(pass string) api.MemoryStatus {
		t.Helper()
		if _, err := r.c.VaultLock(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.c.VaultUnlock(ctx, api.VaultUnlockParams{Passphrase: pass}); err != nil {
			t.Fatal(err)
		}
		res, err := r.c.MemorySearch(ctx, api.MemorySearchParams{Query: "which car plate"})
		if err != nil || len(res.Hits) == 0 || !strings.Contains(res.Hits[0].Text, "68-KLM-3") {
			t.Fatalf("search after unlock = %+v, %v", res, err)
		}
		st, err := r.c.MemoryStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := relock(testPass); st.IndexFrom != "snapshot" {
		t.Fatalf("second unlock: index from %q (%s), want the snapshot", st.IndexFrom, st.IndexNote)
	}
	const newPass = "a different and long passphrase"
	if _, err := r.c.VaultRekey(ctx, api.VaultRekeyParams{Passphrase: testPass, NewPassphrase: newPass}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snap); err == nil {
		t.Error("the snapshot sealed under the old key survived the rekey")
	}
	if st := relock(newPass); st.IndexFrom != "rows" {
		t.Fatalf("unlock after rekey: index from %q, want a rebuild from the rows", st.IndexFrom)
	}
}

// TestEmbedderSetup: the embedder is tried before it is saved, saved into
// the sealed config with its key in the vault, and "none" clears it.
func TestEmbedderSetup(t *testing.T) {
	dir := t.TempDir()
	e := newEmbedServer(t)
	ctx := context.Background()
	s := EmbedderSetup{Kind: config.EmbedderOpenAI, BaseURL: e.URL(), Model: "bag-of-words", APIKey: "sk-embed-canary-91"}
	name, dims, err := CheckEmbedder(ctx, dir, s)
	if err != nil || dims != testEmbedDims || !strings.Contains(name, "bag-of-words") {
		t.Fatalf("check = %q, %d, %v", name, dims, err)
	}
	if _, _, err := CheckEmbedder(ctx, dir, EmbedderSetup{Kind: config.EmbedderOpenAI, BaseURL: e.URL() + "/nowhere", Model: "m"}); err == nil {
		t.Error("a URL that does not answer passed the check")
	}
	if _, _, err := CheckEmbedder(ctx, dir, EmbedderSetup{Kind: config.EmbedderOpenAI, BaseURL: e.URL()}); err == nil || !strings.Contains(err.Error(), "memory.model") {
		t.Errorf("a missing model: %v", err)
	}

	if err := InitVault(ctx, dir, []byte(testPass)); err != nil {
		t.Fatal(err)
	}
	if err := SaveEmbedder(dir, s, nil); err == nil {
		t.Fatal("saved into a vaulted state dir without the vault")
	}
	v, err := OpenVault(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Lock()
	if err := SaveEmbedder(dir, s, v); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadSealed(paths.ConfigFile(dir), v)
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Memory; m.Embedder != config.EmbedderOpenAI || m.Model != "bag-of-words" || m.APIKeyRef != embedKeyRef {
		t.Fatalf("memory config = %+v", m)
	}
	secrets, err := config.OpenSecretsSealed(paths.VaultSecretsFile(dir), v)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := secrets.Get(embedKeyRef); k != "sk-embed-canary-91" {
		t.Errorf("stored key = %q", k)
	}
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if data, _ := os.ReadFile(p); bytes.Contains(data, []byte("sk-embed-canary-91")) {
				t.Errorf("%s holds the embedder key in plaintext", p)
			}
		}
		return nil
	})
	if err := SaveEmbedder(dir, EmbedderSetup{}, v); err != nil {
		t.Fatal(err)
	}
	if cfg, _ = config.LoadSealed(paths.ConfigFile(dir), v); cfg.Memory.Embedder != "" || cfg.Memory.BaseURL != "" || cfg.Memory.APIKeyRef != "" {
		t.Errorf("none left %+v", cfg.Memory)
	}
}
