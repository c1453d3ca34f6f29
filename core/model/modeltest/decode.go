package modeltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/genos-project/genos/core/chat"
)

// decodeOpenAI decodes a Chat Completions request body into rec.
func decodeOpenAI(body []byte, rec *RecordedRequest) error {
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		MaxTokens           int `json:"max_tokens"`
		MaxCompletionTokens int `json:"max_completion_tokens"`
		Messages            []struct {
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
			ToolCallID string `json:"tool_call_id"`
		} `json:"messages"`
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return fmt.Errorf("request body is not valid JSON: %w", err)
	}
	rec.Model, rec.Stream = req.Model, req.Stream
	rec.IncludeUsage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	rec.MaxTokens = max(req.MaxTokens, req.MaxCompletionTokens)
	for _, t := range req.Tools {
		rec.Tools = append(rec.Tools, t.Function.Name)
	}
	if req.Model == "" {
		return errors.New("you must provide a model parameter")
	}
	if len(req.Messages) == 0 {
		return errors.New("'messages' must contain at least one message")
	}
	names := map[string]string{} // tool call ID -> tool name, to fill ToolName
	var system []string
	for i, m := range req.Messages {
		text, err := openAIText(m.Content)
		if err != nil {
			return fmt.Errorf("messages[%d].content: %w", i, err)
		}
		switch m.Role {
		case "system", "developer":
			system = append(system, text)
		case "user":
			rec.Messages = append(rec.Messages, chat.Message{Role: chat.RoleUser, Content: text})
		case "assistant":
			msg := chat.Message{Role: chat.RoleAssistant, Content: text}
			for _, tc := range m.ToolCalls {
				if tc.ID == "" || tc.Function.Name == "" {
					return fmt.Errorf("messages[%d].tool_calls: id and function.name are required", i)
				}
				if !json.Valid([]byte(tc.Function.Arguments)) {
					return fmt.Errorf("messages[%d].tool_calls: arguments of %s are not valid JSON", i, tc.ID)
				}
				names[tc.ID] = tc.Function.Name
				msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: json.RawMessage(tc.Function.Arguments)})
			}
			rec.Messages = append(rec.Messages, msg)
		case "tool":
			if m.ToolCallID == "" {
				return fmt.Errorf("messages[%d]: tool messages need tool_call_id", i)
			}
			if _, ok := names[m.ToolCallID]; !ok {
				return fmt.Errorf("messages[%d]: tool_call_id %s does not answer an earlier tool call", i, m.ToolCallID)
			}
			rec.Messages = append(rec.Messages, chat.Message{Role: chat.RoleTool, Content: text, ToolCallID: m.ToolCallID, ToolName: names[m.ToolCallID]})
		default:
			return fmt.Errorf("messages[%d]: unknown role %q", i, m.Role)
		}
	}
	rec.System = strings.Join(system, "\n\n")
	return nil
}

