package channels

import (
	"context"
	"math/rand/v2"
	"time"
)

// Default backoff bounds, used when Backoff.Min or Backoff.Max is zero.
const (
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = 5 * time.Minute
)

// Backoff computes reconnect and retry delays with "decorrelated jitter"
// (AWS Architecture Blog, "Exponential Backoff and Jitter"): each delay is
// drawn uniformly from [Min, 3×previous], capped at Max. It spreads
// reconnecting clients apart like full jitter but never returns less than
// Min, so a flapping connection cannot spin.
//
// The zero value is ready to use with 1 s .. 5 min. A Backoff is not safe
// for concurrent use; each retry loop owns one.
type Backoff struct {
	// Min is the smallest delay (default 1 s).
	Min time.Duration
	// Max caps every delay (default 5 min; raised to Min if smaller).
	Max time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2.Float64.
	// Tests inject a fixed value.
	Rand func() float64

	prev time.Duration
}

func (b *Backoff) bounds() (lo, hi time.Duration) {
	lo, hi = b.Min, b.Max
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi <= 0 {
		hi = DefaultBackoffMax
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Next returns the delay before the next attempt, always within [Min, Max].
func (b *Backoff) Next() time.Duration {
	lo, hi := b.bounds()
	prev := b.prev
	if prev < lo {
		prev = lo
	}
	// Upper end of the draw: 3×prev, computed without overflow.
	upper := hi
	if prev <= hi/3 {
		upper = 3 * prev
	}
	if upper < lo {
		upper = lo
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	f := r()
	if !(f >= 0) { // also catches NaN
		f = 0
	}
	if f >= 1 {
		f = 1
	}
	d := lo + time.Duration(f*float64(upper-lo))
	if d > hi || d < lo { // float rounding at the extremes
		d = min(max(d, lo), hi)
	}
	b.prev = d
	return d
}

// Reset starts the sequence over; call it after a success (a connection
// that delivered something, a send that went through).
func (b *Backoff) Reset() { b.prev = 0 }

// Sleep waits for d or until ctx ends, whichever is first. It returns
// ctx.Err() if ctx ended first (or had already ended), nil otherwise.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
