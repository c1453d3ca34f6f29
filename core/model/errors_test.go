package model

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/model/modeltest"
)

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	const key = "sk-very-secret-key-123"
	tests := []struct {
		name      string
		setup     func(*modeltest.Server)
		kind      ErrorKind
		status    int
		contains  []string
		requests  int // chat requests made (1 = not retried)
		retryWait time.Duration
	}{
		{
			name:     "unauthorized",
			setup:    func(s *modeltest.Server) { s.RequireKey("another-key") },
			kind:     Unauthorized,
			status:   401,
			contains: []string{"API key"},
			requests: 1,
		},
		{
			name:     "forbidden",
			setup:    func(s *modeltest.Server) { s.Enqueue(modeltest.Reply{Status: 403}) },
			kind:     Unauthorized,
			status:   403,
			contains: []string{"API key"},
			requests: 1,
		},
		{
			name: "unknown model",
			setup: func(s *modeltest.Server) {
				s.SetModels([]string{"other"})
				s.StrictModels(true)
			},
			kind:     InvalidModel,
			status:   404,
			contains: []string{`"test-model"`, "genos models"},
			requests: 1,
		},
		{
			name:     "404 not naming the model",
			setup:    func(s *modeltest.Server) { s.Enqueue(modeltest.Reply{Status: 404, ErrorMessage: "no such route"}) },
			kind:     NotFound,
			status:   404,
			contains: []string{`"test-model"`, "base URL", "genos models"},
			requests: 1,
		},
		{
			name: "400 naming an unknown model",
			setup: func(s *modeltest.Server) {
				s.Enqueue(modeltest.Reply{Status: 400, ErrorMessage: "test-model is not a valid model ID"})
			},
			kind:     InvalidModel,
			status:   400,
			contains: []string{"genos models"},
			requests: 1,
		},
		{
			name: "bad request keeps provider detail",
			setup: func(s *modeltest.Server) {
				s.Enqueue(modeltest.Reply{Status: 400, ErrorMessage: "messages: too many images"})
			},
			kind:     BadRequest,
			status:   400,
			contains: []string{"HTTP 400", "too many images"},
			requests: 1,
		},
		{
			name: "key echoed by the server is redacted",
			setup: func(s *modeltest.Server) {
				s.Enqueue(modeltest.Reply{Status: 400, ErrorMessage: "bad key format: " + key})
			},
			kind:     BadRequest,
			status:   400,
			contains: []string{"[redacted]"},
			requests: 1,
		},
		{
			name: "5xx retries exhausted",
			setup: func(s *modeltest.Server) {
				s.Enqueue(modeltest.Reply{Status: 500}, modeltest.Reply{Status: 502}, modeltest.Reply{Status: 503})
			},
			kind:     Server,
			status:   503,
			contains: []string{"server error", "503"},
			requests: 3,
		},
		{
			name: "429 retries exhausted",
			setup: func(s *modeltest.Server) {
				s.Enqueue(modeltest.Reply{Status: 429, RetryAfter: "2"}, modeltest.Reply{Status: 429, RetryAfter: "2"}, modeltest.Reply{Status: 429, RetryAfter: "2"})
			},
			kind:      RateLimited,
			status:    429,
			contains:  []string{"rate limiting"},
			requests:  3,
			retryWait: 2 * time.Second,
		},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				srv := newServer(t)
				tt.setup(srv)
				p, _ := newProvider(t, kind, srv, Options{APIKey: key, MaxRetries: 2})
				_, err := p.Stream(t.Context(), simpleRequest("x"), nil)
				e := asError(t, err)
				if e.Kind != tt.kind || e.Status != tt.status || e.Provider != kind {
					t.Errorf("got kind %q status %d provider %q, want %q %d %q (%v)", e.Kind, e.Status, e.Provider, tt.kind, tt.status, kind, err)
				}
				for _, s := range tt.contains {
					if !strings.Contains(e.Message, s) {
						t.Errorf("message %q does not contain %q", e.Message, s)
					}
				}
				if strings.Contains(e.Error(), key) {
					t.Errorf("message %q leaks the API key", e.Error())
				}
				if e.RetryAfter != tt.retryWait {
					t.Errorf("RetryAfter = %s, want %s", e.RetryAfter, tt.retryWait)
				}
				if n := len(requestsTo(srv)); n != tt.requests {
					t.Errorf("%d requests, want %d", n, tt.requests)
				}
			})
		}
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	date := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		retryAfter string
		min, max   time.Duration
	}{
		{"seconds", "1", time.Second, time.Second},
		{"fraction", "0.25", 250 * time.Millisecond, 250 * time.Millisecond},
		{"capped at 60s", "3600", 60 * time.Second, 60 * time.Second},
		{"http date", date, 25 * time.Second, 30 * time.Second},
		{"garbage falls back to backoff", "soon", 250 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				srv := newServer(t)
				srv.Enqueue(modeltest.Reply{Status: 429, RetryAfter: tt.retryAfter}, modeltest.Reply{Text: "finally"})
				p, sl := newProvider(t, kind, srv, Options{})
				resp, err := p.Stream(t.Context(), simpleRequest("x"), nil)
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				if resp.Message.Content != "finally" {
					t.Errorf("content = %q", resp.Message.Content)
				}
				waits := sl.get()
				if len(waits) != 1 || waits[0] < tt.min || waits[0] > tt.max {
					t.Errorf("waits = %v, want one in [%s, %s]", waits, tt.min, tt.max)
				}
				if n := len(requestsTo(srv)); n != 2 {
					t.Errorf("%d requests, want 2", n)
				}
			})
		}
	}
}

