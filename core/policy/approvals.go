package policy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DefaultApprovalTimeout is how long a request waits for the owner before it
// counts as denied.
const DefaultApprovalTimeout = 120 * time.Second

// Errors returned by Resolve.
var (
	// ErrNotFound means no pending request has that ID: it was never
	// created, was already resolved, or has expired.
	ErrNotFound = errors.New("approval not found")
	// ErrBadDecision means the decision is not one an owner can give.
	ErrBadDecision = errors.New("invalid approval decision")
)

// Request is one tool call waiting for the owner's decision.
type Request struct {
	ID         string          `json:"id"`
	AgentID    string          `json:"agentId"`
	SessionKey string          `json:"sessionKey"`
	RunID      string          `json:"runId,omitempty"`
	Tool       string          `json:"tool"`
	Category   string          `json:"category"`
	Args       json.RawMessage `json:"args,omitempty"`
	// Reason says why approval is needed (for example which rule asked).
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (r Request) clone() Request {
	r.Args = bytes.Clone(r.Args)
	return r
}

// Decision is the outcome of a request.
type Decision string

// The possible outcomes. The owner gives the first three; DecisionTimeout is
// recorded when nobody answered in time.
const (
	DecisionAllowOnce   Decision = "allow-once"
	DecisionAllowAlways Decision = "allow-always"
	DecisionDeny        Decision = "deny"
	DecisionTimeout     Decision = "timeout"
)

// Allowed reports whether d lets the tool run.
func (d Decision) Allowed() bool {
	return d == DecisionAllowOnce || d == DecisionAllowAlways
}

// byOwner reports whether an owner may give d through Resolve.
func (d Decision) byOwner() bool {
	return d == DecisionAllowOnce || d == DecisionAllowAlways || d == DecisionDeny
}

// EventKind says what happened to a request.
type EventKind string

// The event kinds delivered to the notify callback.
const (
	EventRequested EventKind = "requested"
	EventResolved  EventKind = "resolved"
)

// Event tells subscribers (tray, RPC event stream, chat) about a request.
// Decision is empty for EventRequested.
type Event struct {
	Kind     EventKind
	Request  Request
	Decision Decision
}

type agentTool struct{ agent, tool string }

type pendingReq struct {
	req  Request
	seq  uint64        // creation order, for List
	done chan Decision // buffered(1): whoever removes the request sends once
}

// Approvals is the in-memory queue of tool calls waiting for the owner. It is
// safe for concurrent use.
//
// Events reach notify in exactly the order the state changed (a request's
// "requested" always before its "resolved"), one at a time, and notify is
// never called with the lock held, so a subscriber may call List, Pending or
// even Resolve from inside it. An event may be delivered by whichever
// goroutine is already delivering, so it can arrive just after the call that
// caused it has returned. notify should be quick (hand the event to a
// channel): Request and Resolve callers may run it.
type Approvals struct {
	timeout time.Duration
	notify  func(Event)

	// Test seams: the clock and the timeout timer.
	now   func() time.Time
	after func(time.Duration) (<-chan time.Time, func() bool)

	mu      sync.Mutex
	pending map[string]*pendingReq
	seq     uint64
	// always holds allow-always grants for the daemon's lifetime only;
	// persisting them arrives with core/store.
	always map[agentTool]bool
	// events waits for delivery; delivering is set while one goroutine
	// drains it, which keeps delivery ordered without holding mu.
	events     []Event
	delivering bool
}

// NewApprovals returns an empty queue. timeout <= 0 selects
// DefaultApprovalTimeout; notify may be nil.
func NewApprovals(timeout time.Duration, notify func(Event)) *Approvals {
	if timeout <= 0 {
		timeout = DefaultApprovalTimeout
	}
	if notify == nil {
		notify = func(Event) {}
	}
	return &Approvals{
		timeout: timeout,
		notify:  notify,
		now:     time.Now,
		after: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
		pending: make(map[string]*pendingReq),
		always:  make(map[agentTool]bool),
	}
}

// SetTimeout changes how long later requests wait for an answer (the
// config that holds it is sealed, so it is known only after unlock).
// timeout <= 0 selects DefaultApprovalTimeout.
func (a *Approvals) SetTimeout(timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultApprovalTimeout
	}
	a.mu.Lock()
	a.timeout = timeout
	a.mu.Unlock()
}

// Request asks the owner whether req may run and blocks until an answer. It
// fills req's ID ("ap_" and 12 hex digits), CreatedAt and ExpiresAt. If the
// owner earlier chose allow-always for the same agent and tool it returns
// DecisionAllowAlways at once without queuing. Otherwise it returns the
// owner's decision, DecisionTimeout when nobody answers in time, or
// DecisionDeny with ctx.Err() when ctx ends first (the request is then
// withdrawn and subscribers see it resolved as deny). Invalid requests are
// refused with DecisionDeny and an error.
func (a *Approvals) Request(ctx context.Context, req Request) (Decision, error) {
	if err := validateRequest(req); err != nil {
		return DecisionDeny, err
	}
	if err := ctx.Err(); err != nil {
		return DecisionDeny, err
	}
	req = req.clone()

	a.mu.Lock()
	if a.always[agentTool{req.AgentID, req.Tool}] {
		a.mu.Unlock()
		return DecisionAllowAlways, nil
	}
	req.ID = a.newIDLocked()
	req.CreatedAt = a.now()
	timeout := a.timeout
	req.ExpiresAt = req.CreatedAt.Add(timeout)
	p := &pendingReq{req: req, seq: a.seq, done: make(chan Decision, 1)}
	a.seq++
	a.pending[req.ID] = p
	a.events = append(a.events, Event{Kind: EventRequested, Request: req.clone()})
	a.mu.Unlock()

	// Start the timer before anyone hears of the request, so a test clock
	// advanced on the "requested" event always finds it.
	expired, stop := a.after(timeout)
	defer stop()
	a.flush()

	select {
	case d := <-p.done:
		return d, nil
	case <-expired:
		if a.finish(req.ID, DecisionTimeout) {
			return DecisionTimeout, nil
		}
		return <-p.done, nil // Resolve won the race
	case <-ctx.Done():
		if a.finish(req.ID, DecisionDeny) {
			return DecisionDeny, ctx.Err()
		}
		return <-p.done, nil
	}
}

