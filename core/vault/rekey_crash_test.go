package vault

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genos-project/genos/core/durable"
)

// The real-fault rekey test: a child process rekeys a vault over and over,
// re-sealing 200 files and an append-only line file each time and appending
// acknowledged lines, while the parent SIGKILLs it at random points. After
// every kill the parent recovers with whichever passphrase works.

const (
	rekeyChildEnv  = "GENOS_VAULT_REKEY_CRASH_CHILD"
	crashFiles     = 200
	crashPassA     = "crash passphrase A"
	crashPassB     = "crash passphrase B"
	crashLinesName = "lines.jsonl"
)

// crashSpec tells the child where the vault is and which passphrase is
// current.
type crashSpec struct {
	Root  string
	Cur   string
	Other string
}

func crashFile(root string, i int) string {
	return filepath.Join(root, "data", fmt.Sprintf("f%03d", i))
}

func crashContent(i int) string { return fmt.Sprintf("file %d: %s", i, strings.Repeat("x", i)) }

// resealCrashFiles re-seals every file not yet under the current key, one
// atomic write each, calling progress after each file.
func resealCrashFiles(v *Vault, root string, progress func(i int) error) error {
	for i := range crashFiles {
		path := crashFile(root, i)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		stale, err := v.NeedsReseal(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if stale {
			pt, err := v.OpenFile(b)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := v.WriteFile(path, pt); err != nil {
				return err
			}
		}
		if err := progress(i); err != nil {
			return err
		}
	}
	return nil
}

// readCrashLines reads the line file with the strict codec and returns the
// numbers of its records. A torn last line is cut off first, as a
// transcript's open does; any other bad line is an error.
func readCrashLines(v *Vault, path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if keep := bytes.LastIndexByte(b, '\n') + 1; keep < len(b) {
		if err := os.Truncate(path, int64(keep)); err != nil {
			return nil, err
		}
		b = b[:keep]
	}
	var ns []int
	codec := v.StrictLineCodec()
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		if len(line) == 0 && len(b) == 0 {
			break
		}
		pt, err := codec.DecodeLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		var rec struct{ N int }
		if err := json.Unmarshal(pt, &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		ns = append(ns, rec.N)
	}
	return ns, nil
}

// resealCrashLines rewrites the line file with every line sealed under the
// current key, atomically. Appends must be stopped meanwhile.
func resealCrashLines(v *Vault, path string) error {
	ns, err := readCrashLines(v, path)
	if err != nil {
		return err
	}
	var out []byte
	for _, n := range ns {
		line, err := v.SealLine(fmt.Appendf(nil, `{"n":%d}`, n))
		if err != nil {
			return err
		}
		out = append(append(out, line...), '\n')
	}
	return durable.WriteFile(path, out, 0o600)
}

// lineAppender appends sealed lines, one write and one fsync each.
type lineAppender struct {
	v    *Vault
	path string
	f    *os.File
	size int64
	next int
}

func openAppender(v *Vault, path string, next int) (*lineAppender, error) {
	f, _, err := durable.OpenAppendOnly(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &lineAppender{v: v, path: path, f: f, size: fi.Size(), next: next}, nil
}

func (a *lineAppender) append() error {
	line, err := a.v.SealLine(fmt.Appendf(nil, `{"n":%d}`, a.next))
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if _, err := a.f.WriteAt(line, a.size); err != nil {
		return err
	}
	if err := a.f.Sync(); err != nil {
		return err
	}
	a.size += int64(len(line))
	a.next++
	return nil
}

// TestRekeyCrashChild is the child side of TestRekeyCrash: it rekeys back
// and forth until killed, printing its progress and "ack N" once N lines are
// durable.
func TestRekeyCrashChild(t *testing.T) {
	spec := os.Getenv(rekeyChildEnv)
	if spec == "" {
		t.Skip("child process of TestRekeyCrash")
	}
	var c crashSpec
	err := json.Unmarshal([]byte(spec), &c)
	if err == nil {
		err = rekeyCrashChild(c, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func rekeyCrashChild(c crashSpec, stdout io.Writer) error {
	out := bufio.NewWriter(stdout)
	say := func(format string, a ...any) error {
		fmt.Fprintf(out, format+"\n", a...)
		return out.Flush()
	}
	v := mustOpenUnlock(c.Root, c.Cur)
	if v == nil {
		return errors.New("current passphrase does not unlock")
	}
	linesPath := filepath.Join(c.Root, crashLinesName)
	ns, err := readCrashLines(v, linesPath)
	if err != nil {
		return err
	}
	app, err := openAppender(v, linesPath, len(ns))
	if err != nil {
		return err
	}
	ack := func() error {
		if err := app.append(); err != nil {
			return err
		}
		return say("ack %d", app.next)
	}
	cur, other := c.Cur, c.Other
	// Bounded so that an orphaned child cannot run forever.
	for range 30 {
		say("begin")
		r, err := v.BeginRekey([]byte(cur), []byte(other))
		if err != nil {
			return err
		}
		say("begun")
		err = resealCrashFiles(v, c.Root, func(i int) error {
			if i%25 == 0 {
				if err := ack(); err != nil {
					return err
				}
			}
			return say("f %d", i)
		})
		if err != nil {
			return err
		}
		app.f.Close()
		if err := resealCrashLines(v, linesPath); err != nil {
			return err
		}
		if app, err = openAppender(v, linesPath, app.next); err != nil {
			return err
		}
		say("lines")
		say("finish")
		if err := r.Finish(); err != nil {
			return err
		}
		say("finished")
		cur, other = other, cur
		if err := ack(); err != nil {
			return err
		}
	}
	return nil
}

// mustOpenUnlock opens and unlocks the vault under root, or returns nil.
func mustOpenUnlock(root, pass string) *Vault {
	v, err := Open(filepath.Join(root, "vault"), Options{})
	if err != nil || v.Unlock([]byte(pass)) != nil {
		return nil
	}
	return v
}

// crashTrigger is where the parent kills the child: after the nth
// occurrence of an event (a line the child prints), plus a delay.
type crashTrigger struct {
	event string
	nth   int
	delay time.Duration
}

func (c crashTrigger) String() string { return fmt.Sprintf("%s #%d +%v", c.event, c.nth, c.delay) }

func randomTrigger(r *rand.Rand) crashTrigger {
	nth := 1 + r.IntN(2)
	switch r.IntN(4) {
	case 0: // during the key derivations or the journal write
		return crashTrigger{"begin", nth, time.Duration(r.IntN(300)) * time.Millisecond}
	case 1: // while files are re-sealed
		return crashTrigger{fmt.Sprintf("f %d", r.IntN(crashFiles)), nth, time.Duration(r.IntN(2000)) * time.Microsecond}
	case 2: // while the line file is re-sealed
		return crashTrigger{fmt.Sprintf("f %d", crashFiles-1), nth, time.Duration(r.IntN(5000)) * time.Microsecond}
	default: // inside Finish
		return crashTrigger{"finish", nth, time.Duration(r.IntN(6000)) * time.Microsecond}
	}
}

func TestRekeyCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	root := t.TempDir()
	v, err := Create(filepath.Join(root, "vault"), []byte(crashPassA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range crashFiles {
		if err := v.WriteFile(crashFile(root, i), []byte(crashContent(i))); err != nil {
			t.Fatal(err)
		}
	}
	app, err := openAppender(v, filepath.Join(root, crashLinesName), 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := app.append(); err != nil {
			t.Fatal(err)
		}
	}
	app.f.Close()
	v.Lock()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	cur, other := crashPassA, crashPassB
	acked := 3
	states := map[string]int{}
	// Rounds are bounded by count and by time, to keep the test short on a
	// slow (or -race) build; at least minRounds always run.
	const minRounds, maxRounds, budget = 4, 10, 12 * time.Second
	start := time.Now()
	for round := 0; round < maxRounds && (round < minRounds || time.Since(start) < budget); round++ {
		trig := randomTrigger(r)
		spec, _ := json.Marshal(crashSpec{Root: root, Cur: cur, Other: other})
		cmd := exec.Command(os.Args[0], "-test.run=^TestRekeyCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), rekeyChildEnv+"="+string(spec))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails before the kill
		sc := bufio.NewScanner(stdout)
		seen := 0
		note := func(line string) {
			if n, ok := strings.CutPrefix(line, "ack "); ok {
				if a, err := strconv.Atoi(n); err == nil {
					acked = max(acked, a)
				}
			}
		}
		for seen < trig.nth && sc.Scan() {
			note(sc.Text())
			if sc.Text() == trig.event {
				seen++
			}
		}
		time.Sleep(trig.delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // acknowledged before the kill
			note(sc.Text())
		}
		_ = cmd.Wait()
		if seen < trig.nth {
			t.Fatalf("round %d: child exited before %s: %s", round, trig, stderr.String())
		}
		state := crashState(t, root)
		states[state]++
		recoverCrash(t, root, &cur, &other, &acked)
		t.Logf("round %d: killed at %s: %s; %d lines", round, trig, state, acked)
	}
	t.Logf("states after the kills: %v", states)
}

// crashState describes the rekey state a kill left on disk.
func crashState(t *testing.T, root string) string {
	dir := filepath.Join(root, "vault")
	if _, err := os.Stat(filepath.Join(dir, RekeyFile)); err != nil {
		return "no rekey pending"
	}
	j := readJournalFile(t, dir)
	if mustParse(t, readFile(t, filepath.Join(dir, CheckFile))).salt == j.check.salt {
		return "rekey pending, vault.check already replaced"
	}
	return "rekey pending"
}

// recoverCrash is what a restart does after a kill: unlock with whichever
// passphrase works (both must, while a rekey is pending), check that every
// file opens and no acknowledged line is lost, and finish a pending rekey.
// It updates cur and other to the passphrases' new roles and acked to the
// number of lines now in the file, and reports whether a rekey was pending.
func recoverCrash(t *testing.T, root string, cur, other *string, acked *int) bool {
	t.Helper()
	dir := filepath.Join(root, "vault")
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pending := w.RekeyPending()
	errCur, errOther := w.Unlock([]byte(*cur)), w.Unlock([]byte(*other))
	switch {
	case pending && (errCur != nil || errOther != nil):
		t.Fatalf("rekey pending, but not both passphrases unlock: %v; %v", errCur, errOther)
	case !pending && (errCur == nil) == (errOther == nil):
		t.Fatalf("no rekey pending, but not exactly one passphrase unlocks: %v; %v", errCur, errOther)
	case !pending && errCur != nil:
		*cur, *other = *other, *cur
	}
	verifyCrashState(t, w, root, *acked)
	if pending {
		rk, err := w.ResumeRekey()
		if err != nil {
			t.Fatal(err)
		}
		if err := resealCrashFiles(w, root, func(int) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := resealCrashLines(w, filepath.Join(root, crashLinesName)); err != nil {
			t.Fatal(err)
		}
		if err := rk.Finish(); err != nil {
			t.Fatal(err)
		}
		w.Lock()
		// Only the new passphrase unlocks now; which one it is depends on
		// how many rekeys the child finished.
		errCur, errOther = w.Unlock([]byte(*cur)), w.Unlock([]byte(*other))
		if (errCur == nil) == (errOther == nil) {
			t.Fatalf("after Finish, not exactly one passphrase unlocks: %v; %v", errCur, errOther)
		}
		if errCur != nil {
			*cur, *other = *other, *cur
		}
		verifyCrashState(t, w, root, *acked)
	}
	ns, err := readCrashLines(w, filepath.Join(root, crashLinesName))
	if err != nil {
		t.Fatal(err)
	}
	*acked = len(ns)
	w.Lock()
	return pending
}

// verifyCrashState checks every file's content and that the line file holds
// at least acked lines, numbered in order without gaps.
func verifyCrashState(t *testing.T, v *Vault, root string, acked int) {
	t.Helper()
	for i := range crashFiles {
		pt, err := v.ReadFile(crashFile(root, i))
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if string(pt) != crashContent(i) {
			t.Fatalf("file %d has the wrong content", i)
		}
	}
	ns, err := readCrashLines(v, filepath.Join(root, crashLinesName))
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) < acked {
		t.Fatalf("%d lines after the kill, %d were acknowledged", len(ns), acked)
	}
	for i, n := range ns {
		if n != i {
			t.Fatalf("line %d holds record %d", i, n)
		}
	}
}