// openAIText reads content given as a string, null, or an array of parts.
func openAIText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// anthropicBlock is any content block a Messages request may carry.
type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// decodeAnthropic decodes a Messages request body into rec, checking the
// rules the real API enforces that our provider must respect.
func decodeAnthropic(body []byte, rec *RecordedRequest) error {
	var req struct {
		Model     string          `json:"model"`
		Stream    bool            `json:"stream"`
		MaxTokens *int            `json:"max_tokens"`
		System    json.RawMessage `json:"system"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return fmt.Errorf("request body is not valid JSON: %w", err)
	}
	rec.Model, rec.Stream = req.Model, req.Stream
	for _, t := range req.Tools {
		rec.Tools = append(rec.Tools, t.Name)
		if len(t.InputSchema) == 0 {
			return fmt.Errorf("tools.%s.input_schema: Field required", t.Name)
		}
	}
	if req.Model == "" {
		return errors.New("model: Field required")
	}
	if req.MaxTokens == nil {
		return errors.New("max_tokens: Field required")
	}
	rec.MaxTokens = *req.MaxTokens
	if len(req.Messages) == 0 {
		return errors.New("messages: at least one message is required")
	}
	system, err := anthropicSystem(req.System)
	if err != nil {
		return err
	}
	rec.System = system
	names := map[string]string{}
	prevRole := ""
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return fmt.Errorf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if m.Role == prevRole {
			return fmt.Errorf("messages.%d: roles must alternate between \"user\" and \"assistant\"", i)
		}
		prevRole = m.Role
		blocks, err := anthropicBlocks(m.Content)
		if err != nil {
			return fmt.Errorf("messages.%d.content: %w", i, err)
		}
		if len(blocks) == 0 {
			return fmt.Errorf("messages.%d: all messages must have non-empty content", i)
		}
		if m.Role == "assistant" {
			msg, err := anthropicAssistant(blocks, names)
			if err != nil {
				return fmt.Errorf("messages.%d.content: %w", i, err)
			}
			rec.Messages = append(rec.Messages, msg)
			continue
		}
		msgs, err := anthropicUser(blocks, names)
		if err != nil {
			return fmt.Errorf("messages.%d.content: %w", i, err)
		}
		rec.Messages = append(rec.Messages, msgs...)
	}
	return nil
}

func anthropicSystem(raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []anthropicBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", errors.New("system: must be a string or an array of text blocks")
	}
	var parts []string
	for _, b := range blocks {
		if b.Type != "text" {
			return "", fmt.Errorf("system: unexpected block type %q", b.Type)
		}
		parts = append(parts, b.Text)
	}
	return strings.Join(parts, "\n\n"), nil
}

func anthropicBlocks(raw json.RawMessage) ([]anthropicBlock, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []anthropicBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anthropicBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, errors.New("must be a string or an array of content blocks")
	}
	for j, b := range blocks {
		if b.Type == "text" && b.Text == "" {
			return nil, fmt.Errorf("%d: text content blocks must be non-empty", j)
		}
	}
	return blocks, nil
}

func anthropicAssistant(blocks []anthropicBlock, names map[string]string) (chat.Message, error) {
	msg := chat.Message{Role: chat.RoleAssistant}
	var text strings.Builder
	for j, b := range blocks {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return chat.Message{}, fmt.Errorf("%d: tool_use needs id and name", j)
			}
			var obj map[string]any
			if err := json.Unmarshal(b.Input, &obj); err != nil || obj == nil {
				return chat.Message{}, fmt.Errorf("%d.input: Input should be a valid dictionary", j)
			}
			names[b.ID] = b.Name
			msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: b.ID, Name: b.Name, Arguments: b.Input})
		default:
			return chat.Message{}, fmt.Errorf("%d: unexpected block type %q in an assistant message", j, b.Type)
		}
	}
	msg.Content = text.String()
	return msg, nil
}

// anthropicUser splits a user turn into tool results (first, as the API
// requires) and the user's own text.
func anthropicUser(blocks []anthropicBlock, names map[string]string) ([]chat.Message, error) {
	var out []chat.Message
	var text []string
	for j, b := range blocks {
		switch b.Type {
		case "text":
			text = append(text, b.Text)
		case "tool_result":
			if len(text) > 0 {
				return nil, fmt.Errorf("%d: tool_result blocks must come before any text", j)
			}
			name, ok := names[b.ToolUseID]
			if !ok {
				return nil, fmt.Errorf("%d: tool_use_id %s does not answer an earlier tool_use", j, b.ToolUseID)
			}
			content, err := toolResultText(b.Content)
			if err != nil {
				return nil, fmt.Errorf("%d.content: %w", j, err)
			}
			out = append(out, chat.Message{Role: chat.RoleTool, Content: content, ToolCallID: b.ToolUseID, ToolName: name, IsError: b.IsError})
		default:
			return nil, fmt.Errorf("%d: unexpected block type %q in a user message", j, b.Type)
		}
	}
	if len(text) > 0 {
		out = append(out, chat.Message{Role: chat.RoleUser, Content: strings.Join(text, "\n")})
	}
	return out, nil
}

func toolResultText(raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []anthropicBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", errors.New("must be a string or an array of blocks")
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "text" {
			if b.Text == "" {
				return "", errors.New("text content blocks must be non-empty")
			}
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n"), nil
}
