package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/model/modeltest"
)

// chatLevel is one load level of the chat benchmark.
type chatLevel struct {
	sessions   int
	sharedConn bool          // every worker on one WebSocket connection
	think      time.Duration // pause after each round trip; 0 = back to back
}

func (l chatLevel) String() string {
	s := plural(l.sessions, "session")
	if l.sharedConn {
		s += ", 1 shared connection"
	}
	if l.think > 0 {
		s += fmt.Sprintf(", paced (%s between messages)", l.think)
	}
	return s
}

// chatResult is what one level measured.
type chatResult struct {
	level  chatLevel
	phase  phaseResult     // the timed phase
	warmup phaseResult     // the warm-up phase (errors only)
	model  []time.Duration // direct replay timings, the model's share
	// replayConc is how many clients the replay used: the number of sessions,
	// or for a paced level the number of round trips in flight on average.
	replayConc int
	agentID    string

	// Gateway health around the load, for the notes.
	memAfter              procMem
	fdsBefore, fdsAfter   int
	timeWait              int
	gaps                  uint64
	logWarn, logErr       int
	logSamples            []string
	modelRequests         int           // chat requests the gateway sent to the model
	roundTrips            int           // round trips attempted (warm-up and timed)
	gatewayCPU            time.Duration // CPU the gateway used in the timed phase
	harnessCPU            time.Duration // CPU this process (clients, model server) used then
	stopErr, replayErr    error
	connectionsAtStart    int
	connectionsLostDuring int
}

// runChatLevel starts a loopback model server and a gateway on a fresh state
// dir, connects the workers and runs warm-up, model replay and the timed
// phase. The gateway and the model server are stopped before it returns.
func runChatLevel(ctx context.Context, o *options, lvl chatLevel) (_ *chatResult, err error) {
	ms := modeltest.New()
	defer ms.Close()
	ms.RequireKey(benchKey)
	dir, err := newStateDir(ms.URL())
	if err != nil {
		return nil, err
	}
	defer o.cleanup(dir)
	g, err := startGateway(ctx, o.bin, dir)
	if err != nil {
		return nil, err
	}
	// res is filled as the level goes; the deferred stop records into it even
	// when the level fails part way, and adds a failed shutdown to err.
	res := &chatResult{level: lvl}
	defer func() {
		res.stopErr = g.stop()
		res.logWarn, res.logErr, res.logSamples = g.logs.counts()
		if err != nil && res.stopErr != nil {
			err = errors.Join(err, res.stopErr)
		}
	}()
	token, err := g.token()
	if err != nil {
		return nil, err
	}

	nconn := lvl.sessions
	if lvl.sharedConn {
		nconn = 1
	}
	clients := make([]*api.Client, 0, nconn)
	routers := make([]*router, 0, nconn)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range nconn {
		c, err := g.dial(ctx, token, fmt.Sprintf("genos-bench-%d", i))
		if err != nil {
			return nil, fmt.Errorf("connect client %d of %d: %w", i+1, nconn, err)
		}
		clients = append(clients, c)
		routers = append(routers, newRouter(c))
	}
	res.connectionsAtStart = len(clients)
	st, err := clients[0].Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	if !st.ModelConfigured {
		return nil, fmt.Errorf("gateway reports no model configured (warnings: %s)", strings.Join(st.Warnings, "; "))
	}
	res.agentID = st.DefaultAgent.ID
	workers := make([]*worker, lvl.sessions)
	for i := range workers {
		k := i % nconn
		workers[i] = &worker{id: i, client: clients[k], router: routers[k], agentID: st.DefaultAgent.ID, perSession: o.turnsPerSession}
	}
	res.fdsBefore = countFDs(g.pid())

	// Warm-up: connections, caches, the first sessions. Errors here are
	// the same bugs as later ones, so they are reported too.
	res.warmup = runPhase(ctx, workers, o.warmup, lvl.think)
	if len(res.warmup.rtts) == 0 {
		return res, fmt.Errorf("no round trip succeeded during warm-up: %s", strings.Join(res.warmup.samples, "; "))
	}

	// The model's share, measured with the warm-up's own request bodies.
	bodies := chatBodies(ms.Requests())
	res.replayConc = replayConcurrency(lvl, summarize(res.warmup.rtts).P50)
	rc, rtr := newReplayClient(res.replayConc)
	defer rtr.CloseIdleConnections()
	res.model, res.replayErr = replayModel(ctx, rc, ms.URL()+"/chat/completions", bodies, res.replayConc, o.replay)

	gwCPU, selfCPU := readCPUTime(g.pid()), readCPUTime(0)
	res.phase = runPhase(ctx, workers, o.duration, lvl.think)
	if gwCPU >= 0 && selfCPU >= 0 {
		res.gatewayCPU, res.harnessCPU = readCPUTime(g.pid())-gwCPU, readCPUTime(0)-selfCPU
	}
	res.modelRequests = len(chatBodies(ms.Requests()))
	res.roundTrips = len(res.warmup.rtts) + res.warmup.errs + len(res.phase.rtts) + res.phase.errs

	for _, c := range clients {
		select {
		case <-c.Done():
			res.connectionsLostDuring++
		default:
		}
	}
	for _, r := range routers {
		res.gaps += r.gaps.Load()
	}
	if m, err := readProcMem(ctx, g.pid()); err == nil {
		res.memAfter = m
	}
	res.timeWait = countTimeWait(portOf(ms.URL()))
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	// Give the gateway a moment to notice the closed connections before
	// counting descriptors: what is still open then has leaked.
	time.Sleep(500 * time.Millisecond)
	res.fdsAfter = countFDs(g.pid())
	return res, ctx.Err()
}

