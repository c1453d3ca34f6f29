package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/policy"
)

// The channels step (`-only channels`) drives the gateway binary's Telegram
// adapter through a loopback Bot API (channels_api.go): DMs are queued as
// updates for its long poll, the agent loop answers them with the
// zero-latency loopback model, and the replies come back as sendMessage and
// editMessageText calls. It also measures what one connected, idle channel
// costs in memory.

// Bounds of the channels step.
const (
	// tgReplyTimeout bounds the wait for one reply. Replies take
	// milliseconds; a message still unanswered after this is lost.
	tgReplyTimeout = 10 * time.Second
	// connectTimeout bounds the wait for the adapter to report connected.
	connectTimeout = 15 * time.Second
	// floodMessages DMs are sent at once by one peer, and the replies are
	// counted for floodWindow: the burst, then two refills.
	floodMessages = 30
	floodWindow   = 7 * time.Second
	// soloDuration is the single-conversation run that shows the latency
	// of one DM when nothing else is going on.
	soloDuration = 3 * time.Second
	// idlePairs gateways with and as many without Telegram idle side by
	// side; the medians are compared.
	idlePairs = 3
	// peerBase keeps bench peers apart from any real-looking user id.
	peerBase = int64(7_000_000_000)
	// floodPeer is the flooding sender, outside the workers' id range.
	floodPeer = peerBase - 1
)

// peerID is the Telegram user (and private chat) id of worker's gen-th
// peer: every worker moves to a new peer after a few messages, so that the
// per-sender rate limit never holds a message back.
func peerID(worker, gen int) int64 { return peerBase + int64(worker)*1_000_000 + int64(gen) }

// channelConfig lets anyone DM the bench bot (the policy "open" needs "*"
// in allowFrom); the channel is enabled later, with its token, through
// channels.set.
func channelConfig(cfg *config.Config) {
	cfg.Channels = map[string]config.Channel{
		config.ChannelTelegram: {DM: config.DMOpen, AllowFrom: []string{"*"}},
	}
}

// channelGatewayCommand is the command line of a gateway with Telegram
// pointed at the loopback Bot API, for the table.
func channelGatewayCommand(bin string) string {
	return "GENOS_STATE_DIR=<fresh, vault on, channels.telegram dm open, allowFrom *> GENOS_TELEGRAM_API_URL=<loopback Bot API, channels/telegram/telegramtest> GENOS_VAULT_PASSPHRASE=… " +
		bin + " gateway --listen 127.0.0.1:0; channels.set {channel: telegram, enabled: true, token}; wait for channels.status connected"
}

// enableTelegram turns the channel on with the fake server's token and
// waits until the adapter has checked it and polls.
func enableTelegram(ctx context.Context, c *api.Client) error {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := c.ChannelsSet(cctx, api.ChannelsSetParams{Channel: config.ChannelTelegram, Enabled: true, Token: telegramtest.Token}); err != nil {
		return fmt.Errorf("channels.set telegram: %w", err)
	}
	var last chat.ChannelStatus
	for {
		st, err := c.ChannelsStatus(cctx)
		if err != nil {
			return fmt.Errorf("channels.status: %w (last state %q %s)", err, last.State, last.Reason)
		}
		for _, s := range st.Channels {
			if s.Channel == config.ChannelTelegram {
				last = s
			}
		}
		if last.State == chat.ChannelConnected {
			return nil
		}
		if !sleepCtx(cctx, 20*time.Millisecond) {
			return fmt.Errorf("telegram did not connect within %s (state %q %s)", connectTimeout, last.State, last.Reason)
		}
	}
}

// channelResult is what the throughput and flood runs measured.
type channelResult struct {
	peers, perPeer int
	warmup, phase  phaseResult
	solo           phaseResult // one worker, after the timed phase
	flood          floodResult
	floodErr       error
	tap            tapStats
	modelRequests  int
	messages       int // DMs queued (warm-up, timed and flood)
	gatewayCPU     time.Duration
	memAfter       procMem
	logWarn        int
	logErr         int
	logSamples     []string
	stopErr        error
}

