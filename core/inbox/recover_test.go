package inbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
)

func TestCursorResumesAfterCrash(t *testing.T) {
	q, priv := openTest(t, Options{})
	all := msgs(0, 5)
	mustPut(t, q, all...)
	// Deliver two, then "crash": copy the file and cursor as they are
	// between deliveries, before any compaction.
	snapDir := t.TempDir()
	n := 0
	_ = q.Drain(priv, func(in chat.Inbound) error {
		if n == 2 {
			copyFile(t, q.Path(), filepath.Join(snapDir, "inbox.jsonl"))
			copyFile(t, q.cursorPath, filepath.Join(snapDir, "inbox.cursor"))
			return errors.New("crash")
		}
		n++
		return nil
	})
	q2, err := Open(filepath.Join(snapDir, "inbox.jsonl"), q.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if q2.Len() != 3 {
		t.Fatalf("Len after resume = %d, want 3", q2.Len())
	}
	got, err := drainAll(q2, priv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all[2:], got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestStaleCursorRedelivers(t *testing.T) {
	q, priv := openTest(t, Options{})
	mustPut(t, q, msgs(0, 3)...)
	lines := readLines(t, q.Path())
	off := int64(len(lines[0]) + 1)
	other := bytes.Repeat([]byte{'x'}, 32)
	tests := map[string]func() error{
		"hash of another line": func() error { return q.writeCursor(off, other) },
		"past the end":         func() error { return q.writeCursor(1<<20, other) },
		"mid line":             func() error { return q.writeCursor(off+3, other) },
		"garbage":              func() error { return os.WriteFile(q.cursorPath, []byte("{not json"), 0o600) },
		"unknown version": func() error {
			return os.WriteFile(q.cursorPath, []byte(`{"v":2,"offset":1,"sha256":""}`), 0o600)
		},
	}
	for name, write := range tests {
		t.Run(name, func(t *testing.T) {
			if err := write(); err != nil {
				t.Fatal(err)
			}
			q2, err := Open(q.Path(), q.pub, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q2.Close()
			if q2.Len() != 3 || exists(q.cursorPath) {
				t.Fatalf("Len = %d, cursor kept %v; want 3 and the cursor removed", q2.Len(), exists(q.cursorPath))
			}
		})
	}
	// A valid cursor is honoured.
	h := sha256Of(lines[0])
	if err := q.writeCursor(off, h); err != nil {
		t.Fatal(err)
	}
	q2, err := Open(q.Path(), q.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	got, err := drainAll(q2, priv)
	if err != nil || len(got) != 2 || got[0].MessageID != "m1" {
		t.Fatalf("with a valid cursor: %v, %v", got, err)
	}
}

func TestCorruptMiddleLine(t *testing.T) {
	q, priv := openTest(t, Options{})
	all := msgs(0, 4)
	mustPut(t, q, all...)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, q.Path())
	bad := bytes.Clone(lines[1])
	bad[len(bad)/2] ^= 1 // still base64url, no longer authentic
	lines[1] = bad
	lines[2] = []byte("not an inbox line")
	content := append(bytes.Join(lines, []byte{'\n'}), '\n')
	if err := os.WriteFile(q.Path(), content, 0o600); err != nil {
		t.Fatal(err)
	}
	q2, err := Open(q.Path(), q.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	got, err := drainAll(q2, priv)
	if diff := cmp.Diff([]chat.Inbound{all[0], all[3]}, got); diff != "" {
		t.Fatalf("good lines (-want +got):\n%s", diff)
	}
	if !errors.Is(err, ErrCorrupted) {
		t.Fatalf("Drain = %v, want ErrCorrupted", err)
	}
	var lineErrs []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *CorruptLineError
		if !errors.As(e, &ce) {
			t.Fatalf("unexpected error %v", e)
		}
		if ce.Path != q.Path() || !strings.Contains(ce.Error(), q.Path()) ||
			!strings.Contains(ce.Error(), fmt.Sprintf("line %d", ce.Line)) {
			t.Errorf("error does not name the file and line: %v", ce)
		}
		lineErrs = append(lineErrs, ce.Line)
	}
	if diff := cmp.Diff([]int{2, 3}, lineErrs); diff != "" {
		t.Errorf("bad line numbers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]byte{bad, []byte("not an inbox line")}, readLines(t, q2.badPath)); diff != "" {
		t.Errorf("bad-line file (-want +got):\n%s", diff)
	}
	if q2.Len() != 0 || len(readLines(t, q.Path())) != 0 {
		t.Error("queue not empty after the drain")
	}
}

func TestOverlongLineMovedAside(t *testing.T) {
	q, priv := openTest(t, Options{})
	mustPut(t, q, testMsg(1))
	long := append(bytes.Repeat([]byte("A"), DefaultMaxLineBytes+10), '\n')
	f, err := os.OpenFile(q.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(long); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	// Fake a torn tail in the bad file too: the moved line must start on
	// its own line.
	if err := os.WriteFile(q.badPath, []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	q2, err := Open(q.Path(), q.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	mustPut(t, q2, testMsg(2))
	got, err := drainAll(q2, priv)
	var ce *CorruptLineError
	if !errors.As(err, &ce) || ce.Line != 2 || len(got) != 2 {
		t.Fatalf("Drain = %v, delivered %d", err, len(got))
	}
	badLines := readLines(t, q2.badPath)
	if len(badLines) != 2 || string(badLines[0]) != "torn" || !bytes.Equal(badLines[1], long[:len(long)-1]) {
		t.Fatalf("bad file has %d lines", len(badLines))
	}
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name string
		tail func(line []byte) []byte
	}{
		{"half a line", func(l []byte) []byte { return l[:len(l)/2] }},
		{"all but the newline", func(l []byte) []byte { return l }},
		{"zero-filled block", func([]byte) []byte { return make([]byte, 4096) }},
		{"zeros then newline", func([]byte) []byte { return append(make([]byte, 100), '\n') }},
		{"torn after zeros", func(l []byte) []byte { return append(append(make([]byte, 10), '\n'), l[:7]...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, priv := openTest(t, Options{})
			mustPut(t, q, msgs(0, 3)...)
			_ = q.Close()
			lines := readLines(t, q.Path())
			good, _ := os.ReadFile(q.Path())
			if err := os.WriteFile(q.Path(), append(bytes.Clone(good), tt.tail(lines[0])...), 0o600); err != nil {
				t.Fatal(err)
			}
			q2, err := Open(q.Path(), q.pub, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q2.Close()
			after, _ := os.ReadFile(q.Path())
			if !bytes.Equal(after, good) {
				t.Fatalf("file after Open is %d bytes, want the %d good ones", len(after), len(good))
			}
			mustPut(t, q2, testMsg(3))
			got, err := drainAll(q2, priv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(msgs(0, 4), got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
