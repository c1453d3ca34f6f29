package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
)

func openT(t *testing.T, path string, codec LineCodec) *Transcript {
	t.Helper()
	tr, err := OpenTranscript(path, codec)
	if err != nil {
		t.Fatalf("OpenTranscript: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func TestTranscriptCreateModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agents", agent, "sessions", "s.jsonl")
	tr := openT(t, path, PlainCodec{})
	if err := tr.Append(rec("a", chat.RoleUser, "x")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		path:                                0o600,
		filepath.Dir(path):                  0o700,
		filepath.Join(dir, "agents"):        0o700,
		filepath.Join(dir, "agents", agent): 0o700,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", p, got, want)
		}
	}
}

func TestTranscriptAppendRecordsReopen(t *testing.T) {
	for _, codec := range []LineCodec{PlainCodec{}, b64Codec{}} {
		t.Run(fmt.Sprintf("%T", codec), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.jsonl")
			tr := openT(t, path, codec)
			want := []chat.Record{rec("1", chat.RoleUser, "hi"), rec("2", chat.RoleAssistant, "hello"), rec("3", chat.RoleUser, "bye")}
			if err := tr.Append(want[0]); err != nil {
				t.Fatal(err)
			}
			if err := tr.Append(want[1:]...); err != nil {
				t.Fatal(err)
			}
			if err := tr.Append(); err != nil {
				t.Fatal(err)
			}
			got, err := tr.Records()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			if err := tr.Append(want[0]); !errors.Is(err, ErrClosed) {
				t.Errorf("Append after Close = %v, want ErrClosed", err)
			}
			if _, err := tr.Records(); !errors.Is(err, ErrClosed) {
				t.Errorf("Records after Close = %v, want ErrClosed", err)
			}

			tr2 := openT(t, path, codec)
			if tr2.Repaired() != 0 {
				t.Errorf("clean file repaired %d bytes", tr2.Repaired())
			}
			got, err = tr2.Records()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("records after reopen (-want +got):\n%s", d)
			}
		})
	}
}

func TestTranscriptAppendValidates(t *testing.T) {
	tr := openT(t, filepath.Join(t.TempDir(), "s.jsonl"), PlainCodec{})
	// One bad record rejects the whole batch: nothing is written.
	if err := tr.Append(rec("ok", chat.RoleUser, "x"), chat.Record{ID: "", Role: chat.RoleUser}); err == nil {
		t.Fatal("Append with an id-less record succeeded")
	}
	if err := tr.Append(chat.Record{ID: "x", Role: "boss"}); err == nil {
		t.Fatal("Append with an unknown role succeeded")
	}
	if recs, err := tr.Records(); err != nil || len(recs) != 0 {
		t.Errorf("Records = %v, %v; want none", recs, err)
	}
}

