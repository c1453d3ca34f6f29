package channels

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

func TestErrors(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		kind      Kind
		after     time.Duration
		hasAfter  bool
		msg       string
		unwrapsTo error
	}{
		{"rate limited", RateLimited("telegram sendMessage", 3*time.Second, base), KindRateLimited, 3 * time.Second, true, "telegram sendMessage: rate-limited, retry after 3s: boom", base},
		{"rate limited without wait", RateLimited("send", -time.Second, nil), KindRateLimited, 0, false, "send: rate-limited", nil},
		{"temporary", Temporary("getUpdates", io.ErrUnexpectedEOF), KindTemporary, 0, false, "getUpdates: temporary: unexpected EOF", io.ErrUnexpectedEOF},
		{"permanent", Permanent("send", base), KindPermanent, 0, false, "send: permanent: boom", base},
		{"wrapped classified", fmt.Errorf("deliver: %w", Permanent("send", base)), KindPermanent, 0, false, "deliver: send: permanent: boom", base},
		{"wrapped rate limit", fmt.Errorf("x: %w", RateLimited("send", time.Minute, base)), KindRateLimited, time.Minute, true, "x: send: rate-limited, retry after 1m0s: boom", base},
		{"unknown is temporary", base, KindTemporary, 0, false, "boom", nil},
		{"canceled is permanent", fmt.Errorf("send: %w", context.Canceled), KindPermanent, 0, false, "send: context canceled", context.Canceled},
		{"deadline is permanent", context.DeadlineExceeded, KindPermanent, 0, false, "context deadline exceeded", context.DeadlineExceeded},
		{"classification beats context", Temporary("poll", context.DeadlineExceeded), KindTemporary, 0, false, "poll: temporary: context deadline exceeded", context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf = %v, want %v", got, tt.kind)
			}
			d, ok := RetryAfter(tt.err)
			if d != tt.after || ok != tt.hasAfter {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", d, ok, tt.after, tt.hasAfter)
			}
			if got := tt.err.Error(); got != tt.msg {
				t.Errorf("Error() = %q, want %q", got, tt.msg)
			}
			if tt.unwrapsTo != nil && !errors.Is(tt.err, tt.unwrapsTo) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.unwrapsTo)
			}
		})
	}
	if KindOf(nil) != KindTemporary {
		t.Errorf("KindOf(nil) = %v", KindOf(nil))
	}
	if s := Kind(9).String(); s != "kind(9)" {
		t.Errorf("Kind(9).String() = %q", s)
	}
}
