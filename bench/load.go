package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genos-project/genos/core/api"
)

// turnTimeout bounds one chat round trip. A zero-latency model answers in
// milliseconds, so hitting it means the gateway lost or stalled the run.
const turnTimeout = 30 * time.Second

// errFatal marks a worker error after which the worker cannot go on (the
// connection is gone, or a run never finished and its session is stuck).
var errFatal = errors.New("worker stopped")

// router hands the terminal chat event of each session to the worker
// waiting for it. One router reads one connection's event stream.
type router struct {
	mu      sync.Mutex
	waiting map[string]chan api.ChatEvent
	done    chan struct{} // closed when the event stream ends
	lastSeq uint64
	gaps    atomic.Uint64 // events the client library dropped (seq gaps)
}

func newRouter(c *api.Client) *router {
	// The buffer absorbs bursts: with broadcast events, every connection
	// receives the events of every session.
	events, _ := c.Subscribe(1 << 15)
	r := &router{waiting: make(map[string]chan api.ChatEvent), done: make(chan struct{})}
	go r.loop(events)
	return r
}

func (r *router) loop(events <-chan api.Frame) {
	defer close(r.done)
	deltaMark := []byte(`"state":"delta"`)
	for f := range events {
		if r.lastSeq != 0 && f.Seq > r.lastSeq+1 {
			r.gaps.Add(f.Seq - r.lastSeq - 1)
		}
		r.lastSeq = f.Seq
		if f.Event != api.EventChat || bytes.Contains(f.Payload, deltaMark) {
			continue
		}
		var ev api.ChatEvent
		if json.Unmarshal(f.Payload, &ev) != nil {
			continue
		}
		switch ev.State {
		case api.ChatFinal, api.ChatError, api.ChatAborted:
		default:
			continue
		}
		r.mu.Lock()
		ch := r.waiting[ev.SessionKey]
		delete(r.waiting, ev.SessionKey)
		r.mu.Unlock()
		if ch != nil {
			ch <- ev // buffered: never blocks the loop
		}
	}
}

// expect registers interest in the next terminal event of sessionKey. It
// must be called before chat.send, since the event can arrive before the
// response does.
func (r *router) expect(sessionKey string) (<-chan api.ChatEvent, func()) {
	ch := make(chan api.ChatEvent, 1)
	r.mu.Lock()
	r.waiting[sessionKey] = ch
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		if r.waiting[sessionKey] == ch {
			delete(r.waiting, sessionKey)
		}
		r.mu.Unlock()
	}
}

// worker drives one session (rotated every perSession turns) through one
// connection, one round trip at a time.
type worker struct {
	id         int
	client     *api.Client
	router     *router
	agentID    string
	perSession int

	gen  int // session generation
	turn int // turns done in the current generation
	seq  int // round trips started, for unique messages and idempotency keys
}

// sessionKey is the worker's current session: agent:<id>:bench:direct:w<i>,
// then w<i>-<gen> after each rotation.
func (w *worker) sessionKey() string {
	peer := fmt.Sprintf("w%d", w.id)
	if w.gen > 0 {
		peer += fmt.Sprintf("-%d", w.gen)
	}
	return "agent:" + w.agentID + ":bench:direct:" + peer
}

// roundTrip sends one message and waits for its final event, returning the
// time from just before chat.send to the final event.
func (w *worker) roundTrip(ctx context.Context) (time.Duration, error) {
	if w.perSession > 0 && w.turn >= w.perSession {
		w.gen++
		w.turn = 0
	}
	w.turn++
	w.seq++
	key := w.sessionKey()
	msg := fmt.Sprintf("bench w%d n%d", w.id, w.seq)
	wait, cancel := w.router.expect(key)
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, turnTimeout)
	defer scancel()
	t0 := time.Now()
	res, err := w.client.ChatSend(sctx, api.ChatSendParams{
		SessionKey:     key,
		Message:        msg,
		IdempotencyKey: fmt.Sprintf("bench-w%d-n%d", w.id, w.seq),
	})
	if err != nil {
		var shape *api.ErrorShape
		if !errors.As(err, &shape) {
			// Not an answer from the gateway: closed connection, timeout.
			return 0, fmt.Errorf("%w: chat.send: %w", errFatal, err)
		}
		return 0, fmt.Errorf("chat.send: %w", err)
	}
	timer := time.NewTimer(turnTimeout)
	defer timer.Stop()
	select {
	case ev := <-wait:
		rtt := time.Since(t0)
		return rtt, checkFinal(ev, res.RunID, msg)
	case <-w.router.done:
		return 0, fmt.Errorf("%w: connection closed while waiting for run %s", errFatal, res.RunID)
	case <-timer.C:
		return 0, fmt.Errorf("%w: no final chat event for run %s on %s within %s", errFatal, res.RunID, key, turnTimeout)
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", errFatal, ctx.Err())
	}
}

