package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSessionCRUD(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	t0 := time.Unix(1_700_000_000, 123).UTC()

	row := SessionRow{Key: "agent:0123abcd:telegram:direct:42", ID: "s1", AgentID: "0123abcd",
		Channel: "telegram", Peer: "42", CreatedAt: t0, UpdatedAt: t0}
	if err := db.UpsertSession(ctx, row); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.GetSession(ctx, "nope"); err != nil || ok {
		t.Fatalf("GetSession(missing) = %v, %v", ok, err)
	}

	// A second upsert with another id keeps the first id and moves time on.
	t1 := t0.Add(time.Minute)
	if err := db.UpsertSession(ctx, SessionRow{Key: row.Key, ID: "s2", AgentID: "x", Title: "hi", UpdatedAt: t1}); err != nil {
		t.Fatal(err)
	}
	want := row
	want.Title, want.UpdatedAt = "hi", t1
	got, ok, err := db.GetSession(ctx, row.Key)
	if err != nil || !ok {
		t.Fatalf("GetSession = %v, %v", ok, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after upsert (-want +got):\n%s", d)
	}

	// An empty title does not erase; an older time does not go backward.
	if err := db.UpsertSession(ctx, SessionRow{Key: row.Key, ID: "s3", AgentID: "x", UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ = db.GetSession(ctx, row.Key); got.Title != "hi" || !got.UpdatedAt.Equal(t1) {
		t.Errorf("after stale upsert: title %q updated %v", got.Title, got.UpdatedAt)
	}

	t2 := t1.Add(time.Hour)
	if err := db.TouchSession(ctx, row.Key, t2); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchSession(ctx, row.Key, t0); err != nil {
		t.Fatal(err)
	}
	if got, _, _ = db.GetSession(ctx, row.Key); !got.UpdatedAt.Equal(t2) {
		t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, t2)
	}
	if err := db.TouchSession(ctx, "nope", t2); !errors.Is(err, ErrNotFound) {
		t.Errorf("TouchSession(missing) = %v, want ErrNotFound", err)
	}

	if err := db.SetSessionTitle(ctx, row.Key, ""); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.InitSessionTitle(ctx, row.Key, "first"); err != nil || !ok {
		t.Fatalf("InitSessionTitle on empty = %v, %v", ok, err)
	}
	if ok, err := db.InitSessionTitle(ctx, row.Key, "second"); err != nil || ok {
		t.Fatalf("InitSessionTitle on titled = %v, %v", ok, err)
	}
	if got, _, _ = db.GetSession(ctx, row.Key); got.Title != "first" {
		t.Errorf("title = %q, want first", got.Title)
	}
	if err := db.SetSessionTitle(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetSessionTitle(missing) = %v, want ErrNotFound", err)
	}

	if n, err := db.CountSessions(ctx); err != nil || n != 1 {
		t.Errorf("CountSessions = %d, %v", n, err)
	}
}

func TestUpsertValidates(t *testing.T) {
	db, _ := openTest(t)
	for _, r := range []SessionRow{
		{ID: "i", AgentID: "a"},
		{Key: "k", AgentID: "a"},
		{Key: "k", ID: "i"},
	} {
		if err := db.UpsertSession(t.Context(), r); err == nil {
			t.Errorf("UpsertSession(%+v) succeeded", r)
		}
	}
}

func TestUpsertDefaultsTimes(t *testing.T) {
	db, _ := openTest(t)
	before := time.Now()
	if err := db.UpsertSession(t.Context(), SessionRow{Key: "k", ID: "i", AgentID: "a"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.GetSession(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.Before(before) || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("times = %v / %v, want now and equal", got.CreatedAt, got.UpdatedAt)
	}
}

func TestListSessionsOrderAndLimit(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	base := time.Unix(1_700_000_000, 0).UTC()
	// 150 sessions over two agents; session i updated at base+i seconds.
	for i := range 150 {
		agent := "aaaaaaaa"
		if i%3 == 0 {
			agent = "bbbbbbbb"
		}
		r := SessionRow{Key: fmt.Sprintf("k%03d", i), ID: fmt.Sprintf("id%03d", i), AgentID: agent,
			CreatedAt: base, UpdatedAt: base.Add(time.Duration(i) * time.Second)}
		if err := db.UpsertSession(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(rs []SessionRow) []string {
		var ks []string
		for _, r := range rs {
			ks = append(ks, r.Key)
		}
		return ks
	}
	tests := []struct {
		name    string
		agent   string
		limit   int
		wantLen int
		first   string
	}{
		{"all default limit", "", 0, 100, "k149"},
		{"all negative limit", "", -5, 100, "k149"},
		{"all limit 3", "", 3, 3, "k149"},
		{"all above count", "", 1000, 150, "k149"},
		{"agent b", "bbbbbbbb", 0, 50, "k147"},
		{"agent a limit 2", "aaaaaaaa", 2, 2, "k149"},
		{"unknown agent", "cccccccc", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := db.ListSessions(ctx, tt.agent, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != tt.wantLen {
				t.Fatalf("len = %d, want %d", len(rs), tt.wantLen)
			}
			if len(rs) > 0 && rs[0].Key != tt.first {
				t.Errorf("first = %s, want %s", rs[0].Key, tt.first)
			}
			for i := 1; i < len(rs); i++ {
				if rs[i].UpdatedAt.After(rs[i-1].UpdatedAt) {
					t.Errorf("not newest first at %d: %v", i, keys(rs[i-1:i+1]))
				}
				if tt.agent != "" && rs[i].AgentID != tt.agent {
					t.Errorf("row %s has agent %s", rs[i].Key, rs[i].AgentID)
				}
			}
		})
	}

	// Touching an old session moves it to the front.
	if err := db.TouchSession(ctx, "k000", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rs, err := db.ListSessions(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"k000", "k149"}, keys(rs)); d != "" {
		t.Errorf("after touch (-want +got):\n%s", d)
	}
}

func TestConcurrentUpserts(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	const workers, perWorker = 16, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				// Half the keys are shared between workers to force conflicts.
				key := fmt.Sprintf("w%d-%d", w, i)
				if i%2 == 0 {
					key = fmt.Sprintf("shared-%d", i)
				}
				now := time.Now()
				if err := db.UpsertSession(ctx, SessionRow{Key: key, ID: fmt.Sprintf("%s-%d", key, w),
					AgentID: "aaaaaaaa", UpdatedAt: now}); err != nil {
					errs <- err
				}
				if err := db.TouchSession(ctx, key, now); err != nil {
					errs <- err
				}
				if _, err := db.ListSessions(ctx, "", 10); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	shared := (perWorker + 1) / 2
	want := shared + workers*(perWorker-shared)
	if n, err := db.CountSessions(ctx); err != nil || n != want {
		t.Errorf("CountSessions = %d, %v; want %d", n, err, want)
	}
}
