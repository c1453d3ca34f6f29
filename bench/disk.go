package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// measureAppendFsync times appends of one transcript-sized line followed by
// fsync, in the filesystem the state dirs live in. Every chat run appends and
// fsyncs at least two transcript records, so this is the floor under the
// added latency on this disk, and explains much of it on a slow one.
func measureAppendFsync(n int, limit time.Duration) ([]time.Duration, string, error) {
	dir, err := os.MkdirTemp("", "genos-bench-disk-")
	if err != nil {
		return nil, "", fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	f, err := os.OpenFile(filepath.Join(dir, "append.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, dir, fmt.Errorf("open append file: %w", err)
	}
	defer f.Close()
	line := append(bytes.Repeat([]byte("x"), 199), '\n')
	out := make([]time.Duration, 0, n)
	deadline := time.Now().Add(limit)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		t0 := time.Now()
		if _, err := f.Write(line); err != nil {
			return out, dir, fmt.Errorf("append: %w", err)
		}
		if err := f.Sync(); err != nil {
			return out, dir, fmt.Errorf("fsync: %w", err)
		}
		out = append(out, time.Since(t0))
	}
	return out, dir, nil
}

// diskRow reports the append+fsync timings.
func diskRow(d []time.Duration, dir string) row {
	s := summarize(d)
	return row{
		Name:    "append + fsync of a 200-byte line (state dirs' filesystem)",
		Value:   fmt.Sprintf("p50 %s / p99 %s / max %s (n=%d)", fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.Max), s.N),
		Command: fmt.Sprintf("O_APPEND write + fsync in a new file under %s, back to back; each chat run fsyncs at least 2 such appends", filepath.Dir(dir)),
	}
}
