package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func pairingRow(id, channel string, created time.Time) PairingRow {
	return PairingRow{ID: id, Channel: channel, CreatedAt: created, ExpiresAt: created.Add(time.Hour),
		Sealed: []byte("sealed-" + id)}
}

func pairingIDs(rows []PairingRow) []string {
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestPairingRows(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	for i, r := range []PairingRow{
		pairingRow("p2", "telegram", t0.Add(2*time.Second)),
		pairingRow("p1", "telegram", t0.Add(time.Second)),
		pairingRow("w1", "whatsapp", t0),
	} {
		if err := db.AddPairing(ctx, r, nil); err != nil {
			t.Fatalf("AddPairing #%d: %v", i, err)
		}
	}

	got, err := db.ListPairings(ctx, "telegram")
	if err != nil {
		t.Fatal(err)
	}
	want := []PairingRow{pairingRow("p1", "telegram", t0.Add(time.Second)), pairingRow("p2", "telegram", t0.Add(2*time.Second))}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ListPairings(telegram) (-want +got):\n%s", d)
	}
	all, err := db.ListPairings(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"w1", "p1", "p2"}, pairingIDs(all)); d != "" {
		t.Errorf("ListPairings(all) ids (-want +got):\n%s", d)
	}

	// Adding with evictions is one step: the evicted go, the new one comes.
	if err := db.AddPairing(ctx, pairingRow("p3", "telegram", t0.Add(3*time.Second)), []string{"p1", "gone"}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.ListPairings(ctx, "telegram")
	if d := cmp.Diff([]string{"p2", "p3"}, pairingIDs(got)); d != "" {
		t.Errorf("after eviction (-want +got):\n%s", d)
	}

	// A failing insert (duplicate id) rolls the eviction back.
	if err := db.AddPairing(ctx, pairingRow("p3", "telegram", t0), []string{"p2"}); err == nil {
		t.Fatal("AddPairing with a duplicate id succeeded")
	}
	got, _ = db.ListPairings(ctx, "telegram")
	if d := cmp.Diff([]string{"p2", "p3"}, pairingIDs(got)); d != "" {
		t.Errorf("after failed add (-want +got):\n%s", d)
	}

	n, err := db.DeletePairings(ctx, "p2", "nope")
	if err != nil || n != 1 {
		t.Fatalf("DeletePairings = %d, %v; want 1", n, err)
	}
	if n, err := db.DeletePairings(ctx); err != nil || n != 0 {
		t.Fatalf("DeletePairings() = %d, %v; want 0", n, err)
	}
}