func validateRequest(req Request) error {
	var errs []error
	if req.AgentID == "" {
		errs = append(errs, errors.New("agent ID is empty"))
	}
	if req.Tool == "" {
		errs = append(errs, errors.New("tool is empty"))
	}
	if len(req.Args) > 0 && !json.Valid(req.Args) {
		errs = append(errs, errors.New("args are not valid JSON"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("approval request: %w", err)
	}
	return nil
}

// newIDLocked returns an unused request ID. Random rather than sequential
// so IDs typed into chat (/approve <id>) cannot be guessed ahead of time.
func (a *Approvals) newIDLocked() string {
	for {
		b := make([]byte, 6)
		_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
		id := "ap_" + hex.EncodeToString(b)
		if _, taken := a.pending[id]; !taken {
			return id
		}
	}
}

// finish removes id with decision d if it is still pending and reports
// whether it did; false means someone else resolved it first.
func (a *Approvals) finish(id string, d Decision) bool {
	a.mu.Lock()
	p, ok := a.pending[id]
	if ok {
		a.removeLocked(p, d)
	}
	a.mu.Unlock()
	a.flush()
	return ok
}

// removeLocked takes p off the queue, hands d to its waiter and queues the
// resolved event.
func (a *Approvals) removeLocked(p *pendingReq, d Decision) {
	delete(a.pending, p.req.ID)
	p.done <- d
	a.events = append(a.events, Event{Kind: EventResolved, Request: p.req.clone(), Decision: d})
}

// Resolve records the owner's decision for the pending request id and
// returns that request. It fails with ErrNotFound when id is unknown,
// already resolved or expired, and with ErrBadDecision unless d is
// allow-once, allow-always or deny. Allow-always is remembered for the
// request's agent and tool, and also answers the other requests already
// waiting for that same pair.
func (a *Approvals) Resolve(id string, d Decision) (Request, error) {
	if !d.byOwner() {
		return Request{}, fmt.Errorf("resolve approval %s: %w %q (want allow-once, allow-always or deny)", id, ErrBadDecision, d)
	}
	a.mu.Lock()
	p, ok := a.pending[id]
	if !ok {
		a.mu.Unlock()
		return Request{}, fmt.Errorf("resolve approval %s: %w", id, ErrNotFound)
	}
	if !a.now().Before(p.req.ExpiresAt) {
		// The timer has not fired yet, but the deadline has passed:
		// answer as the timer would have, so the outcome does not depend
		// on goroutine scheduling.
		a.removeLocked(p, DecisionTimeout)
		a.mu.Unlock()
		a.flush()
		return Request{}, fmt.Errorf("resolve approval %s: expired: %w", id, ErrNotFound)
	}
	a.removeLocked(p, d)
	if d == DecisionAllowAlways {
		key := agentTool{p.req.AgentID, p.req.Tool}
		a.always[key] = true
		for _, o := range a.sortedPendingLocked() {
			if (agentTool{o.req.AgentID, o.req.Tool}) == key {
				a.removeLocked(o, DecisionAllowAlways)
			}
		}
	}
	a.mu.Unlock()
	a.flush()
	return p.req.clone(), nil
}

// List returns the pending requests, oldest first.
func (a *Approvals) List() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := a.sortedPendingLocked()
	out := make([]Request, len(ps))
	for i, p := range ps {
		out[i] = p.req.clone()
	}
	return out
}

// Pending returns the number of requests waiting for a decision.
func (a *Approvals) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}

func (a *Approvals) sortedPendingLocked() []*pendingReq {
	ps := make([]*pendingReq, 0, len(a.pending))
	for _, p := range a.pending {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(x, y *pendingReq) int {
		switch {
		case x.seq < y.seq:
			return -1
		case x.seq > y.seq:
			return 1
		}
		return 0
	})
	return ps
}

// flush delivers queued events in order. Only one goroutine delivers at a
// time; others just leave their events in the queue for it. That keeps the
// order of state changes, never calls notify under the lock, and lets notify
// call back into Approvals (its own events are delivered after it returns).
func (a *Approvals) flush() {
	a.mu.Lock()
	if a.delivering {
		a.mu.Unlock()
		return
	}
	a.delivering = true
	a.mu.Unlock()

	finished := false
	defer func() {
		if !finished { // notify panicked: let the next caller deliver
			a.mu.Lock()
			a.delivering = false
			a.mu.Unlock()
		}
	}()
	for {
		a.mu.Lock()
		if len(a.events) == 0 {
			a.delivering = false
			a.mu.Unlock()
			finished = true
			return
		}
		ev := a.events[0]
		a.events[0] = Event{}
		a.events = a.events[1:]
		a.mu.Unlock()
		a.notify(ev)
	}
}
