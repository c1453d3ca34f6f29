package embed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genos-project/genos/core/model"
	"github.com/google/go-cmp/cmp"
)

func TestEmbedRoundTripBatchesAndOrder(t *testing.T) {
	t.Parallel()
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			t.Parallel()
			f := &fakeServer{reverse: reverse, dim: 8}
			e, waits := setup(t, f, OpenAIOptions{})
			in := inputs(150)
			got, err := e.Embed(t.Context(), in)
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			want := make([][]float32, len(in))
			for i, s := range in {
				want[i] = wantVector(s, 8)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("vectors (-want +got):\n%s", diff)
			}
			reqs := f.recorded()
			var sizes []int
			var sent []string
			for _, r := range reqs {
				sizes = append(sizes, len(r.Inputs))
				sent = append(sent, r.Inputs...)
				if r.Body["model"] != "test-embed" || r.Body["encoding_format"] != "float" {
					t.Errorf("request body = %v, want model test-embed and encoding_format float", r.Body)
				}
			}
			if diff := cmp.Diff([]int{64, 64, 22}, sizes); diff != "" {
				t.Errorf("batch sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, sent); diff != "" {
				t.Errorf("inputs sent (-want +got):\n%s", diff)
			}
			if e.Dimensions() != 8 {
				t.Errorf("Dimensions() = %d, want 8 learnt from the reply", e.Dimensions())
			}
			if len(*waits) != 0 {
				t.Errorf("slept %v on a clean run", *waits)
			}
			for i, v := range got {
				var s float64
				for _, x := range v {
					s += float64(x) * float64(x)
				}
				if math.Abs(s-1) > 1e-5 {
					t.Fatalf("vector %d has squared norm %v, want 1", i, s)
				}
			}
		})
	}
}

func TestEmbedRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fail      func(w http.ResponseWriter)
		wantWait  func(d time.Duration) bool
		wantWaitS string
	}{
		{
			name: "429 with Retry-After",
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"error":{"message":"slow down","type":"rate_limit"}}`))
			},
			wantWait:  func(d time.Duration) bool { return d == 7*time.Second },
			wantWaitS: "7s",
		},
		{
			name: "429 with huge Retry-After is capped",
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "86400")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantWait:  func(d time.Duration) bool { return d == maxRetryWait },
			wantWaitS: maxRetryWait.String(),
		},
		{
			name: "500",
			fail: func(w http.ResponseWriter) {
				http.Error(w, "boom", http.StatusInternalServerError)
			},
			wantWait:  func(d time.Duration) bool { return d >= 250*time.Millisecond && d <= 500*time.Millisecond },
			wantWaitS: "backoff in [250ms, 500ms]",
		},
		{
			name: "garbled 200",
			fail: func(w http.ResponseWriter) {
				_, _ = w.Write([]byte(`{"data":[`))
			},
			wantWait:  func(d time.Duration) bool { return d >= 250*time.Millisecond && d <= 500*time.Millisecond },
			wantWaitS: "backoff in [250ms, 500ms]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeServer{reply: func(n int, w http.ResponseWriter, _ wireRequest) bool {
				if n == 0 {
					tc.fail(w)
					return true
				}
				return false
			}}
			e, waits := setup(t, f, OpenAIOptions{})
			got, err := e.Embed(t.Context(), []string{"t1", "t2"})
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if diff := cmp.Diff([][]float32{wantVector("t1", 4), wantVector("t2", 4)}, got); diff != "" {
				t.Errorf("vectors (-want +got):\n%s", diff)
			}
			if n := len(f.recorded()); n != 2 {
				t.Errorf("server saw %d requests, want 2", n)
			}
			if len(*waits) != 1 || !tc.wantWait((*waits)[0]) {
				t.Errorf("waits = %v, want one wait of %s", *waits, tc.wantWaitS)
			}
		})
	}
}

func TestEmbedRetriesExhausted(t *testing.T) {
	t.Parallel()
	f := &fakeServer{reply: func(_ int, w http.ResponseWriter, _ wireRequest) bool {
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
		return true
	}}
	e, waits := setup(t, f, OpenAIOptions{MaxRetries: 2})
	_, err := e.Embed(t.Context(), []string{"t1"})
	var me *model.Error
	if !errors.As(err, &me) || me.Kind != model.Server || me.Status != 503 {
		t.Fatalf("err = %v, want a model.Error of kind server with status 503", err)
	}
	if n := len(f.recorded()); n != 3 {
		t.Errorf("server saw %d requests, want 3 (1 + 2 retries)", n)
	}
	if len(*waits) != 2 {
		t.Errorf("waits = %v, want 2", *waits)
	}
}

func TestEmbedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     OpenAIOptions
		reply    func(w http.ResponseWriter, req wireRequest)
		in       []string
		wantKind model.ErrorKind // "" = not a model.Error
		wantIn   []string        // substrings of the message
		wantReqs int
	}{
		{
			name: "400 not retried, message from body",
			reply: func(w http.ResponseWriter, _ wireRequest) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"message":"input too long for context","type":"invalid_request_error"}}`))
			},
			wantKind: model.BadRequest,
			wantIn:   []string{"HTTP 400", "input too long for context", "/v1/embeddings"},
			wantReqs: 1,
		},
		{
			name: "401 not retried and key not echoed",
			opts: OpenAIOptions{APIKey: "sk-secret-123"},
			reply: func(w http.ResponseWriter, _ wireRequest) {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":{"message":"bad key sk-secret-123"}}`))
			},
			wantKind: model.Unauthorized,
			wantIn:   []string{"HTTP 401", "[redacted]"},
			wantReqs: 1,
		},
		{
			name:     "dimension mismatch",
			opts:     OpenAIOptions{Dimensions: 768},
			wantIn:   []string{"returned 4-dimensional vectors, expected 768"},
			wantReqs: 1,
		},
		{
			name: "wrong count",
			reply: func(w http.ResponseWriter, req wireRequest) {
				writeJSON(w, map[string]any{"data": []datum{{Index: 0, Embedding: vectorFor("t0", 4)}}})
			},
			wantIn:   []string{"returned 1 vectors for 2 inputs"},
			wantReqs: 1,
		},
		{
			name: "duplicate index",
			reply: func(w http.ResponseWriter, req wireRequest) {
				writeJSON(w, map[string]any{"data": []datum{{Index: 1, Embedding: vectorFor("t0", 4)}, {Index: 1, Embedding: vectorFor("t1", 4)}}})
			},
			wantIn:   []string{"index 1 twice"},
			wantReqs: 1,
		},
		{
			name: "ragged dimensions",
			reply: func(w http.ResponseWriter, req wireRequest) {
				writeJSON(w, map[string]any{"data": []datum{{Index: 0, Embedding: vectorFor("t0", 4)}, {Index: 1, Embedding: vectorFor("t1", 5)}}})
			},
			wantIn:   []string{"different lengths"},
			wantReqs: 1,
		},
		{
			name: "NaN rejected",
			reply: func(w http.ResponseWriter, req wireRequest) {
				// JSON has no NaN; servers that leak one write it bare.
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"data":[{"index":0,"embedding":[1,NaN,0,0]},{"index":1,"embedding":[1,0,0,0]}]}`))
			},
			wantKind: model.Server,
			wantIn:   []string{"could not be read"},
			wantReqs: 4, // a garbled body is retried like a server error
		},
		{
			name: "overflowing value rejected",
			reply: func(w http.ResponseWriter, req wireRequest) {
				writeJSON(w, map[string]any{"data": []datum{{Index: 0, Embedding: []float64{1, 1e300, 0, 0}}, {Index: 1, Embedding: vectorFor("t1", 4)}}})
			},
			wantIn:   []string{"not a finite float32"},
			wantReqs: 1,
		},
		{
			name: "zero vector rejected",
			reply: func(w http.ResponseWriter, req wireRequest) {
				writeJSON(w, map[string]any{"data": []datum{{Index: 0, Embedding: make([]float64, 4)}, {Index: 1, Embedding: vectorFor("t1", 4)}}})
			},
			wantIn:   []string{"no usable length"},
			wantReqs: 1,
		},
		{
			name:     "empty text rejected before sending",
			in:       []string{"t0", "  "},
			wantIn:   []string{"text 1 of 2 is empty"},
			wantReqs: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeServer{}
			if tc.reply != nil {
				f.reply = func(_ int, w http.ResponseWriter, req wireRequest) bool {
					tc.reply(w, req)
					return true
				}
			}
			e, _ := setup(t, f, tc.opts)
			in := tc.in
			if in == nil {
				in = []string{"t0", "t1"}
			}
			got, err := e.Embed(t.Context(), in)
			if err == nil {
				t.Fatalf("Embed = %v, want an error", got)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "sk-secret-123") {
				t.Errorf("error %q leaks the API key", err)
			}
			var me *model.Error
			switch {
			case tc.wantKind == "" && errors.As(err, &me):
				t.Errorf("error kind %s, want a plain validation error", me.Kind)
			case tc.wantKind != "" && (!errors.As(err, &me) || me.Kind != tc.wantKind):
				t.Errorf("error %v, want a model.Error of kind %s", err, tc.wantKind)
			}
			if n := len(f.recorded()); n != tc.wantReqs {
				t.Errorf("server saw %d requests, want %d", n, tc.wantReqs)
			}
		})
	}
}

func TestEmbedLearnsThenEnforcesDimensions(t *testing.T) {
	t.Parallel()
	f := &fakeServer{dim: 4}
	e, _ := setup(t, f, OpenAIOptions{})
	if e.Dimensions() != 0 {
		t.Fatalf("Dimensions() before any call = %d, want 0", e.Dimensions())
	}
	if _, err := e.Embed(t.Context(), []string{"t0"}); err != nil {
		t.Fatalf("first Embed: %v", err)
	}
	f.mu.Lock()
	f.dim = 6
	f.mu.Unlock()
	_, err := e.Embed(t.Context(), []string{"t0"})
	if err == nil || !strings.Contains(err.Error(), "returned 6-dimensional vectors, expected 4") {
		t.Fatalf("second Embed err = %v, want a dimension mismatch naming 6 and 4", err)
	}
}

func TestEmbedContextCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	release := make(chan struct{})
	f := &fakeServer{reply: func(_ int, w http.ResponseWriter, _ wireRequest) bool {
		cancel()
		<-release
		return false
	}}
	e, _ := setup(t, f, OpenAIOptions{})
	defer close(release)
	_, err := e.Embed(ctx, []string{"t0"})
	var me *model.Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &me) || me.Kind != model.Canceled {
		t.Fatalf("err = %v, want context.Canceled inside a model.Error of kind canceled", err)
	}
}

func TestEmbedCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	f := &fakeServer{reply: func(_ int, w http.ResponseWriter, _ wireRequest) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}}
	e, _ := setup(t, f, OpenAIOptions{})
	e.sleep = func(context.Context, time.Duration) error {
		cancel()
		return context.Canceled
	}
	_, err := e.Embed(ctx, []string{"t0"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(f.recorded()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestEmbedAuthorizationHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, want string }{
		{"", ""},
		{"sk-test", "Bearer sk-test"},
	} {
		t.Run(fmt.Sprintf("key=%q", tc.key), func(t *testing.T) {
			t.Parallel()
			f := &fakeServer{}
			e, _ := setup(t, f, OpenAIOptions{APIKey: tc.key})
			if _, err := e.Embed(t.Context(), []string{"t0"}); err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if got := f.recorded()[0].Auth; got != tc.want {
				t.Errorf("Authorization = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEmbedEmptyInput(t *testing.T) {
	t.Parallel()
	f := &fakeServer{}
	e, _ := setup(t, f, OpenAIOptions{})
	got, err := e.Embed(t.Context(), nil)
	if got != nil || err != nil {
		t.Fatalf("Embed(nil) = %v, %v; want nil, nil", got, err)
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestEmbedNetworkError(t *testing.T) {
	t.Parallel()
	e, err := NewOpenAI(OpenAIOptions{BaseURL: "http://127.0.0.1:9/v1", Model: "m", MaxRetries: 1,
		HTTPClient: &http.Client{Transport: failingTransport{}}})
	if err != nil {
		t.Fatal(err)
	}
	var waits int
	e.sleep = func(context.Context, time.Duration) error { waits++; return nil }
	_, err = e.Embed(t.Context(), []string{"x"})
	var me *model.Error
	if !errors.As(err, &me) || me.Kind != model.Network || !strings.Contains(err.Error(), "http://127.0.0.1:9/v1/embeddings") {
		t.Fatalf("err = %v, want a network model.Error naming the endpoint", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want the cause kept for errors.Is", err)
	}
	if waits != 1 {
		t.Errorf("waits = %d, want 1 retry", waits)
	}
}

func TestEmbedNeverLogsTextsOrKey(t *testing.T) {
	t.Parallel()
	const key, text = "sk-very-secret", "t0 my private diary"
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := &fakeServer{reply: func(n int, w http.ResponseWriter, _ wireRequest) bool {
		if n == 0 {
			http.Error(w, "temporarily down", http.StatusBadGateway)
			return true
		}
		return false
	}}
	e, _ := setup(t, f, OpenAIOptions{APIKey: key, Logger: log})
	if _, err := e.Embed(t.Context(), []string{text}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "retrying") {
		t.Fatalf("expected a retry log line, got %q", out)
	}
	for _, secret := range []string{key, "private diary"} {
		if strings.Contains(out, secret) {
			t.Errorf("log output contains %q:\n%s", secret, out)
		}
	}
}

// maxRetryWait is the cap model.RetryWait puts on any single wait,
// Retry-After included.
const maxRetryWait = 60 * time.Second
