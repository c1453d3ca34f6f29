// Command bench measures the Genos gateway as a user would run it: it execs
// `genos gateway` on fresh state dirs pointed at an in-process loopback model
// server (core/model/modeltest), drives it through the public WebSocket
// protocol (core/api), and prints a Markdown table of the results, each row
// with the command and parameters that produced it, its target and whether
// the target was met (ARCHITECTURE.md section 14).
//
//	go run ./bench -bin bin/genos -out bench/RESULTS.md   (what `make bench` runs)
//	go run ./bench -bin bin/genos -quick                  (a smoke test in ~20 s)
//
// It measures cold start to the first /health and health RPC answers, idle
// RSS after 30 s with one client connected, and chat round trips per second
// with the latency the gateway adds at several numbers of concurrent
// sessions. The vault step measures NYXENC1 seal/open throughput, sealed
// transcript appends, unlock and GenosOS-style per-write key derivation in
// process, without the binary (`-only vault`). The channels step sends
// Telegram DMs through the binary's own adapter, long-polling a loopback Bot
// API, and compares the memory of idle gateways with and without a
// connected channel (`-only channels`). The memory step (`-only memory`, in
// process) scores retrieval on the labelled set in testdata/retrieval (BM25,
// and vectors and hybrid when GENOS_BENCH_EMBED_URL or GENOS_BENCH_ONNX_MODEL
// names a real embedder), times index builds, searches and unlocks at 10k
// and 100k chunks, and counts the prompt tokens the tool filter and TOON
// save. Targets are compared, never
// asserted: the exit status is 1 only when something could not be
// measured, not when a target is missed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/genos-project/genos/core/model/modeltest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	bin, out        string
	desktopBin      string
	quick, keep     bool
	only            map[string]bool
	coldRuns        int
	idle            time.Duration
	warmup          time.Duration
	duration        time.Duration
	replay          time.Duration
	levels          []int
	sharedLevel     int
	pacedLevel      int
	think           time.Duration
	turnsPerSession int
	channelPeers    int

	coldTarget            time.Duration
	rssTarget             int64
	latencyTarget         time.Duration
	latencyTargetSessions int

	progress io.Writer
}

// stepNames lists the steps the harness knows, in the order they run.
func stepNames() []string { return []string{"cold", "idle", "chat", "vault", "channels", "memory"} }

