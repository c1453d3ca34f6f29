package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/store"
	"github.com/google/go-cmp/cmp"
)

func newTestManager(t *testing.T, codec LineCodec) (*Manager, *store.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(t.Context(), filepath.Join(dir, "genos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m := NewManager(dir, db, codec)
	t.Cleanup(func() { _ = m.Close() })
	return m, db, dir
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestManagerOpenCreatesRowAndFile(t *testing.T) {
	m, db, dir := newTestManager(t, PlainCodec{})
	ctx := t.Context()
	tests := []struct {
		key     Key
		channel string
		peer    string
	}{
		{MainKey(agent), "", ""},
		{DirectKey(agent, "telegram", "42"), "telegram", "42"},
		{GroupKey(agent, "slack", "c1").WithThread("t1"), "slack", "c1"},
		{CronKey(agent, "digest"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key.String(), func(t *testing.T) {
			s, err := m.Open(ctx, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !uuidV4.MatchString(s.ID) {
				t.Errorf("session id %q is not a UUIDv4", s.ID)
			}
			row, ok, err := db.GetSession(ctx, tt.key.String())
			if err != nil || !ok {
				t.Fatalf("GetSession = %v, %v", ok, err)
			}
			want := store.SessionRow{Key: tt.key.String(), ID: s.ID, AgentID: agent, Channel: tt.channel, Peer: tt.peer,
				CreatedAt: row.CreatedAt, UpdatedAt: row.CreatedAt}
			if d := cmp.Diff(want, row); d != "" {
				t.Errorf("row (-want +got):\n%s", d)
			}
			path := filepath.Join(dir, "agents", agent, "sessions", s.ID+".jsonl")
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("transcript %s: %v, %v", path, fi, err)
			}
		})
	}
}

func TestManagerOpenRejectsInvalidKey(t *testing.T) {
	m, _, _ := newTestManager(t, PlainCodec{})
	if _, err := m.Open(t.Context(), DirectKey("nothex!!", "x", "y")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Open(invalid) = %v, want ErrInvalidKey", err)
	}
}

func TestManagerAppendReopenSameID(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	dbPath := filepath.Join(dir, "genos.db")
	key := DirectKey(agent, "telegram", "42")
	want := []chat.Record{
		rec(NewRecordID(), chat.RoleUser, "  What's the\nweather in   Paris tomorrow, and should I pack an umbrella for the trip?"),
		rec(NewRecordID(), chat.RoleAssistant, "Sunny."),
	}

	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(dir, db, b64Codec{})
	clock := time.Unix(1_800_000_000, 0)
	m.now = func() time.Time { return clock }
	s, err := m.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	id := s.ID
	clock = clock.Add(time.Hour)
	if err := s.Append(ctx, want...); err != nil {
		t.Fatal(err)
	}
	row, _, err := m.Lookup(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	wantTitle := "What's the weather in Paris tomorrow, and should I pack an u"
	if row.Title != wantTitle {
		t.Errorf("title = %q, want %q", row.Title, wantTitle)
	}
	if !row.UpdatedAt.Equal(clock) {
		t.Errorf("updated_at = %v, want %v", row.UpdatedAt, clock)
	}
	// The stored title is sealed by the codec, not plaintext.
	raw, _, _ := db.GetSession(ctx, key.String())
	if !strings.HasPrefix(raw.Title, "B64:") {
		t.Errorf("stored title %q is not sealed", raw.Title)
	}
	// A later user message does not rename the session.
	if err := s.Append(ctx, rec(NewRecordID(), chat.RoleUser, "something else")); err != nil {
		t.Fatal(err)
	}
	if row, _, _ := m.Lookup(ctx, key); row.Title != wantTitle {
		t.Errorf("title changed to %q", row.Title)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, want[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Manager.Close = %v, want ErrClosed", err)
	}
	db.Close()

	db2, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	m2 := NewManager(dir, db2, b64Codec{})
	defer m2.Close()
	s2, err := m2.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if s2.ID != id {
		t.Errorf("reopened id %s, want %s", s2.ID, id)
	}
	got, err := s2.Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	if d := cmp.Diff(want, got[:2]); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	page, more, err := s2.Page(got[2].ID, 1)
	if err != nil || !more || len(page) != 1 || page[0].ID != got[1].ID {
		t.Errorf("Page = %v, %v, %v", page, more, err)
	}
}

func TestManagerSetTitleAndList(t *testing.T) {
	m, _, _ := newTestManager(t, b64Codec{})
	ctx := t.Context()
	k1, k2 := DirectKey(agent, "telegram", "1"), MainKey("ffffffff")
	for _, k := range []Key{k1, k2} {
		s, err := m.Open(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if err := m.SetTitle(ctx, k1, "Trip\tplanning"); err != nil {
		t.Fatal(err)
	}
	if err := m.SetTitle(ctx, CronKey(agent, "missing"), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetTitle(missing) = %v, want store.ErrNotFound", err)
	}
	rows, err := m.List(ctx, agent, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Title != "Trip planning" {
		t.Fatalf("List = %+v", rows)
	}
	// An explicitly cleared title is set again by the next user message.
	if err := m.SetTitle(ctx, k1, ""); err != nil {
		t.Fatal(err)
	}
	s, err := m.Open(ctx, k1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(ctx, rec("x", chat.RoleAssistant, "not me"), rec("y", chat.RoleUser, "me")); err != nil {
		t.Fatal(err)
	}
	if row, _, _ := m.Lookup(ctx, k1); row.Title != "me" {
		t.Errorf("title = %q, want me", row.Title)
	}
	all, err := m.List(ctx, "", 0)
	if err != nil || len(all) != 2 {
		t.Errorf("List(all) = %d rows, %v", len(all), err)
	}
}

func TestManagerHandlesShareTranscript(t *testing.T) {
	m, _, _ := newTestManager(t, PlainCodec{})
	ctx := t.Context()
	key := MainKey(agent)
	a, err := m.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || a.st != b.st {
		t.Fatal("handles of one key do not share state")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // idempotent, must not drop b's reference
		t.Fatal(err)
	}
	if err := a.Append(ctx, rec("x", chat.RoleUser, "x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append on closed handle = %v", err)
	}
	if err := b.Append(ctx, rec("1", chat.RoleUser, "still open")); err != nil {
		t.Fatalf("Append on the other handle: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	n, idle := len(m.open), len(m.idle)
	m.mu.Unlock()
	if n != 1 || idle != 1 {
		t.Errorf("after the last handle closed: %d open, %d idle; want it kept idle", n, idle)
	}
	c, err := m.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if recs, err := c.Records(); err != nil || len(recs) != 1 {
		t.Errorf("Records after reopen = %v, %v", recs, err)
	}
}

func TestManagerConcurrentOpenAppend(t *testing.T) {
	m, db, _ := newTestManager(t, PlainCodec{})
	ctx := t.Context()
	q := NewQueue(4)
	keys := []Key{MainKey(agent), DirectKey(agent, "telegram", "1"), GroupKey(agent, "slack", "g")}
	var wg sync.WaitGroup
	ids := make([]sync.Map, len(keys))
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ki := w % len(keys)
			for i := range 5 {
				err := q.Do(ctx, keys[ki].String(), func(ctx context.Context) error {
					s, err := m.Open(ctx, keys[ki])
					if err != nil {
						return err
					}
					defer s.Close()
					ids[ki].Store(s.ID, true)
					return s.Append(ctx, rec(fmt.Sprintf("w%d-%d", w, i), chat.RoleUser, "hi"))
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for ki, k := range keys {
		var got []string
		ids[ki].Range(func(id, _ any) bool { got = append(got, id.(string)); return true })
		if len(got) != 1 {
			t.Errorf("%s opened with ids %v, want one", k, got)
		}
		s, err := m.Open(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.Records()
		s.Close()
		if err != nil || len(recs) != 20 {
			t.Errorf("%s: %d records, %v; want 20", k, len(recs), err)
		}
	}
	if n, _ := db.CountSessions(ctx); n != len(keys) {
		t.Errorf("CountSessions = %d", n)
	}
}

func TestManagerRejectsUnsafeIndexID(t *testing.T) {
	m, db, _ := newTestManager(t, PlainCodec{})
	ctx := t.Context()
	key := MainKey(agent)
	if err := db.UpsertSession(ctx, store.SessionRow{Key: key.String(), ID: "../../escape", AgentID: agent}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(ctx, key); err == nil {
		t.Fatal("Open accepted a path-traversing session id")
	}
}

func TestManagerLogsRepair(t *testing.T) {
	m, _, dir := newTestManager(t, PlainCodec{})
	ctx := t.Context()
	key := MainKey(agent)
	s, err := m.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, rec("a", chat.RoleUser, "x")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	m.Close() // as if the process ended
	path := filepath.Join(dir, "agents", agent, "sessions", s.ID+".jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"torn","ro`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var logs strings.Builder
	m = NewManager(dir, m.db, PlainCodec{}, WithLogger(newTextLogger(&logs)))
	defer m.Close()
	s, err = m.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "torn tail truncated") || !strings.Contains(logs.String(), "bytes=16") {
		t.Errorf("log = %q", logs.String())
	}
}

func TestNewRecordID(t *testing.T) {
	seen := map[string]bool{}
	var ids []string
	for range 1000 {
		id := NewRecordID()
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 24 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	// The time prefix never goes backwards across calls.
	for i := 1; i < len(ids); i++ {
		if ids[i][:16] < ids[i-1][:16] {
			t.Fatalf("time prefix went backwards: %s after %s", ids[i], ids[i-1])
		}
	}
}

func TestMakeTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"   \n\t ", ""},
		{"hello", "hello"},
		{"  a \n\n b\tc  ", "a b c"},
		{"x\x00y\u200bz", "xyz"},
		{strings.Repeat("é", 70), strings.Repeat("é", 60)},
		{strings.Repeat("a", 59) + " b", strings.Repeat("a", 59)},
		{strings.Repeat("日本", 40), strings.Repeat("日本", 30)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := makeTitle(tt.in); got != tt.want {
				t.Errorf("makeTitle = %q, want %q", got, tt.want)
			}
		})
	}
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestManagerClosesLeastRecentlyUsedIdle(t *testing.T) {
	m, _, _ := newTestManager(t, PlainCodec{})
	ctx := t.Context()
	var first *sessionState
	for i := range maxIdle + 1 {
		s, err := m.Open(ctx, DirectKey(agent, "test", fmt.Sprintf("peer%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Records(); err != nil { // fills the cache
			t.Fatal(err)
		}
		if i == 0 {
			first = s.st
		}
		s.Close()
	}
	m.mu.Lock()
	open, idle := len(m.open), len(m.idle)
	m.mu.Unlock()
	if open != maxIdle || idle != maxIdle {
		t.Fatalf("open %d idle %d, want %d each", open, idle, maxIdle)
	}
	if _, err := first.t.Records(); !errors.Is(err, ErrClosed) {
		t.Fatalf("the least recently used transcript should be closed, Records = %v", err)
	}
}

func TestTranscriptCacheMatchesDisk(t *testing.T) {
	m, _, _ := newTestManager(t, PlainCodec{})
	ctx := t.Context()
	s, err := m.Open(ctx, MainKey(agent))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Records(); err != nil { // cache the empty transcript
		t.Fatal(err)
	}
	r := rec("a", chat.RoleAssistant, "")
	r.ToolCalls = []chat.ToolCall{{ID: "c1", Name: "ls", Arguments: json.RawMessage(`{ "path" : "x" }`)}}
	if err := s.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	cached, err := s.Records()
	if err != nil {
		t.Fatal(err)
	}
	fromDisk, errs := ReadRecords(mustOpen(t, s.st.t.Path()), PlainCodec{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if diff := cmp.Diff(fromDisk, cached); diff != "" {
		t.Fatalf("cache differs from disk (-disk +cache):\n%s", diff)
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
