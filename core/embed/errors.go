package embed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/genos-project/genos/core/model"
)

// Transport and HTTP failures are reported as *model.Error (found with
// errors.As), so callers branch on the same kinds for chat and embedding
// providers. model's classification helpers are unexported, hence the small
// equivalents here.

// providerName is the Provider field of the errors this package returns.
const providerName = "openai"

// causeError carries a *model.Error together with its cause, so both
// errors.As(err, **model.Error) and errors.Is(err, context.Canceled) hold.
type causeError struct {
	e     *model.Error
	cause error
}

func (c *causeError) Error() string   { return c.e.Message }
func (c *causeError) Unwrap() []error { return []error{c.e, c.cause} }

// errorContext is what classification needs to know about the endpoint.
type errorContext struct {
	endpoint string // shown to the user; never contains the key
	apiKey   string // scrubbed from any provider text we show
	timeout  time.Duration
}

func (ec errorContext) newError(kind model.ErrorKind, status int, cause error, format string, args ...any) error {
	msg := ec.scrub(fmt.Sprintf(format, args...))
	e := &model.Error{Kind: kind, Status: status, Provider: providerName, Message: msg}
	if cause == nil {
		return e
	}
	return &causeError{e: e, cause: cause}
}

func (ec errorContext) scrub(s string) string {
	if ec.apiKey != "" {
		s = strings.ReplaceAll(s, ec.apiKey, "[redacted]")
	}
	return s
}

// fromContext reports the error for a finished caller or attempt context, or
// nil when neither is done. The caller's own cancellation wins.
func (ec errorContext) fromContext(parent, attempt context.Context) error {
	if err := parent.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ec.newError(model.Timeout, 0, err, "embedding request to %s did not finish before the caller's deadline", ec.endpoint)
		}
		return ec.newError(model.Canceled, 0, err, "embedding request to %s was canceled", ec.endpoint)
	}
	if attempt != nil && attempt.Err() != nil {
		return ec.newError(model.Timeout, 0, attempt.Err(), "embedding request to %s did not finish within %s; try again, or raise the embedding timeout", ec.endpoint, ec.timeout)
	}
	return nil
}

// fromHTTP classifies an HTTP error response; 429 and 5xx are retryable.
func (ec errorContext) fromHTTP(status int, header http.Header, body []byte) error {
	detail := ec.scrub(model.ProviderDetail(body))
	msg := fmt.Sprintf("embedding request to %s failed (HTTP %d)", ec.endpoint, status)
	var kind model.ErrorKind
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		kind = model.Unauthorized
		msg += "; check the embedding API key"
	case status == http.StatusNotFound:
		kind = model.NotFound
		msg += "; check the embedding base URL and model name"
	case status == http.StatusTooManyRequests:
		kind = model.RateLimited
	case status >= 500:
		kind = model.Server
	default:
		kind = model.BadRequest
	}
	if detail != "" {
		msg += ": " + detail
	}
	err := ec.newError(kind, status, nil, "%s", msg)
	var me *model.Error
	if errors.As(err, &me) {
		me.RetryAfter = model.ParseRetryAfter(header, time.Now())
	}
	return err
}

// fromTransport classifies a failure with no HTTP response.
func (ec errorContext) fromTransport(err error) error {
	return ec.newError(model.Network, 0, err, "cannot reach the embedding server at %s; check that it is running and the base URL is right", ec.endpoint)
}
