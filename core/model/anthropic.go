package model

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/genos-project/genos/core/chat"
)

// defaultAnthropicBaseURL is used when Options.BaseURL is empty.
const defaultAnthropicBaseURL = "https://api.anthropic.com"

// emptyText stands in for empty text, which the Messages API rejects in a
// text block.
const emptyText = "(empty)"

// Anthropic is a provider for the Anthropic Messages API.
type Anthropic struct {
	base
	client anthropic.Client
}

// NewAnthropic builds an Anthropic provider. The SDK appends "v1/messages" to
// the base URL, so a base URL ending in "/v1" (as people paste it, and as
// OpenAI-style URLs are written) has that suffix removed.
func NewAnthropic(o Options) (*Anthropic, error) {
	set, err := newSettings(o)
	if err != nil {
		return nil, err
	}
	baseURL := strings.TrimSuffix(set.baseURL, "/v1")
	if baseURL == "" {
		baseURL = defaultAnthropicBaseURL
	}
	p := &Anthropic{base: newBase("anthropic", "Anthropic", set)}
	opts := []option.RequestOption{
		// Credentials and base URL come from configuration only, never from
		// ANTHROPIC_* variables or profile files the SDK would otherwise read.
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(baseURL),
		option.WithHTTPClient(set.httpClient),
		option.WithMaxRetries(0),
	}
	if set.apiKey != "" {
		opts = append(opts, option.WithAPIKey(set.apiKey))
	}
	p.client = anthropic.NewClient(opts...)
	return p, nil
}

// Name returns "anthropic".
func (p *Anthropic) Name() string { return p.name }

// Stream sends req and streams the reply, calling onDelta (if not nil) with
// each text fragment as it arrives.
func (p *Anthropic) Stream(ctx context.Context, req Request, onDelta func(text string)) (Response, error) {
	if err := validateRequest(p.name, req); err != nil {
		return Response{}, err
	}
	params := anthropicParams(req)
	ec := p.errCtx(req.Model)
	var resp Response
	err := p.retry(ctx, "chat", req.Model, func(actx context.Context) (bool, *Error) {
		var c capture
		stream := p.client.Messages.NewStreaming(actx, params, option.WithMiddleware(c.middleware))
		acc := anthropicAcc{blocks: map[int64]*callAcc{}}
		delivered, err := drain(stream, acc.add, onDelta)
		if err != nil {
			return delivered, p.classifyErr(ec, ctx, actx, &c, err)
		}
		if e := ec.fromContext(ctx, actx); e != nil {
			return delivered, e
		}
		if !acc.finished {
			return delivered, ec.streamCutShort()
		}
		resp = acc.response(req.Model)
		return delivered, nil
	})
	if err != nil {
		return Response{}, err
	}
	return resp, nil
}

// Models lists the model IDs the API offers (GET /v1/models, all pages).
func (p *Anthropic) Models(ctx context.Context) ([]string, error) {
	ec := p.errCtx("")
	var ids []string
	err := p.retry(ctx, "models", "", func(actx context.Context) (bool, *Error) {
		var c capture
		ids = ids[:0]
		pager := p.client.Models.ListAutoPaging(actx, anthropic.ModelListParams{Limit: anthropic.Int(1000)}, option.WithMiddleware(c.middleware))
		for pager.Next() {
			if id := pager.Current().ID; id != "" {
				ids = append(ids, id)
			}
		}
		if err := pager.Err(); err != nil {
			return false, p.classifyErr(ec, ctx, actx, &c, err)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func (p *Anthropic) classifyErr(ec errorContext, parent, attempt context.Context, c *capture, err error) *Error {
	if e := p.classify(ec, parent, attempt, c, err); e != nil {
		return e
	}
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		if apiErr.StatusCode >= 400 {
			var h http.Header
			if apiErr.Response != nil {
				h = apiErr.Response.Header
			}
			return ec.fromHTTP(apiErr.StatusCode, h, []byte(apiErr.RawJSON()), err)
		}
		// An "event: error" inside a 200 stream, e.g. overloaded_error.
		return ec.fromStreamError(string(apiErr.Type()), []byte(apiErr.RawJSON()), err)
	}
	if strings.HasPrefix(err.Error(), "received error while streaming") {
		return ec.fromStreamError("", nil, err)
	}
	return ec.fromTransport(err)
}

// anthropicParams converts a Request into Messages API parameters.
func anthropicParams(req Request) anthropic.MessageNewParams {
	maxTokens := int64(req.MaxTokens)
	if maxTokens == 0 {
		maxTokens = defaultAnthropicMaxToks
	}
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(req.Model),
		MaxTokens: maxTokens,
	}
	// The system prompt travels separately; stray system-role messages join it.
	system := []string{}
	if req.System != "" {
		system = append(system, req.System)
	}
	for _, m := range req.Messages {
		var role anthropic.MessageParamRole
		var blocks []anthropic.ContentBlockParamUnion
		switch m.Role {
		case chat.RoleSystem:
			if m.Content != "" {
				system = append(system, m.Content)
			}
			continue
		case chat.RoleUser:
			role = anthropic.MessageParamRoleUser
			blocks = append(blocks, anthropic.NewTextBlock(orEmpty(m.Content)))
		case chat.RoleAssistant:
			role = anthropic.MessageParamRoleAssistant
			if m.Content != "" {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, tc := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(tc.ID, json.RawMessage(toolArgs(tc.Arguments)), tc.Name))
			}
			if len(blocks) == 0 {
				blocks = append(blocks, anthropic.NewTextBlock(emptyText))
			}
		case chat.RoleTool:
			// Tool results are user turns made of tool_result blocks.
			role = anthropic.MessageParamRoleUser
			tr := anthropic.ToolResultBlockParam{ToolUseID: m.ToolCallID}
			if m.Content != "" {
				tr.Content = []anthropic.ToolResultBlockParamContentUnion{{OfText: &anthropic.TextBlockParam{Text: m.Content}}}
			}
			if m.IsError {
				tr.IsError = anthropic.Bool(true)
			}
			blocks = append(blocks, anthropic.ContentBlockParamUnion{OfToolResult: &tr})
		}
		// The API wants alternating turns: consecutive tool results, and a user
		// message right after them, share one user message. tool_result blocks
		// come first because they are appended in order.
		if n := len(params.Messages); n > 0 && params.Messages[n-1].Role == role {
			params.Messages[n-1].Content = append(params.Messages[n-1].Content, blocks...)
			continue
		}
		params.Messages = append(params.Messages, anthropic.MessageParam{Role: role, Content: blocks})
	}
	if len(system) > 0 {
		params.System = []anthropic.TextBlockParam{{Text: strings.Join(system, "\n\n")}}
	}
	for _, t := range req.Tools {
		tp := anthropic.ToolParam{Name: t.Name, InputSchema: inputSchema(t)}
		if t.Description != "" {
			tp.Description = anthropic.String(t.Description)
		}
		params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: &tp})
	}
	return params
}

