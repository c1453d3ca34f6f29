package audit

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "GENOS_AUDIT_CRASH_CHILD"

// crashKey is shared by the parent and the child process.
var crashKey = testKey(0x33)

// TestAuditCrashChild is the child side of TestAuditCrash: it appends until
// killed and prints each record's id once its Append has returned.
func TestAuditCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("child process of TestAuditCrash")
	}
	path, round, _ := strings.Cut(spec, "|")
	l, err := Open(path, crashKey, b64Codec{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	// Bounded so that an orphaned child cannot run forever.
	for i := range 100000 {
		ev := Event{Event: EventExecRun, Fields: map[string]string{
			"round": round, "i": strconv.Itoa(i), "cmd": strings.Repeat("x", i%900),
		}}
		if err := l.Append(ev); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "%s-%d\n", round, i)
		_ = out.Flush()
	}
	os.Exit(0)
}

// TestAuditCrash SIGKILLs a child at random points of its appends and checks
// that after each reopen every acknowledged record is present once and the
// whole chain verifies.
func TestAuditCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	r := rand.New(rand.NewPCG(3, 5))
	acked := map[string]bool{}
	var lastHead Anchor
	const kills = 20
	for round := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAuditCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", crashChildEnv, path, round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of acknowledged appends plus a random
		// short delay, so the kill lands at varying points of an Append.
		target := r.IntN(40)
		sc := bufio.NewScanner(stdout)
		var got []string
		for len(got) < target && sc.Scan() {
			got = append(got, sc.Text())
		}
		time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() { // ids printed before the kill are acknowledged too
			got = append(got, sc.Text())
		}
		_ = cmd.Wait()
		if len(got) < target {
			t.Fatalf("round %d: child exited early after %d acks: %s", round, len(got), stderr.String())
		}
		for _, id := range got {
			acked[id] = true
		}

		// Reopening repairs a torn tail (and records that it did).
		l, err := Open(path, crashKey, b64Codec{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		res, err := VerifyFile(path, crashKey, b64Codec{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.TornTail {
			t.Fatalf("round %d: Verify after reopen = %+v", round, res)
		}
		if res.Head.Seq < lastHead.Seq {
			t.Fatalf("round %d: head went back from %d to %d", round, lastHead.Seq, res.Head.Seq)
		}
		lastHead = res.Head
		present := map[string]bool{}
		for _, rec := range mustRead(t, path, b64Codec{}) {
			if rec.Event != EventExecRun {
				continue
			}
			id := rec.Fields["round"] + "-" + rec.Fields["i"]
			if present[id] {
				t.Fatalf("round %d: duplicate record %s", round, id)
			}
			present[id] = true
		}
		for id := range acked {
			if !present[id] {
				t.Fatalf("round %d: acknowledged record %s lost", round, id)
			}
		}
	}
	if len(acked) == 0 {
		t.Fatal("no appends were acknowledged in any round")
	}
}
