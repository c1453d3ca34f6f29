package model

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"

	"github.com/genos-project/genos/core/chat"
)

// defaultOpenAIBaseURL is used when Options.BaseURL is empty. It is always
// passed explicitly so OPENAI_BASE_URL in the environment cannot redirect
// requests behind the configuration's back.
const defaultOpenAIBaseURL = "https://api.openai.com/v1"

// toolErrorPrefix marks a failed tool result for OpenAI-style APIs, which
// have no is_error flag, so the model still learns the call failed.
const toolErrorPrefix = "[tool error] "

// OpenAI is a provider for the OpenAI Chat Completions API and servers that
// speak it (Ollama, LM Studio, llama.cpp server, vLLM, OpenRouter).
type OpenAI struct {
	base
	client openai.Client
	// maxCompletionTokens selects max_completion_tokens (required by OpenAI's
	// reasoning models) over max_tokens (what most compatible servers read).
	maxCompletionTokens bool
}

// NewOpenAI builds an OpenAI-compatible provider.
func NewOpenAI(o Options) (*OpenAI, error) {
	set, err := newSettings(o)
	if err != nil {
		return nil, err
	}
	baseURL := set.baseURL
	if baseURL == "" {
		baseURL = defaultOpenAIBaseURL
	}
	p := &OpenAI{base: newBase("openai", "OpenAI", set)}
	if u, err := url.Parse(baseURL); err == nil && u.Host == "api.openai.com" {
		p.maxCompletionTokens = true
	}
	p.client = openai.NewClient(
		option.WithBaseURL(baseURL),
		option.WithAPIKey(set.apiKey),
		option.WithHTTPClient(set.httpClient),
		option.WithMaxRetries(0),
		// Organisation and project come from configuration, never from
		// OPENAI_ORG_ID / OPENAI_PROJECT_ID picked up by the SDK.
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	)
	return p, nil
}

// Name returns "openai".
func (p *OpenAI) Name() string { return p.name }