func TestRetryBackoffGrows(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for range 4 {
		srv.Enqueue(modeltest.Reply{Status: 500})
	}
	p, sl := newProvider(t, "openai", srv, Options{MaxRetries: 3})
	_, err := p.Stream(t.Context(), simpleRequest("x"), nil)
	if e := asError(t, err); e.Kind != Server {
		t.Fatalf("kind = %q", e.Kind)
	}
	waits := sl.get()
	bounds := [][2]time.Duration{{250 * time.Millisecond, 500 * time.Millisecond}, {500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}}
	if len(waits) != len(bounds) {
		t.Fatalf("waits = %v, want %d", waits, len(bounds))
	}
	for i, w := range waits {
		if w < bounds[i][0] || w > bounds[i][1] {
			t.Errorf("wait %d = %s, want in %v", i, w, bounds[i])
		}
	}
}

func TestNoRetries(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.Enqueue(modeltest.Reply{Status: 503}, modeltest.Reply{Text: "unused"})
	p, sl := newProvider(t, "anthropic", srv, Options{MaxRetries: -1})
	_, err := p.Stream(t.Context(), simpleRequest("x"), nil)
	if e := asError(t, err); e.Kind != Server {
		t.Errorf("kind = %q", e.Kind)
	}
	if n := len(requestsTo(srv)); n != 1 || len(sl.get()) != 0 {
		t.Errorf("%d requests, %d sleeps; want no retry", n, len(sl.get()))
	}
}