// checkFinal verifies that a terminal event is the successful end of runID
// and carries the loopback model's echo of msg.
func checkFinal(ev api.ChatEvent, runID, msg string) error {
	switch {
	case ev.RunID != runID:
		return fmt.Errorf("terminal event for %s names run %s, chat.send returned %s", ev.SessionKey, ev.RunID, runID)
	case ev.State == api.ChatError:
		return fmt.Errorf("run failed: %s", truncate(ev.ErrorMessage, 200))
	case ev.State != api.ChatFinal:
		return fmt.Errorf("run ended %s", ev.State)
	case ev.Message == nil:
		return errors.New("final event without a message")
	case strings.TrimSpace(ev.Message.Content) != "echo: "+msg:
		return fmt.Errorf("final message %q is not the echo of %q", truncate(ev.Message.Content, 80), msg)
	}
	return nil
}

// phaseResult is what one timed phase of round trips produced.
type phaseResult struct {
	rtts    []time.Duration
	errs    int
	samples []string // the first few distinct errors
	fatal   int      // workers that had to stop
	elapsed time.Duration
}

func (p *phaseResult) addErr(err error) {
	p.errs++
	if errors.Is(err, errFatal) {
		p.fatal++
	}
	if len(p.samples) < 5 {
		p.samples = append(p.samples, err.Error())
	}
}

// runPhase runs every worker for d and collects round trip times. Workers go
// back to back, or pause about think after each round trip when think > 0 (a
// paced, unsaturated load). Paced workers start at random offsets and draw
// each pause uniformly from [think/2, 3·think/2]: in lockstep, 16 users
// would all press Enter in the same millisecond every time, which measures a
// burst queue rather than the latency one message sees. A worker starts no new round trip after d;
// elapsed runs until the last one in flight has finished, so throughput is
// not overstated.
func runPhase(ctx context.Context, workers []*worker, d, think time.Duration) phaseResult {
	var (
		mu  sync.Mutex
		res phaseResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for _, w := range workers {
		wg.Go(func() {
			var local []time.Duration
			if think > 0 && !sleepCtx(ctx, rand.N(think)) {
				return
			}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				rtt, err := w.roundTrip(ctx)
				if err != nil {
					mu.Lock()
					res.addErr(fmt.Errorf("worker %d: %w", w.id, err))
					mu.Unlock()
					if errors.Is(err, errFatal) {
						break
					}
					continue
				}
				local = append(local, rtt)
				if think > 0 && !sleepCtx(ctx, min(think/2+rand.N(think), time.Until(deadline))) {
					break
				}
			}
			mu.Lock()
			res.rtts = append(res.rtts, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// replayHeader marks the harness's own requests to the model server, so they
// can be told apart from the gateway's.
const replayHeader = "X-Genos-Bench-Replay"

// newReplayClient returns a client that keeps a connection per replay
// goroutine alive. Close its idle connections only after the TIME_WAIT count,
// or the replay's own closed sockets would be counted as the gateway's.
func newReplayClient(concurrency int) (*http.Client, *http.Transport) {
	tr := &http.Transport{MaxIdleConns: 2 * concurrency, MaxIdleConnsPerHost: 2 * concurrency}
	return &http.Client{Transport: tr, Timeout: turnTimeout}, tr
}

// minReplaySamples is how many timed replays a p99 needs to mean anything;
// the replay runs past its duration (up to replayOverrun times it) until it
// has them.
const (
	minReplaySamples = 500
	replayOverrun    = 5
)

// replayModel posts recorded gateway request bodies straight to the model
// server from `concurrency` goroutines for d (or until minReplaySamples) and
// times each complete response (status line to the end of the SSE stream).
// It is the model's share of a round trip, measured without the gateway at
// the same concurrency; each goroutine's first request only opens its
// connection and is not timed.
func replayModel(ctx context.Context, client *http.Client, url string, bodies [][]byte, concurrency int, d time.Duration) ([]time.Duration, error) {
	if len(bodies) == 0 {
		return nil, errors.New("no recorded model requests to replay")
	}
	post := func(body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+benchKey)
		req.Header.Set(replayHeader, "1")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("model server answered %s", resp.Status)
		}
		return nil
	}
	var (
		mu    sync.Mutex
		times []time.Duration
		errs  []error
		wg    sync.WaitGroup
	)
	var done atomic.Int64
	start := time.Now()
	deadline, hardStop := start.Add(d), start.Add(replayOverrun*d)
	more := func() bool {
		now := time.Now()
		return ctx.Err() == nil && now.Before(hardStop) && (now.Before(deadline) || done.Load() < minReplaySamples)
	}
	for i := range concurrency {
		wg.Go(func() {
			if err := post(bodies[i%len(bodies)]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			var local []time.Duration
			for k := i; more(); k += concurrency {
				t0 := time.Now()
				if err := post(bodies[k%len(bodies)]); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
				done.Add(1)
			}
			mu.Lock()
			times = append(times, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return times, fmt.Errorf("replay to the model server: %w", errors.Join(errs...))
	}
	return times, nil
}

// sleepCtx sleeps d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