// tgRunner sends DMs through one gateway's fake Bot API.
type tgRunner struct {
	api *botAPI
	seq atomic.Int64
}

// tgWorker is one conversation: a peer that sends a DM, waits for the
// reply, and sends the next; after perPeer messages a new peer takes over.
type tgWorker struct {
	id, gen, sent int
}

// roundTrip sends the worker's next DM and returns the time from queuing
// it to the reply showing its marker.
func (r *tgRunner) roundTrip(ctx context.Context, w *tgWorker, perPeer int) (time.Duration, error) {
	if w.sent >= perPeer {
		w.gen++
		w.sent = 0
	}
	w.sent++
	seq := int(r.seq.Add(1))
	wait, forget := r.api.tap.expect(seq)
	defer forget()
	peer := peerID(w.id, w.gen)
	t0 := time.Now()
	r.api.dm(peer, seq)
	timer := time.NewTimer(tgReplyTimeout)
	defer timer.Stop()
	select {
	case at := <-wait:
		return at.Sub(t0), nil
	case <-timer.C:
		// Its session may be stuck behind the lost run: go on as a new peer.
		w.gen++
		w.sent = 0
		return 0, fmt.Errorf("no reply to DM %d from peer %d within %s", seq, peer, tgReplyTimeout)
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", errFatal, ctx.Err())
	}
}

