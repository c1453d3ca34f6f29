// Package model owns the model providers the agent loop talks to: an
// OpenAI-compatible Chat Completions provider (OpenAI, Ollama, LM Studio,
// llama.cpp server, vLLM, OpenRouter, anything with a configurable base URL)
// and an Anthropic Messages provider. Both stream over SSE through the official
// SDKs and return one assembled [Response] per call.
//
// Retries are ours, not the SDKs'. Both SDKs are built with
// option.WithMaxRetries(0) and this package runs its own loop because the SDK
// loops cannot express our policy: they give up when Retry-After exceeds their
// limit instead of waiting the capped 60 s, they also retry 408/409, their
// sleeps cannot be observed by tests, and a retry decision has to know whether
// text already reached the caller (an SDK retry happens before the stream is
// consumed, so it never sees that). Likewise the per-request timeout is a
// context deadline per attempt that we set, so a timeout can be told apart from
// the caller cancelling.
//
// Errors returned by providers are always *[Error], whose Message is written
// for the user and never contains the API key.
package model

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/genos-project/genos/core/chat"
)

// Defaults applied by the constructors.
const (
	defaultTimeout          = 10 * time.Minute
	defaultMaxRetries       = 3
	defaultAnthropicMaxToks = 4096
	maxRetryWait            = 60 * time.Second
)

// ToolSpec describes one tool the model may call.
type ToolSpec struct {
	Name        string
	Description string
	Parameters  json.RawMessage // JSON schema object; empty means "no parameters"
}

// Request is one call to a model.
type Request struct {
	Model     string
	System    string
	Messages  []chat.Message // roles user/assistant/tool; assistant may carry ToolCalls
	Tools     []ToolSpec
	MaxTokens int // 0 = provider default (Anthropic: 4096)
}

// Response is the assembled result of one streamed call.
type Response struct {
	Message    chat.Message // Role assistant, full text, complete tool calls
	Usage      chat.Usage
	StopReason string // "stop" | "tool_calls" | "length" | other provider value
	Model      string
}

// Options configure a provider.
type Options struct {
	BaseURL    string        // "" = provider default
	APIKey     string        // never logged
	Timeout    time.Duration // per HTTP attempt including the whole stream; 0 = 10 min
	MaxRetries int           // retries on 429/5xx/network errors before any text was delivered; 0 = 3, -1 = none
	HTTPClient *http.Client  // optional
	Logger     *slog.Logger  // optional
}

// Provider is the behaviour shared by both providers, for the composition
// root. Consumers such as the agent loop declare their own narrower interface.
type Provider interface {
	Name() string
	Stream(ctx context.Context, req Request, onDelta func(text string)) (Response, error)
	Models(ctx context.Context) ([]string, error)
}

// New builds the provider called name ("openai" or "anthropic").
func New(provider string, o Options) (Provider, error) {
	switch strings.ToLower(strings.TrimSpace(provider)) {
	case "openai":
		return NewOpenAI(o)
	case "anthropic":
		return NewAnthropic(o)
	}
	return nil, fmt.Errorf("unknown model provider %q: use \"openai\" (also for Ollama, LM Studio, llama.cpp, vLLM, OpenRouter) or \"anthropic\"", provider)
}

// settings is Options after validation and defaults.
type settings struct {
	baseURL    string // "" when the provider default applies
	apiKey     string
	timeout    time.Duration
	maxRetries int
	httpClient *http.Client
	log        *slog.Logger
}