func TestPairingRowValidation(t *testing.T) {
	db, _ := openTest(t)
	good := pairingRow("p", "telegram", t0)
	tests := []struct {
		name   string
		mutate func(*PairingRow)
		want   string
	}{
		{"empty id", func(r *PairingRow) { r.ID = "" }, "empty row id"},
		{"long id", func(r *PairingRow) { r.ID = strings.Repeat("x", 65) }, "row id longer"},
		{"empty channel", func(r *PairingRow) { r.Channel = "" }, "empty channel"},
		{"zero time", func(r *PairingRow) { r.CreatedAt = time.Time{} }, "zero creation"},
		{"expiry before creation", func(r *PairingRow) { r.ExpiresAt = r.CreatedAt }, "expiry is not after"},
		{"empty sealed", func(r *PairingRow) { r.Sealed = nil }, "empty sealed"},
		{"huge sealed", func(r *PairingRow) { r.Sealed = make([]byte, maxSealedValue+1) }, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mutate(&r)
			err := db.AddPairing(t.Context(), r, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AddPairing = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if rows, _ := db.ListPairings(t.Context(), ""); len(rows) != 0 {
		t.Errorf("invalid rows were stored: %v", pairingIDs(rows))
	}
}

func TestChannelAllowRows(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	a1 := AllowRow{ID: "a1", Channel: "telegram", CreatedAt: t0, Sealed: []byte("s1")}
	a2 := AllowRow{ID: "a2", Channel: "telegram", CreatedAt: t0.Add(time.Second), Sealed: []byte("s2")}
	b1 := AllowRow{ID: "b1", Channel: "slack", CreatedAt: t0, Sealed: []byte("s3")}
	for _, r := range []AllowRow{a2, a1, b1} {
		if err := db.AddChannelAllow(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddChannelAllow(ctx, AllowRow{ID: "x", Channel: "telegram"}); err == nil {
		t.Error("AddChannelAllow accepted a row without time or value")
	}
	got, err := db.ListChannelAllow(ctx, "telegram")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]AllowRow{a1, a2}, got); d != "" {
		t.Errorf("ListChannelAllow (-want +got):\n%s", d)
	}
	if all, _ := db.ListChannelAllow(ctx, ""); len(all) != 3 {
		t.Errorf("ListChannelAllow(all) = %d rows, want 3", len(all))
	}
	if n, err := db.DeleteChannelAllow(ctx, "a1", "a1"); err != nil || n != 1 {
		t.Fatalf("DeleteChannelAllow = %d, %v; want 1", n, err)
	}
	if got, _ = db.ListChannelAllow(ctx, "telegram"); len(got) != 1 || got[0].ID != "a2" {
		t.Errorf("after delete: %+v", got)
	}
}

func TestApprovePairing(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	if err := db.AddPairing(ctx, pairingRow("p1", "telegram", t0), nil); err != nil {
		t.Fatal(err)
	}
	allow := AllowRow{ID: "a1", Channel: "telegram", CreatedAt: t0, Sealed: []byte("peer")}
	if err := db.ApprovePairing(ctx, "p1", allow); err != nil {
		t.Fatal(err)
	}
	if rows, _ := db.ListPairings(ctx, "telegram"); len(rows) != 0 {
		t.Errorf("request still pending after approval: %v", pairingIDs(rows))
	}
	if rows, _ := db.ListChannelAllow(ctx, "telegram"); len(rows) != 1 || rows[0].ID != "a1" {
		t.Errorf("allowlist after approval = %+v", rows)
	}

	// Approving a request that is gone changes nothing.
	err := db.ApprovePairing(ctx, "p1", AllowRow{ID: "a2", Channel: "telegram", CreatedAt: t0, Sealed: []byte("x")})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("ApprovePairing(gone) = %v, want ErrNotFound", err)
	}
	if rows, _ := db.ListChannelAllow(ctx, "telegram"); len(rows) != 1 {
		t.Errorf("allowlist grew on a failed approval: %d rows", len(rows))
	}
}

func TestRewriteChannelAccess(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	if err := db.AddPairing(ctx, pairingRow("p1", "telegram", t0), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.AddChannelAllow(ctx, AllowRow{ID: "a1", Channel: "telegram", CreatedAt: t0, Sealed: []byte("plain")}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddChannelAllow(ctx, AllowRow{ID: "a2", Channel: "telegram", CreatedAt: t0, Sealed: []byte("X:done")}); err != nil {
		t.Fatal(err)
	}
	seal := func(b []byte) ([]byte, error) {
		if bytes.HasPrefix(b, []byte("X:")) {
			return b, nil // already sealed: skipped
		}
		return append([]byte("X:"), b...), nil
	}
	n, err := db.RewriteChannelAccess(ctx, seal)
	if err != nil || n != 2 {
		t.Fatalf("RewriteChannelAccess = %d, %v; want 2", n, err)
	}
	p, _ := db.ListPairings(ctx, "telegram")
	a, _ := db.ListChannelAllow(ctx, "telegram")
	got := []string{string(p[0].Sealed), string(a[0].Sealed), string(a[1].Sealed)}
	if d := cmp.Diff([]string{"X:sealed-p1", "X:plain", "X:done"}, got); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}

	// An error from fn aborts the whole rewrite.
	calls := 0
	_, err = db.RewriteChannelAccess(ctx, func(b []byte) ([]byte, error) {
		calls++
		if calls == 2 {
			return nil, errors.New("locked")
		}
		return []byte("Y"), nil
	})
	if err == nil {
		t.Fatal("RewriteChannelAccess with a failing fn succeeded")
	}
	p, _ = db.ListPairings(ctx, "telegram")
	if string(p[0].Sealed) != "X:sealed-p1" {
		t.Errorf("failed rewrite changed a row: %q", p[0].Sealed)
	}
}
