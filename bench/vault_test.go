package main

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOpRate(t *testing.T) {
	tests := []struct {
		name  string
		r     opRate
		mbps  float64
		perOp time.Duration
	}{
		{"1 KiB x 1000 in 1 s", opRate{size: 1024, n: 1000, elapsed: time.Second}, 1.024, time.Millisecond},
		{"1 MiB x 500 in 250 ms", opRate{size: 1 << 20, n: 500, elapsed: 250 * time.Millisecond}, 2097.152, 500 * time.Microsecond},
		{"empty", opRate{size: 1024}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.mbps(); got < tt.mbps-1e-9 || got > tt.mbps+1e-9 {
				t.Errorf("mbps() = %v, want %v", got, tt.mbps)
			}
			if got := tt.r.perOp(); got != tt.perOp {
				t.Errorf("perOp() = %v, want %v", got, tt.perOp)
			}
		})
	}
}

func TestVaultFormatters(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtSize(1 << 10), "1 KiB"},
		{fmtSize(1 << 20), "1 MiB"},
		{fmtSize(4 << 20), "4 MiB"},
		{fmtSize(1500), "1500 B"},
		{fmtShortDur(2500 * time.Nanosecond), "2.5 µs"},
		{fmtShortDur(1500 * time.Microsecond), "1.50 ms"},
		{fmtRatio(3*time.Millisecond, 2*time.Millisecond), "×1.50"},
		{fmtRatio(60*time.Millisecond, 2*time.Microsecond), "×30000"},
		{fmtRatio(time.Second, 0), "×n/a"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestVaultRows(t *testing.T) {
	r := &vaultResult{
		seal: []opRate{
			{size: 1 << 10, n: 1000, elapsed: 2 * time.Millisecond},
			{size: 1 << 20, n: 10, elapsed: 10 * time.Millisecond},
		},
		open: []opRate{
			{size: 1 << 10, n: 1000, elapsed: 4 * time.Millisecond},
			{size: 1 << 20, n: 10, elapsed: 20 * time.Millisecond},
		},
		sealedAppend:  []time.Duration{3 * time.Millisecond},
		plainAppend:   []time.Duration{2 * time.Millisecond},
		unlock:        []time.Duration{60 * time.Millisecond},
		pbkdfSeal:     []time.Duration{60 * time.Millisecond},
		dir:           filepath.Join("/tmp", "genos-bench-vault-1"),
		recordPayload: 200,
	}
	var got []string
	for _, rw := range vaultRows(r) {
		if rw.Command == "" || rw.Verdict != verdictInfo {
			t.Errorf("row %q: command %q, verdict %v", rw.Name, rw.Command, rw.Verdict)
		}
		got = append(got, rw.Name+" = "+rw.Value)
	}
	want := []string{
		"NYXENC1 seal, 1 KiB records (file form) = 512 MB/s (2.0 µs per record, n=1000)",
		"NYXENC1 open, 1 KiB records (file form) = 256 MB/s (4.0 µs per record, n=1000)",
		"NYXENC1 seal, 1 MiB records (file form) = 1049 MB/s (1.00 ms per record, n=10)",
		"NYXENC1 open, 1 MiB records (file form) = 524 MB/s (2.00 ms per record, n=10)",
		"transcript append + fsync, sealed line = p50 3.00 ms / p99 3.00 ms (n=1); p50 ×1.50 vs plaintext",
		"transcript append + fsync, plaintext line = p50 2.00 ms / p99 2.00 ms (n=1)",
		"vault unlock (one PBKDF2 + check value) = min 60.0 ms / median 60.0 ms / max 60.0 ms (n=1)",
		"seal 1 KiB GenosOS's way (fresh salt, full PBKDF2 per write) = median 60.0 ms per record (n=1); ×30000 vs Genos's per-record seal (2.0 µs)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vault rows (-want +got):\n%s", diff)
	}
}

// TestOnlyVaultNeedsNoBinary checks that -only vault parses without a
// gateway binary, and that steps that run it still require one.
func TestOnlyVaultNeedsNoBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-genos")
	o, err := parseFlags([]string{"-only", "vault", "-bin", missing}, io.Discard)
	if err != nil {
		t.Fatalf("-only vault without a binary: %v", err)
	}
	if diff := cmp.Diff(map[string]bool{"vault": true}, o.only); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if _, err := parseFlags([]string{"-only", "vault,cold", "-bin", missing}, io.Discard); err == nil {
		t.Error("-only vault,cold without a binary succeeded")
	}
	if _, err := parseFlags([]string{"-only", "disk"}, io.Discard); err == nil {
		t.Error("unknown step accepted")
	}
}
