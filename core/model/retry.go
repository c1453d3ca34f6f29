package model

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// base is what both providers share: settings, error context and the retry
// loop.
type base struct {
	name  string // "openai" | "anthropic"
	label string // how messages name the endpoint
	set   settings

	// sleep waits between retries; a test seam so tests can assert the
	// requested waits without sleeping.
	sleep func(ctx context.Context, d time.Duration) error
}

func newBase(name, defaultLabel string, set settings) base {
	label := defaultLabel
	if set.baseURL != "" {
		if u, err := url.Parse(set.baseURL); err == nil && !knownHost(name, u.Host) {
			label = "the model server at " + u.Host
		}
	}
	return base{name: name, label: label, set: set, sleep: sleepCtx}
}

// knownHost reports whether host is the provider's own API host, so messages
// can say "OpenAI" instead of "the model server at api.openai.com".
func knownHost(provider, host string) bool {
	switch provider {
	case "openai":
		return host == "api.openai.com"
	case "anthropic":
		return host == "api.anthropic.com"
	}
	return false
}

func (b *base) errCtx(model string) errorContext {
	return errorContext{
		provider: b.name,
		label:    b.label,
		baseURL:  b.set.baseURL,
		model:    model,
		apiKey:   b.set.apiKey,
		timeout:  b.set.timeout,
	}
}

// attemptFunc runs one HTTP attempt under ctx, which carries the per-request
// timeout. It reports whether any text reached the caller, and its error is
// already classified.
type attemptFunc func(ctx context.Context) (delivered bool, err *Error)

// retry runs attempt until it succeeds, fails for good, text was delivered,
// or the retries are used up.
func (b *base) retry(ctx context.Context, op, model string, attempt attemptFunc) error {
	ec := b.errCtx(model)
	for n := 0; ; n++ {
		if e := ec.fromContext(ctx, nil); e != nil {
			return e
		}
		actx, cancel := context.WithTimeoutCause(ctx, b.set.timeout, errAttemptTimeout)
		delivered, err := attempt(actx)
		cancel()
		if err == nil {
			return nil
		}
		if delivered || !err.Retryable() || n >= b.set.maxRetries {
			b.set.log.Debug("model request failed", "provider", b.name, "op", op, "model", model,
				"kind", string(err.Kind), "status", err.Status, "attempt", n+1, "delivered", delivered)
			return err
		}
		wait := retryWait(n, err.RetryAfter)
		b.set.log.Warn("model request failed, retrying", "provider", b.name, "op", op, "model", model,
			"kind", string(err.Kind), "status", err.Status, "attempt", n+1, "wait", wait)
		if serr := b.sleep(ctx, wait); serr != nil {
			if e := ec.fromContext(ctx, nil); e != nil {
				return e
			}
			return ec.newError(Canceled, 0, serr, "the model request was canceled")
		}
	}
}

// retryWait is the wait before retry n+1: the server's Retry-After when it
// gave one, else exponential backoff from 500 ms with equal jitter; both
// capped at maxRetryWait.
func retryWait(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, maxRetryWait)
	}
	d := maxRetryWait
	if n < 16 {
		d = min(500*time.Millisecond<<n, maxRetryWait)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// capture is SDK middleware that keeps the status, headers and (bounded)
// body of an HTTP error response. The SDKs only turn JSON error bodies into
// typed errors; proxies and local servers often send text or HTML, and we
// still want the status and Retry-After.
type capture struct {
	status int
	header http.Header
	body   []byte
}

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 64 << 10

func (c *capture) middleware(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	res, err := next(req)
	if err != nil || res == nil || res.StatusCode < 400 {
		return res, err
	}
	body, rerr := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	_ = res.Body.Close()
	c.status, c.header, c.body = res.StatusCode, res.Header.Clone(), body
	res.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		// Keep the status even if the body broke off; the SDK will still see it.
		c.body = nil
	}
	return res, nil
}

// classify turns whatever an SDK call returned into an *Error, looking at the
// contexts first (cancellation wins), then a captured HTTP error response,
// then the transport error.
func (b *base) classify(ec errorContext, parent, attempt context.Context, c *capture, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if ce := ec.fromContext(parent, attempt); ce != nil {
		return ce
	}
	if c != nil && c.status >= 400 {
		return ec.fromHTTP(c.status, c.header, c.body, err)
	}
	return nil
}

// sseStream is what both SDKs' streaming readers offer.
type sseStream[T any] interface {
	Next() bool
	Current() T
	Err() error
	Close() error
}

// drain reads a stream to its end, feeding each event to add and handing
// the text add extracts to onDelta. It reports whether any text reached
// onDelta, which decides whether a failure may still be retried.
func drain[T any](s sseStream[T], add func(T) string, onDelta func(string)) (delivered bool, err error) {
	defer s.Close()
	for s.Next() {
		if text := add(s.Current()); text != "" && onDelta != nil {
			delivered = true
			onDelta(text)
		}
	}
	return delivered, s.Err()
}
