package model

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model/modeltest"
)

// kinds lists both providers so behaviour tests run against each wire format.
var kinds = []string{"openai", "anthropic"}

// sleeps records the waits the retry loop asked for, without sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newServer starts a modeltest server closed at the end of the test.
func newServer(t *testing.T) *modeltest.Server {
	t.Helper()
	srv := modeltest.New()
	t.Cleanup(srv.Close)
	return srv
}

// newProvider builds a provider of kind pointed at srv, with the sleep seam
// replaced. It uses srv.URL() for both kinds, which also checks that the
// Anthropic provider accepts a base URL ending in /v1.
func newProvider(t *testing.T, kind string, srv *modeltest.Server, o Options) (Provider, *sleeps) {
	t.Helper()
	if o.BaseURL == "" {
		o.BaseURL = srv.URL()
	}
	p, err := New(kind, o)
	if err != nil {
		t.Fatalf("New(%q): %v", kind, err)
	}
	s := &sleeps{}
	switch p := p.(type) {
	case *OpenAI:
		p.sleep = s.sleep
	case *Anthropic:
		p.sleep = s.sleep
	default:
		t.Fatalf("unexpected provider type %T", p)
	}
	return p, s
}

// simpleRequest is a one-message request.
func simpleRequest(text string) Request {
	return Request{Model: "test-model", Messages: []chat.Message{{Role: chat.RoleUser, Content: text}}}
}

// asError extracts *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *model.Error", err, err)
	}
	return e
}

// jsonEqual reports whether two JSON texts encode the same value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("invalid JSON %q: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

// requestsTo returns the recorded chat requests (not model listings).
func requestsTo(srv *modeltest.Server) []modeltest.RecordedRequest {
	var out []modeltest.RecordedRequest
	for _, r := range srv.Requests() {
		if r.Method == "POST" {
			out = append(out, r)
		}
	}
	return out
}