func TestNetworkError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p, err := New(kind, Options{BaseURL: "http://" + addr + "/v1", MaxRetries: 2})
			if err != nil {
				t.Fatal(err)
			}
			sl := &sleeps{}
			switch p := p.(type) {
			case *OpenAI:
				p.sleep = sl.sleep
			case *Anthropic:
				p.sleep = sl.sleep
			}
			_, err = p.Stream(t.Context(), simpleRequest("x"), nil)
			e := asError(t, err)
			if e.Kind != Network {
				t.Fatalf("kind = %q (%v), want network", e.Kind, err)
			}
			if !strings.Contains(e.Message, "connection refused") || !strings.Contains(e.Message, addr) {
				t.Errorf("message %q should say connection refused and name the server", e.Message)
			}
			if len(sl.get()) != 2 {
				t.Errorf("sleeps = %v, want 2 retries", sl.get())
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"absent", http.Header{}, 0},
		{"nil", nil, 0},
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"spaces", http.Header{"Retry-After": {" 3 "}}, 3 * time.Second},
		{"negative", http.Header{"Retry-After": {"-4"}}, 0},
		{"nan", http.Header{"Retry-After": {"NaN"}}, 0},
		{"huge", http.Header{"Retry-After": {"1e300"}}, maxRetryAfter},
		{"date", http.Header{"Retry-After": {"Wed, 01 Jan 2025 12:00:45 GMT"}}, 45 * time.Second},
		{"past date", http.Header{"Retry-After": {"Wed, 01 Jan 2025 11:00:00 GMT"}}, 0},
		{"garbage", http.Header{"Retry-After": {"later"}}, 0},
		{"ms wins", http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"9"}}, 1500 * time.Millisecond},
		{"bad ms falls back", http.Header{"Retry-After-Ms": {"x"}, "Retry-After": {"9"}}, 9 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.h, now); got != tt.want {
				t.Errorf("parseRetryAfter = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestProviderDetail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, detail, code string
	}{
		{"openai", `{"error":{"message":"bad thing","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, "bad thing", "model_not_found"},
		{"anthropic", `{"type":"error","error":{"type":"not_found_error","message":"model: x"}}`, "model: x", "not_found_error"},
		{"string error", `{"error":"model 'llama9' not found"}`, "model 'llama9' not found", ""},
		{"message only", `{"message":"nope"}`, "nope", ""},
		{"fastapi detail", `{"detail":"Not Found"}`, "Not Found", ""},
		{"plain text", "404 page not found\n", "404 page not found", ""},
		{"html", "<html><body>Bad Gateway</body></html>", "", ""},
		{"empty", "", "", ""},
		{"long", strings.Repeat("a", 1000), strings.Repeat("a", maxDetail) + "…", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c := providerDetail([]byte(tt.body))
			if d != tt.detail || c != tt.code {
				t.Errorf("providerDetail = %q, %q; want %q, %q", d, c, tt.detail, tt.code)
			}
		})
	}
}

func TestNamesModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status             int
		detail, code, name string
		want               bool
	}{
		{404, "model: claude-x", "", "claude-x", true},
		{404, `model "llama9" not found, try pulling it first`, "", "llama9", true},
		{404, "404 page not found", "", "m", false},
		{400, "m does not support tools", "", "m", false},
		{400, "m is not a valid model ID", "", "m", true},
		{400, "anything", "model_not_found", "m", true},
		{400, "This model's maximum context length is 8192 tokens", "", "m", false},
	}
	for _, tt := range tests {
		t.Run(tt.detail, func(t *testing.T) {
			if got := namesModel(tt.status, tt.detail, tt.code, tt.name); got != tt.want {
				t.Errorf("namesModel = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryWait(t *testing.T) {
	t.Parallel()
	for n := range 12 {
		d := retryWait(n, 0)
		full := min(500*time.Millisecond<<n, maxRetryWait)
		if d < full/2 || d > full {
			t.Errorf("retryWait(%d) = %s, want in [%s, %s]", n, d, full/2, full)
		}
	}
	if got := retryWait(100, 0); got > maxRetryWait || got < maxRetryWait/2 {
		t.Errorf("retryWait(100) = %s", got)
	}
	if got := retryWait(0, 5*time.Minute); got != maxRetryWait {
		t.Errorf("retryWait with long Retry-After = %s, want %s", got, maxRetryWait)
	}
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	cause := errors.New("root")
	e := &Error{Kind: Network, Message: "msg", err: cause}
	if !errors.Is(e, cause) || e.Error() != "msg" {
		t.Errorf("Unwrap/Error broken: %v", e)
	}
	got := []bool{}
	for _, k := range []ErrorKind{Unauthorized, NotFound, InvalidModel, RateLimited, Server, BadRequest, Timeout, Network, Canceled} {
		got = append(got, (&Error{Kind: k}).Retryable())
	}
	want := []bool{false, false, false, true, true, false, false, true, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Retryable (-want +got):\n%s", diff)
	}
}