func TestTranscriptTornLineRepair(t *testing.T) {
	a, b, c := rec("a", chat.RoleUser, "one"), rec("b", chat.RoleAssistant, "two"), rec("c", chat.RoleUser, "three")
	good := encodeAll(t, PlainCodec{}, a, b)
	half := encodeAll(t, PlainCodec{}, c)
	tests := []struct {
		name     string
		tail     []byte
		repaired int64         // bytes cut off
		want     []chat.Record // after appending c once more
		readErr  bool          // a kept line readers must report
	}{
		{name: "half line", tail: half[:len(half)/2], repaired: int64(len(half) / 2), want: []chat.Record{a, b, c}},
		// A complete record lacking only its newline (a file from elsewhere)
		// is kept and terminated.
		{name: "whole line without newline", tail: half[:len(half)-1], want: []chat.Record{a, b, c, c}},
		// A complete line that does not decode may be a locked vault or a
		// wrong key: it is kept for readers to report, never destroyed.
		{name: "undecodable last line", tail: []byte("{\"id\":\"zz\",\"role\":\n"), want: []chat.Record{a, b, c}, readErr: true},
		{name: "zeros", tail: make([]byte, 37), repaired: 37, want: []chat.Record{a, b, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.jsonl")
			if err := os.WriteFile(path, append(append([]byte(nil), good...), tt.tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			tr := openT(t, path, PlainCodec{})
			if got := tr.Repaired(); got != tt.repaired {
				t.Errorf("Repaired() = %d, want %d", got, tt.repaired)
			}
			if err := tr.Append(c); err != nil {
				t.Fatal(err)
			}
			tr.Close()
			tr2 := openT(t, path, PlainCodec{})
			got, err := tr2.Records()
			if (err != nil) != tt.readErr {
				t.Fatalf("Records after repair: err = %v, want error %v", err, tt.readErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
		})
	}
}

func TestTranscriptKeepsCorruptMiddleLine(t *testing.T) {
	a, b := rec("a", chat.RoleUser, "one"), rec("b", chat.RoleAssistant, "two")
	content := string(encodeAll(t, PlainCodec{}, a)) + "corrupt\n" + string(encodeAll(t, PlainCodec{}, b))
	path := filepath.Join(t.TempDir(), "s.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := openT(t, path, PlainCodec{})
	if tr.Repaired() != 0 {
		t.Errorf("repaired %d bytes of a file with a good last line", tr.Repaired())
	}
	got, err := tr.Records()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("Records error = %v, want a LineError for line 2", err)
	}
	if d := cmp.Diff([]chat.Record{a, b}, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

func TestTranscriptPage(t *testing.T) {
	tr := openT(t, filepath.Join(t.TempDir(), "s.jsonl"), PlainCodec{})
	var all []chat.Record
	for i := range 10 {
		all = append(all, rec(fmt.Sprintf("r%d", i), chat.RoleUser, "x"))
	}
	if err := tr.Append(all...); err != nil {
		t.Fatal(err)
	}
	ids := func(rs []chat.Record) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name    string
		before  string
		limit   int
		want    []string
		hasMore bool
	}{
		{"latest 3", "", 3, []string{"r7", "r8", "r9"}, true},
		{"default limit", "", 0, ids(all), false},
		{"before r7", "r7", 3, []string{"r4", "r5", "r6"}, true},
		{"before r3 limit 5", "r3", 5, []string{"r0", "r1", "r2"}, false},
		{"before r3 exact", "r3", 3, []string{"r0", "r1", "r2"}, false},
		{"before first", "r0", 3, []string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more, err := tr.Page(tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, ids(got)); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if more != tt.hasMore {
				t.Errorf("hasMore = %v, want %v", more, tt.hasMore)
			}
		})
	}
	if _, _, err := tr.Page("nope", 3); !errors.Is(err, ErrRecordNotFound) {
		t.Errorf("Page(unknown) = %v, want ErrRecordNotFound", err)
	}
}

func TestTranscriptConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	tr := openT(t, path, b64Codec{})
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Batches of two must stay adjacent: one write per Append.
				if err := tr.Append(rec(fmt.Sprintf("w%d-%d-a", w, i), chat.RoleUser, "q"),
					rec(fmt.Sprintf("w%d-%d-b", w, i), chat.RoleAssistant, "a")); err != nil {
					t.Error(err)
				}
				if _, err := tr.Records(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got, err := tr.Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each*2 {
		t.Fatalf("got %d records, want %d", len(got), writers*each*2)
	}
	seen := map[string]bool{}
	for i := 0; i < len(got); i += 2 {
		a, b := got[i].ID, got[i+1].ID
		if a[:len(a)-1] != b[:len(b)-1] || a[len(a)-1] != 'a' || b[len(b)-1] != 'b' {
			t.Fatalf("batch split: %s then %s", a, b)
		}
		if seen[a] {
			t.Fatalf("duplicate %s", a)
		}
		seen[a] = true
	}
}

func TestOpenTranscriptRejects(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenTranscript(filepath.Join(dir, "x.jsonl"), nil); err == nil {
		t.Error("nil codec accepted")
	}
	if _, err := OpenTranscript(dir, PlainCodec{}); err == nil {
		t.Error("directory accepted as transcript")
	}
}

func TestAppendBufferedIsReadableAndSyncedLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	tr, err := OpenTranscript(path, PlainCodec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.AppendBuffered(chat.Record{ID: "u1", Role: chat.RoleUser, Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	recs, err := tr.Records()
	if err != nil || len(recs) != 1 {
		t.Fatalf("buffered record not readable: %v %v", recs, err)
	}
	if err := tr.Append(chat.Record{ID: "a1", Role: chat.RoleAssistant, Content: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.AppendBuffered(chat.Record{ID: "u2", Role: chat.RoleUser, Content: "bye"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil { // syncs the buffered tail
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, errs := ReadRecords(f, PlainCodec{})
	if len(errs) > 0 || len(got) != 3 || got[2].ID != "u2" {
		t.Fatalf("after close: %+v %v", got, errs)
	}
}
