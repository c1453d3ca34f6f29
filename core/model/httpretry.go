package model

import (
	"net/http"
	"time"
)

// The pieces below are exported for other clients of model servers (the
// embeddings client in core/embed) so that every HTTP client Genos has
// reads Retry-After, backs off and words provider errors the same way.

// ParseRetryAfter reads Retry-After-Ms (OpenAI) or Retry-After as seconds
// or an HTTP date. It returns 0 when absent, invalid or already past, and
// at most 24 hours.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration { return parseRetryAfter(h, now) }

// RetryWait is the wait before retry n+1: the server's Retry-After when it
// gave one, else exponential backoff from 500 ms with equal jitter; both
// capped at 60 s.
func RetryWait(n int, retryAfter time.Duration) time.Duration { return retryWait(n, retryAfter) }

// ProviderDetail pulls a short human message out of a provider's error body
// (JSON error shapes or plain text; HTML pages yield nothing).
func ProviderDetail(body []byte) string {
	d, _ := providerDetail(body)
	return d
}
