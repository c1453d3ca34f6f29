package store

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func embedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestEmbeddingsPutGetOverwrite(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.PutEmbeddings(ctx, "m", map[string][]byte{"k1": []byte("v1"), "k2": []byte("v2")}, t0); err != nil {
		t.Fatalf("PutEmbeddings: %v", err)
	}
	// Overwrite k2 (a damaged value replaced by a fresh one) and add k3.
	if err := db.PutEmbeddings(ctx, "m", map[string][]byte{"k2": []byte("v2b"), "k3": []byte("v3")}, t0); err != nil {
		t.Fatalf("PutEmbeddings: %v", err)
	}
	got, err := db.GetEmbeddings(ctx, []string{"k1", "k2", "k3", "k2", "missing"})
	if err != nil {
		t.Fatalf("GetEmbeddings: %v", err)
	}
	want := map[string][]byte{"k1": []byte("v1"), "k2": []byte("v2b"), "k3": []byte("v3")}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("GetEmbeddings (-want +got):\n%s", d)
	}
	if n, err := db.CountEmbeddings(ctx); err != nil || n != 3 {
		t.Errorf("CountEmbeddings = %d, %v; want 3", n, err)
	}
	if got, err := db.GetEmbeddings(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GetEmbeddings(nil) = %v, %v; want empty", got, err)
	}
}

func TestEmbeddingsManyKeys(t *testing.T) {
	// More keys than one statement takes: the store splits them.
	db, _ := openTest(t)
	ctx := t.Context()
	rows := map[string][]byte{}
	var keys []string
	for i := range 1203 {
		k := fmt.Sprintf("k%04d", i)
		rows[k] = []byte("v" + k)
		keys = append(keys, k)
	}
	now := time.Unix(100, 0)
	if err := db.PutEmbeddings(ctx, "m", rows, now); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetEmbeddings(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(rows, got); d != "" {
		t.Errorf("GetEmbeddings (-want +got):\n%s", d)
	}
	if err := db.TouchEmbeddings(ctx, keys, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddingsValidation(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	now := time.Unix(1, 0)
	tests := []struct {
		name  string
		model string
		rows  map[string][]byte
		at    time.Time
		want  string
	}{
		{"empty model", "", map[string][]byte{"k": []byte("v")}, now, "empty model"},
		{"long model", strings.Repeat("m", 600), map[string][]byte{"k": []byte("v")}, now, "model name longer"},
		{"zero time", "m", map[string][]byte{"k": []byte("v")}, time.Time{}, "zero use time"},
		{"empty key", "m", map[string][]byte{"": []byte("v")}, now, "empty cache key"},
		{"long key", "m", map[string][]byte{strings.Repeat("k", 200): []byte("v")}, now, "cache key longer"},
		{"empty value", "m", map[string][]byte{"k": nil}, now, "empty sealed value"},
		{"huge value", "m", map[string][]byte{"k": make([]byte, maxEmbedSealed+1)}, now, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := db.PutEmbeddings(ctx, tc.model, tc.rows, tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PutEmbeddings = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if n, _ := db.CountEmbeddings(ctx); n != 0 {
		t.Errorf("invalid puts stored %d rows", n)
	}
	if _, err := db.PruneEmbeddings(ctx, -1); err == nil {
		t.Error("PruneEmbeddings(-1) succeeded")
	}
}

func TestEmbeddingsTouchAndPrune(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	base := time.Unix(1000, 0)
	for i := range 5 {
		k := fmt.Sprintf("k%d", i)
		if err := db.PutEmbeddings(ctx, "m", map[string][]byte{k: []byte("v")}, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// k0 and k1 are the oldest; touching k0 makes it the newest. A touch
	// with an older time never moves a row backwards.
	if err := db.TouchEmbeddings(ctx, []string{"k0", "nope"}, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchEmbeddings(ctx, []string{"k4"}, base); err != nil {
		t.Fatal(err)
	}
	n, err := db.PruneEmbeddings(ctx, 3)
	if err != nil || n != 2 {
		t.Fatalf("PruneEmbeddings(3) = %d, %v; want 2", n, err)
	}
	got, err := db.GetEmbeddings(ctx, []string{"k0", "k1", "k2", "k3", "k4"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"k0", "k3", "k4"}, embedKeys(got)); d != "" {
		t.Errorf("survivors (-want +got):\n%s", d)
	}
	if n, err := db.PruneEmbeddings(ctx, 3); err != nil || n != 0 {
		t.Errorf("second PruneEmbeddings(3) = %d, %v; want 0", n, err)
	}
	if n, err := db.PruneEmbeddings(ctx, 0); err != nil || n != 3 {
		t.Errorf("PruneEmbeddings(0) = %d, %v; want 3", n, err)
	}
}

func TestRewriteEmbedCache(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	now := time.Unix(5, 0)
	in := map[string][]byte{"a": []byte("plain"), "b": []byte("X:done"), "c": []byte("damaged")}
	if err := db.PutEmbeddings(ctx, "m", in, now); err != nil {
		t.Fatal(err)
	}
	seal := func(b []byte) ([]byte, error) {
		switch {
		case bytes.HasPrefix(b, []byte("X:")):
			return b, nil // already sealed: skipped
		case string(b) == "damaged":
			return nil, nil // dropped
		}
		return append([]byte("X:"), b...), nil
	}
	n, err := db.RewriteEmbedCache(ctx, seal)
	if err != nil || n != 2 {
		t.Fatalf("RewriteEmbedCache = %d, %v; want 2 (one resealed, one deleted)", n, err)
	}
	got, _ := db.GetEmbeddings(ctx, []string{"a", "b", "c"})
	want := map[string][]byte{"a": []byte("X:plain"), "b": []byte("X:done")}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}

	// An error from fn aborts the whole rewrite, and so does an invalid value.
	for name, fn := range map[string]func([]byte) ([]byte, error){
		"error": func(b []byte) ([]byte, error) {
			if string(b) == "X:plain" {
				return nil, errors.New("locked")
			}
			return []byte("Y"), nil
		},
		"oversized": func(b []byte) ([]byte, error) {
			if string(b) == "X:plain" {
				return make([]byte, maxEmbedSealed+1), nil
			}
			return []byte("Y"), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := db.RewriteEmbedCache(ctx, fn); err == nil {
				t.Fatal("RewriteEmbedCache with a failing fn succeeded")
			}
			got, _ := db.GetEmbeddings(ctx, []string{"a", "b"})
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("failed rewrite changed rows (-want +got):\n%s", d)
			}
		})
	}
}
