package session

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// waitFor polls cond until it holds; it fails the test after a generous
// deadline. It synchronises with the queue's internal state, it does not
// assert on timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func assertIdle(t *testing.T, q *Queue) {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.keys) != 0 || q.slots.Len() != 0 || q.active != 0 {
		t.Errorf("queue not idle: %d keys, %d slot waiters, %d active", len(q.keys), q.slots.Len(), q.active)
	}
}

func TestQueueSameKeyFIFO(t *testing.T) {
	q := NewQueue(4)
	ctx := t.Context()
	release := make(chan struct{})
	var (
		mu      sync.Mutex
		order   []int
		running int
	)
	var wg sync.WaitGroup
	const n = 6
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := q.Do(ctx, "k", func(context.Context) error {
				mu.Lock()
				running++
				if running > 1 {
					t.Errorf("run %d overlaps another run of the same key", i)
				}
				order = append(order, i)
				mu.Unlock()
				if i == 0 {
					<-release
				}
				mu.Lock()
				running--
				mu.Unlock()
				return fmt.Errorf("run %d", i)
			})
			if err == nil || err.Error() != fmt.Sprintf("run %d", i) {
				t.Errorf("Do returned %v, want fn's error", err)
			}
		}()
		// Enqueue strictly one after another so arrival order is known.
		if i == 0 {
			waitFor(t, "first run active", func() bool { return q.Active() == 1 })
		} else {
			waitFor(t, fmt.Sprintf("%d waiting", i), func() bool { return q.Waiting("k") == i })
		}
	}
	close(release)
	wg.Wait()
	if d := cmp.Diff([]int{0, 1, 2, 3, 4, 5}, order); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
	assertIdle(t, q)
}

func TestQueueParallelUpToLimit(t *testing.T) {
	const limit, keys = 3, 7
	q := NewQueue(limit)
	ctx := t.Context()
	release := make(chan struct{})
	var (
		mu          sync.Mutex
		running, hi int
	)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = q.Do(ctx, fmt.Sprintf("k%d", i), func(context.Context) error {
				mu.Lock()
				running++
				hi = max(hi, running)
				mu.Unlock()
				<-release
				mu.Lock()
				running--
				mu.Unlock()
				return nil
			})
		}()
	}
	waitFor(t, "limit reached and others queued", func() bool {
		total := 0
		for i := range keys {
			total += q.Waiting(fmt.Sprintf("k%d", i))
		}
		return q.Active() == limit && total == keys-limit
	})
	close(release)
	wg.Wait()
	if hi != limit {
		t.Errorf("peak concurrency = %d, want %d", hi, limit)
	}
	assertIdle(t, q)
}

func TestQueueCancelWhileWaitingForKey(t *testing.T) {
	q := NewQueue(2)
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- q.Do(t.Context(), "k", func(context.Context) error { <-release; return nil })
	}()
	waitFor(t, "holder active", func() bool { return q.Active() == 1 })

	ctx, cancel := context.WithCancel(t.Context())
	ran := false
	waiterDone := make(chan error)
	go func() {
		waiterDone <- q.Do(ctx, "k", func(context.Context) error { ran = true; return nil })
	}()
	waitFor(t, "waiter queued", func() bool { return q.Waiting("k") == 1 })
	cancel()
	if err := <-waiterDone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Do = %v, want context.Canceled", err)
	}
	if q.Waiting("k") != 0 {
		t.Errorf("Waiting = %d after cancel, want 0", q.Waiting("k"))
	}
	// A later run still gets the key once the holder finishes.
	third := make(chan error)
	go func() { third <- q.Do(t.Context(), "k", func(context.Context) error { return nil }) }()
	waitFor(t, "third queued", func() bool { return q.Waiting("k") == 1 })
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Error("cancelled run executed")
	}
	assertIdle(t, q)
}

func TestQueueCancelWhileWaitingForSlot(t *testing.T) {
	q := NewQueue(1)
	release := make(chan struct{})
	done := make(chan error)
	go func() { done <- q.Do(t.Context(), "a", func(context.Context) error { <-release; return nil }) }()
	waitFor(t, "a active", func() bool { return q.Active() == 1 })

	ctx, cancel := context.WithCancel(t.Context())
	bDone := make(chan error)
	go func() { bDone <- q.Do(ctx, "b", func(context.Context) error { t.Error("b ran"); return nil }) }()
	waitFor(t, "b waiting for a slot", func() bool { return q.Waiting("b") == 1 })
	cancel()
	if err := <-bDone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Do = %v", err)
	}
	if q.Waiting("b") != 0 {
		t.Errorf("Waiting(b) = %d after cancel", q.Waiting("b"))
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	assertIdle(t, q)
}

func TestQueueCancelledBeforeStart(t *testing.T) {
	q := NewQueue(1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Do(ctx, "k", func(context.Context) error { t.Error("ran"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do = %v", err)
	}
	assertIdle(t, q)
}

func TestQueuePanicReleases(t *testing.T) {
	q := NewQueue(1)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic not propagated")
			}
		}()
		_ = q.Do(t.Context(), "k", func(context.Context) error { panic("boom") })
	}()
	assertIdle(t, q)
	if err := q.Do(t.Context(), "k", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestQueueStressNoLeaks races many runs and cancellations across few keys
// and checks that the queue ends empty and holds no goroutines.
func TestQueueStressNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	q := NewQueue(3)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		perKey  = map[string]int{}
		running int
	)
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i%5)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if i%4 == 0 {
				go cancel() // cancellations racing with grants
			}
			_ = q.Do(ctx, key, func(context.Context) error {
				mu.Lock()
				perKey[key]++
				running++
				if perKey[key] > 1 || running > 3 {
					t.Errorf("limits broken: key %s x%d, %d running", key, perKey[key], running)
				}
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				perKey[key]--
				running--
				mu.Unlock()
				return nil
			})
		}()
	}
	wg.Wait()
	assertIdle(t, q)
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

func TestNewQueueClampsLimit(t *testing.T) {
	q := NewQueue(0)
	if err := q.Do(t.Context(), "k", func(context.Context) error {
		if q.Active() != 1 {
			t.Errorf("Active = %d", q.Active())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestReserveKeepsOrder: places taken with Reserve run in reservation
// order even when their goroutines start in the opposite order.
func TestReserveKeepsOrder(t *testing.T) {
	q := NewQueue(4)
	const n = 8
	tickets := make([]*Ticket, n)
	for i := range tickets {
		tickets[i] = q.Reserve("k")
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		wg.Go(func() {
			_ = tickets[i].Do(context.Background(), func(context.Context) error {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				return nil
			})
		})
	}
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("ran in order %v, want 0..%d", order, n-1)
		}
	}
	if q.Waiting("k") != 0 {
		t.Fatal("line not empty after all tickets ran")
	}
}

// TestReserveCancelled: a ticket whose ctx ends gives up its place and the
// line moves on.
func TestReserveCancelled(t *testing.T) {
	q := NewQueue(1)
	first, second, third := q.Reserve("k"), q.Reserve("k"), q.Reserve("k")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := second.Do(ctx, func(context.Context) error { return nil }); err == nil {
		t.Fatal("a cancelled ticket ran")
	}
	ran := 0
	for _, tk := range []*Ticket{first, third} {
		if err := tk.Do(context.Background(), func(context.Context) error { ran++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if ran != 2 {
		t.Fatalf("ran %d, want 2", ran)
	}
}
