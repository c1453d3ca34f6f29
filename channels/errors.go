package channels

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind classifies a delivery or connection error; only the class drives
// retries (CONVENTIONS.md, errors).
type Kind int

// Error kinds. The zero value is KindTemporary because an error nobody
// classified is safest retried with backoff.
const (
	// KindTemporary: retry with backoff (network blip, 5xx, timeout).
	KindTemporary Kind = iota
	// KindRateLimited: the platform asked us to slow down; retry after
	// RetryAfter (or with backoff when it gave none).
	KindRateLimited
	// KindPermanent: retrying cannot help (bad token, chat not found,
	// message rejected, caller's context ended).
	KindPermanent
)

// String returns the kind's name as used in logs.
func (k Kind) String() string {
	switch k {
	case KindTemporary:
		return "temporary"
	case KindRateLimited:
		return "rate-limited"
	case KindPermanent:
		return "permanent"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a classified channel error. Adapters return it from Send and use
// it inside Run to decide between retrying and failing.
type Error struct {
	Kind Kind
	// RetryAfter is the wait the platform asked for (rate limits); zero
	// when unknown.
	RetryAfter time.Duration
	// Op names the operation that failed ("telegram sendMessage").
	Op string
	// Err is the underlying error; may be nil.
	Err error
}

// Error formats as "op: kind[, retry after d]: err".
func (e *Error) Error() string {
	s := e.Kind.String()
	if e.RetryAfter > 0 {
		s += ", retry after " + e.RetryAfter.String()
	}
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// RateLimited returns a KindRateLimited error asking to retry after the
// given wait (zero or negative when the platform gave none).
func RateLimited(op string, after time.Duration, err error) error {
	if after < 0 {
		after = 0
	}
	return &Error{Kind: KindRateLimited, RetryAfter: after, Op: op, Err: err}
}

// Temporary returns a KindTemporary error.
func Temporary(op string, err error) error {
	return &Error{Kind: KindTemporary, Op: op, Err: err}
}

// Permanent returns a KindPermanent error.
func Permanent(op string, err error) error {
	return &Error{Kind: KindPermanent, Op: op, Err: err}
}

// KindOf classifies err. An *Error anywhere in the chain decides (the
// outermost one wins, so an adapter can reclassify). Otherwise
// context.Canceled and context.DeadlineExceeded are KindPermanent: the
// caller gave up, so this call must not be retried (adapters that see a
// per-request transport timeout should wrap it with Temporary). Any other
// error, and nil, is KindTemporary.
func KindOf(err error) Kind {
	if err == nil {
		return KindTemporary
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindPermanent
	}
	return KindTemporary
}

// RetryAfter returns the wait a rate-limited error asked for, and whether
// it gave one. It reports false for errors of other kinds.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRateLimited || e.RetryAfter <= 0 {
		return 0, false
	}
	return e.RetryAfter, true
}
