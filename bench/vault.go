package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/vault"
)

// The vault step measures core/vault in process (ARCHITECTURE.md section 14:
// "NYXENC1 seal/open throughput and per-write cost"): no gateway binary is
// involved, so `-only vault` runs without one.

// Bounds of the vault step's timed loops, so that the whole step stays
// around 10 s.
const (
	vaultLoopBudget   = 500 * time.Millisecond // per seal/open size
	vaultAppendBudget = 2 * time.Second        // per append codec
	vaultAppendMax    = 300                    // appends per codec at most
	vaultUnlocks      = 5
	vaultPBKDFMax     = 10 // GenosOS-style seals (each one full PBKDF2)
	vaultPBKDFBudget  = 1500 * time.Millisecond
	vaultRecordBytes  = 200 // transcript record, as the disk row's line
)

// vaultSizes are the record sizes of the seal/open rows.
var vaultSizes = []int{1 << 10, 1 << 20}

// opRate is a timed loop of n operations on size bytes each.
type opRate struct {
	size    int
	n       int
	elapsed time.Duration
}

// mbps returns the throughput in MB/s (10^6 bytes); 0 for an empty loop.
func (r opRate) mbps() float64 {
	if r.n == 0 || r.elapsed <= 0 {
		return 0
	}
	return float64(r.size) * float64(r.n) / 1e6 / r.elapsed.Seconds()
}

// perOp returns the mean time of one operation.
func (r opRate) perOp() time.Duration {
	if r.n == 0 {
		return 0
	}
	return r.elapsed / time.Duration(r.n)
}

// vaultResult is everything the vault step measured.
type vaultResult struct {
	seal, open    []opRate // one per vaultSizes entry
	sealedAppend  []time.Duration
	plainAppend   []time.Duration
	unlock        []time.Duration
	pbkdfSeal     []time.Duration // 1 KiB sealed GenosOS's way, one PBKDF2 each
	dir           string          // where the files were written
	recordPayload int
}

// timeLoop runs fn back to back until budget has passed (at least once) and
// returns how many calls it made and how long they took.
func timeLoop(ctx context.Context, budget time.Duration, fn func() error) (int, time.Duration, error) {
	start := time.Now()
	n := 0
	for n == 0 || time.Since(start) < budget {
		if err := ctx.Err(); err != nil {
			return n, time.Since(start), err
		}
		if err := fn(); err != nil {
			return n, time.Since(start), err
		}
		n++
	}
	return n, time.Since(start), nil
}

