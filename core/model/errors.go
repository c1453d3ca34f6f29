package model

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// ErrorKind classifies a provider failure; callers branch on it.
type ErrorKind string

// Error kinds.
const (
	Unauthorized ErrorKind = "unauthorized"  // 401/403: the API key is wrong or lacks access
	NotFound     ErrorKind = "not_found"     // 404 that does not name the model (often a wrong base URL)
	InvalidModel ErrorKind = "invalid_model" // the provider does not know the requested model
	RateLimited  ErrorKind = "rate_limited"  // 429
	Server       ErrorKind = "server"        // 5xx, a mid-stream provider error or an unreadable reply
	BadRequest   ErrorKind = "bad_request"   // other 4xx, or an invalid Request
	Timeout      ErrorKind = "timeout"       // the per-request timeout or the caller's deadline passed
	Network      ErrorKind = "network"       // connection refused, reset, DNS, TLS, stream cut short
	Canceled     ErrorKind = "canceled"      // the caller's context was cancelled
)

// Error is the only error type providers return. Message is written for the
// user: short, says what to do next and never contains the API key.
type Error struct {
	Kind       ErrorKind
	Status     int    // HTTP status, 0 when there was none
	Provider   string // "openai" or "anthropic"
	Message    string
	RetryAfter time.Duration // from the Retry-After header, 0 when absent

	err error // cause, kept for errors.Is/As (context.Canceled, SDK errors)
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying cause, so errors.Is(err, context.Canceled)
// holds for cancellations.
func (e *Error) Unwrap() error { return e.err }

// Retryable reports whether the failure is worth retrying: rate limits,
// server errors and network errors.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case RateLimited, Server, Network:
		return true
	}
	return false
}

// errAttemptTimeout is the cause set on a single attempt's context when the
// per-request timeout fires, so it can be told apart from the caller's own
// cancellation or deadline.
var errAttemptTimeout = errors.New("model request attempt timed out")

// errorContext is what classification needs to know about the call.
type errorContext struct {
	provider string        // "openai" | "anthropic"
	label    string        // how the user knows the endpoint, e.g. "OpenAI" or "the model server at localhost:11434"
	baseURL  string        // for NotFound hints; "" = provider default
	model    string        // "" for model listing
	apiKey   string        // scrubbed from any text we show
	timeout  time.Duration // per attempt
}

func (ec errorContext) newError(kind ErrorKind, status int, cause error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if ec.apiKey != "" {
		msg = strings.ReplaceAll(msg, ec.apiKey, "[redacted]")
	}
	return &Error{Kind: kind, Status: status, Provider: ec.provider, Message: msg, err: cause}
}

// fromContext reports the error for a finished parent or attempt context, or
// nil when neither is done.
func (ec errorContext) fromContext(parent, attempt context.Context) *Error {
	if err := parent.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ec.newError(Timeout, 0, err, "%s did not finish answering before the request's deadline; try again", ec.label)
		}
		return ec.newError(Canceled, 0, err, "the model request was canceled")
	}
	if attempt != nil && attempt.Err() != nil && errors.Is(context.Cause(attempt), errAttemptTimeout) {
		return ec.newError(Timeout, 0, context.DeadlineExceeded,
			"%s did not finish answering within %s; try again, or raise the model timeout", ec.label, ec.timeout)
	}
	return nil
}

// fromHTTP classifies an HTTP error response.
func (ec errorContext) fromHTTP(status int, header http.Header, body []byte, cause error) *Error {
	detail, code := providerDetail(body)
	detail = ec.scrub(detail)
	withDetail := func(s string) string {
		if detail == "" {
			return s
		}
		return s + ": " + detail
	}
	var e *Error
	switch {
	case status == http.StatusUnauthorized:
		e = ec.newError(Unauthorized, status, cause, "%s rejected the API key (HTTP 401); check the API key configured for this provider", ec.label)
	case status == http.StatusForbidden:
		e = ec.newError(Unauthorized, status, cause, "%s refused access (HTTP 403); check that the API key is right and allowed to use this model", ec.label)
	case ec.model != "" && (status == http.StatusNotFound || status == http.StatusBadRequest || status == http.StatusUnprocessableEntity) && namesModel(status, detail, code, ec.model):
		e = ec.newError(InvalidModel, status, cause, "%s does not offer the model %q; run \"genos models\" to list the models it has", ec.label, ec.model)
	case status == http.StatusNotFound && ec.model != "":
		e = ec.newError(NotFound, status, cause, "%s answered 404 Not Found for model %q; check the base URL (%s) or run \"genos models\" to list the models", ec.label, ec.model, ec.shownBaseURL())
	case status == http.StatusNotFound:
		e = ec.newError(NotFound, status, cause, "%s has no model list at %s (HTTP 404); check the base URL", ec.label, ec.shownBaseURL())
	case status == http.StatusTooManyRequests:
		e = ec.newError(RateLimited, status, cause, "%s", withDetail(ec.label+" is rate limiting requests (HTTP 429); wait a little and try again"))
	case status >= 500:
		e = ec.newError(Server, status, cause, "%s", withDetail(fmt.Sprintf("%s had a server error (HTTP %d); try again later", ec.label, status)))
	default:
		e = ec.newError(BadRequest, status, cause, "%s", withDetail(fmt.Sprintf("%s rejected the request (HTTP %d)", ec.label, status)))
	}
	e.RetryAfter = parseRetryAfter(header, time.Now())
	return e
}