// inputSchema splits a JSON schema into the SDK's typed fields and extras.
func inputSchema(t ToolSpec) anthropic.ToolInputSchemaParam {
	obj := toolSchema(t)
	// Properties is always set: an all-zero schema would be omitted from the
	// request, and the API requires input_schema.
	s := anthropic.ToolInputSchemaParam{Properties: map[string]any{}}
	if props, ok := obj["properties"]; ok && props != nil {
		s.Properties = props
	}
	if req, ok := obj["required"].([]any); ok {
		for _, r := range req {
			if name, ok := r.(string); ok {
				s.Required = append(s.Required, name)
			}
		}
	}
	extra := map[string]any{}
	for k, v := range obj {
		switch k {
		case "type", "properties", "required":
		default:
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		s.ExtraFields = extra
	}
	return s
}

func orEmpty(s string) string {
	if strings.TrimSpace(s) == "" {
		return emptyText
	}
	return s
}

// anthropicAcc assembles a streamed message.
type anthropicAcc struct {
	text     strings.Builder
	blocks   map[int64]*callAcc // tool_use blocks by index
	order    []int64
	usage    chat.Usage
	stop     string
	model    string
	finished bool
}

// add folds one event in and returns its text delta.
func (a *anthropicAcc) add(ev anthropic.MessageStreamEventUnion) string {
	switch ev.Type {
	case "message_start":
		a.model = ev.Message.Model
		u := ev.Message.Usage
		a.usage = chat.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheCreationInputTokens}
	case "content_block_start":
		switch ev.ContentBlock.Type {
		case "tool_use":
			if _, ok := a.blocks[ev.Index]; !ok {
				a.order = append(a.order, ev.Index)
			}
			a.blocks[ev.Index] = &callAcc{id: ev.ContentBlock.ID, name: ev.ContentBlock.Name}
		case "text":
			a.text.WriteString(ev.ContentBlock.Text)
			return ev.ContentBlock.Text
		}
	case "content_block_delta":
		switch ev.Delta.Type {
		case "text_delta":
			a.text.WriteString(ev.Delta.Text)
			return ev.Delta.Text
		case "input_json_delta":
			if c, ok := a.blocks[ev.Index]; ok {
				c.args.WriteString(ev.Delta.PartialJSON)
			}
		}
	case "message_delta":
		if ev.Delta.StopReason != "" {
			a.stop = string(ev.Delta.StopReason)
		}
		// message_delta usage is cumulative: it replaces, never adds.
		a.usage.OutputTokens = ev.Usage.OutputTokens
		if ev.Usage.JSON.InputTokens.Valid() && ev.Usage.InputTokens > 0 {
			a.usage.InputTokens = ev.Usage.InputTokens
		}
		if ev.Usage.JSON.CacheReadInputTokens.Valid() && ev.Usage.CacheReadInputTokens > 0 {
			a.usage.CacheRead = ev.Usage.CacheReadInputTokens
		}
		if ev.Usage.JSON.CacheCreationInputTokens.Valid() && ev.Usage.CacheCreationInputTokens > 0 {
			a.usage.CacheWrite = ev.Usage.CacheCreationInputTokens
		}
	case "message_stop":
		a.finished = true
	}
	return ""
}

func (a *anthropicAcc) response(reqModel string) Response {
	msg := chat.Message{Role: chat.RoleAssistant, Content: a.text.String()}
	for _, idx := range a.order {
		c := a.blocks[idx]
		msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: orNewCallID(c.id), Name: c.name, Arguments: finishArgs(c.args.String())})
	}
	model := a.model
	if model == "" {
		model = reqModel
	}
	return Response{Message: msg, Usage: a.usage, StopReason: normalizeStop(a.stop, len(msg.ToolCalls) > 0), Model: model}
}