// runTelegramPhase runs every worker back to back for d, as runPhase does
// for WebSocket clients.
func (r *tgRunner) runPhase(ctx context.Context, workers []*tgWorker, perPeer int, d time.Duration) phaseResult {
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
			for time.Now().Before(deadline) && ctx.Err() == nil {
				rtt, err := r.roundTrip(ctx, w, perPeer)
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

// floodResult is what one peer sending floodMessages DMs at once got back
// within floodWindow.
type floodResult struct {
	sent    int
	answers map[int]time.Duration // by message index (1-based): time to its reply
	notices int
}

// flood queues n DMs from one peer back to back and collects the replies
// that arrive within window.
func (r *tgRunner) flood(ctx context.Context, n int, window time.Duration) (floodResult, error) {
	res := floodResult{sent: n, answers: map[int]time.Duration{}}
	waits := make([]<-chan time.Time, n)
	t0 := time.Now()
	for i := range n {
		seq := int(r.seq.Add(1))
		w, forget := r.api.tap.expect(seq)
		defer forget()
		waits[i] = w
		r.api.dm(floodPeer, seq)
	}
	if !sleepCtx(ctx, window) {
		return res, ctx.Err()
	}
	for i, w := range waits {
		select {
		case at := <-w:
			res.answers[i+1] = at.Sub(t0)
		default:
		}
	}
	res.notices = r.api.tap.noticesTo(floodPeer)
	return res, nil
}

// floodSummary reads what the limiter did from which messages were
// answered: it admits a peer's messages in order and drops the oldest
// waiting one when the peer's queue is full, so an unanswered message before
// an answered one was dropped, and the rest still wait.
type floodSummary struct {
	answered, atOnce, waiting int
	atOnceP50                 time.Duration
	later                     []int // indexes answered after the burst, ascending
	dropped                   []int // indexes dropped, ascending
	order                     []int // answered indexes in the order the replies arrived
	inOrder                   bool  // replies arrived in the order the DMs were sent
}

// summarizeFlood classifies a flood's answers; replies within refill of the
// first message can only have used the burst.
func summarizeFlood(f floodResult, refill time.Duration) floodSummary {
	s := floodSummary{inOrder: true}
	idx := make([]int, 0, len(f.answers))
	for i := range f.answers {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var fast []time.Duration
	for _, i := range idx {
		if d := f.answers[i]; d < refill {
			fast = append(fast, d)
		} else {
			s.later = append(s.later, i)
		}
	}
	s.answered, s.atOnce = len(idx), len(fast)
	s.atOnceP50 = summarize(fast).P50
	s.order = slices.Clone(idx)
	slices.SortStableFunc(s.order, func(a, b int) int { return cmp.Compare(f.answers[a], f.answers[b]) })
	s.inOrder = slices.Equal(s.order, idx)
	if len(idx) == 0 {
		s.waiting = f.sent
		return s
	}
	for i := 1; i < idx[len(idx)-1]; i++ {
		if _, ok := f.answers[i]; !ok {
			s.dropped = append(s.dropped, i)
		}
	}
	s.waiting = f.sent - s.answered - len(s.dropped)
	return s
}

// fmtIndexes renders ascending message indexes with runs collapsed:
// "#1, #7–#10".
func fmtIndexes(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("#%d–#%d", idx[i], idx[j]))
		} else {
			parts = append(parts, fmt.Sprintf("#%d", idx[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// runChannels measures DM throughput and latency, then the flood, on one
// gateway with Telegram on.
func runChannels(ctx context.Context, o *options) (_ *channelResult, err error) {
	ms := modeltest.New()
	defer ms.Close()
	ms.RequireKey(benchKey)
	bot, err := newBotAPI(true)
	if err != nil {
		return nil, err
	}
	defer bot.Close()
	dir, err := newStateDirWith(ms.URL(), channelConfig)
	if err != nil {
		return nil, err
	}
	defer o.cleanup(dir)
	g, err := startGateway(ctx, o.bin, dir, "GENOS_TELEGRAM_API_URL="+bot.URL())
	if err != nil {
		return nil, err
	}
	res := &channelResult{peers: o.channelPeers, perPeer: policy.DefaultBurst}
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
	c, err := g.dial(ctx, token, "genos-bench-channels")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := enableTelegram(ctx, c); err != nil {
		return nil, fmt.Errorf("%w; the gateway's output ends with: %s", err, g.logs.last(600))
	}

	r := &tgRunner{api: bot}
	workers := make([]*tgWorker, o.channelPeers)
	for i := range workers {
		workers[i] = &tgWorker{id: i}
	}
	res.warmup = r.runPhase(ctx, workers, res.perPeer, o.warmup)
	if len(res.warmup.rtts) == 0 {
		return res, fmt.Errorf("no DM was answered during warm-up: %s", strings.Join(res.warmup.samples, "; "))
	}
	gwCPU := readCPUTime(g.pid())
	res.phase = r.runPhase(ctx, workers, res.perPeer, o.duration)
	if gwCPU >= 0 {
		res.gatewayCPU = readCPUTime(g.pid()) - gwCPU
	}
	if m, err := readProcMem(ctx, g.pid()); err == nil {
		res.memAfter = m
	}
	res.solo = r.runPhase(ctx, []*tgWorker{{id: o.channelPeers}}, res.perPeer, soloDuration)
	res.flood, res.floodErr = r.flood(ctx, floodMessages, floodWindow)
	res.messages = int(r.seq.Load())
	res.modelRequests = len(chatBodies(ms.Requests()))
	res.tap = bot.tap.stats()
	return res, ctx.Err()
}

// channelRows turns the throughput and flood runs into table rows.
func channelRows(o *options, r *channelResult) []row {
	base := channelGatewayCommand(o.bin)
	conv := fmt.Sprintf("%s back to back, each queuing a private text DM as a getUpdates update and waiting for the sendMessage/editMessageText whose text shows the echoed per-message marker, then the next; each worker moves to a new peer id every %d DMs (new session); %s warm-up, then %s timed",
		plural(r.peers, "worker"), r.perPeer, o.warmup, o.duration)
	p := r.phase
	rtt := summarize(p.rtts)
	rate := 0.0
	if p.elapsed > 0 {
		rate = float64(len(p.rtts)) / p.elapsed.Seconds()
	}
	errs := p.errs + r.warmup.errs + r.tap.failed
	label := fmt.Sprintf("%d concurrent peers", r.peers)
	rows := []row{
		{
			Name:    "telegram inbound → outbound messages/s, " + label,
			Value:   fmt.Sprintf("%.0f/s (%d in %s, %d errors)", rate, len(p.rtts), p.elapsed.Round(time.Millisecond), errs),
			Target:  "no errors",
			Verdict: judge(errs == 0 && len(p.rtts) > 0),
			Command: base + "; " + conv,
		},
		{
			Name:    "telegram inbound → reply latency p50 / p99, " + label,
			Value:   fmt.Sprintf("%s / %s (max %s, n=%d)", fmtDur(rtt.P50), fmtDur(rtt.P99), fmtDur(rtt.Max), rtt.N),
			Command: "same run: from queuing the update in the fake Bot API to the answer of the first sendMessage/editMessageText showing that DM's marker",
		},
	}
	if rtt.N == 0 {
		rows[1].Value, rows[1].Verdict = "no DM answered", verdictError
	}
	solo := summarize(r.solo.rtts)
	soloRow := row{
		Name:    "telegram inbound → reply latency p50 / p99, 1 peer (unloaded)",
		Value:   fmt.Sprintf("%s / %s (max %s, n=%d, %d errors)", fmtDur(solo.P50), fmtDur(solo.P99), fmtDur(solo.Max), solo.N, r.solo.errs),
		Command: fmt.Sprintf("same gateway, after the timed run: 1 worker alone, back to back, new peer id every %d DMs, for %s", r.perPeer, soloDuration),
	}
	if solo.N == 0 {
		soloRow.Value, soloRow.Verdict = "no DM answered", verdictError
	}
	return append(rows, soloRow, floodRow(o, r))
}

// floodRow reports what one flooding peer got.
func floodRow(o *options, r *channelResult) row {
	rw := row{
		Name:   fmt.Sprintf("telegram single flooding peer, %d DMs at once", floodMessages),
		Target: fmt.Sprintf("%d answered at once, then 1 per %s, in order; 1 flood notice", policy.DefaultBurst, policy.DefaultRefill),
		Command: fmt.Sprintf("same gateway, after the timed run: one new peer queues %d DMs back to back; replies counted for %s (core/policy limiter defaults: burst %d, refill 1 per %s, %d waiting per peer, oldest dropped first)",
			floodMessages, floodWindow, policy.DefaultBurst, policy.DefaultRefill, policy.DefaultQueueSize),
	}
	if r.floodErr != nil {
		rw.Value, rw.Verdict = "not measured: "+truncate(r.floodErr.Error(), 200), verdictError
		return rw
	}
	s := summarizeFlood(r.flood, policy.DefaultRefill)
	rw.Value = describeFlood(r.flood, s)
	rw.Verdict = judge(s.atOnce == policy.DefaultBurst && s.inOrder && r.flood.notices == 1)
	return rw
}

// describeFlood renders a flood's outcome for the table.
func describeFlood(f floodResult, s floodSummary) string {
	v := fmt.Sprintf("%d answered at once (p50 %s)", s.atOnce, fmtDur(s.atOnceP50))
	if len(s.later) > 0 {
		var parts []string
		for _, i := range s.later {
			parts = append(parts, fmt.Sprintf("#%d at %.1f s", i, f.answers[i].Seconds()))
		}
		v += ", then " + strings.Join(parts, ", ")
	}
	v += fmt.Sprintf(" (%d within %s); %d dropped", s.answered, floodWindow, len(s.dropped))
	if len(s.dropped) > 0 {
		v += " (" + fmtIndexes(s.dropped) + ")"
	}
	v += fmt.Sprintf(", %d still waiting; %d flood notice", s.waiting, f.notices)
	if f.notices != 1 {
		v += "s"
	}
	if !s.inOrder {
		var parts []string
		for _, i := range s.order {
			parts = append(parts, fmt.Sprintf("#%d", i))
		}
		v += "; **replies out of order**: " + strings.Join(parts, ", ")
	}
	return v
}

// channelNotes explains the channel rows and reports what the gateway did
// besides answering.
func channelNotes(o *options, r *channelResult) []string {
	run := o.warmup + o.duration
	notes := []string{fmt.Sprintf("Telegram rows: the gateway's own adapter long-polls a loopback Bot API (channels/telegram/telegramtest, real wire protocol: multipart sendMessage, JSON getUpdates, Telegram-HTML validation) through a reverse proxy in the harness that timestamps each answered sendMessage/editMessageText; the model is the zero-latency loopback server echoing the DM word by word, so the first reply text showing the DM's last word is the complete reply. The core/policy rate limiter admits a burst of %d per sender, then 1 per %s: one peer could send at most ~%d messages in the %s run, so every worker moves to a fresh peer id after %d DMs and the limiter never holds a message back (a new peer starts with a full bucket); the flood row shows what it does to one sender who does not stop.",
		policy.DefaultBurst, policy.DefaultRefill, policy.DefaultBurst+int(run/policy.DefaultRefill), run, r.perPeer)}
	facts := []string{fmt.Sprintf("%d DMs queued, %d model requests from the gateway", r.messages, r.modelRequests)}
	if n := len(r.phase.rtts); n > 0 {
		var calls []string
		for _, m := range []string{"sendMessage", "editMessageText", "sendChatAction", "getUpdates"} {
			calls = append(calls, fmt.Sprintf("%s %d", m, r.tap.calls[m]))
		}
		facts = append(facts, "Bot API calls over the whole run: "+strings.Join(calls, ", "))
		if r.gatewayCPU > 0 && r.phase.elapsed > 0 {
			facts = append(facts, fmt.Sprintf("in the timed phase the gateway used %.0f%% of one core (%s CPU per DM)",
				100*r.gatewayCPU.Seconds()/r.phase.elapsed.Seconds(), fmtDur(r.gatewayCPU/time.Duration(n))))
		}
	}
	if r.memAfter.RSS > 0 {
		facts = append(facts, "gateway RSS after the timed phase "+fmtMiB(r.memAfter.RSS))
	}
	facts = append(facts, fmt.Sprintf("with %d workers back to back the gateway is saturated, so their latency is mostly time queued behind the other conversations (about %d ÷ throughput); the 1-peer row is the cost of one DM", r.peers, r.peers))
	notes = append(notes, "Telegram: "+strings.Join(facts, ", ")+".")
	for _, ph := range []struct {
		name string
		p    phaseResult
	}{{"warm-up", r.warmup}, {"timed phase", r.phase}, {"1 peer", r.solo}} {
		if ph.p.errs > 0 {
			notes = append(notes, fmt.Sprintf("Telegram, %s: **%d DMs unanswered**, e.g.: %s", ph.name, ph.p.errs, strings.Join(ph.p.samples, " / ")))
		}
	}
	if r.floodErr == nil {
		if fs := summarizeFlood(r.flood, policy.DefaultRefill); !fs.inOrder {
			notes = append(notes, "Telegram flood: **one peer's DMs were answered out of order.** The limiter hands a peer's messages over in order, but the gateway starts each run on a goroutine of its own (core/gateway startRun: `go s.execute`, which then waits in session.Queue.Do), so runs of one session reach the session queue, which is FIFO from there on, in whatever order those goroutines are scheduled; the transcript gets the same order.")
		}
	}
	if r.tap.failed > 0 {
		notes = append(notes, fmt.Sprintf("Telegram: **the fake Bot API refused %d sends or edits**, e.g.: %s", r.tap.failed, strings.Join(r.tap.samples, " / ")))
	}
	if r.tap.late > 0 {
		notes = append(notes, fmt.Sprintf("Telegram: %d replies arrived after their DM had been given up on.", r.tap.late))
	}
	if r.logWarn > 0 || r.logErr > 0 {
		notes = append(notes, fmt.Sprintf("Telegram: the gateway logged %d warnings and %d errors, e.g.: %s", r.logWarn, r.logErr, strings.Join(r.logSamples, " / ")))
	}
	if r.stopErr != nil {
		notes = append(notes, fmt.Sprintf("Telegram: **shutdown: %s**", truncate(r.stopErr.Error(), 600)))
	}
	return notes
}