// replayConcurrency is the number of model requests in flight the level
// produces: one per session when workers go back to back; with pacing,
// sessions × rtt/(rtt+think) by Little's law, from the warm-up's median.
func replayConcurrency(lvl chatLevel, warmP50 time.Duration) int {
	if lvl.think <= 0 || warmP50 <= 0 {
		return lvl.sessions
	}
	n := float64(lvl.sessions) * float64(warmP50) / float64(warmP50+lvl.think)
	return max(1, min(lvl.sessions, int(math.Round(n))))
}

// chatBodies returns the bodies of the gateway's chat completion requests
// (not the harness's replays).
func chatBodies(reqs []modeltest.RecordedRequest) [][]byte {
	var out [][]byte
	for _, r := range reqs {
		if r.Method == http.MethodPost && r.Format == modeltest.FormatOpenAI && strings.HasSuffix(r.Path, "/chat/completions") &&
			len(r.Body) > 0 && r.Headers.Get(replayHeader) == "" {
			out = append(out, r.Body)
		}
	}
	return out
}

// portOf returns the port of an http URL, or 0.
func portOf(raw string) int {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	_, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// chatRows turns one level's result into table rows and notes.
func chatRows(o *options, r *chatResult) ([]row, []string) {
	lvl := r.level
	conns := "each on its own WebSocket connection"
	if lvl.sharedConn {
		conns = "all on 1 shared WebSocket connection"
	}
	pace := "back to back"
	if lvl.think > 0 {
		pace = fmt.Sprintf("then pause %s", lvl.think)
	}
	cmd := fmt.Sprintf("%s; %s %s, each doing chat.send to agent:<id>:bench:direct:w<i>[-<gen>] (new session every %d turns) → wait for its chat final, %s; %s warm-up, then %s timed",
		gatewayCommand(o.bin), plural(lvl.sessions, "worker"), conns, o.turnsPerSession, pace, o.warmup, o.duration)
	p := r.phase
	rtt := summarize(p.rtts)
	mdl := summarize(r.model)
	rate := 0.0
	if p.elapsed > 0 {
		rate = float64(len(p.rtts)) / p.elapsed.Seconds()
	}
	errs := p.errs + r.warmup.errs
	rows := []row{{
		Name:    "chat round trips/s, " + lvl.String(),
		Value:   fmt.Sprintf("%.0f/s (%d in %s, %d errors)", rate, len(p.rtts), p.elapsed.Round(time.Millisecond), errs),
		Target:  "no errors",
		Verdict: judge(errs == 0 && len(p.rtts) > 0),
		Command: cmd,
	}}

	added := row{
		Name:    "added latency p50 / p99, " + lvl.String(),
		Command: fmt.Sprintf("client round trip percentile minus the same percentile of direct POSTs of the recorded gateway request bodies to the model server, %s for %s (at least %d requests)", plural(r.replayConc, "concurrent client"), o.replay, minReplaySamples),
	}
	if lvl.sessions == o.latencyTargetSessions {
		added.Target = "p99 < " + fmtDur(o.latencyTarget)
	}
	switch {
	case rtt.N == 0:
		added.Value, added.Verdict = "no successful round trips", verdictError
	case mdl.N == 0:
		added.Value = fmt.Sprintf("unknown: model replay failed (%v); client round trip p50 %s / p99 %s", r.replayErr, fmtDur(rtt.P50), fmtDur(rtt.P99))
		added.Verdict = verdictError
	default:
		a50, a99 := rtt.P50-mdl.P50, rtt.P99-mdl.P99
		added.Value = fmt.Sprintf("%s / %s (round trip %s / %s, max %s, n=%d; model %s / %s, max %s, n=%d)",
			fmtDur(a50), fmtDur(a99), fmtDur(rtt.P50), fmtDur(rtt.P99), fmtDur(rtt.Max), rtt.N,
			fmtDur(mdl.P50), fmtDur(mdl.P99), fmtDur(mdl.Max), mdl.N)
		if added.Target != "" {
			added.Verdict = judge(a99 < o.latencyTarget)
		}
	}
	rows = append(rows, added)
	return rows, chatNotes(r)
}

// chatNotes reports what the gateway did besides answering: memory and
// descriptors after the load, dropped events, connection churn, its own
// warnings, and every error the level met.
func chatNotes(r *chatResult) []string {
	lvl := r.level.String()
	var notes []string
	facts := []string{fmt.Sprintf("%d round trips, %d model requests from the gateway", r.roundTrips, r.modelRequests)}
	if r.memAfter.RSS > 0 {
		facts = append(facts, "gateway RSS after load "+fmtMiB(r.memAfter.RSS))
		if r.memAfter.Peak > 0 {
			facts = append(facts, "peak "+fmtMiB(r.memAfter.Peak))
		}
		if r.memAfter.Threads > 0 {
			facts = append(facts, fmt.Sprintf("%d threads", r.memAfter.Threads))
		}
	}
	if n := len(r.phase.rtts); n > 0 && r.gatewayCPU > 0 && r.phase.elapsed > 0 {
		facts = append(facts, fmt.Sprintf("in the timed phase the gateway used %.0f%% of one core (%s CPU per round trip) and the harness (clients + model server) %.0f%%",
			100*r.gatewayCPU.Seconds()/r.phase.elapsed.Seconds(), fmtDur(r.gatewayCPU/time.Duration(n)), 100*r.harnessCPU.Seconds()/r.phase.elapsed.Seconds()))
	}
	if r.fdsBefore >= 0 && r.fdsAfter >= 0 {
		facts = append(facts, fmt.Sprintf("open fds %d with clients connected before load, %d after all clients disconnected", r.fdsBefore, r.fdsAfter))
	}
	if r.timeWait >= 0 {
		facts = append(facts, fmt.Sprintf("%d sockets to the model server in TIME_WAIT afterwards", r.timeWait))
	}
	notes = append(notes, lvl+": "+strings.Join(facts, ", ")+".")
	if r.modelRequests > r.roundTrips {
		notes = append(notes, fmt.Sprintf("%s: **the gateway sent %d model requests for %d round trips** (expected one each: retries?).", lvl, r.modelRequests, r.roundTrips))
	}
	if r.gaps > 0 {
		notes = append(notes, fmt.Sprintf("%s: the client library dropped %d events (sequence gaps): its subscriber buffer overflowed.", lvl, r.gaps))
	}
	if r.connectionsLostDuring > 0 {
		notes = append(notes, fmt.Sprintf("%s: **%d of %d connections were closed by the gateway during the load.**", lvl, r.connectionsLostDuring, r.connectionsAtStart))
	}
	for _, ph := range []struct {
		name string
		p    phaseResult
	}{{"warm-up", r.warmup}, {"timed phase", r.phase}} {
		if ph.p.errs > 0 {
			notes = append(notes, fmt.Sprintf("%s, %s: **%d errors** (%d workers stopped), e.g.: %s", lvl, ph.name, ph.p.errs, ph.p.fatal, strings.Join(ph.p.samples, " / ")))
		}
	}
	if r.replayErr != nil {
		notes = append(notes, fmt.Sprintf("%s: model replay: %s", lvl, truncate(r.replayErr.Error(), 400)))
	}
	if r.logWarn > 0 || r.logErr > 0 {
		notes = append(notes, fmt.Sprintf("%s: the gateway logged %d warnings and %d errors, e.g.: %s", lvl, r.logWarn, r.logErr, strings.Join(r.logSamples, " / ")))
	}
	if r.stopErr != nil {
		notes = append(notes, fmt.Sprintf("%s: **shutdown: %s**", lvl, truncate(r.stopErr.Error(), 600)))
	}
	return notes
}

// plural renders "1 session" or "16 sessions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
