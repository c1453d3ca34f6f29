package modeltest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/genos-project/genos/core/chat"
)

// openAIStop maps a Reply to an OpenAI finish_reason.
func openAIStop(r Reply) string {
	switch r.StopReason {
	case "":
		if len(r.ToolCalls) > 0 {
			return "tool_calls"
		}
		return "stop"
	case "max_tokens":
		return "length"
	}
	return r.StopReason
}

// openAIUsage renders usage; prompt_tokens includes cached tokens as OpenAI
// reports them.
func openAIUsage(u chat.Usage) map[string]any {
	return map[string]any{
		"prompt_tokens":             u.InputTokens + u.CacheRead,
		"completion_tokens":         u.OutputTokens,
		"total_tokens":              u.InputTokens + u.CacheRead + u.OutputTokens,
		"prompt_tokens_details":     map[string]any{"cached_tokens": u.CacheRead, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
	}
}

// streamOpenAI writes a chat.completion.chunk stream: a role chunk, text
// chunks, tool call chunks (index/id/name first, then argument fragments), a
// finish chunk, a usage chunk when asked for, and [DONE].
func (s *Server) streamOpenAI(st *stream, rec RecordedRequest, r Reply) {
	id := s.newID("chatcmpl-")
	created := time.Now().Unix()
	chunk := func(delta map[string]any, finish any) []byte {
		c := map[string]any{
			"id":                 id,
			"object":             "chat.completion.chunk",
			"created":            created,
			"model":              rec.Model,
			"system_fingerprint": "fp_modeltest",
			"choices":            []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if rec.IncludeUsage {
			c["usage"] = nil
		}
		b, _ := json.Marshal(c)
		return b
	}
	st.start()
	if !st.event("", chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)) {
		return
	}
	for _, text := range r.Chunks {
		if !st.pause() || !st.event("", chunk(map[string]any{"content": text}, nil)) {
			return
		}
	}
	if st.interrupt(r) {
		return
	}
	for i, tc := range r.ToolCalls {
		head := map[string]any{"tool_calls": []any{map[string]any{
			"index": i, "id": tc.ID, "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": ""},
		}}}
		if !st.pause() || !st.event("", chunk(head, nil)) {
			return
		}
		for _, frag := range splitN(string(tc.Arguments), 3) {
			part := map[string]any{"tool_calls": []any{map[string]any{
				"index": i, "function": map[string]any{"arguments": frag},
			}}}
			if !st.pause() || !st.event("", chunk(part, nil)) {
				return
			}
		}
	}
	if !st.event("", chunk(map[string]any{}, openAIStop(r))) {
		return
	}
	if rec.IncludeUsage {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": rec.Model,
			"system_fingerprint": "fp_modeltest", "choices": []any{}, "usage": openAIUsage(r.Usage),
		})
		if !st.event("", b) {
			return
		}
	}
	st.event("", []byte("[DONE]"))
}

// jsonOpenAI writes a non-streaming chat.completion.
func (s *Server) jsonOpenAI(st *stream, rec RecordedRequest, r Reply) {
	if !st.pause() || st.interrupt(r) {
		return
	}
	msg := map[string]any{"role": "assistant", "content": r.Text, "refusal": nil}
	if r.Text == "" && len(r.ToolCalls) > 0 {
		msg["content"] = nil
	}
	if len(r.ToolCalls) > 0 {
		var calls []any
		for _, tc := range r.ToolCalls {
			calls = append(calls, map[string]any{
				"id": tc.ID, "type": "function",
				"function": map[string]any{"name": tc.Name, "arguments": string(tc.Arguments)},
			})
		}
		msg["tool_calls"] = calls
	}
	writeJSON(st.w, http.StatusOK, map[string]any{
		"id":                 s.newID("chatcmpl-"),
		"object":             "chat.completion",
		"created":            time.Now().Unix(),
		"model":              rec.Model,
		"system_fingerprint": "fp_modeltest",
		"choices":            []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": openAIStop(r)}},
		"usage":              openAIUsage(r.Usage),
	})
}

// writeModels serves GET /v1/models in the caller's format.
func writeModels(w http.ResponseWriter, format string, models []string) {
	data := []any{}
	if format == FormatAnthropic {
		for _, m := range models {
			data = append(data, map[string]any{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"})
		}
		var first, last any
		if len(models) > 0 {
			first, last = models[0], models[len(models)-1]
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data, "has_more": false, "first_id": first, "last_id": last})
		return
	}
	for _, m := range models {
		data = append(data, map[string]any{"id": m, "object": "model", "created": 1735689600, "owned_by": "modeltest"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// writeError writes a provider-shaped error body.
func writeError(w http.ResponseWriter, format string, status int, model, message, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	typ, code := errorType(format, status, model)
	if message == "" {
		message = defaultMessage(format, status, model)
	} else if code == "model_not_found" {
		code = "" // a scripted message is not necessarily about the model
	}
	if format == FormatAnthropic {
		writeJSON(w, status, map[string]any{
			"type":       "error",
			"error":      map[string]any{"type": typ, "message": message},
			"request_id": "req_modeltest",
		})
		return
	}
	var c any
	if code != "" {
		c = code
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": message, "type": typ, "param": nil, "code": c}})
}

func errorType(format string, status int, model string) (typ, code string) {
	if format == FormatAnthropic {
		switch {
		case status == 400:
			return "invalid_request_error", ""
		case status == 401:
			return "authentication_error", ""
		case status == 403:
			return "permission_error", ""
		case status == 404:
			return "not_found_error", ""
		case status == 413:
			return "request_too_large", ""
		case status == 429:
			return "rate_limit_error", ""
		case status == 529:
			return "overloaded_error", ""
		case status >= 500:
			return "api_error", ""
		}
		return "invalid_request_error", ""
	}
	switch {
	case status == 401:
		return "invalid_request_error", "invalid_api_key"
	case status == 404 && model != "":
		return "invalid_request_error", "model_not_found"
	case status == 429:
		return "requests", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", ""
	}
	return "invalid_request_error", ""
}

func defaultMessage(format string, status int, model string) string {
	switch {
	case status == 401 && format == FormatAnthropic:
		return "invalid x-api-key"
	case status == 401:
		return "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
	case status == 404 && model != "" && format == FormatAnthropic:
		return "model: " + model
	case status == 404 && model != "":
		return "The model `" + model + "` does not exist or you do not have access to it."
	case status == 429:
		return "Rate limit reached for requests"
	case status == 529:
		return "Overloaded"
	case status >= 500:
		return "The server had an error while processing your request. Sorry about that!"
	}
	return http.StatusText(status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
