package modeltest

import (
	"net/http"
	"strings"
	"testing"
)

func TestErrorShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(*Server)
		format string
		header map[string]string
		status int
		check  func(t *testing.T, v map[string]any, h http.Header)
	}{
		{
			name: "openai 401", setup: func(s *Server) { s.RequireKey("k") }, format: FormatOpenAI,
			header: map[string]string{"Authorization": "Bearer nope"}, status: 401,
			check: func(t *testing.T, v map[string]any, _ http.Header) {
				if v["error"].(map[string]any)["code"] != "invalid_api_key" {
					t.Errorf("body %v", v)
				}
			},
		},
		{
			name: "anthropic 401", setup: func(s *Server) { s.RequireKey("k") }, format: FormatAnthropic,
			header: map[string]string{"x-api-key": "nope"}, status: 401,
			check: func(t *testing.T, v map[string]any, _ http.Header) {
				if v["type"] != "error" || v["error"].(map[string]any)["type"] != "authentication_error" {
					t.Errorf("body %v", v)
				}
			},
		},
		{
			name: "anthropic right key", setup: func(s *Server) { s.RequireKey("k") }, format: FormatAnthropic,
			header: map[string]string{"x-api-key": "k"}, status: 200,
		},
		{
			name: "openai unknown model", format: FormatOpenAI, status: 404,
			setup: func(s *Server) { s.SetModels([]string{"x"}); s.StrictModels(true) },
			check: func(t *testing.T, v map[string]any, _ http.Header) {
				e := v["error"].(map[string]any)
				if e["code"] != "model_not_found" || !strings.Contains(e["message"].(string), "`m`") {
					t.Errorf("body %v", v)
				}
			},
		},
		{
			name: "anthropic unknown model", format: FormatAnthropic, status: 404,
			setup: func(s *Server) { s.SetModels([]string{"x"}); s.StrictModels(true) },
			check: func(t *testing.T, v map[string]any, _ http.Header) {
				if e := v["error"].(map[string]any); e["type"] != "not_found_error" || e["message"] != "model: m" {
					t.Errorf("body %v", v)
				}
			},
		},
		{
			name: "scripted 429", format: FormatAnthropic, status: 429,
			setup: func(s *Server) { s.Enqueue(Reply{Status: 429, RetryAfter: "3", ErrorMessage: "slow"}) },
			check: func(t *testing.T, v map[string]any, h http.Header) {
				if h.Get("Retry-After") != "3" || v["error"].(map[string]any)["message"] != "slow" || v["error"].(map[string]any)["type"] != "rate_limit_error" {
					t.Errorf("header %v body %v", h, v)
				}
			},
		},
		{
			name: "scripted 529", format: FormatAnthropic, status: 529,
			setup: func(s *Server) { s.Enqueue(Reply{Status: 529}) },
			check: func(t *testing.T, v map[string]any, _ http.Header) {
				if v["error"].(map[string]any)["type"] != "overloaded_error" {
					t.Errorf("body %v", v)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			tt.setup(s)
			url, body := s.URL()+"/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`
			if tt.format == FormatAnthropic {
				url, body = s.URL()+"/messages", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}`
			}
			res, b := do(t, "POST", url, tt.header, body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if tt.check != nil {
				tt.check(t, decode(t, string(b)), res.Header)
			}
		})
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, body, want string
		status                 int
	}{
		{"no max_tokens", "/messages", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens", 400},
		{"roles not alternating", "/messages", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},{"role":"user","content":"y"}]}`, "alternate", 400},
		{"empty text block", "/messages", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`, "non-empty", 400},
		{"orphan tool result", "/messages", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"z"}]}]}`, "does not answer", 400},
		{"orphan tool message", "/chat/completions", `{"model":"m","messages":[{"role":"tool","tool_call_id":"z","content":"x"}]}`, "does not answer", 400},
		{"no model", "/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, "model", 400},
		{"not json", "/chat/completions", `{`, "not valid JSON", 400},
		{"unknown route", "/completions", `{}`, "no route", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			res, b := do(t, "POST", s.URL()+tt.path, nil, tt.body)
			if res.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Errorf("status %d body %s; want %d containing %q", res.StatusCode, b, tt.status, tt.want)
			}
			if len(s.Requests()) != 1 {
				t.Errorf("rejected requests must still be recorded")
			}
		})
	}
}
