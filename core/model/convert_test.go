package model

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/chat"
)

// history is a multi-turn conversation with text, parallel tool calls, an
// assistant turn with no text, consecutive tool results (one failed) and a
// user message right after them.
func history() Request {
	return Request{
		Model:     "test-model",
		System:    "You are terse.",
		MaxTokens: 100,
		Messages: []chat.Message{
			{Role: chat.RoleUser, Content: "Weather in Paris, and the time?"},
			{Role: chat.RoleAssistant, Content: "Checking.", ToolCalls: []chat.ToolCall{
				{ID: "c1", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
			}},
			{Role: chat.RoleTool, ToolCallID: "c1", ToolName: "get_weather", Content: "18C"},
			{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{
				{ID: "c2", Name: "clock"},
				{ID: "c3", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Nowhere"}`)},
			}},
			{Role: chat.RoleTool, ToolCallID: "c2", ToolName: "clock", Content: "12:00"},
			{Role: chat.RoleTool, ToolCallID: "c3", ToolName: "get_weather", Content: "unknown city", IsError: true},
			{Role: chat.RoleUser, Content: "Thanks! Anything else?"},
		},
		Tools: []ToolSpec{
			{Name: "get_weather", Description: "Weather by city", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`)},
			{Name: "clock"},
		},
	}
}

// rawJSON compares json.RawMessage values by meaning, not formatting.
var rawJSON = cmp.Comparer(func(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return cmp.Equal(va, vb)
})

func TestConvertHistoryOpenAI(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	p, _ := newProvider(t, "openai", srv, Options{})
	if _, err := p.Stream(t.Context(), history(), nil); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	rec := requestsTo(srv)[0]
	want := history().Messages
	want[3].ToolCalls[0].Arguments = json.RawMessage(`{}`)
	want[5].Content = toolErrorPrefix + "unknown city" // OpenAI has no is_error flag
	want[5].IsError = false
	if diff := cmp.Diff(want, rec.Messages, rawJSON); diff != "" {
		t.Errorf("decoded messages (-want +got):\n%s", diff)
	}
	if rec.System != "You are terse." || !rec.Stream || !rec.IncludeUsage || rec.MaxTokens != 100 || rec.Model != "test-model" {
		t.Errorf("recorded %+v", rec)
	}

	var body struct {
		Messages []map[string]json.RawMessage `json:"messages"`
		Tools    []struct {
			Type     string `json:"type"`
			Function struct {
				Name       string         `json:"name"`
				Parameters map[string]any `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
		MaxTokens *int `json:"max_tokens"`
	}
	if err := json.Unmarshal(rec.Body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Messages) != 8 || string(body.Messages[0]["role"]) != `"system"` {
		t.Fatalf("want system + 7 messages, got %d", len(body.Messages))
	}
	// The assistant turn with only tool calls must not send "content": "".
	if c, ok := body.Messages[4]["content"]; ok && string(c) != "null" {
		t.Errorf("assistant tool-call turn has content %s, want none", c)
	}
	if string(body.Messages[3]["tool_call_id"]) != `"c1"` || string(body.Messages[3]["role"]) != `"tool"` {
		t.Errorf("tool message = %v", body.Messages[3])
	}
	if body.MaxTokens == nil || *body.MaxTokens != 100 {
		t.Errorf("max_tokens = %v, want 100 for a compatible server", body.MaxTokens)
	}
	if len(body.Tools) != 2 || body.Tools[0].Type != "function" || body.Tools[0].Function.Parameters["additionalProperties"] != false {
		t.Errorf("tools = %+v", body.Tools)
	}
	if body.Tools[1].Function.Parameters["type"] != "object" {
		t.Errorf("tool without parameters should get an object schema: %+v", body.Tools[1])
	}
}

func TestConvertHistoryAnthropic(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	p, _ := newProvider(t, "anthropic", srv, Options{})
	req := history()
	req.MaxTokens = 0 // Anthropic needs one: the default applies
	if _, err := p.Stream(t.Context(), req, nil); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	rec := requestsTo(srv)[0]
	want := history().Messages
	want[3].ToolCalls[0].Arguments = json.RawMessage(`{}`)
	if diff := cmp.Diff(want, rec.Messages, rawJSON); diff != "" {
		t.Errorf("decoded messages (-want +got):\n%s", diff)
	}
	if rec.System != "You are terse." || rec.MaxTokens != defaultAnthropicMaxToks {
		t.Errorf("system %q, max tokens %d", rec.System, rec.MaxTokens)
	}

	var body struct {
		System   []map[string]any `json:"system"`
		Messages []struct {
			Role    string           `json:"role"`
			Content []map[string]any `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name        string         `json:"name"`
			InputSchema map[string]any `json:"input_schema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(rec.Body, &body); err != nil {
		t.Fatal(err)
	}
	var shape []string
	for _, m := range body.Messages {
		var types []string
		for _, b := range m.Content {
			types = append(types, b["type"].(string))
		}
		shape = append(shape, m.Role+":"+strings.Join(types, ","))
	}
	wantShape := []string{
		"user:text",
		"assistant:text,tool_use",
		"user:tool_result",
		"assistant:tool_use,tool_use",
		"user:tool_result,tool_result,text",
	}
	if diff := cmp.Diff(wantShape, shape); diff != "" {
		t.Errorf("message shape (-want +got):\n%s", diff)
	}
	if got := body.Messages[4].Content[1]["is_error"]; got != true {
		t.Errorf("failed tool result is_error = %v", got)
	}
	if _, ok := body.Messages[4].Content[0]["is_error"]; ok {
		t.Errorf("successful tool result should omit is_error: %v", body.Messages[4].Content[0])
	}
	if len(body.System) != 1 || body.System[0]["text"] != "You are terse." {
		t.Errorf("system = %v", body.System)
	}
	schema := body.Tools[0].InputSchema
	if schema["type"] != "object" || schema["additionalProperties"] != false || !cmp.Equal(schema["required"], []any{"city"}) {
		t.Errorf("input_schema = %v", schema)
	}
	if body.Tools[1].InputSchema["type"] != "object" {
		t.Errorf("tool without parameters: input_schema = %v", body.Tools[1].InputSchema)
	}
}

func TestAnthropicEmptyTexts(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	p, _ := newProvider(t, "anthropic", srv, Options{})
	req := Request{Model: "m", Messages: []chat.Message{
		{Role: chat.RoleUser, Content: ""},
		{Role: chat.RoleAssistant, Content: ""},
		{Role: chat.RoleSystem, Content: "extra system"},
		{Role: chat.RoleUser, Content: "go on"},
	}}
	if _, err := p.Stream(t.Context(), req, nil); err != nil {
		t.Fatalf("Stream: %v (empty texts must still form a valid request)", err)
	}
	rec := requestsTo(srv)[0]
	if rec.System != "extra system" || len(rec.Messages) != 3 || rec.Messages[0].Content != emptyText {
		t.Errorf("recorded system %q messages %+v", rec.System, rec.Messages)
	}
}

func TestOpenAIMaxCompletionTokens(t *testing.T) {
	t.Parallel()
	p, err := NewOpenAI(Options{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p.params(Request{Model: "gpt-x", MaxTokens: 50, Messages: []chat.Message{{Role: chat.RoleUser, Content: "x"}}}))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	if v["max_completion_tokens"] != float64(50) || v["max_tokens"] != nil {
		t.Errorf("OpenAI's own API should get max_completion_tokens: %s", b)
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	user := []chat.Message{{Role: chat.RoleUser, Content: "x"}}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"no model", Request{Messages: user}, "no model"},
		{"no messages", Request{Model: "m"}, "no messages"},
		{"negative max", Request{Model: "m", Messages: user, MaxTokens: -1}, "negative"},
		{"bad role", Request{Model: "m", Messages: []chat.Message{{Role: "robot"}}}, "unknown role"},
		{"tool without id", Request{Model: "m", Messages: []chat.Message{{Role: chat.RoleTool, Content: "r"}}}, "tool call ID"},
		{"call without name", Request{Model: "m", Messages: []chat.Message{{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{{ID: "a"}}}}}, "no name"},
		{"bad arguments", Request{Model: "m", Messages: []chat.Message{{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{{ID: "a", Name: "n", Arguments: json.RawMessage("{oops")}}}}}, "not valid JSON"},
		{"tool without name", Request{Model: "m", Messages: user, Tools: []ToolSpec{{}}}, "no name"},
		{"duplicate tool", Request{Model: "m", Messages: user, Tools: []ToolSpec{{Name: "a"}, {Name: "a"}}}, "twice"},
		{"schema not object", Request{Model: "m", Messages: user, Tools: []ToolSpec{{Name: "a", Parameters: json.RawMessage(`[1]`)}}}, "not a JSON object"},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				srv := newServer(t)
				p, _ := newProvider(t, kind, srv, Options{})
				_, err := p.Stream(t.Context(), tt.req, nil)
				e := asError(t, err)
				if e.Kind != BadRequest || !strings.Contains(e.Message, tt.want) {
					t.Errorf("got %q %q, want bad_request containing %q", e.Kind, e.Message, tt.want)
				}
				if n := len(srv.Requests()); n != 0 {
					t.Errorf("%d requests sent for an invalid request", n)
				}
			})
		}
	}
}

func TestNewAndOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		provider string
		o        Options
		wantErr  string
	}{
		{"openai", "openai", Options{}, ""},
		{"anthropic", "Anthropic", Options{BaseURL: "https://api.anthropic.com/v1/"}, ""},
		{"unknown", "gemini", Options{}, `unknown model provider "gemini"`},
		{"bad url", "openai", Options{BaseURL: "localhost:11434"}, "invalid model base URL"},
		{"credentials in url", "openai", Options{BaseURL: "https://user:pw@example.com/v1"}, "credentials"},
		{"newline key", "openai", Options{APIKey: "a\nb"}, "line break"},
		{"negative timeout", "anthropic", Options{Timeout: -1}, "timeout"},
		{"bad retries", "openai", Options{MaxRetries: -2}, "max retries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.provider, tt.o)
			if tt.wantErr == "" {
				if err != nil || p == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
	s, err := newSettings(Options{})
	if err != nil || s.timeout != defaultTimeout || s.maxRetries != defaultMaxRetries {
		t.Errorf("defaults: %+v %v", s, err)
	}
	s, _ = newSettings(Options{MaxRetries: -1})
	if s.maxRetries != 0 {
		t.Errorf("MaxRetries -1 gave %d retries", s.maxRetries)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	stops := []struct {
		in    string
		calls bool
		want  string
	}{
		{"stop", false, "stop"}, {"end_turn", false, "stop"}, {"stop", true, "tool_calls"},
		{"tool_use", true, "tool_calls"}, {"max_tokens", false, "length"}, {"content_filter", false, "content_filter"},
		{"refusal", false, "refusal"},
	}
	for _, s := range stops {
		if got := normalizeStop(s.in, s.calls); got != s.want {
			t.Errorf("normalizeStop(%q, %v) = %q, want %q", s.in, s.calls, got, s.want)
		}
	}
	args := map[string]string{"": "{}", "null": "{}", ` {"a":1} `: `{"a":1}`, `{"a":`: `{"_invalid_json":"{\"a\":"}`}
	for in, want := range args {
		if got := string(finishArgs(in)); got != want {
			t.Errorf("finishArgs(%q) = %s, want %s", in, got, want)
		}
	}
	if id := orNewCallID(""); !strings.HasPrefix(id, "call_") || len(id) != 29 {
		t.Errorf("orNewCallID = %q", id)
	}
}
