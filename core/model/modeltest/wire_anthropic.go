package modeltest

import (
	"encoding/json"
	"net/http"
)

// anthropicStop maps a Reply to an Anthropic stop_reason.
func anthropicStop(r Reply) string {
	switch r.StopReason {
	case "", "stop":
		if len(r.ToolCalls) > 0 {
			return "tool_use"
		}
		return "end_turn"
	case "tool_calls":
		return "tool_use"
	case "length":
		return "max_tokens"
	}
	return r.StopReason
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// streamAnthropic writes a Messages event stream: message_start, ping, one
// content block per text and tool call (start, deltas, stop), message_delta
// with stop_reason and usage, message_stop.
func (s *Server) streamAnthropic(st *stream, rec RecordedRequest, r Reply) {
	st.start()
	start := map[string]any{"type": "message_start", "message": map[string]any{
		"id": s.newID("msg_"), "type": "message", "role": "assistant", "model": rec.Model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{
			"input_tokens": r.Usage.InputTokens, "output_tokens": 1,
			"cache_creation_input_tokens": r.Usage.CacheWrite, "cache_read_input_tokens": r.Usage.CacheRead,
		},
	}}
	if !st.event("message_start", mustJSON(start)) || !st.event("ping", []byte(`{"type": "ping"}`)) {
		return
	}
	index := 0
	if len(r.Chunks) > 0 || (len(r.ToolCalls) == 0 && !r.Hang && !r.Disconnect) {
		ok := st.event("content_block_start", mustJSON(map[string]any{
			"type": "content_block_start", "index": index, "content_block": map[string]any{"type": "text", "text": ""},
		}))
		for _, text := range r.Chunks {
			ok = ok && st.pause() && st.event("content_block_delta", mustJSON(map[string]any{
				"type": "content_block_delta", "index": index, "delta": map[string]any{"type": "text_delta", "text": text},
			}))
		}
		if !ok || st.interrupt(r) {
			return
		}
		ok = ok && st.event("content_block_stop", mustJSON(map[string]any{"type": "content_block_stop", "index": index}))
		if !ok {
			return
		}
		index++
	} else if st.interrupt(r) {
		return
	}
	for _, tc := range r.ToolCalls {
		ok := st.pause() && st.event("content_block_start", mustJSON(map[string]any{
			"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": map[string]any{}},
		}))
		frags := append([]string{""}, splitN(string(tc.Arguments), 3)...)
		for _, frag := range frags {
			ok = ok && st.pause() && st.event("content_block_delta", mustJSON(map[string]any{
				"type": "content_block_delta", "index": index, "delta": map[string]any{"type": "input_json_delta", "partial_json": frag},
			}))
		}
		ok = ok && st.event("content_block_stop", mustJSON(map[string]any{"type": "content_block_stop", "index": index}))
		if !ok {
			return
		}
		index++
	}
	delta := map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": anthropicStop(r), "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": r.Usage.OutputTokens},
	}
	if st.event("message_delta", mustJSON(delta)) {
		st.event("message_stop", []byte(`{"type":"message_stop"}`))
	}
}

// jsonAnthropic writes a non-streaming message.
func (s *Server) jsonAnthropic(st *stream, rec RecordedRequest, r Reply) {
	if !st.pause() || st.interrupt(r) {
		return
	}
	content := []any{}
	if r.Text != "" || len(r.ToolCalls) == 0 {
		content = append(content, map[string]any{"type": "text", "text": r.Text})
	}
	for _, tc := range r.ToolCalls {
		content = append(content, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": json.RawMessage(tc.Arguments)})
	}
	writeJSON(st.w, http.StatusOK, map[string]any{
		"id": s.newID("msg_"), "type": "message", "role": "assistant", "model": rec.Model,
		"content": content, "stop_reason": anthropicStop(r), "stop_sequence": nil,
		"usage": map[string]any{
			"input_tokens": r.Usage.InputTokens, "output_tokens": r.Usage.OutputTokens,
			"cache_creation_input_tokens": r.Usage.CacheWrite, "cache_read_input_tokens": r.Usage.CacheRead,
		},
	})
}
