package modeltest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/chat"
)

func newServer(t *testing.T) *Server {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	return s
}

// do sends a raw request and returns the response with its body read.
func do(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// event is one parsed SSE event.
type event struct {
	name string
	data string
}

// parseSSE splits a stream into events, failing on lines that are neither
// "event:" nor "data:".
func parseSSE(t *testing.T, body []byte) []event {
	t.Helper()
	var out []event
	var cur event
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.data != "" {
				out = append(out, cur)
			}
			cur = event{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	return out
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", s, err)
	}
	return v
}

var toolReply = Reply{
	Text:      "Hi there",
	ToolCalls: []chat.ToolCall{{Name: "lookup", Arguments: json.RawMessage(`{"a":1}`)}},
	Usage:     chat.Usage{InputTokens: 3, OutputTokens: 4},
}

func TestOpenAIStreamWire(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.Enqueue(toolReply)
	res, body := do(t, "POST", s.OpenAIURL()+"/chat/completions", nil,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := parseSSE(t, body)
	if last := events[len(events)-1]; last.data != "[DONE]" || last.name != "" {
		t.Fatalf("last event = %+v, want data: [DONE]", last)
	}
	var text, args strings.Builder
	var finish []string
	var head map[string]any
	var usage map[string]any
	for i, ev := range events[:len(events)-1] {
		c := decode(t, ev.data)
		if c["object"] != "chat.completion.chunk" || c["model"] != "m" || c["id"] == "" {
			t.Fatalf("chunk %d = %v", i, c)
		}
		if u, ok := c["usage"]; !ok {
			t.Errorf("chunk %d lacks the usage key that include_usage adds", i)
		} else if u != nil {
			usage = u.(map[string]any)
			if len(c["choices"].([]any)) != 0 || i != len(events)-2 {
				t.Errorf("usage chunk %d must be last with no choices: %v", i, c)
			}
			continue
		}
		choice := c["choices"].([]any)[0].(map[string]any)
		delta := choice["delta"].(map[string]any)
		if i == 0 && (delta["role"] != "assistant" || delta["content"] != "") {
			t.Errorf("first chunk delta = %v, want role assistant", delta)
		}
		if s, ok := delta["content"].(string); ok {
			text.WriteString(s)
		}
		if tcs, ok := delta["tool_calls"].([]any); ok {
			tc := tcs[0].(map[string]any)
			fn := tc["function"].(map[string]any)
			if tc["index"] != float64(0) {
				t.Errorf("tool call index = %v", tc["index"])
			}
			if _, ok := tc["id"]; ok {
				if head != nil {
					t.Errorf("second head chunk %v", tc)
				}
				head = tc
			}
			args.WriteString(fn["arguments"].(string))
		}
		if f, ok := choice["finish_reason"].(string); ok {
			finish = append(finish, f)
		}
	}
	if text.String() != "Hi there" || args.String() != `{"a":1}` {
		t.Errorf("text %q, arguments %q", text.String(), args.String())
	}
	if head == nil || !strings.HasPrefix(head["id"].(string), "call_") || head["type"] != "function" || head["function"].(map[string]any)["name"] != "lookup" {
		t.Errorf("tool call head = %v", head)
	}
	if diff := cmp.Diff([]string{"tool_calls"}, finish); diff != "" {
		t.Errorf("finish reasons (-want +got):\n%s", diff)
	}
	if usage["prompt_tokens"] != float64(3) || usage["completion_tokens"] != float64(4) || usage["total_tokens"] != float64(7) {
		t.Errorf("usage = %v", usage)
	}
}

func TestOpenAIStreamWithoutUsage(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	_, body := do(t, "POST", s.URL()+"/chat/completions", nil, `{"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}]}`)
	events := parseSSE(t, body)
	var text strings.Builder
	for _, ev := range events[:len(events)-1] {
		c := decode(t, ev.data)
		if _, ok := c["usage"]; ok {
			t.Errorf("usage sent without include_usage: %v", c)
		}
		d := c["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
		if s, ok := d["content"].(string); ok {
			text.WriteString(s)
		}
	}
	if text.String() != "echo: a b" {
		t.Errorf("text = %q", text.String())
	}
}

func TestAnthropicStreamWire(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.Enqueue(toolReply)
	res, body := do(t, "POST", s.AnthropicURL()+"/v1/messages", map[string]string{"anthropic-version": "2023-06-01"},
		`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := parseSSE(t, body)
	var names []string
	var text, args strings.Builder
	for _, ev := range events {
		names = append(names, ev.name)
		d := decode(t, ev.data)
		if d["type"] != ev.name {
			t.Errorf("event %q carries type %v", ev.name, d["type"])
		}
		switch ev.name {
		case "message_start":
			m := d["message"].(map[string]any)
			if m["role"] != "assistant" || m["model"] != "m" || m["usage"].(map[string]any)["input_tokens"] != float64(3) {
				t.Errorf("message_start = %v", m)
			}
		case "content_block_start":
			cb := d["content_block"].(map[string]any)
			if cb["type"] == "tool_use" && (cb["name"] != "lookup" || !strings.HasPrefix(cb["id"].(string), "toolu_") || d["index"] != float64(1)) {
				t.Errorf("tool_use start = %v", d)
			}
		case "content_block_delta":
			delta := d["delta"].(map[string]any)
			switch delta["type"] {
			case "text_delta":
				text.WriteString(delta["text"].(string))
			case "input_json_delta":
				args.WriteString(delta["partial_json"].(string))
			default:
				t.Errorf("delta = %v", delta)
			}
		case "message_delta":
			if d["delta"].(map[string]any)["stop_reason"] != "tool_use" || d["usage"].(map[string]any)["output_tokens"] != float64(4) {
				t.Errorf("message_delta = %v", d)
			}
		}
	}
	want := []string{
		"message_start", "ping",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("event sequence (-want +got):\n%s", diff)
	}
	if text.String() != "Hi there" || args.String() != `{"a":1}` {
		t.Errorf("text %q, arguments %q", text.String(), args.String())
	}
}

func TestNonStreamingJSON(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.Enqueue(toolReply, toolReply)

	res, body := do(t, "POST", s.URL()+"/chat/completions", nil, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	v := decode(t, string(body))
	choice := v["choices"].([]any)[0].(map[string]any)
	msg := choice["message"].(map[string]any)
	call := msg["tool_calls"].([]any)[0].(map[string]any)
	if v["object"] != "chat.completion" || msg["content"] != "Hi there" || choice["finish_reason"] != "tool_calls" ||
		call["function"].(map[string]any)["arguments"] != `{"a":1}` || v["usage"].(map[string]any)["total_tokens"] != float64(7) {
		t.Errorf("openai completion = %s", body)
	}

	_, body = do(t, "POST", s.AnthropicURL()+"/v1/messages", nil, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	v = decode(t, string(body))
	content := v["content"].([]any)
	if v["type"] != "message" || v["stop_reason"] != "tool_use" || len(content) != 2 ||
		content[0].(map[string]any)["text"] != "Hi there" || content[1].(map[string]any)["input"].(map[string]any)["a"] != float64(1) {
		t.Errorf("anthropic message = %s", body)
	}
}

func TestModelsEndpoint(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetModels([]string{"a", "b"})
	_, b := do(t, "GET", s.URL()+"/models", nil, "")
	v := decode(t, string(b))
	if v["object"] != "list" || len(v["data"].([]any)) != 2 || v["data"].([]any)[1].(map[string]any)["id"] != "b" {
		t.Errorf("openai models = %s", b)
	}
	_, b = do(t, "GET", s.URL()+"/models", map[string]string{"anthropic-version": "2023-06-01"}, "")
	v = decode(t, string(b))
	if v["has_more"] != false || v["last_id"] != "b" || v["data"].([]any)[0].(map[string]any)["type"] != "model" {
		t.Errorf("anthropic models = %s", b)
	}
}

func TestRecordedRequests(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	do(t, "POST", s.URL()+"/chat/completions", map[string]string{"Authorization": "Bearer k"}, `{"model":"m","max_tokens":9,
		"messages":[{"role":"system","content":"sys"},{"role":"user","content":[{"type":"text","text":"hi"}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"done"}],
		"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`)
	do(t, "POST", s.AnthropicURL()+"/v1/messages", map[string]string{"x-api-key": "k"}, `{"model":"m","max_tokens":9,"system":"sys",
		"messages":[{"role":"user","content":"hi"},
		{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"x":1}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"boom"}],"is_error":true},{"type":"text","text":"and?"}]}],
		"tools":[{"name":"f","input_schema":{"type":"object"}}]}`)
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	wantOpenAI := []chat.Message{
		{Role: chat.RoleUser, Content: "hi"},
		{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{{ID: "c1", Name: "f", Arguments: json.RawMessage(`{"x":1}`)}}},
		{Role: chat.RoleTool, Content: "done", ToolCallID: "c1", ToolName: "f"},
	}
	wantAnthropic := []chat.Message{
		{Role: chat.RoleUser, Content: "hi"},
		{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{{ID: "t1", Name: "f", Arguments: json.RawMessage(`{"x":1}`)}}},
		{Role: chat.RoleTool, Content: "boom", ToolCallID: "t1", ToolName: "f", IsError: true},
		{Role: chat.RoleUser, Content: "and?"},
	}
	for i, want := range [][]chat.Message{wantOpenAI, wantAnthropic} {
		r := reqs[i]
		if diff := cmp.Diff(want, r.Messages); diff != "" {
			t.Errorf("request %d messages (-want +got):\n%s", i, diff)
		}
		if r.System != "sys" || r.Model != "m" || r.MaxTokens != 9 || r.Stream || !cmp.Equal(r.Tools, []string{"f"}) {
			t.Errorf("request %d = %+v", i, r)
		}
	}
	if reqs[0].Format != FormatOpenAI || reqs[0].Headers.Get("Authorization") != "Bearer k" {
		t.Errorf("openai request: %s %v", reqs[0].Format, reqs[0].Headers)
	}
	if reqs[1].Format != FormatAnthropic || reqs[1].Headers.Get("X-Api-Key") != "k" || reqs[1].Path != "/v1/messages" {
		t.Errorf("anthropic request: %s %s %v", reqs[1].Format, reqs[1].Path, reqs[1].Headers)
	}
}

func TestQueueAndDefault(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.Enqueue(Reply{Text: "first"})
	s.SetDefault(func(r RecordedRequest) Reply { return Reply{Text: "default for " + r.Model} })
	if s.Pending() != 1 {
		t.Fatalf("Pending = %d", s.Pending())
	}
	texts := []string{}
	for range 2 {
		_, b := do(t, "POST", s.URL()+"/chat/completions", nil, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
		v := decode(t, string(b))
		texts = append(texts, v["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string))
	}
	if diff := cmp.Diff([]string{"first", "default for m"}, texts); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	s.SetDefault(nil)
	_, b := do(t, "POST", s.URL()+"/chat/completions", nil, `{"model":"m","messages":[{"role":"user","content":"back"}]}`)
	if !strings.Contains(string(b), "echo: back") {
		t.Errorf("SetDefault(nil) should restore Echo: %s", b)
	}
}

func TestCloseReleasesHangingRequest(t *testing.T) {
	t.Parallel()
	s := New()
	s.Enqueue(Reply{Hang: true})
	errc := make(chan error, 1)
	go func() {
		res, err := http.Post(s.URL()+"/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		errc <- err
	}()
	for len(s.Requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // liveness guard, not a timing assertion
		t.Fatal("Close blocked on a hanging request")
	}
	<-errc // the client sees the stream end, with or without an error
	s.Close()
}

func TestSplit(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"a ", "b ", " ", "c"}, splitWords("a b  c")); diff != "" {
		t.Errorf("splitWords (-want +got):\n%s", diff)
	}
	if splitWords("") != nil {
		t.Error("splitWords of empty text should be nil")
	}
	for _, in := range []string{"", "{}", `{"a":1}`, "ünï✓", strings.Repeat("x", 100)} {
		parts := splitN(in, 3)
		if strings.Join(parts, "") != in || len(parts) > 3 {
			t.Errorf("splitN(%q) = %q", in, parts)
		}
	}
}
