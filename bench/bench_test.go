package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", ms(7), 50, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"median of 10 is the 5th value", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5 * time.Millisecond},
		{"median of 3", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p1 of 100", hundred, 1, 1 * time.Millisecond},
		{"p0 is the min", hundred, 0, 1 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"above 100 clamps", hundred, 250, 100 * time.Millisecond},
		{"negative clamps", hundred, -3, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	in := ms(9, 1, 5, 3, 7)
	got := summarize(in)
	want := summary{N: 5, Min: ms(1)[0], P50: ms(5)[0], P99: ms(9)[0], Max: ms(9)[0], Mean: ms(5)[0]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summarize mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ms(9, 1, 5, 3, 7), in); diff != "" {
		t.Errorf("summarize reordered its input (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(summary{}, summarize(nil)); diff != "" {
		t.Errorf("summarize(nil) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseListenLine(t *testing.T) {
	tests := []struct {
		name, line, want string
		ok               bool
	}{
		{"gateway line", "Genos gateway 0.1.0-dev listening on ws://127.0.0.1:43125/ws (state dir /tmp/genos-bench-1)", "127.0.0.1:43125", true},
		{"ipv6", "Genos gateway v1 listening on ws://[::1]:18789/ws (state dir /x)", "[::1]:18789", true},
		{"no state dir suffix", "Genos gateway dev listening on ws://localhost:1/ws", "localhost:1", true},
		{"setup hint line", "No model is configured yet: run `genos setup` in another terminal, then restart the gateway.", "", false},
		{"no path", "Genos gateway dev listening on ws://127.0.0.1:18789 (state dir /x)", "", false},
		{"no port", "Genos gateway dev listening on ws://127.0.0.1/ws", "", false},
		{"port zero", "Genos gateway dev listening on ws://127.0.0.1:0/ws", "", false},
		{"port too big", "Genos gateway dev listening on ws://127.0.0.1:70000/ws", "", false},
		{"empty host", "Genos gateway dev listening on ws://:80/ws", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseListenLine(tt.line)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseListenLine(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRenderTable(t *testing.T) {
	rows := []row{
		{Name: "cold start", Value: "min 1.00 ms / median 2.00 ms", Target: "median < 50.0 ms", Verdict: verdictPass, Command: "bin/genos gateway --listen 127.0.0.1:0"},
		{Name: "a|b", Value: "line1\nline2", Verdict: verdictInfo},
		{Name: "rss", Value: "31.0 MiB", Target: "< 30.0 MiB", Verdict: verdictFail, Command: "uses `ps`"},
		{Name: "broken", Value: "not measured", Verdict: verdictError, Command: "x"},
	}
	want := strings.Join([]string{
		"| Measurement | Value | Target | Result | Command / parameters |",
		"|---|---|---|---|---|",
		"| cold start | min 1.00 ms / median 2.00 ms | median < 50.0 ms | pass | `bin/genos gateway --listen 127.0.0.1:0` |",
		`| a\|b | line1 line2 | — | — | — |`,
		"| rss | 31.0 MiB | < 30.0 MiB | **FAIL** | `uses 'ps'` |",
		"| broken | not measured | — | **ERROR** | `x` |",
		"",
	}, "\n")
	if diff := cmp.Diff(want, renderTable(rows)); diff != "" {
		t.Errorf("renderTable mismatch (-want +got):\n%s", diff)
	}
}

func TestReportMarkdown(t *testing.T) {
	r := &report{
		Machine: machine{Date: "2025-01-02 03:04:05 UTC", Uname: "Linux 6.1.0 x86_64", CPU: "Test CPU", Cores: 2,
			GoVersion: "go1.26", Binary: "bin/genos (go1.26)", LoadStart: "0.10 0.20 0.30", LoadEnd: "1.00 0.50 0.40"},
		Command: "go run ./bench -bin bin/genos",
		Elapsed: 90 * time.Second,
		Rows:    []row{{Name: "n", Value: "v", Verdict: verdictInfo}},
		Notes:   []string{"first\nnote"},
	}
	md := r.markdown()
	for _, want := range []string{
		"- Date: 2025-01-02 03:04:05 UTC\n",
		"- Machine: Linux 6.1.0 x86_64; CPU: Test CPU; 2 cores\n",
		"- Go: go1.26 (harness); gateway binary: bin/genos (go1.26)\n",
		"at start: 0.10 0.20 0.30; at end: 1.00 0.50 0.40\n",
		"- Command: `go run ./bench -bin bin/genos` (1m30s in total)\n",
		"| n | v | — | — | — |\n",
		"- first note\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tgenos\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n"
	got, err := parseProcStatus([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(procMem{RSS: 10 << 20, Peak: 20 << 20, Threads: 7}, got); diff != "" {
		t.Errorf("parseProcStatus mismatch (-want +got):\n%s", diff)
	}
	for name, bad := range map[string]string{
		"no VmRSS":   "Name:\tgenos\nThreads:\t7\n",
		"bad number": "VmRSS:\t  12x kB\n",
		"bad unit":   "VmRSS:\t  12 MB\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseProcStatus([]byte(bad)); err == nil {
				t.Errorf("parseProcStatus(%q) succeeded, want an error", bad)
			}
		})
	}
}

func TestParseTimeWait(t *testing.T) {
	// Remote port 0x1F90 = 8080; state 06 is TIME_WAIT, 01 ESTABLISHED.
	data := `  sl  local_address rem_address   st tx_queue rx_queue
   0: 0100007F:A1B2 0100007F:1F90 06 00000000:00000000
   1: 0100007F:A1B3 0100007F:1F90 06 00000000:00000000
   2: 0100007F:A1B4 0100007F:1F90 01 00000000:00000000
   3: 0100007F:A1B5 0100007F:1F91 06 00000000:00000000
`
	if got := parseTimeWait([]byte(data), 8080); got != 2 {
		t.Errorf("parseTimeWait = %d, want 2", got)
	}
}

func TestParseCPUInfo(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"x86", "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n", "Intel(R) Xeon(R) CPU @ 2.20GHz"},
		{"arm", "processor\t: 0\nBogoMIPS\t: 48.00\nHardware\t: BCM2835\n", "BCM2835"},
		{"nothing", "processor\t: 0\n", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCPUInfo([]byte(tt.in)); got != tt.want {
				t.Errorf("parseCPUInfo = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseLevels(t *testing.T) {
	got, err := parseLevels(" 1, 16 ,64,")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1, 16, 64}, got); diff != "" {
		t.Errorf("parseLevels mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"0", "x", "1,-2", "2000"} {
		if _, err := parseLevels(bad); err == nil {
			t.Errorf("parseLevels(%q) succeeded, want an error", bad)
		}
	}
}

func TestCheckFinal(t *testing.T) {
	final := func(runID, content string) api.ChatEvent {
		return api.ChatEvent{RunID: runID, SessionKey: "agent:0123abcd:main", State: api.ChatFinal,
			Message: &chat.Record{Role: chat.RoleAssistant, Content: content}}
	}
	tests := []struct {
		name    string
		ev      api.ChatEvent
		wantErr string
	}{
		{"ok", final("run_1", "echo: hi"), ""},
		{"other run", final("run_2", "echo: hi"), "names run run_2"},
		{"wrong text", final("run_1", "echo: bye"), "is not the echo"},
		{"error", api.ChatEvent{RunID: "run_1", State: api.ChatError, ErrorMessage: "model down"}, "run failed: model down"},
		{"aborted", api.ChatEvent{RunID: "run_1", State: api.ChatAborted}, "run ended aborted"},
		{"no message", api.ChatEvent{RunID: "run_1", State: api.ChatFinal}, "without a message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkFinal(tt.ev, "run_1", "hi")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("checkFinal: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("checkFinal: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWorkerSessionKeyRotation(t *testing.T) {
	w := &worker{id: 3, agentID: "0123abcd", perSession: 2}
	var keys []string
	for range 5 {
		if w.turn >= w.perSession {
			w.gen++
			w.turn = 0
		}
		w.turn++
		keys = append(keys, w.sessionKey())
	}
	want := []string{
		"agent:0123abcd:bench:direct:w3", "agent:0123abcd:bench:direct:w3",
		"agent:0123abcd:bench:direct:w3-1", "agent:0123abcd:bench:direct:w3-1",
		"agent:0123abcd:bench:direct:w3-2",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("session keys mismatch (-want +got):\n%s", diff)
	}
}

func TestLogTail(t *testing.T) {
	lt := newLogTail(64)
	// Lines arrive split across writes, as from a pipe.
	for _, part := range []string{"time=1 level=INFO msg=ready\ntime=2 level=WA", "RN msg=slow\n", "time=3 level=ERROR msg=boom\npanic: x\n"} {
		if _, err := lt.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	warn, errs, samples := lt.counts()
	if warn != 1 || errs != 2 {
		t.Errorf("counts = %d warnings, %d errors; want 1, 2", warn, errs)
	}
	if diff := cmp.Diff([]string{"time=2 level=WARN msg=slow", "time=3 level=ERROR msg=boom", "panic: x"}, samples); diff != "" {
		t.Errorf("samples mismatch (-want +got):\n%s", diff)
	}
	if got := lt.last(1000); len(got) > 64*2 || !strings.HasSuffix(got, "panic: x ⏎") {
		t.Errorf("last = %q, want the tail ending in the panic line", got)
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"-bin":             "-bin",
		"bin/genos":        "bin/genos",
		"bench/RESULTS.md": "bench/RESULTS.md",
		"a b":              "'a b'",
		"it's":             `'it'\''s'`,
		"":                 "''",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPhaseResultAddErr(t *testing.T) {
	var p phaseResult
	p.addErr(errors.New("chat.send: RATE_LIMITED: slow down"))
	p.addErr(errors.Join(errFatal, errors.New("gone")))
	if p.errs != 2 || p.fatal != 1 || len(p.samples) != 2 {
		t.Errorf("phaseResult = %+v, want 2 errors, 1 fatal, 2 samples", p)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime ...
	stat := "1234 (genos gw) S 1 1234 1234 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0\n"
	got, err := parseProcStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseProcStatCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"no parens at all", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 5"} {
		if _, err := parseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseProcStatCPU(%q) succeeded, want an error", bad)
		}
	}
}

func TestReplayConcurrency(t *testing.T) {
	tests := []struct {
		name string
		lvl  chatLevel
		p50  time.Duration
		want int
	}{
		{"back to back uses every session", chatLevel{sessions: 16}, 5 * time.Millisecond, 16},
		{"paced, little in flight", chatLevel{sessions: 16, think: 100 * time.Millisecond}, 3 * time.Millisecond, 1},
		{"paced, half in flight", chatLevel{sessions: 16, think: 10 * time.Millisecond}, 10 * time.Millisecond, 8},
		{"paced, never above sessions", chatLevel{sessions: 4, think: time.Millisecond}, time.Second, 4},
		{"paced without a warm-up median", chatLevel{sessions: 4, think: time.Second}, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replayConcurrency(tt.lvl, tt.p50); got != tt.want {
				t.Errorf("replayConcurrency = %d, want %d", got, tt.want)
			}
		})
	}
}