func newSettings(o Options) (settings, error) {
	s := settings{
		baseURL:    strings.TrimSpace(o.BaseURL),
		apiKey:     strings.TrimSpace(o.APIKey),
		timeout:    o.Timeout,
		maxRetries: o.MaxRetries,
		httpClient: o.HTTPClient,
		log:        o.Logger,
	}
	if s.baseURL != "" {
		u, err := url.Parse(s.baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return settings{}, fmt.Errorf("invalid model base URL %q: want an http:// or https:// URL such as http://localhost:11434/v1", s.baseURL)
		}
		if u.User != nil {
			return settings{}, fmt.Errorf("invalid model base URL: put credentials in the API key, not in the URL")
		}
		s.baseURL = strings.TrimRight(u.String(), "/")
	}
	if strings.ContainsAny(s.apiKey, "\r\n") {
		return settings{}, fmt.Errorf("invalid model API key: it contains a line break")
	}
	switch {
	case s.timeout < 0:
		return settings{}, fmt.Errorf("invalid model timeout %s: must not be negative", s.timeout)
	case s.timeout == 0:
		s.timeout = defaultTimeout
	}
	switch {
	case s.maxRetries < -1:
		return settings{}, fmt.Errorf("invalid model max retries %d: use -1 for none, 0 for the default", s.maxRetries)
	case s.maxRetries == 0:
		s.maxRetries = defaultMaxRetries
	case s.maxRetries == -1:
		s.maxRetries = 0
	}
	if s.httpClient == nil {
		// No client-wide Timeout: deadlines are per attempt through the context,
		// and a client Timeout would cut long streams short.
		// Keep enough idle connections for every concurrent run: the default
		// of 2 per host makes busy gateways reconnect for each call.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
		s.httpClient = &http.Client{Transport: tr}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// validateRequest checks what the caller built, so that mistakes fail here
// with a clear message instead of as an opaque 400 from the provider.
func validateRequest(provider string, req Request) error {
	bad := func(format string, args ...any) error {
		return &Error{Kind: BadRequest, Provider: provider, Message: "invalid model request: " + fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(req.Model) == "" {
		return bad("no model name given")
	}
	if req.MaxTokens < 0 {
		return bad("max tokens %d is negative", req.MaxTokens)
	}
	if len(req.Messages) == 0 {
		return bad("no messages")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case chat.RoleUser, chat.RoleSystem:
		case chat.RoleAssistant:
			for j, tc := range m.ToolCalls {
				if tc.Name == "" {
					return bad("message %d: tool call %d has no name", i, j)
				}
				if len(tc.Arguments) > 0 && !json.Valid(tc.Arguments) {
					return bad("message %d: arguments of tool call %q are not valid JSON", i, tc.Name)
				}
			}
		case chat.RoleTool:
			if m.ToolCallID == "" {
				return bad("message %d: tool result has no tool call ID", i)
			}
		default:
			return bad("message %d has unknown role %q", i, m.Role)
		}
	}
	seen := make(map[string]bool, len(req.Tools))
	for i, t := range req.Tools {
		if t.Name == "" {
			return bad("tool %d has no name", i)
		}
		if seen[t.Name] {
			return bad("tool %q is listed twice", t.Name)
		}
		seen[t.Name] = true
		if len(t.Parameters) > 0 {
			var obj map[string]any
			if err := json.Unmarshal(t.Parameters, &obj); err != nil {
				return bad("parameters of tool %q are not a JSON object", t.Name)
			}
		}
	}
	return nil
}

// toolSchema returns the tool's parameter schema as an object, defaulting to
// an empty object schema.
func toolSchema(t ToolSpec) map[string]any {
	obj := map[string]any{}
	if len(t.Parameters) > 0 {
		_ = json.Unmarshal(t.Parameters, &obj) // validated in validateRequest
	}
	if obj == nil {
		obj = map[string]any{}
	}
	if _, ok := obj["type"]; !ok {
		obj["type"] = "object"
	}
	return obj
}

// toolArgs returns a tool call's arguments as a JSON object text, "{}" when empty.
func toolArgs(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "{}"
	}
	return s
}

// finishArgs turns assembled argument fragments into valid JSON. A model that
// streams broken JSON gets its text wrapped so the tool layer can report the
// problem back to the model rather than the run failing.
func finishArgs(s string) json.RawMessage {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(map[string]string{"_invalid_json": s})
	return b
}

// normalizeStop maps provider stop reasons onto the shared vocabulary.
func normalizeStop(reason string, hasToolCalls bool) string {
	switch reason {
	case "stop", "end_turn", "stop_sequence", "":
		if hasToolCalls {
			// Some OpenAI-compatible servers (older Ollama) report "stop" even
			// when the turn ends in tool calls.
			return "tool_calls"
		}
		return "stop"
	case "tool_calls", "tool_use", "function_call":
		return "tool_calls"
	case "length", "max_tokens":
		return "length"
	}
	return reason
}
