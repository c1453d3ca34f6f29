package gateway

import (
	"sync"
	"time"
)

// authLimiter slows token guessing: after maxFailures failed connects from one
// host within window, that host is refused until the window passes.
type authLimiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
	now   func() time.Time
}

const (
	maxAuthFailures = 10
	authWindow      = time.Minute
)

func newAuthLimiter() *authLimiter {
	return &authLimiter{fails: make(map[string][]time.Time), now: time.Now}
}

func (a *authLimiter) prune(host string, now time.Time) []time.Time {
	ts := a.fails[host]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > authWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(a.fails, host)
		return nil
	}
	a.fails[host] = ts
	return ts
}

func (a *authLimiter) blocked(host string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.prune(host, a.now())) >= maxAuthFailures
}

func (a *authLimiter) fail(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	ts := a.prune(host, now)
	if len(ts) < maxAuthFailures {
		a.fails[host] = append(ts, now)
	}
	if len(a.fails) > 10000 { // bound memory under a spray of sources
		for h := range a.fails {
			delete(a.fails, h)
			break
		}
	}
}

func (a *authLimiter) succeed(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.fails, host)
}