// fromStreamError classifies an error event sent inside a 200 stream.
func (ec errorContext) fromStreamError(errType string, body []byte, cause error) *Error {
	detail, code := providerDetail(body)
	detail = ec.scrub(detail)
	if detail == "" {
		detail = "no details given"
	}
	switch {
	case strings.Contains(errType, "rate_limit") || strings.Contains(code, "rate_limit"):
		return ec.newError(RateLimited, 0, cause, "%s is rate limiting requests; wait a little and try again: %s", ec.label, detail)
	case strings.Contains(errType, "invalid_request") || strings.Contains(errType, "authentication") || strings.Contains(errType, "permission"):
		return ec.newError(BadRequest, 0, cause, "%s rejected the request while answering: %s", ec.label, detail)
	}
	return ec.newError(Server, 0, cause, "%s reported an error while answering; try again: %s", ec.label, detail)
}

// fromTransport classifies an error that came with no HTTP response: a
// network failure, or a reply we could not decode.
func (ec errorContext) fromTransport(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return ec.newError(Server, 0, err, "%s sent a reply that could not be read; try again, and check that the base URL points at an OpenAI- or Anthropic-compatible API", ec.label)
	}
	return ec.newError(Network, 0, err, "cannot talk to %s: %s; check that it is reachable and the base URL is right", ec.label, networkCause(err))
}

// streamCutShort is the error for a stream that ended without its final event.
func (ec errorContext) streamCutShort() *Error {
	return ec.newError(Network, 0, io.ErrUnexpectedEOF, "%s closed the connection before the reply was complete; try again", ec.label)
}

func (ec errorContext) shownBaseURL() string {
	if ec.baseURL == "" {
		return "the provider default"
	}
	return ec.baseURL
}

func (ec errorContext) scrub(s string) string {
	if ec.apiKey != "" {
		s = strings.ReplaceAll(s, ec.apiKey, "[redacted]")
	}
	return s
}

// networkCause names a transport failure in a few words.
func networkCause(err error) string {
	var dnsErr *net.DNSError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed"
	case errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "its TLS certificate is not trusted"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "the connection timed out"
	}
	return "network error"
}

// maxDetail bounds provider text copied into a user message.
const maxDetail = 300

// providerDetail pulls a human message and an error code out of an error body
// in any of the shapes providers use: {"error":{"message","code","type"}},
// {"type":"error","error":{...}}, {"error":"text"}, {"message":"text"}, or
// plain text. HTML pages yield nothing.
func providerDetail(body []byte) (detail, code string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", ""
	}
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(body, &v) == nil {
		var inner struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Error, &inner) == nil && (inner.Message != "" || inner.Type != ""):
			detail = inner.Message
			code = strings.Trim(string(inner.Code), `"`)
			if code == "" || code == "null" {
				code = inner.Type
			}
			if detail == "" {
				detail = inner.Type
			}
		case json.Unmarshal(v.Error, &s) == nil:
			detail = s
		case v.Message != "":
			detail = v.Message
		case v.Detail != "":
			detail = v.Detail
		}
		return clip(detail), clip(code)
	}
	if bytes.HasPrefix(body, []byte("<")) || !utf8.Valid(body) {
		return "", ""
	}
	return clip(string(body)), ""
}

// clip shortens s to one line of at most maxDetail runes.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= maxDetail {
		return s
	}
	r := []rune(s)
	return string(r[:maxDetail]) + "…"
}

// namesModel reports whether an error is about the requested model. A 404
// that names the model (or says a model was not found) qualifies; for 400/422
// the text must also say the model is unknown, so "gpt-x does not support
// tools" stays a BadRequest.
func namesModel(status int, detail, code, model string) bool {
	if strings.Contains(code, "model_not_found") || code == "model_not_available" {
		return true
	}
	d := strings.ToLower(detail)
	named := model != "" && strings.Contains(d, strings.ToLower(model))
	unknown := false
	for _, p := range []string{"not found", "does not exist", "not a valid model", "invalid model", "unknown model", "no such model", "not available"} {
		if strings.Contains(d, p) {
			unknown = true
			break
		}
	}
	if status == http.StatusNotFound {
		return named || (unknown && strings.Contains(d, "model"))
	}
	return (named || strings.Contains(d, "model")) && unknown
}

// maxRetryAfter bounds a parsed Retry-After so arithmetic cannot overflow.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads Retry-After-Ms (OpenAI) or Retry-After as seconds or
// an HTTP date. It returns 0 when absent, invalid or already past.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < float64(maxRetryAfter/time.Millisecond) {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || math.IsNaN(secs) {
			return 0
		}
		if secs >= maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	return d
}
