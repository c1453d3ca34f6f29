package model

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model/modeltest"
)

func TestStreamText(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			usage := chat.Usage{InputTokens: 30, OutputTokens: 7, CacheRead: 5}
			if kind == "anthropic" {
				usage.CacheWrite = 2 // only Anthropic reports cache writes
			}
			srv.Enqueue(modeltest.Reply{Text: "Hello there, streaming world", Usage: usage})
			p, _ := newProvider(t, kind, srv, Options{APIKey: "k"})

			var deltas []string
			resp, err := p.Stream(t.Context(), simpleRequest("hi"), func(s string) { deltas = append(deltas, s) })
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if len(deltas) < 2 {
				t.Errorf("got %d deltas %q, want the text in several pieces", len(deltas), deltas)
			}
			if got := strings.Join(deltas, ""); got != "Hello there, streaming world" {
				t.Errorf("deltas joined = %q", got)
			}
			want := Response{
				Message:    chat.Message{Role: chat.RoleAssistant, Content: "Hello there, streaming world"},
				Usage:      usage,
				StopReason: "stop",
				Model:      "test-model",
			}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if p.Name() != kind {
				t.Errorf("Name() = %q, want %q", p.Name(), kind)
			}
		})
	}
}

func TestStreamEchoDefaultAndNilCallback(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			p, _ := newProvider(t, kind, srv, Options{})
			resp, err := p.Stream(t.Context(), simpleRequest("ping"), nil)
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if resp.Message.Content != "echo: ping" {
				t.Errorf("content = %q, want %q", resp.Message.Content, "echo: ping")
			}
			if resp.Usage.InputTokens == 0 || resp.Usage.OutputTokens == 0 {
				t.Errorf("usage %+v, want default non-zero numbers", resp.Usage)
			}
		})
	}
}

func TestStreamToolCalls(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{
				Text: "Let me check.",
				ToolCalls: []chat.ToolCall{
					{ID: "call_a", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris","units":"metric","days":[1,2,3]}`)},
					{Name: "clock"}, // no ID, no arguments: both get filled
					{ID: "call_c", Name: "search", Arguments: json.RawMessage(`{"q":"ünïcödé ✓"}`)},
				},
			})
			p, _ := newProvider(t, kind, srv, Options{})
			req := simpleRequest("weather?")
			req.Tools = []ToolSpec{
				{Name: "get_weather", Description: "Weather by city", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)},
				{Name: "clock"},
				{Name: "search", Parameters: json.RawMessage(`{"properties":{"q":{"type":"string"}},"additionalProperties":false}`)},
			}
			var text strings.Builder
			resp, err := p.Stream(t.Context(), req, func(s string) { text.WriteString(s) })
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if text.String() != "Let me check." || resp.Message.Content != "Let me check." {
				t.Errorf("text: deltas %q, content %q", text.String(), resp.Message.Content)
			}
			if resp.StopReason != "tool_calls" {
				t.Errorf("StopReason = %q, want tool_calls", resp.StopReason)
			}
			calls := resp.Message.ToolCalls
			if len(calls) != 3 {
				t.Fatalf("got %d tool calls, want 3: %+v", len(calls), calls)
			}
			wantArgs := []string{`{"city":"Paris","units":"metric","days":[1,2,3]}`, `{}`, `{"q":"ünïcödé ✓"}`}
			wantNames := []string{"get_weather", "clock", "search"}
			for i, c := range calls {
				if c.Name != wantNames[i] {
					t.Errorf("call %d name = %q, want %q", i, c.Name, wantNames[i])
				}
				if c.ID == "" {
					t.Errorf("call %d has no ID", i)
				}
				if !jsonEqual(t, c.Arguments, []byte(wantArgs[i])) {
					t.Errorf("call %d arguments = %s, want %s", i, c.Arguments, wantArgs[i])
				}
			}
			if calls[0].ID != "call_a" || calls[2].ID != "call_c" {
				t.Errorf("IDs = %q, %q; want the scripted call_a, call_c", calls[0].ID, calls[2].ID)
			}
			rec := requestsTo(srv)[0]
			if diff := cmp.Diff([]string{"get_weather", "clock", "search"}, rec.Tools); diff != "" {
				t.Errorf("tools sent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreamLengthStop(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{Text: "cut off", StopReason: "length"})
			p, _ := newProvider(t, kind, srv, Options{})
			resp, err := p.Stream(t.Context(), simpleRequest("x"), nil)
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if resp.StopReason != "length" {
				t.Errorf("StopReason = %q, want length", resp.StopReason)
			}
		})
	}
}

func TestStreamCancelMidStream(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{Text: "partial answer", Hang: true})
			p, _ := newProvider(t, kind, srv, Options{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			first := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				_, err := p.Stream(ctx, simpleRequest("x"), func(string) {
					select {
					case <-first:
					default:
						close(first)
					}
				})
				done <- err
			}()
			<-first
			cancel()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second): // liveness guard, not a timing assertion
				t.Fatal("Stream did not return after cancel")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want errors.Is context.Canceled", err)
			}
			if e := asError(t, err); e.Kind != Canceled {
				t.Errorf("kind = %q, want %q", e.Kind, Canceled)
			}
			if n := len(requestsTo(srv)); n != 1 {
				t.Errorf("%d requests, want 1 (no retry after cancel)", n)
			}
		})
	}
}