// Stream sends req and streams the reply, calling onDelta (if not nil) with
// each text fragment as it arrives.
func (p *OpenAI) Stream(ctx context.Context, req Request, onDelta func(text string)) (Response, error) {
	if err := validateRequest(p.name, req); err != nil {
		return Response{}, err
	}
	params := p.params(req)
	ec := p.errCtx(req.Model)
	var resp Response
	err := p.retry(ctx, "chat", req.Model, func(actx context.Context) (bool, *Error) {
		var c capture
		stream := p.client.Chat.Completions.NewStreaming(actx, params, option.WithMiddleware(c.middleware))
		var acc openaiAcc
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

// Models lists the model IDs the endpoint offers (GET /models).
func (p *OpenAI) Models(ctx context.Context) ([]string, error) {
	ec := p.errCtx("")
	var ids []string
	err := p.retry(ctx, "models", "", func(actx context.Context) (bool, *Error) {
		var c capture
		page, err := p.client.Models.List(actx, option.WithMiddleware(c.middleware))
		if err != nil {
			return false, p.classifyErr(ec, ctx, actx, &c, err)
		}
		ids = ids[:0]
		for _, m := range page.Data {
			if m.ID != "" {
				ids = append(ids, m.ID)
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func (p *OpenAI) classifyErr(ec errorContext, parent, attempt context.Context, c *capture, err error) *Error {
	if e := p.classify(ec, parent, attempt, c, err); e != nil {
		return e
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		var h http.Header
		if apiErr.Response != nil {
			h = apiErr.Response.Header
		}
		return ec.fromHTTP(apiErr.StatusCode, h, []byte(apiErr.RawJSON()), err)
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		return ec.fromStreamError("", se.Event.Data, err)
	}
	return ec.fromTransport(err)
}

// params converts a Request into Chat Completions parameters.
func (p *OpenAI) params(req Request) openai.ChatCompletionNewParams {
	msgs := make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages)+1)
	if req.System != "" {
		msgs = append(msgs, openai.SystemMessage(req.System))
	}
	for _, m := range req.Messages {
		switch m.Role {
		case chat.RoleSystem:
			msgs = append(msgs, openai.SystemMessage(m.Content))
		case chat.RoleUser:
			msgs = append(msgs, openai.UserMessage(m.Content))
		case chat.RoleAssistant:
			var a openai.ChatCompletionAssistantMessageParam
			// With tool calls and no text the content is left out (null),
			// which every compatible server accepts; "" is sent otherwise.
			if m.Content != "" || len(m.ToolCalls) == 0 {
				a.Content.OfString = openai.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name:      tc.Name,
							Arguments: toolArgs(tc.Arguments),
						},
					},
				})
			}
			msgs = append(msgs, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case chat.RoleTool:
			content := m.Content
			if m.IsError {
				content = toolErrorPrefix + content
			}
			msgs = append(msgs, openai.ToolMessage(content, m.ToolCallID))
		}
	}
	params := openai.ChatCompletionNewParams{
		Model:    req.Model,
		Messages: msgs,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{
			IncludeUsage: openai.Bool(true),
		},
	}
	for _, t := range req.Tools {
		fn := shared.FunctionDefinitionParam{
			Name:       t.Name,
			Parameters: shared.FunctionParameters(toolSchema(t)),
		}
		if t.Description != "" {
			fn.Description = openai.String(t.Description)
		}
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(fn))
	}
	if req.MaxTokens > 0 {
		if p.maxCompletionTokens {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
		} else {
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	return params
}

// openaiAcc assembles a streamed chat completion.
type openaiAcc struct {
	text     strings.Builder
	calls    []*callAcc
	byIndex  map[int64]int
	usage    chat.Usage
	stop     string
	model    string
	finished bool
}

// callAcc assembles one tool call from fragments.
type callAcc struct {
	id, name string
	args     strings.Builder
}

// add folds one chunk in and returns its text delta.
func (a *openaiAcc) add(ch openai.ChatCompletionChunk) string {
	if a.model == "" {
		a.model = ch.Model
	}
	if u := ch.Usage; u.PromptTokens > 0 || u.CompletionTokens > 0 {
		cached := u.PromptTokensDetails.CachedTokens
		// InputTokens counts uncached input, as Anthropic reports it.
		a.usage = chat.Usage{InputTokens: u.PromptTokens - cached, OutputTokens: u.CompletionTokens, CacheRead: cached}
	}
	var text strings.Builder
	for _, c := range ch.Choices {
		if c.Index != 0 {
			continue // we never ask for n > 1
		}
		text.WriteString(c.Delta.Content)
		for _, tc := range c.Delta.ToolCalls {
			a.addCall(tc)
		}
		if c.FinishReason != "" {
			a.stop = c.FinishReason
			a.finished = true
		}
	}
	a.text.WriteString(text.String())
	return text.String()
}

func (a *openaiAcc) addCall(tc openai.ChatCompletionChunkChoiceDeltaToolCall) {
	if a.byIndex == nil {
		a.byIndex = map[int64]int{}
	}
	i, ok := a.byIndex[tc.Index]
	// Some servers reuse index 0 for every call; a new ID means a new call.
	if !ok || (tc.ID != "" && a.calls[i].id != "" && tc.ID != a.calls[i].id) {
		a.calls = append(a.calls, &callAcc{})
		i = len(a.calls) - 1
		a.byIndex[tc.Index] = i
	}
	c := a.calls[i]
	if tc.ID != "" {
		c.id = tc.ID
	}
	if c.name == "" {
		c.name = tc.Function.Name
	}
	c.args.WriteString(tc.Function.Arguments)
}

func (a *openaiAcc) response(reqModel string) Response {
	msg := chat.Message{Role: chat.RoleAssistant, Content: a.text.String()}
	for _, c := range a.calls {
		msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: orNewCallID(c.id), Name: c.name, Arguments: finishArgs(c.args.String())})
	}
	model := a.model
	if model == "" {
		model = reqModel
	}
	return Response{Message: msg, Usage: a.usage, StopReason: normalizeStop(a.stop, len(msg.ToolCalls) > 0), Model: model}
}

// orNewCallID returns id, or a fresh one for servers that send none: the
// next request must be able to answer the call by ID.
func orNewCallID(id string) string {
	if id != "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}
