package model

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model/modeltest"
)

// rawServer answers every request with fn, for wire shapes modeltest does
// not script (servers with quirks, mid-stream error events, HTML errors).
func rawServer(t *testing.T, fn func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(fn))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func sse(w http.ResponseWriter, lines ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, l := range lines {
		fmt.Fprintf(w, "%s\n\n", l)
	}
}

func TestWireQuirks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		kind    string
		handler func(w http.ResponseWriter, r *http.Request)
		check   func(t *testing.T, resp Response, err error)
	}{
		{
			name: "openai tool calls reusing index 0",
			kind: "openai",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w,
					`data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"one","arguments":"{\"x\":"}}]}}]}`,
					`data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}`,
					`data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","type":"function","function":{"name":"two","arguments":""}}]}}]}`,
					`data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
					`data: [DONE]`)
			},
			check: func(t *testing.T, resp Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				c := resp.Message.ToolCalls
				if len(c) != 2 || c[0].ID != "a" || string(c[0].Arguments) != `{"x":1}` || c[1].Name != "two" || string(c[1].Arguments) != "{}" {
					t.Errorf("tool calls = %+v", c)
				}
				if resp.StopReason != "tool_calls" {
					t.Errorf("StopReason = %q; stop with tool calls means tool_calls", resp.StopReason)
				}
			},
		},
		{
			name: "openai error event in stream",
			kind: "openai",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, `data: {"error":{"message":"Provider overloaded","code":502}}`)
			},
			check: func(t *testing.T, _ Response, err error) {
				e := asError(t, err)
				if e.Kind != Server || !strings.Contains(e.Message, "Provider overloaded") {
					t.Errorf("got %q %q", e.Kind, e.Message)
				}
			},
		},
		{
			name: "openai stream cut without finish",
			kind: "openai",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, `data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hal"}}]}`)
			},
			check: func(t *testing.T, _ Response, err error) {
				e := asError(t, err)
				if e.Kind != Network || !strings.Contains(e.Message, "before the reply was complete") {
					t.Errorf("got %q %q", e.Kind, e.Message)
				}
			},
		},
		{
			name: "anthropic error event in stream",
			kind: "anthropic",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}")
			},
			check: func(t *testing.T, _ Response, err error) {
				e := asError(t, err)
				if e.Kind != Server || !strings.Contains(e.Message, "Overloaded") {
					t.Errorf("got %q %q", e.Kind, e.Message)
				}
			},
		},
		{
			name: "anthropic stream cut without message_stop",
			kind: "anthropic",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}")
			},
			check: func(t *testing.T, _ Response, err error) {
				if e := asError(t, err); e.Kind != Network {
					t.Errorf("got %q %q", e.Kind, e.Message)
				}
			},
		},
		{
			name: "html 502 from a proxy",
			kind: "openai",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
			},
			check: func(t *testing.T, _ Response, err error) {
				e := asError(t, err)
				if e.Kind != Server || e.Status != 502 || strings.Contains(e.Message, "<") {
					t.Errorf("got %q %d %q", e.Kind, e.Status, e.Message)
				}
			},
		},
		{
			name: "plain text 429 with Retry-After",
			kind: "anthropic",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "17")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, "slow down")
			},
			check: func(t *testing.T, _ Response, err error) {
				e := asError(t, err)
				if e.Kind != RateLimited || e.RetryAfter != 17*time.Second || !strings.Contains(e.Message, "slow down") {
					t.Errorf("got %q %s %q", e.Kind, e.RetryAfter, e.Message)
				}
			},
		},
		{
			name: "garbage stream",
			kind: "openai",
			handler: func(w http.ResponseWriter, r *http.Request) {
				sse(w, `data: {not json`)
			},
			check: func(t *testing.T, _ Response, err error) {
				e := asError(t, err)
				if e.Kind != Server || !strings.Contains(e.Message, "could not be read") {
					t.Errorf("got %q %q", e.Kind, e.Message)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := rawServer(t, tt.handler)
			p, err := New(tt.kind, Options{BaseURL: url, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Stream(t.Context(), Request{Model: "m", Messages: []chat.Message{{Role: chat.RoleUser, Content: "x"}}}, nil)
			tt.check(t, resp, err)
		})
	}
}

// TestAuthHeadersIgnoreEnvironment checks that keys, organisations and base
// URLs come from Options only. Not parallel: it sets environment variables.
func TestAuthHeadersIgnoreEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "env-key")
	t.Setenv("OPENAI_ORG_ID", "env-org")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("ANTHROPIC_API_KEY", "env-key")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	srv := newServer(t)
	for _, kind := range kinds {
		for _, key := range []string{"", "configured-key"} {
			p, _ := newProvider(t, kind, srv, Options{APIKey: key})
			if _, err := p.Stream(t.Context(), simpleRequest("x"), nil); err != nil {
				t.Fatalf("%s with key %q: %v", kind, key, err)
			}
		}
	}
	var headers []http.Header
	for _, r := range srv.Requests() {
		headers = append(headers, r.Headers)
	}
	if len(headers) != 4 {
		t.Fatalf("%d requests, want 4", len(headers))
	}
	want := []struct{ auth, xkey string }{{"", ""}, {"Bearer configured-key", ""}, {"", ""}, {"", "configured-key"}}
	for i, h := range headers {
		if h.Get("Authorization") != want[i].auth || h.Get("X-Api-Key") != want[i].xkey || h.Get("OpenAI-Organization") != "" {
			t.Errorf("request %d: Authorization %q X-Api-Key %q Org %q; want %+v", i, h.Get("Authorization"), h.Get("X-Api-Key"), h.Get("OpenAI-Organization"), want[i])
		}
	}
	if got := srv.Requests()[3].Headers.Get("Anthropic-Version"); got == "" {
		t.Error("Anthropic requests should carry anthropic-version")
	}
	if f := srv.Requests()[3].Format; f != modeltest.FormatAnthropic {
		t.Errorf("format = %q", f)
	}
}
