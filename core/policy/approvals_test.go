package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a manual clock: timers fire only when Advance passes them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at   time.Time
	c    chan time.Time
	done bool // fired or stopped
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.done
		t.done = true
		return was
	}
}

// Advance moves the clock and fires every timer that is now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			t.c <- c.now
		}
	}
}

// harness is an Approvals on a fake clock whose events land in a channel.
type harness struct {
	a      *Approvals
	clock  *fakeClock
	events chan Event
}

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, timeout time.Duration) *harness {
	t.Helper()
	h := &harness{clock: &fakeClock{now: start}, events: make(chan Event, 1000)}
	h.a = NewApprovals(timeout, func(e Event) { h.events <- e })
	h.a.now, h.a.after = h.clock.Now, h.clock.After
	return h
}

// next returns the next event. The deadline only stops a broken test from
// hanging; no test depends on how long anything takes.
func (h *harness) next(t *testing.T) Event {
	t.Helper()
	select {
	case e := <-h.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event arrived")
		return Event{}
	}
}

type outcome struct {
	d   Decision
	err error
}

func (h *harness) request(ctx context.Context, req Request) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		d, err := h.a.Request(ctx, req)
		ch <- outcome{d, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("Request did not return")
		return outcome{}
	}
}

func execReq(agent string) Request {
	return Request{AgentID: agent, SessionKey: "s1", RunID: "r1", Tool: "exec", Category: "exec",
		Args: json.RawMessage(`{"command":"ls"}`), Reason: "exec asks"}
}

var idPattern = regexp.MustCompile(`^ap_[0-9a-f]{12}$`)

func TestResolveDecisions(t *testing.T) {
	t.Parallel()
	for _, d := range []Decision{DecisionAllowOnce, DecisionAllowAlways, DecisionDeny} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 0)
			done := h.request(context.Background(), execReq("a1"))
			ev := h.next(t)
			if ev.Kind != EventRequested || ev.Decision != "" {
				t.Fatalf("first event = %+v, want requested", ev)
			}
			req := ev.Request
			if !idPattern.MatchString(req.ID) {
				t.Errorf("ID %q does not match %s", req.ID, idPattern)
			}
			if !req.CreatedAt.Equal(start) || !req.ExpiresAt.Equal(start.Add(DefaultApprovalTimeout)) {
				t.Errorf("CreatedAt/ExpiresAt = %v/%v", req.CreatedAt, req.ExpiresAt)
			}
			if diff := cmp.Diff([]Request{req}, h.a.List()); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if h.a.Pending() != 1 {
				t.Errorf("Pending = %d, want 1", h.a.Pending())
			}
			got, err := h.a.Resolve(req.ID, d)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(req, got); diff != "" {
				t.Errorf("Resolve returned (-want +got):\n%s", diff)
			}
			o := wait(t, done)
			if o.err != nil || o.d != d {
				t.Errorf("Request = %q, %v; want %q", o.d, o.err, d)
			}
			if o.d.Allowed() != (d != DecisionDeny) {
				t.Errorf("%q.Allowed() = %v", d, o.d.Allowed())
			}
			if ev := h.next(t); ev.Kind != EventResolved || ev.Decision != d || ev.Request.ID != req.ID {
				t.Errorf("second event = %+v, want resolved %s", ev, d)
			}
			if h.a.Pending() != 0 || len(h.a.List()) != 0 {
				t.Errorf("queue not empty after resolve")
			}
		})
	}
}

func TestTimeoutDenies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 30*time.Second)
	done := h.request(context.Background(), execReq("a1"))
	req := h.next(t).Request
	if !req.ExpiresAt.Equal(start.Add(30 * time.Second)) {
		t.Errorf("ExpiresAt = %v", req.ExpiresAt)
	}
	h.clock.Advance(29 * time.Second)
	if h.a.Pending() != 1 {
		t.Fatalf("request gone before its deadline")
	}
	h.clock.Advance(time.Second)
	o := wait(t, done)
	if o.err != nil || o.d != DecisionTimeout || o.d.Allowed() {
		t.Errorf("Request = %q, %v; want timeout (not allowed)", o.d, o.err)
	}
	if ev := h.next(t); ev.Kind != EventResolved || ev.Decision != DecisionTimeout || ev.Request.ID != req.ID {
		t.Errorf("event = %+v, want resolved timeout", ev)
	}
	if _, err := h.a.Resolve(req.ID, DecisionAllowOnce); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after timeout = %v, want ErrNotFound", err)
	}
}

