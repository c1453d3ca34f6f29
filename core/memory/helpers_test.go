package memory

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/genos-project/genos/core/embed"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

const testPass = "correct horse battery staple"

// testNow is the tests' clock: today is 2026-11-25.
var testNow = time.Date(2026, 11, 25, 15, 4, 5, 0, time.UTC)

// embedServer speaks OpenAI's /v1/embeddings on loopback. Vectors are
// hashed bags of words (dim buckets plus a constant), so texts sharing
// words are close: enough to exercise the vector path, and not presented
// as semantic. It counts requests and inputs, and can be made to fail.
type embedServer struct {
	dim int

	mu       sync.Mutex
	requests int
	inputs   []string
	fail     bool
}

func (s *embedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input []string `json:"input"`
		Model string   `json:"model"`
	}
	if r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	s.inputs = append(s.inputs, req.Input...)
	fail := s.fail
	s.mu.Unlock()
	if fail {
		http.Error(w, `{"error":{"message":"model not loaded"}}`, http.StatusBadRequest)
		return
	}
	type datum struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	data := make([]datum, len(req.Input))
	for i, in := range req.Input {
		data[i] = datum{"embedding", i, bagVector(in, s.dim)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
}

func bagVector(text string, dim int) []float64 {
	v := make([]float64, dim)
	v[0] = 0.5
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(w))
		v[1+int(h.Sum32()%uint32(dim-1))]++
	}
	return v
}

func (s *embedServer) counts() (requests, inputs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, len(s.inputs)
}

func (s *embedServer) setFail(f bool) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

// newEmbedder starts an embedServer and returns a real OpenAI-compatible
// client talking to it.
func newEmbedder(t testing.TB, model string) (*embedServer, embed.Embedder) {
	t.Helper()
	s := &embedServer{dim: 32}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e, err := embed.NewOpenAI(embed.OpenAIOptions{BaseURL: srv.URL + "/v1", Model: model, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s, e
}

// env is a workspace and database for one test.
type env struct {
	dir string // state dir: workspace/ and genos.db inside
	ws  string
	db  *store.DB
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	ws := filepath.Join(dir, "workspace")
	if err := os.MkdirAll(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(t.Context(), filepath.Join(dir, "genos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &env{dir: dir, ws: ws, db: db}
}

func (e *env) options(emb embed.Embedder) Options {
	// Recency decay is off so rankings follow relevance alone; decay has
	// its own test.
	return Options{AgentID: "a1", Workspace: e.ws, DB: e.db, Embedder: emb, Now: func() time.Time { return testNow },
		Search: SearchOptions{HalfLife: -1}}
}

func (e *env) write(t testing.TB, rel, content string) {
	t.Helper()
	p := filepath.Join(e.ws, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func openMem(t testing.TB, o Options) *Memory {
	t.Helper()
	m, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func newVault(t testing.TB) *vault.Vault {
	t.Helper()
	v, err := vault.Create(filepath.Join(t.TempDir(), "vault"), []byte(testPass), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sources(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Source)
	}
	return out
}

const memoryNote = `# Memory

## People
- Ana Kowalski is the user's sister; she lives in Porto.
- The dentist is Dr. Okafor, appointments on Tuesdays.

## Preferences
- Prefers green tea over coffee.
- Wants answers short, with the reasoning last.
`

const datedNote = `# 2026-11-20

## Travel
Booked flight TP1234 to Lisbon for 3 December, seat 14C.

## Work
The quarterly report is due on Friday; budget code 7731.
`
