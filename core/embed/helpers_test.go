package embed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeServer speaks the /v1/embeddings wire format on loopback. Each input
// text "t<N>" gets the vector [N+1, 1, 0...] of length dim, so tests can
// tell which input a vector belongs to. reply, when set, overrides the
// answer for request number n (0-based); returning handled=false falls back
// to the normal answer.
type fakeServer struct {
	t   *testing.T
	dim int
	// reverse sends data in reverse index order.
	reverse bool
	reply   func(n int, w http.ResponseWriter, req wireRequest) (handled bool)

	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Path   string
	Auth   string
	Inputs []string
	Body   map[string]any
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var raw map[string]any
	var req wireRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&raw); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &req)
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, recorded{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Inputs: req.Input, Body: raw})
	dim := f.dim
	f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"message":"no route"}}`, http.StatusNotFound)
		return
	}
	if f.reply != nil && f.reply(n, w, req) {
		return
	}
	writeJSON(w, f.answer(req.Input, dim))
}

type datum struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float64 `json:"embedding"`
}

func (f *fakeServer) answer(inputs []string, dim int) map[string]any {
	data := make([]datum, len(inputs))
	for i, in := range inputs {
		data[i] = datum{Object: "embedding", Index: i, Embedding: vectorFor(in, dim)}
	}
	if f.reverse {
		for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
			data[i], data[j] = data[j], data[i]
		}
	}
	return map[string]any{
		"object": "list",
		"data":   data,
		"model":  "test-embed",
		"usage":  map[string]int{"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
	}
}

func vectorFor(in string, dim int) []float64 {
	var n int
	_, _ = fmt.Sscanf(in, "t%d", &n)
	v := make([]float64, dim)
	v[0], v[1] = float64(n+1), 1
	return v
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// setup starts f on loopback and returns a client whose sleeps are recorded
// instead of waited.
func setup(t *testing.T, f *fakeServer, o OpenAIOptions) (*OpenAI, *[]time.Duration) {
	t.Helper()
	f.t = t
	if f.dim == 0 {
		f.dim = 4
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	o.BaseURL = srv.URL + "/v1"
	if o.Model == "" {
		o.Model = "test-embed"
	}
	e, err := NewOpenAI(o)
	if err != nil {
		t.Fatalf("NewOpenAI: %v", err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	e.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return e, waits
}

func inputs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%d", i)
	}
	return out
}

// wantVector is vectorFor normalised.
func wantVector(in string, dim int) []float32 {
	v := vectorFor(in, dim)
	norm := math.Hypot(v[0], v[1])
	out := make([]float32, dim)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// failingTransport fails every request the way a refused connection does.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