// needsBinary reports whether a selected step runs the gateway binary (the
// vault step runs in process).
func needsBinary(only map[string]bool) bool {
	return only["cold"] || only["idle"] || only["chat"] || only["channels"]
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{
		coldTarget:            50 * time.Millisecond,
		rssTarget:             30 << 20,
		latencyTarget:         2 * time.Millisecond,
		latencyTargetSessions: 16,
		progress:              stderr,
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "bin/genos", "the genos binary to measure")
	fs.StringVar(&o.desktopBin, "desktop-bin", "", "also report the idle RSS of `genos gateway` from this build (the desktop binary, with the UI linked in)")
	fs.StringVar(&o.out, "out", "", "also write the results to this Markdown file (e.g. bench/RESULTS.md)")
	fs.BoolVar(&o.quick, "quick", false, "short durations for a smoke test (flags given explicitly still win)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary state dirs for inspection")
	only := fs.String("only", strings.Join(stepNames(), ","), "comma-separated steps to run: "+strings.Join(stepNames(), ", "))
	fs.IntVar(&o.coldRuns, "cold-runs", 10, "gateway starts per cold-start measurement")
	fs.DurationVar(&o.idle, "idle", 30*time.Second, "how long the gateway idles before its RSS is read")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "chat warm-up per level (not timed)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "timed chat phase per level")
	fs.DurationVar(&o.replay, "replay", 2*time.Second, "direct model-server replay per level, the model's share of a round trip")
	levels := fs.String("sessions", "1,16,64", "concurrent sessions per chat level, comma-separated")
	fs.IntVar(&o.sharedLevel, "shared", 64, "extra chat level with this many sessions on ONE connection (0 = skip)")
	fs.IntVar(&o.pacedLevel, "paced", 16, "extra chat level with this many sessions, each pausing -think after every round trip, so the gateway is not saturated (0 = skip)")
	fs.DurationVar(&o.think, "think", 100*time.Millisecond, "pause between a paced worker's round trips")
	fs.IntVar(&o.channelPeers, "channel-peers", 16, "channels step: concurrent Telegram conversations, each a peer sending DMs back to back")
	fs.IntVar(&o.turnsPerSession, "turns-per-session", 20, "round trips before a worker moves to a new session (the gateway sends the whole history to the model, so unbounded sessions would measure history growth)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		quick := map[string]func(){
			"cold-runs": func() { o.coldRuns = 3 },
			"idle":      func() { o.idle = 3 * time.Second },
			"warmup":    func() { o.warmup = 300 * time.Millisecond },
			"duration":  func() { o.duration = 2 * time.Second },
			"replay":    func() { o.replay = 500 * time.Millisecond },
			"shared":    func() { o.sharedLevel = 0 },
			"paced":     func() { o.pacedLevel = 0 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	var err error
	if o.levels, err = parseLevels(*levels); err != nil {
		return nil, err
	}
	if o.only, err = parseSteps(*only); err != nil {
		return nil, err
	}
	switch {
	case o.coldRuns < 1:
		return nil, errors.New("-cold-runs must be at least 1")
	case o.idle < 0, o.warmup <= 0, o.duration <= 0, o.replay <= 0:
		return nil, errors.New("-idle must not be negative; -warmup, -duration and -replay must be positive")
	case o.sharedLevel < 0 || o.sharedLevel > 1024, o.pacedLevel < 0 || o.pacedLevel > 1024:
		return nil, errors.New("-shared and -paced must be between 0 and 1024")
	case o.think <= 0:
		return nil, errors.New("-think must be positive")
	case o.turnsPerSession < 1:
		return nil, errors.New("-turns-per-session must be at least 1")
	case o.channelPeers < 1 || o.channelPeers > 1024:
		return nil, errors.New("-channel-peers must be between 1 and 1024")
	}
	if !needsBinary(o.only) {
		return o, nil
	}
	st, err := os.Stat(o.bin)
	if err != nil {
		return nil, fmt.Errorf("gateway binary: %w (build it first: make build, or go build -o bin/genos .)", err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("gateway binary %s is not an executable file", o.bin)
	}
	return o, nil
}

// parseLevels parses "1,16,64" into session counts (1 to 1024 each).
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("-sessions: %q is not a number of sessions between 1 and 1024", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseSteps parses -only.
func parseSteps(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		known := false
		for _, n := range stepNames() {
			known = known || n == f
		}
		if !known {
			return nil, fmt.Errorf("-only: unknown step %q (want %s)", f, strings.Join(stepNames(), ", "))
		}
		out[f] = true
	}
	if len(out) == 0 {
		return nil, errors.New("-only: no steps selected")
	}
	return out, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	began := time.Now()
	rep := &report{Machine: describeMachine(ctx, o.bin), Command: "go run ./bench " + shellJoin(args)}
	failed := runSteps(ctx, o, rep)
	rep.Machine.LoadEnd = loadAverage()
	rep.Elapsed = time.Since(began)
	rep.Notes = append(rep.Notes, methodNotes(o)...)

	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if o.out != "" {
		if err := writeFileAtomic(o.out, []byte(md)); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "bench: wrote %s\n", o.out)
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

// runSteps runs the selected measurements, adding rows and notes to rep. A
// step that fails becomes an error row and the others still run. It reports
// whether any step failed.
func runSteps(ctx context.Context, o *options, rep *report) (failed bool) {
	fail := func(name, cmd string, err error) {
		failed = true
		rep.Rows = append(rep.Rows, row{Name: name, Value: "not measured", Verdict: verdictError, Command: cmd})
		rep.Notes = append(rep.Notes, fmt.Sprintf("**%s failed:** %s", name, truncate(err.Error(), 1200)))
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.progress, "bench: "+format+"\n", a...) }

	// The gateways of the cold-start and idle steps never call the model,
	// but their config must name one.
	ms := modeltest.New()
	defer ms.Close()

	if o.only["cold"] {
		for _, restart := range []bool{false, true} {
			if ctx.Err() != nil {
				return true
			}
			say("cold start x%d (restart=%v)", o.coldRuns, restart)
			s, err := measureColdStarts(ctx, o, ms.URL(), restart)
			if err != nil {
				fail(fmt.Sprintf("cold start (restart=%v)", restart), gatewayCommand(o.bin), err)
				continue
			}
			rep.Rows = append(rep.Rows, coldRows(o, s, restart)...)
		}
	}
	if o.only["idle"] && ctx.Err() == nil {
		say("idle RSS (%s)", o.idle)
		r, err := measureIdle(ctx, o, o.bin, ms.URL())
		if err != nil {
			fail("idle RSS", gatewayCommand(o.bin), err)
		} else {
			rep.Rows = append(rep.Rows, idleRows(o, o.bin, r, true)...)
		}
		if o.desktopBin != "" && ctx.Err() == nil {
			say("idle RSS of the desktop build (%s)", o.idle)
			r, err := measureIdle(ctx, o, o.desktopBin, ms.URL())
			if err != nil {
				fail("idle RSS (desktop build)", gatewayCommand(o.desktopBin), err)
			} else {
				rep.Rows = append(rep.Rows, idleRows(o, o.desktopBin, r, false)...)
			}
		}
	}
	if o.only["chat"] {
		var levels []chatLevel
		for _, n := range o.levels {
			levels = append(levels, chatLevel{sessions: n})
		}
		if o.sharedLevel > 0 {
			levels = append(levels, chatLevel{sessions: o.sharedLevel, sharedConn: true})
		}
		if o.pacedLevel > 0 {
			levels = append(levels, chatLevel{sessions: o.pacedLevel, think: o.think})
		}
		say("append + fsync")
		if d, dir, err := measureAppendFsync(500, 3*time.Second); err != nil {
			fail("append + fsync", "", err)
		} else {
			rep.Rows = append(rep.Rows, diskRow(d, dir))
		}
		for _, lvl := range levels {
			if ctx.Err() != nil {
				return true
			}
			say("chat, %s (%s + %s)", lvl, o.warmup, o.duration)
			r, err := runChatLevel(ctx, o, lvl)
			if r != nil && r.roundTrips > 0 {
				rows, notes := chatRows(o, r)
				rep.Rows = append(rep.Rows, rows...)
				rep.Notes = append(rep.Notes, notes...)
			}
			if err != nil {
				fail("chat, "+lvl.String(), gatewayCommand(o.bin), err)
			}
		}
	}
	if o.only["vault"] && ctx.Err() == nil {
		say("vault, in process")
		if r, err := measureVault(ctx); err != nil {
			fail("vault", "in process, core/vault", err)
		} else {
			rep.Rows = append(rep.Rows, vaultRows(r)...)
			rep.Notes = append(rep.Notes, vaultNote())
		}
	}
	if o.only["channels"] && ctx.Err() == nil {
		say("channels: telegram DMs, %s (%s + %s, then a %d-DM flood for %s)", plural(o.channelPeers, "peer"), o.warmup, o.duration, floodMessages, floodWindow)
		r, err := runChannels(ctx, o)
		if r != nil && len(r.warmup.rtts) > 0 {
			rep.Rows = append(rep.Rows, channelRows(o, r)...)
			rep.Notes = append(rep.Notes, channelNotes(o, r)...)
		}
		if err != nil {
			fail("telegram DMs", channelGatewayCommand(o.bin), err)
		}
		if ctx.Err() == nil {
			say("channels: idle RSS with and without telegram, %d gateways (%s)", 2*idlePairs, o.idle)
			r, err := measureChannelIdle(ctx, o, ms.URL())
			if err != nil {
				fail("memory per idle connected channel", channelGatewayCommand(o.bin), err)
			} else {
				rep.Rows = append(rep.Rows, channelIdleRow(o, r))
			}
			rep.Notes = append(rep.Notes, channelIdleNotes(r)...)
		}
	}
	if o.only["memory"] && ctx.Err() == nil {
		say("memory, in process")
		failed = runMemoryStep(ctx, o, rep) || failed
	}
	return failed
}

// methodNotes explains how to read the table.
func methodNotes(o *options) []string {
	shared := "The machine may be shared with other work (see the load averages above), so single numbers are noisy: compare rows of one run as ratios rather than across runs."
	if !needsBinary(o.only) {
		return []string{shared} // the rest is about the gateway steps
	}
	return []string{
		shared,
		"Every measurement starts `genos gateway` on its own fresh temporary state dir (GENOS_STATE_DIR) whose config points the model at an in-process loopback server (core/model/modeltest, provider openai, model " + benchModel + ", zero latency, streamed echo replies), and reads the token from `<statedir>/gateway.token`.",
		"Cold start: the clock starts just before exec. Once the address line is printed, GET /health (new TCP connection per try) and dial + connect + health RPC are retried every 1 ms side by side; pass/fail compares the median with the target.",
		"Added latency: client round trip (chat.send until that run's chat final event, through the WebSocket) minus the model's share. The model's share is measured by timing direct HTTP POSTs of the very request bodies the gateway sent during warm-up to the model server, from as many concurrent clients as there are sessions (for the paced level: as many as its round trips in flight on average), with kept-alive connections; both percentiles are subtracted separately (p99 − p99), so an added p99 is an estimate, not a per-request difference. What remains is the gateway's own work: WebSocket frames, session open, transcript appends with fsync, the prompt, the model client (HTTP and SSE parsing) and event broadcast, plus any queueing behind the gateway's limit on concurrent runs.",
		fmt.Sprintf("Each worker moves to a new session every %d round trips: the gateway re-reads the whole transcript and sends the whole history to the model on every run, so one endless session would measure history growth instead of the gateway.", o.turnsPerSession),
		"Back-to-back workers keep the gateway saturated, so at N sessions a round trip is roughly N ÷ throughput (time queued behind the other sessions), not the cost of one message; the paced level shows the latency added at a load the gateway keeps up with.",
		"Workers connect with scope \"own\" (as the CLI does), so each connection receives only its own sessions' chat events; the shared-connection level multiplexes every session over one WebSocket.",
		"Vault on: every state dir has a vault, unlocked at start from GENOS_VAULT_PASSPHRASE, so transcript lines are sealed. The gateway answers health before that unlock (one PBKDF2, see the unlock row) and holds requests that need the vault until it is done; the \"vault unlocked\" rows time that.",
	}
}

// shellJoin renders args so the printed command can be pasted into a shell.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