// timeEach runs fn up to max times or until budget has passed and returns
// the duration of each call.
func timeEach(ctx context.Context, max int, budget time.Duration, fn func(i int) error) ([]time.Duration, error) {
	out := make([]time.Duration, 0, max)
	deadline := time.Now().Add(budget)
	for i := 0; i < max && (i == 0 || time.Now().Before(deadline)); i++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		t0 := time.Now()
		if err := fn(i); err != nil {
			return out, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// measureVault creates a vault in a temporary directory and times sealing,
// opening, transcript appends, unlock and GenosOS-style sealing.
func measureVault(ctx context.Context) (*vaultResult, error) {
	dir, err := os.MkdirTemp("", "genos-bench-vault-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	pass := []byte("bench passphrase, not a secret")
	v, err := vault.Create(filepath.Join(dir, "vault"), pass, vault.Options{})
	if err != nil {
		return nil, err
	}
	defer v.Lock()
	res := &vaultResult{dir: dir, recordPayload: vaultRecordBytes}

	for _, size := range vaultSizes {
		pt := bytes.Repeat([]byte{'x'}, size)
		var sealed []byte
		n, d, err := timeLoop(ctx, vaultLoopBudget, func() (err error) {
			sealed, err = v.SealFile(pt)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("seal %d bytes: %w", size, err)
		}
		res.seal = append(res.seal, opRate{size: size, n: n, elapsed: d})
		n, d, err = timeLoop(ctx, vaultLoopBudget, func() error {
			_, err := v.OpenFile(sealed)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("open %d bytes: %w", size, err)
		}
		res.open = append(res.open, opRate{size: size, n: n, elapsed: d})
	}

	if res.plainAppend, err = measureTranscriptAppend(ctx, filepath.Join(dir, "plain.jsonl"), session.PlainCodec{}); err != nil {
		return nil, fmt.Errorf("plaintext append: %w", err)
	}
	if res.sealedAppend, err = measureTranscriptAppend(ctx, filepath.Join(dir, "sealed.jsonl"), v.StrictLineCodec()); err != nil {
		return nil, fmt.Errorf("sealed append: %w", err)
	}

	w, err := vault.Open(v.Dir(), vault.Options{})
	if err != nil {
		return nil, err
	}
	res.unlock, err = timeEach(ctx, vaultUnlocks, time.Minute, func(int) error {
		defer w.Lock()
		return w.Unlock(pass)
	})
	if err != nil {
		return nil, fmt.Errorf("unlock: %w", err)
	}

	pt := bytes.Repeat([]byte{'x'}, 1<<10)
	res.pbkdfSeal, err = timeEach(ctx, vaultPBKDFMax, vaultPBKDFBudget, func(int) error {
		k, err := vault.NewKey(pass)
		if err != nil {
			return err
		}
		defer k.Destroy()
		_, err = vault.SealFile(k, pt)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("seal with a full PBKDF2: %w", err)
	}
	return res, nil
}

// measureTranscriptAppend times Transcript.Append (one record, fsync) with
// codec in a new transcript at path.
func measureTranscriptAppend(ctx context.Context, path string, codec session.LineCodec) ([]time.Duration, error) {
	tr, err := session.OpenTranscript(path, codec)
	if err != nil {
		return nil, err
	}
	content := strings.Repeat("x", vaultRecordBytes)
	ts := time.Now()
	d, err := timeEach(ctx, vaultAppendMax, vaultAppendBudget, func(i int) error {
		return tr.Append(chat.Record{ID: fmt.Sprintf("r%d", i), Role: chat.RoleUser, Content: content, Time: ts})
	})
	return d, errors.Join(err, tr.Close())
}

// vaultRows turns the vault step's results into table rows.
func vaultRows(r *vaultResult) []row {
	const where = "in process, core/vault with its real PBKDF2"
	var rows []row
	for i, s := range r.seal {
		o := r.open[i]
		size := fmtSize(s.size)
		rows = append(rows,
			row{
				Name:    "NYXENC1 seal, " + size + " records (file form)",
				Value:   fmt.Sprintf("%.0f MB/s (%s per record, n=%d)", s.mbps(), fmtShortDur(s.perOp()), s.n),
				Command: fmt.Sprintf("%s: Vault.SealFile back to back for %s", where, vaultLoopBudget),
			},
			row{
				Name:    "NYXENC1 open, " + size + " records (file form)",
				Value:   fmt.Sprintf("%.0f MB/s (%s per record, n=%d)", o.mbps(), fmtShortDur(o.perOp()), o.n),
				Command: fmt.Sprintf("%s: Vault.OpenFile back to back for %s", where, vaultLoopBudget),
			})
	}
	sealed, plain := summarize(r.sealedAppend), summarize(r.plainAppend)
	appendCmd := fmt.Sprintf("core/session Transcript.Append of one %d-character record + fsync, back to back (at most %d or %s), new file under %s",
		r.recordPayload, vaultAppendMax, vaultAppendBudget, filepath.Dir(r.dir))
	rows = append(rows,
		row{
			Name:    "transcript append + fsync, sealed line",
			Value:   fmt.Sprintf("p50 %s / p99 %s (n=%d); p50 %s vs plaintext", fmtShortDur(sealed.P50), fmtShortDur(sealed.P99), sealed.N, fmtRatio(sealed.P50, plain.P50)),
			Command: appendCmd + "; codec Vault.StrictLineCodec",
		},
		row{
			Name:    "transcript append + fsync, plaintext line",
			Value:   fmt.Sprintf("p50 %s / p99 %s (n=%d)", fmtShortDur(plain.P50), fmtShortDur(plain.P99), plain.N),
			Command: appendCmd + "; codec session.PlainCodec",
		})
	var ours time.Duration
	if len(r.seal) > 0 {
		ours = r.seal[0].perOp()
	}
	pb := summarize(r.pbkdfSeal)
	rows = append(rows,
		row{
			Name:    "vault unlock (one PBKDF2 + check value)",
			Value:   minMedMax(summarize(r.unlock)),
			Command: fmt.Sprintf("%s: vault.Open, then Unlock + Lock, %d times", where, vaultUnlocks),
		},
		row{
			Name: "seal " + fmtSize(vaultSizes[0]) + " GenosOS's way (fresh salt, full PBKDF2 per write)",
			Value: fmt.Sprintf("median %s per record (n=%d); %s vs Genos's per-record seal (%s)",
				fmtShortDur(pb.P50), pb.N, fmtRatio(pb.P50, ours), fmtShortDur(ours)),
			Command: fmt.Sprintf("%s: vault.NewKey + vault.SealFile per record (at most %d or %s); Genos derives once per unlock", where, vaultPBKDFMax, vaultPBKDFBudget),
		})
	return rows
}

// fmtSize renders a record size: "1 KiB", "1 MiB", or bytes.
func fmtSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// fmtShortDur is fmtDur that keeps sub-millisecond times readable, in µs.
func fmtShortDur(d time.Duration) string {
	if d > -time.Millisecond && d < time.Millisecond {
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
	return fmtDur(d)
}

// fmtRatio renders a as a multiple of b ("×1.02"); "×n/a" if b is 0.
func fmtRatio(a, b time.Duration) string {
	if b <= 0 {
		return "×n/a"
	}
	r := float64(a) / float64(b)
	if r >= 100 {
		return fmt.Sprintf("×%.0f", r)
	}
	return fmt.Sprintf("×%.2f", r)
}

// vaultNote explains the vault rows.
func vaultNote() string {
	return "Vault rows are measured in process (no gateway): one vault, whose key is derived once at Create/Unlock and reused for every record, as Genos does; the GenosOS row derives a key under a fresh salt for every record, as GenosOS does. MB/s counts plaintext bytes (10^6 per MB). The transcript rows differ by the seal of one line, which is small next to the fsync."
}