// TestResolveAfterDeadline covers the window where the deadline has passed
// but the timer goroutine has not run yet: the owner's late answer loses.
func TestResolveAfterDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Minute)
	h.a.after = func(time.Duration) (<-chan time.Time, func() bool) { return nil, func() bool { return true } }
	done := h.request(context.Background(), execReq("a1"))
	req := h.next(t).Request
	h.clock.Advance(time.Minute)
	if _, err := h.a.Resolve(req.ID, DecisionAllowOnce); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after deadline = %v, want ErrNotFound", err)
	}
	if o := wait(t, done); o.d != DecisionTimeout || o.err != nil {
		t.Errorf("Request = %q, %v; want timeout", o.d, o.err)
	}
	if ev := h.next(t); ev.Decision != DecisionTimeout {
		t.Errorf("event = %+v, want resolved timeout", ev)
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	done := h.request(context.Background(), execReq("a1"))
	id := h.next(t).Request.ID
	for _, d := range []Decision{"", DecisionTimeout, "allow", "ALLOW-ONCE"} {
		if _, err := h.a.Resolve(id, d); !errors.Is(err, ErrBadDecision) {
			t.Errorf("Resolve(%q) = %v, want ErrBadDecision", d, err)
		}
	}
	if h.a.Pending() != 1 {
		t.Fatalf("a bad decision removed the request")
	}
	if _, err := h.a.Resolve("ap_000000000000", DecisionDeny); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := h.a.Resolve(id, DecisionDeny); err != nil {
		t.Fatalf("first Resolve: %v", err)
	}
	if _, err := h.a.Resolve(id, DecisionAllowOnce); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Resolve = %v, want ErrNotFound", err)
	}
	if o := wait(t, done); o.d != DecisionDeny {
		t.Errorf("Request = %q, want the first decision (deny)", o.d)
	}
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := h.request(ctx, execReq("a1"))
	id := h.next(t).Request.ID
	cancel()
	o := wait(t, done)
	if !errors.Is(o.err, context.Canceled) || o.d.Allowed() {
		t.Errorf("Request = %q, %v; want a denial with context.Canceled", o.d, o.err)
	}
	if ev := h.next(t); ev.Kind != EventResolved || ev.Decision != DecisionDeny || ev.Request.ID != id {
		t.Errorf("event = %+v, want resolved deny", ev)
	}
	if h.a.Pending() != 0 {
		t.Errorf("cancelled request still pending")
	}
	if _, err := h.a.Resolve(id, DecisionAllowOnce); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after cancel = %v, want ErrNotFound", err)
	}
}

func TestRequestRefusedUpFront(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		req  Request
		want string
	}{
		{"no agent", context.Background(), Request{Tool: "exec"}, "agent ID is empty"},
		{"no tool", context.Background(), Request{AgentID: "a1"}, "tool is empty"},
		{"bad args", context.Background(), Request{AgentID: "a1", Tool: "exec", Args: json.RawMessage(`{"x":`)}, "args are not valid JSON"},
		{"cancelled context", cancelled, execReq("a1"), context.Canceled.Error()},
	}
	for _, tt := range tests {
		d, err := h.a.Request(tt.ctx, tt.req)
		if err == nil || d.Allowed() || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Request = %q, %v; want a denial mentioning %q", tt.name, d, err, tt.want)
		}
	}
	if h.a.Pending() != 0 || len(h.events) != 0 {
		t.Errorf("refused requests were queued or announced")
	}
}

func TestAllowAlwaysShortCircuits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	done := h.request(context.Background(), execReq("a1"))
	id := h.next(t).Request.ID
	if _, err := h.a.Resolve(id, DecisionAllowAlways); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	h.next(t) // resolved

	d, err := h.a.Request(context.Background(), execReq("a1"))
	if err != nil || d != DecisionAllowAlways {
		t.Errorf("repeat Request = %q, %v; want allow-always", d, err)
	}
	if h.a.Pending() != 0 || len(h.events) != 0 {
		t.Errorf("short-circuited request was queued or announced")
	}

	// The grant covers only that agent and that tool.
	other := h.request(context.Background(), execReq("a2"))
	ev := h.next(t)
	if ev.Request.AgentID != "a2" {
		t.Fatalf("event = %+v, want a2's request", ev)
	}
	write := execReq("a1")
	write.Tool, write.Category = "write", "write"
	otherTool := h.request(context.Background(), write)
	ev2 := h.next(t)
	if ev2.Request.Tool != "write" {
		t.Fatalf("event = %+v, want the write request", ev2)
	}
	for _, id := range []string{ev.Request.ID, ev2.Request.ID} {
		if _, err := h.a.Resolve(id, DecisionDeny); err != nil {
			t.Fatal(err)
		}
	}
	if wait(t, other).d != DecisionDeny || wait(t, otherTool).d != DecisionDeny {
		t.Errorf("requests for another agent or tool were not queued for the owner")
	}
}

func TestAllowAlwaysAnswersWaitingTwins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	first := h.request(context.Background(), execReq("a1"))
	id1 := h.next(t).Request.ID
	second := h.request(context.Background(), execReq("a1"))
	id2 := h.next(t).Request.ID
	otherAgent := h.request(context.Background(), execReq("a2"))
	id3 := h.next(t).Request.ID

	if _, err := h.a.Resolve(id1, DecisionAllowAlways); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan outcome{first, second} {
		if o := wait(t, ch); o.d != DecisionAllowAlways {
			t.Errorf("Request = %q, want allow-always", o.d)
		}
	}
	got := []string{h.next(t).Request.ID, h.next(t).Request.ID}
	if diff := cmp.Diff([]string{id1, id2}, got); diff != "" {
		t.Errorf("resolved events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{id3}, ids(h.a.List())); diff != "" {
		t.Errorf("still pending (-want +got):\n%s", diff)
	}
	if _, err := h.a.Resolve(id3, DecisionDeny); err != nil {
		t.Fatal(err)
	}
	wait(t, otherAgent)
}