func TestStreamTimeout(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{Hang: true})
			p, sl := newProvider(t, kind, srv, Options{Timeout: 100 * time.Millisecond})
			_, err := p.Stream(t.Context(), simpleRequest("x"), nil)
			e := asError(t, err)
			if e.Kind != Timeout {
				t.Fatalf("kind = %q (%v), want %q", e.Kind, err, Timeout)
			}
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("err = %v: want DeadlineExceeded and not Canceled", err)
			}
			if !strings.Contains(e.Message, "100ms") {
				t.Errorf("message %q should name the timeout", e.Message)
			}
			if n := len(requestsTo(srv)); n != 1 || len(sl.get()) != 0 {
				t.Errorf("%d requests, %d sleeps; timeouts are not retried", n, len(sl.get()))
			}
		})
	}
}

func TestStreamNoRetryAfterDeltas(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{Text: "half an answer", Disconnect: true}, modeltest.Reply{Text: "must not be used"})
			p, sl := newProvider(t, kind, srv, Options{})
			var got strings.Builder
			_, err := p.Stream(t.Context(), simpleRequest("x"), func(s string) { got.WriteString(s) })
			e := asError(t, err)
			if e.Kind != Network {
				t.Errorf("kind = %q (%v), want %q", e.Kind, err, Network)
			}
			if got.String() != "half an answer" {
				t.Errorf("delivered %q", got.String())
			}
			if n := len(requestsTo(srv)); n != 1 || srv.Pending() != 1 || len(sl.get()) != 0 {
				t.Errorf("%d requests, %d pending, %d sleeps: want no retry after deltas", n, srv.Pending(), len(sl.get()))
			}
		})
	}
}

func TestStreamRetryDisconnectBeforeDeltas(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{Disconnect: true}, modeltest.Reply{Text: "second try"})
			p, sl := newProvider(t, kind, srv, Options{})
			resp, err := p.Stream(t.Context(), simpleRequest("x"), func(string) {})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if resp.Message.Content != "second try" {
				t.Errorf("content = %q", resp.Message.Content)
			}
			if n := len(requestsTo(srv)); n != 2 || len(sl.get()) != 1 {
				t.Errorf("%d requests, %d sleeps; want one retry", n, len(sl.get()))
			}
		})
	}
}

func TestStreamSlowChunks(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{Chunks: []string{"a", "b", "c"}, ChunkDelay: 5 * time.Millisecond})
			p, _ := newProvider(t, kind, srv, Options{})
			var deltas []string
			resp, err := p.Stream(t.Context(), simpleRequest("x"), func(s string) { deltas = append(deltas, s) })
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if diff := cmp.Diff([]string{"a", "b", "c"}, deltas); diff != "" || resp.Message.Content != "abc" {
				t.Errorf("deltas (-want +got):\n%s content %q", diff, resp.Message.Content)
			}
		})
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.SetModels([]string{"alpha", "beta", "gamma"})
			srv.RequireKey("secret-key")
			p, _ := newProvider(t, kind, srv, Options{APIKey: "secret-key"})
			got, err := p.Models(t.Context())
			if err != nil {
				t.Fatalf("Models: %v", err)
			}
			if diff := cmp.Diff([]string{"alpha", "beta", "gamma"}, got); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
			bad, _ := newProvider(t, kind, srv, Options{APIKey: "wrong"})
			_, err = bad.Models(t.Context())
			if e := asError(t, err); e.Kind != Unauthorized {
				t.Errorf("kind = %q, want %q", e.Kind, Unauthorized)
			}
		})
	}
}

func TestAnthropicRootBaseURL(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	p, _ := newProvider(t, "anthropic", srv, Options{BaseURL: srv.AnthropicURL()})
	resp, err := p.Stream(t.Context(), simpleRequest("root"), nil)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if resp.Message.Content != "echo: root" {
		t.Errorf("content = %q", resp.Message.Content)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Enqueue(modeltest.Reply{Status: 503}, modeltest.Reply{Text: "unused"})
			p, _ := newProvider(t, kind, srv, Options{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			waited := 0
			seam := func(ctx context.Context, d time.Duration) error {
				waited++
				cancel() // the user gives up while we wait to retry
				return ctx.Err()
			}
			switch p := p.(type) {
			case *OpenAI:
				p.sleep = seam
			case *Anthropic:
				p.sleep = seam
			}
			_, err := p.Stream(ctx, simpleRequest("x"), nil)
			if !errors.Is(err, context.Canceled) || asError(t, err).Kind != Canceled {
				t.Errorf("err = %v, want a Canceled error", err)
			}
			if n := len(requestsTo(srv)); n != 1 || waited != 1 {
				t.Errorf("%d requests, %d waits; want 1 and 1", n, waited)
			}
		})
	}
}

func TestCallerDeadline(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.Enqueue(modeltest.Reply{Hang: true})
	p, _ := newProvider(t, "openai", srv, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Stream(ctx, simpleRequest("x"), nil)
	if e := asError(t, err); e.Kind != Timeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v (kind %q), want Timeout wrapping DeadlineExceeded", err, e.Kind)
	}
}

func TestAlreadyCanceled(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	p, _ := newProvider(t, "anthropic", srv, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.Stream(ctx, simpleRequest("x"), nil)
	if !errors.Is(err, context.Canceled) || len(srv.Requests()) != 0 {
		t.Errorf("err = %v with %d requests; want Canceled and nothing sent", err, len(srv.Requests()))
	}
	if _, err := p.Models(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Models err = %v", err)
	}
}
