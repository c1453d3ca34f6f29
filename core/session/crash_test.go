package session

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/vault"
)

const crashChildEnv = "GENOS_TRANSCRIPT_CRASH_CHILD"

// TestTranscriptCrashChild is the child side of TestTranscriptCrash: it
// appends until killed and prints each id once its Append has returned.
func TestTranscriptCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("child process of TestTranscriptCrash")
	}
	parts := strings.Split(spec, "|")
	path, prefix := parts[0], parts[1]
	codec, err := crashCodec(parts[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vault:", err)
		os.Exit(2)
	}
	tr, err := OpenTranscript(path, codec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	// Bounded so that an orphaned child cannot run forever.
	for i := range 100000 {
		id := fmt.Sprintf("%s-%d", prefix, i)
		recs := []chat.Record{rec(id, chat.RoleUser, strings.Repeat("payload ", 1+i%50))}
		if i%3 == 0 { // multi-record appends too
			recs = append(recs, rec(id+"-b", chat.RoleAssistant, "reply"))
		}
		if err := tr.Append(recs...); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(2)
		}
		fmt.Fprintln(out, id)
		_ = out.Flush()
	}
	os.Exit(0)
}

// crashPass is the vault passphrase of the sealed crash test.
const crashPass = "crash test passphrase"

// crashCodec is b64Codec, or the strict codec of the vault in vaultDir.
func crashCodec(vaultDir string) (LineCodec, error) {
	if vaultDir == "" {
		return b64Codec{}, nil
	}
	v, err := vault.Open(vaultDir, vault.Options{})
	if err != nil {
		return nil, err
	}
	if err := v.Unlock([]byte(crashPass)); err != nil {
		return nil, err
	}
	return v.StrictLineCodec(), nil
}

func TestTranscriptCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	t.Run("encoded", func(t *testing.T) { transcriptCrash(t, "", 0, 40) })
	// Sealed lines as the vault writes them: at least 1,000 acknowledged
	// appends across the kills, and nothing unreadable afterwards.
	t.Run("sealed", func(t *testing.T) {
		dir := t.TempDir()
		v, err := vault.Create(dir, []byte(crashPass), vault.Options{})
		if err != nil {
			t.Fatal(err)
		}
		v.Lock()
		transcriptCrash(t, dir, 50, 60)
	})
}

// transcriptCrash kills an appending child 20 times, each after between
// minAcks and minAcks+spread acknowledged appends plus a random delay.
func transcriptCrash(t *testing.T, vaultDir string, minAcks, spread int) {
	codec, err := crashCodec(vaultDir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.jsonl")
	r := rand.New(rand.NewPCG(7, 11))
	acked := map[string]bool{}
	const kills = 20
	for round := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTranscriptCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|k%d|%s", crashChildEnv, path, round, vaultDir))
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
		target := minAcks + r.IntN(spread)
		sc := bufio.NewScanner(stdout)
		var got []string
		for len(got) < target && sc.Scan() {
			got = append(got, sc.Text())
		}
		time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Ids printed before the kill are acknowledged too.
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		_ = cmd.Wait()
		if len(got) < target {
			t.Fatalf("round %d: child exited early after %d acks: %s", round, len(got), stderr.String())
		}
		for _, id := range got {
			acked[id] = true
		}

		tr, err := OpenTranscript(path, codec)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		recs, err := tr.Records()
		if err != nil {
			t.Fatalf("round %d: read after kill: %v", round, err)
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		present := map[string]bool{}
		for _, rc := range recs {
			if present[rc.ID] {
				t.Fatalf("round %d: duplicate record %s", round, rc.ID)
			}
			present[rc.ID] = true
		}
		for id := range acked {
			if !present[id] {
				t.Fatalf("round %d: acknowledged record %s lost", round, id)
			}
		}
	}
	if len(acked) == 0 || len(acked) < minAcks*kills {
		t.Fatalf("only %d appends were acknowledged", len(acked))
	}
	t.Logf("%d acknowledged appends survived %d kills", len(acked), kills)
}