func ids(rs []Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestListOldestFirstAndCopies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	var want []string
	var chans []<-chan outcome
	for i := range 5 {
		chans = append(chans, h.request(context.Background(), execReq(fmt.Sprintf("a%d", i))))
		want = append(want, h.next(t).Request.ID) // wait so creation order is known
		h.clock.Advance(time.Second)
	}
	list := h.a.List()
	if diff := cmp.Diff(want, ids(list)); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
	list[0].Args[0] = 'X'
	if h.a.List()[0].Args[0] != '{' {
		t.Errorf("List shares Args with the queue")
	}
	for _, id := range want {
		if _, err := h.a.Resolve(id, DecisionDeny); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range chans {
		wait(t, ch)
	}
}

// TestConcurrentRequestsAndResolves runs many requests against a resolver
// driven by the event stream, under -race, and checks every caller gets its
// own decision and every request is announced before it is resolved.
func TestConcurrentRequestsAndResolves(t *testing.T) {
	t.Parallel()
	const n = 64
	var (
		mu  sync.Mutex
		log []Event
	)
	a := NewApprovals(time.Hour, func(e Event) {
		mu.Lock()
		log = append(log, e)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	results := make([]Decision, n)
	for i := range n {
		wg.Go(func() {
			req := execReq(fmt.Sprintf("agent%d", i))
			req.Args = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
			d, err := a.Request(context.Background(), req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			results[i] = d
		})
	}
	// Resolve whatever is pending until every caller is answered; even
	// indexes are allowed, odd ones denied. Several resolvers race each
	// other on purpose.
	var resolvers sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		resolvers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, r := range a.List() {
					var args struct{ I int }
					if err := json.Unmarshal(r.Args, &args); err != nil {
						t.Error(err)
						return
					}
					d := DecisionAllowOnce
					if args.I%2 == 1 {
						d = DecisionDeny
					}
					if _, err := a.Resolve(r.ID, d); err != nil && !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	resolvers.Wait()

	for i, d := range results {
		want := DecisionAllowOnce
		if i%2 == 1 {
			want = DecisionDeny
		}
		if d != want {
			t.Errorf("request %d got %q, want %q", i, d, want)
		}
	}
	if a.Pending() != 0 {
		t.Errorf("Pending = %d after all resolved", a.Pending())
	}
	// Every goroutine that touched a has returned, so delivery is complete:
	// a deliverer only stops once the queue is empty.
	mu.Lock()
	defer mu.Unlock()
	checkOrdering(t, log, n)
}

// checkOrdering asserts each request has exactly one requested event
// followed later by exactly one resolved event.
func checkOrdering(t *testing.T, log []Event, n int) {
	t.Helper()
	requested := map[string]int{}
	resolved := map[string]int{}
	for i, e := range log {
		switch e.Kind {
		case EventRequested:
			if _, dup := requested[e.Request.ID]; dup {
				t.Errorf("duplicate requested event for %s", e.Request.ID)
			}
			requested[e.Request.ID] = i
		case EventResolved:
			if _, dup := resolved[e.Request.ID]; dup {
				t.Errorf("duplicate resolved event for %s", e.Request.ID)
			}
			resolved[e.Request.ID] = i
		}
	}
	if len(requested) != n || len(resolved) != n {
		t.Fatalf("got %d requested and %d resolved events, want %d each", len(requested), len(resolved), n)
	}
	for id, ri := range requested {
		if si, ok := resolved[id]; !ok || si < ri {
			t.Errorf("%s: resolved at %d, requested at %d", id, si, ri)
		}
	}
}

// TestNotifyMayCallBack has a subscriber that lists and resolves from inside
// notify, like an auto-approver or the chat /approve path would. It must not
// deadlock and events must stay ordered.
func TestNotifyMayCallBack(t *testing.T) {
	t.Parallel()
	var (
		a   *Approvals
		mu  sync.Mutex
		log []Event
	)
	a = NewApprovals(time.Hour, func(e Event) {
		mu.Lock()
		log = append(log, e)
		mu.Unlock()
		if e.Kind != EventRequested {
			return
		}
		if len(a.List()) == 0 || a.Pending() == 0 {
			t.Error("List inside notify does not see the new request")
		}
		if _, err := a.Resolve(e.Request.ID, DecisionAllowOnce); err != nil {
			t.Error(err)
		}
	})
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d, err := a.Request(context.Background(), execReq(fmt.Sprintf("a%d", i)))
			if err != nil || d != DecisionAllowOnce {
				t.Errorf("Request = %q, %v", d, err)
			}
		})
	}
	// Once every goroutine that touched a has returned, delivery is
	// complete: a deliverer only stops when the queue is empty.
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	checkOrdering(t, log, n)
}
