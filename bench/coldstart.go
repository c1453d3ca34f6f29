package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/genos-project/genos/core/api"
)

// pollInterval is how often the cold-start probes retry.
const pollInterval = time.Millisecond

// coldSample is one timed gateway start, each duration measured from just
// before exec.
type coldSample struct {
	line time.Duration // the address line appeared on stdout
	http time.Duration // first successful GET /health
	rpc  time.Duration // first health RPC answered over the WebSocket
	// ready: first chat.history answered, which needs the vault unlocked
	// (the gateway unlocks from GENOS_VAULT_PASSPHRASE after it answers).
	ready time.Duration
}

// measureColdStarts times runs gateway starts. With restart set, each state
// dir is first initialised by a start and a clean stop, so the timed start
// finds an existing database, agent and token, as on every start but the
// first.
func measureColdStarts(ctx context.Context, o *options, modelURL string, restart bool) ([]coldSample, error) {
	var samples []coldSample
	for i := range o.coldRuns {
		s, err := coldStartOnce(ctx, o, modelURL, restart)
		if err != nil {
			return samples, fmt.Errorf("cold start run %d: %w", i+1, err)
		}
		samples = append(samples, s)
	}
	return samples, nil
}

func coldStartOnce(ctx context.Context, o *options, modelURL string, restart bool) (_ coldSample, err error) {
	dir, err := newStateDir(modelURL)
	if err != nil {
		return coldSample{}, err
	}
	defer o.cleanup(dir)
	if restart {
		g, err := startGateway(ctx, o.bin, dir)
		if err != nil {
			return coldSample{}, fmt.Errorf("initial start: %w", err)
		}
		if err := g.stop(); err != nil {
			return coldSample{}, fmt.Errorf("initial stop: %w", err)
		}
	}
	g, err := startGateway(ctx, o.bin, dir)
	if err != nil {
		return coldSample{}, err
	}
	defer func() {
		if serr := g.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	token, err := g.token()
	if err != nil {
		return coldSample{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Both probes start as soon as the address is known and run side by side,
	// so neither is delayed by waiting for the other.
	var (
		wg              sync.WaitGroup
		httpAt, rpcAt   time.Duration
		httpErr, rpcErr error
	)
	wg.Go(func() { httpAt, httpErr = pollHealthHTTP(pctx, g.healthURL(), g.started) })
	wg.Go(func() { rpcAt, rpcErr = pollHealthRPC(pctx, g, token, g.started) })
	wg.Wait()
	if err := errors.Join(httpErr, rpcErr); err != nil {
		return coldSample{}, err
	}
	readyAt, err := waitUnlocked(pctx, g, token, g.started)
	if err != nil {
		return coldSample{}, err
	}
	return coldSample{line: g.ready.Sub(g.started), http: httpAt, rpc: rpcAt, ready: readyAt}, nil
}

// waitUnlocked calls chat.history, which the gateway answers once its vault
// is unlocked, and returns the time since start of the answer.
func waitUnlocked(ctx context.Context, g *gatewayProc, token string, start time.Time) (time.Duration, error) {
	c, err := g.dial(ctx, token, "genos-bench-cold")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.ChatHistory(ctx, api.ChatHistoryParams{Limit: 1}); err != nil {
		return 0, fmt.Errorf("chat.history after start: %w", err)
	}
	return time.Since(start), nil
}

// pollHealthHTTP GETs /health every pollInterval until it answers 200 with
// ok:true, and returns the time since start.
func pollHealthHTTP(ctx context.Context, url string, start time.Time) (time.Duration, error) {
	// No keep-alive: every attempt is a fresh connection, as a probe's is.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, fmt.Errorf("GET /health: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			var h api.HealthResult
			derr := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK && derr == nil && h.OK:
				return time.Since(start), nil
			case resp.StatusCode != http.StatusOK:
				last = fmt.Errorf("status %s", resp.Status)
			case derr != nil:
				last = fmt.Errorf("bad body: %w", derr)
			default:
				last = errors.New("answered ok:false")
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("GET /health never succeeded: %w", last)
		case <-tick.C:
		}
	}
}

// pollHealthRPC connects over the WebSocket and calls health, retrying every
// pollInterval, and returns the time since start of the first answer.
func pollHealthRPC(ctx context.Context, g *gatewayProc, token string, start time.Time) (time.Duration, error) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		c, err := g.dial(ctx, token, "genos-bench-cold")
		if err == nil {
			h, herr := c.Health(ctx)
			at := time.Since(start)
			c.Close()
			if herr == nil && h.OK {
				return at, nil
			}
			last = herr
			if herr == nil {
				last = errors.New("health answered ok:false")
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("health RPC never succeeded: %w", last)
		case <-tick.C:
		}
	}
}

// coldRows turns the samples into table rows.
func coldRows(o *options, samples []coldSample, restart bool) []row {
	state := "fresh state dir"
	cmd := gatewayCommand(o.bin)
	if restart {
		state = "existing state dir"
		cmd += " (second start on the same state dir)"
	}
	pick := func(f func(coldSample) time.Duration) summary {
		d := make([]time.Duration, len(samples))
		for i, s := range samples {
			d[i] = f(s)
		}
		return summarize(d)
	}
	line := pick(func(s coldSample) time.Duration { return s.line })
	httpS := pick(func(s coldSample) time.Duration { return s.http })
	rpc := pick(func(s coldSample) time.Duration { return s.rpc })
	ready := pick(func(s coldSample) time.Duration { return s.ready })
	return []row{
		{
			Name:    "cold start → address printed (" + state + ")",
			Value:   minMedMax(line),
			Command: cmd + "; time from exec to the `listening on ws://…` line",
		},
		{
			Name:    "cold start → first GET /health (" + state + ")",
			Value:   minMedMax(httpS),
			Target:  "median < " + fmtDur(o.coldTarget),
			Verdict: judge(httpS.N > 0 && httpS.P50 < o.coldTarget),
			Command: fmt.Sprintf("%s; GET /health every %s from when the address is printed, new connection per try", cmd, pollInterval),
		},
		{
			Name:    "cold start → first health RPC over WebSocket (" + state + ")",
			Value:   minMedMax(rpc),
			Target:  "median < " + fmtDur(o.coldTarget),
			Verdict: judge(rpc.N > 0 && rpc.P50 < o.coldTarget),
			Command: fmt.Sprintf("%s; dial /ws, connect with the token, call health; retry every %s", cmd, pollInterval),
		},
		{
			Name:    "cold start → vault unlocked, first chat.history answer (" + state + ")",
			Value:   minMedMax(ready),
			Command: cmd + "; after the health RPC, dial and call chat.history, which waits for the unlock (one PBKDF2) in progress",
		},
	}
}

func minMedMax(s summary) string {
	return fmt.Sprintf("min %s / median %s / max %s (n=%d)", fmtDur(s.Min), fmtDur(s.P50), fmtDur(s.Max), s.N)
}

// cleanup removes a state dir unless -keep asked to keep it.
func (o *options) cleanup(dir string) {
	if o.keep {
		fmt.Fprintf(o.progress, "bench: kept state dir %s\n", dir)
		return
	}
	os.RemoveAll(dir)
}
