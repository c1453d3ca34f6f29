package inbox

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
)

const crashChildEnv = "GENOS_INBOX_CRASH_CHILD"

// crashKeyByte makes the key pair shared by the parent and the child.
const crashKeyByte = 0x33

// TestInboxCrashChild is the child side of the crash tests. In "put" mode
// it appends until killed and prints each message id once its Put has
// returned; in "drain" mode it drains, printing each id fn accepts, and
// refuses some messages at random so that Drain also stops and compacts.
func TestInboxCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("child process of the crash tests")
	}
	parts := strings.SplitN(spec, "|", 3)
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "bad spec", spec)
		os.Exit(2)
	}
	mode, path, round := parts[0], parts[1], parts[2]
	priv, pub := testKeys(t, crashKeyByte)
	q, err := Open(path, pub, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	switch mode {
	case "put":
		// Bounded so that an orphaned child cannot run forever.
		for i := range 5000 {
			in := testMsg(i)
			in.MessageID = round + "-" + strconv.Itoa(i)
			in.Text = strings.Repeat("x", (i*397)%6000)
			if err := q.Put(in); err != nil {
				fmt.Fprintln(os.Stderr, "put:", err)
				os.Exit(2)
			}
			fmt.Fprintln(out, in.MessageID)
			_ = out.Flush()
		}
	case "drain":
		seed, _ := strconv.Atoi(round)
		r := rand.New(rand.NewPCG(uint64(seed), 9))
		errRefused := errors.New("refused")
		fn := func(in chat.Inbound) error {
			if r.IntN(6) == 0 {
				return errRefused
			}
			fmt.Fprintln(out, in.MessageID)
			return out.Flush()
		}
		for q.Len() > 0 {
			if err := q.Drain(priv, fn); err != nil && !errors.Is(err, errRefused) {
				fmt.Fprintln(os.Stderr, "drain:", err)
				os.Exit(2)
			}
		}
	}
	os.Exit(0)
}

// runCrashChild starts a child in mode, reads at least target acknowledged
// ids, SIGKILLs it after a random short delay and returns every id it
// acknowledged. A child that finishes first is fine.
func runCrashChild(t *testing.T, r *rand.Rand, mode, path string, round, target int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInboxCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", crashChildEnv, mode, path, round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var got []string
	for len(got) < target && sc.Scan() {
		got = append(got, sc.Text())
	}
	// The delay spreads the kill over the phases of a Put or a delivery.
	time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() { // ids printed before the kill are acknowledged too
		got = append(got, sc.Text())
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() == 2) {
		t.Fatalf("round %d: child failed: %v: %s", round, err, stderr.String())
	}
	return got
}

// TestCrashPut SIGKILLs a child at random points of its Puts; after each
// reopen every acknowledged message is still queued, and a final Drain
// delivers each exactly once.
func TestCrashPut(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	priv, pub := testKeys(t, crashKeyByte)
	r := rand.New(rand.NewPCG(3, 5))
	var acked []string
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	const kills = 20
	for round := range kills {
		got := runCrashChild(t, r, "put", path, round, r.IntN(30))
		acked = append(acked, got...)
		// SIGKILL cannot split one write(); a power cut can. Simulate what
		// it leaves after some rounds: part of a line or zero-filled blocks.
		if r.IntN(3) == 0 {
			appendTornTail(t, r, path)
		}
		q, err := Open(path, pub, Options{Logger: logger})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if q.Len() < len(acked) {
			t.Fatalf("round %d: %d queued, %d acknowledged", round, q.Len(), len(acked))
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no Put was acknowledged in any round")
	}
	t.Logf("%d acknowledged, %d torn tails repaired", len(acked), strings.Count(logs.String(), "torn tail"))
	q, err := Open(path, pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	delivered := map[string]int{}
	err = q.Drain(priv, func(in chat.Inbound) error {
		delivered[in.MessageID]++
		return nil
	})
	if err != nil {
		t.Fatalf("drain after crashes: %v", err)
	}
	for _, id := range acked {
		if delivered[id] != 1 {
			t.Errorf("acknowledged message %s delivered %d times", id, delivered[id])
		}
	}
	if exists(q.badPath) {
		t.Error("a crash produced a damaged line")
	}
}

// TestCrashDrain SIGKILLs a child at random points of Drain (deliveries,
// cursor updates, compactions, the final truncation) while the parent keeps
// adding messages between rounds. Every message is delivered at least once,
// and a kill repeats at most the one message whose delivery it interrupted.
func TestCrashDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	priv, pub := testKeys(t, crashKeyByte)
	r := rand.New(rand.NewPCG(7, 11))
	var queued []string
	delivered := map[string]int{}
	put := func(round, n int) {
		q, err := Open(path, pub, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		defer q.Close()
		for i := range n {
			in := testMsg(i)
			in.MessageID = fmt.Sprintf("p%d-%d", round, i)
			if err := q.Put(in); err != nil {
				t.Fatal(err)
			}
			queued = append(queued, in.MessageID)
		}
	}
	const kills = 20
	for round := range kills {
		put(round, 5+r.IntN(15))
		for _, id := range runCrashChild(t, r, "drain", path, round, r.IntN(12)) {
			delivered[id]++
		}
	}
	q, err := Open(path, pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Drain(priv, func(in chat.Inbound) error { delivered[in.MessageID]++; return nil }); err != nil {
		t.Fatalf("final drain: %v", err)
	}
	repeats := 0
	for _, id := range queued {
		switch n := delivered[id]; {
		case n == 0:
			t.Errorf("message %s was never delivered", id)
		case n > 1:
			repeats += n - 1
		}
	}
	if len(delivered) != len(queued) {
		t.Errorf("%d distinct ids delivered, %d queued", len(delivered), len(queued))
	}
	if repeats > kills {
		t.Errorf("%d repeated deliveries in %d kills", repeats, kills)
	}
	t.Logf("%d messages, %d repeats", len(queued), repeats)
	if exists(q.badPath) {
		t.Error("a crash produced a damaged line")
	}
}

// appendTornTail appends an unacknowledged fragment: the start of a sealed
// line, or NUL bytes ending with or without a newline.
func appendTornTail(t *testing.T, r *rand.Rand, path string) {
	t.Helper()
	var tail []byte
	switch r.IntN(3) {
	case 0:
		tail = []byte(linePrefix + strings.Repeat("Qk", 1+r.IntN(500)))
	case 1:
		tail = make([]byte, 1+r.IntN(8192))
	default:
		tail = append(make([]byte, 1+r.IntN(100)), '\n')
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(tail); err != nil {
		t.Fatal(err)
	}
}
