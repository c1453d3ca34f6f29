// Package api is the gateway protocol: frame and method types, event payloads
// and the Go client that the CLI, the tray app and tests use. It is the only
// core package the UI may import besides core/chat.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ProtocolVersion is the protocol revision this build speaks.
const ProtocolVersion = 3

// MaxFrameBytes caps a single WebSocket frame (ARCHITECTURE.md section 6).
const MaxFrameBytes = 25 << 20

// Frame types.
const (
	TypeRequest  = "req"
	TypeResponse = "res"
	TypeEvent    = "event"
)

// Error codes carried in ErrorShape.Code.
const (
	CodeInvalidRequest = "INVALID_REQUEST"
	CodeUnknownMethod  = "UNKNOWN_METHOD"
	CodeUnauthorized   = "UNAUTHORIZED"
	CodeNotFound       = "NOT_FOUND"
	CodeUnavailable    = "UNAVAILABLE"
	CodeTooLarge       = "FRAME_TOO_LARGE"
	CodeRateLimited    = "RATE_LIMITED"
	CodeInternal       = "INTERNAL"
	CodeLocked         = "VAULT_LOCKED"
	CodeNoModel        = "NO_MODEL"
)

// Frame is one protocol message in either direction. Which fields are set
// depends on Type.
type Frame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	OK      *bool           `json:"ok,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Error   *ErrorShape     `json:"error,omitempty"`
	Event   string          `json:"event,omitempty"`
	Seq     uint64          `json:"seq,omitempty"`
}

// ErrorShape is the error body of a failed response. It doubles as a Go error
// on the client side.
type ErrorShape struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ErrorShape) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an ErrorShape with a formatted message.
func Errorf(code, format string, args ...any) *ErrorShape {
	return &ErrorShape{Code: code, Message: fmt.Sprintf(format, args...)}
}

// IsCode reports whether err is a protocol error with the given code.
func IsCode(err error, code string) bool {
	var e *ErrorShape
	return errors.As(err, &e) && e.Code == code
}

// DecodeFrame parses and validates one frame. It never panics on arbitrary
// input; errors are written for the peer that sent the frame.
func DecodeFrame(data []byte) (Frame, error) {
	var f Frame
	if len(data) > MaxFrameBytes {
		return f, Errorf(CodeTooLarge, "frame of %d bytes exceeds the %d byte limit", len(data), MaxFrameBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Frame{}, Errorf(CodeInvalidRequest, "frame is not a valid JSON object: %v", err)
	}
	if dec.More() {
		return Frame{}, Errorf(CodeInvalidRequest, "frame has trailing data after the JSON object")
	}
	switch f.Type {
	case TypeRequest:
		if f.ID == "" || len(f.ID) > 128 {
			return Frame{}, Errorf(CodeInvalidRequest, "request needs an id of 1 to 128 characters")
		}
		if f.Method == "" || len(f.Method) > 64 {
			return Frame{}, Errorf(CodeInvalidRequest, "request needs a method name")
		}
		if len(f.Params) > 0 && !isObjectOrNull(f.Params) {
			return Frame{}, Errorf(CodeInvalidRequest, "params must be a JSON object")
		}
	case TypeResponse:
		// An error answering a frame too broken to carry an id has none.
		if f.OK == nil || (*f.OK && f.ID == "") {
			return Frame{}, Errorf(CodeInvalidRequest, "response needs ok, and an id when ok")
		}
	case TypeEvent:
		if f.Event == "" {
			return Frame{}, Errorf(CodeInvalidRequest, "event needs a name")
		}
	case "":
		return Frame{}, Errorf(CodeInvalidRequest, "frame has no type")
	default:
		return Frame{}, Errorf(CodeInvalidRequest, "unknown frame type %q", truncate(f.Type, 32))
	}
	return f, nil
}

// DecodeParams strictly decodes request params into v; a missing params
// object decodes as empty.
func DecodeParams(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(CodeInvalidRequest, "bad params: %v", err)
	}
	return nil
}

func isObjectOrNull(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || bytes.HasPrefix(t, []byte("null")))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// NewRequest builds a request frame.
func NewRequest(id, method string, params any) (Frame, error) {
	f := Frame{Type: TypeRequest, ID: id, Method: method}
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return f, fmt.Errorf("encode params for %s: %w", method, err)
		}
		f.Params = b
	}
	return f, nil
}

// NewResponse builds a successful response frame.
func NewResponse(id string, payload any) (Frame, error) {
	ok := true
	f := Frame{Type: TypeResponse, ID: id, OK: &ok}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return f, fmt.Errorf("encode payload: %w", err)
		}
		f.Payload = b
	}
	return f, nil
}

// NewErrorResponse builds a failed response frame.
func NewErrorResponse(id string, e *ErrorShape) Frame {
	ok := false
	return Frame{Type: TypeResponse, ID: id, OK: &ok, Error: e}
}

// NewEvent builds an event frame; the server stamps Seq when it sends it.
func NewEvent(name string, payload any) (Frame, error) {
	f := Frame{Type: TypeEvent, Event: name}
	b, err := json.Marshal(payload)
	if err != nil {
		return f, fmt.Errorf("encode event %s: %w", name, err)
	}
	f.Payload = b
	return f, nil
}
