package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChainAcrossReopen(t *testing.T) {
	t.Parallel()
	for _, codec := range []LineCodec{PlainCodec{}, b64Codec{}} {
		t.Run(fmt.Sprintf("%T", codec), func(t *testing.T) {
			t.Parallel()
			key := testKey(1)
			path := filepath.Join(t.TempDir(), "state", "audit.jsonl")
			var heads []Anchor
			for round := range 3 {
				l := openTest(t, path, key, codec)
				if l.Repaired() != 0 {
					t.Fatalf("round %d: unexpected repair of %d bytes", round, l.Repaired())
				}
				for i := range 2 {
					ev := Event{Event: EventVaultUnlock, Fields: map[string]string{"round": strconv.Itoa(round), "i": strconv.Itoa(i)}}
					if err := l.Append(ev); err != nil {
						t.Fatal(err)
					}
				}
				heads = append(heads, l.Head())
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			recs := mustRead(t, path, codec)
			if len(recs) != 6 {
				t.Fatalf("got %d records, want 6", len(recs))
			}
			prev := zeroHash
			for i, r := range recs {
				if r.Seq != int64(i+1) || r.Prev != prev {
					t.Fatalf("record %d: seq %d prev %s, want seq %d prev %s", i, r.Seq, r.Prev, i+1, prev)
				}
				if want := strconv.Itoa(i / 2); r.Fields["round"] != want {
					t.Errorf("record %d: round %q, want %q", i, r.Fields["round"], want)
				}
				prev = r.Hash
			}
			if got, want := heads[2], (Anchor{Seq: 6, Hash: recs[5].Hash}); got != want {
				t.Errorf("Head = %+v, want %+v", got, want)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res := mustVerify(t, data, key, codec)
			if !res.OK() || res.Records != 6 || res.Head != heads[2] {
				t.Fatalf("Verify = %+v", res)
			}
			for _, h := range heads {
				res, err := VerifyAnchor(bytes.NewReader(data), key, codec, h)
				if err != nil || !res.OK() {
					t.Fatalf("VerifyAnchor(%+v) = %+v, %v", h, res, err)
				}
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new", "audit.jsonl")
	l := openTest(t, path, testKey(1), PlainCodec{})
	defer l.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %v, want %v", p, got, want)
		}
	}
}

func TestTailRepair(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tail   string
		reason string
		keep   int // records of the original 3 that must survive
	}{
		{name: "torn line", tail: `{"seq":4,"ts":"2026-`, reason: "torn last line", keep: 3},
		{name: "torn single byte", tail: `{`, reason: "torn last line", keep: 3},
		{name: "zero-filled line", tail: "\x00\x00\x00\x00\n", reason: "zero-filled last line", keep: 3},
		{name: "zeros then torn", tail: "\x00\x00\n\x00\x00", reason: "zero-filled last line", keep: 3},
		{name: "whole file torn", tail: "", reason: "torn last line", keep: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := testKey(3)
			path, lines := writeLog(t, 3, key, PlainCodec{})
			data := joinLines(lines)
			if tt.keep == 0 {
				data = lines[0][:20] // one torn line and nothing else
			} else {
				data = append(data, tt.tail...)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			l := openTest(t, path, key, PlainCodec{})
			dropped := l.Repaired()
			if err := l.Append(Event{Event: EventVaultLock}); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			wantDropped := int64(len(data) - len(joinLines(lines[:tt.keep])))
			if dropped != wantDropped {
				t.Errorf("Repaired = %d, want %d", dropped, wantDropped)
			}
			recs := mustRead(t, path, PlainCodec{})
			if len(recs) != tt.keep+2 {
				t.Fatalf("got %d records, want %d", len(recs), tt.keep+2)
			}
			rep := recs[tt.keep]
			wantFields := map[string]string{"dropped_bytes": strconv.FormatInt(wantDropped, 10), "reason": tt.reason}
			if rep.Event != EventRepaired || rep.Seq != int64(tt.keep+1) {
				t.Errorf("repair record = %+v", rep)
			}
			if diff := cmp.Diff(wantFields, rep.Fields); diff != "" {
				t.Errorf("repair fields (-want +got):\n%s", diff)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if res := mustVerify(t, after, key, PlainCodec{}); !res.OK() || res.Records != tt.keep+2 {
				t.Fatalf("Verify after repair = %+v", res)
			}
		})
	}
}

// lockedCodec decodes plain lines but cannot encode, like a vault that was
// locked after it was opened.
type lockedCodec struct{ PlainCodec }

func (lockedCodec) EncodeLine([]byte) ([]byte, error) { return nil, errors.New("vault locked") }

// TestRepairWaitsForCodec checks that a torn tail is not cut while the repair
// record cannot be written, so the repair is recorded by a later Open.
func TestRepairWaitsForCodec(t *testing.T) {
	t.Parallel()
	key := testKey(4)
	path, lines := writeLog(t, 2, key, PlainCodec{})
	data := append(joinLines(lines), `{"seq":3,`...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, key, lockedCodec{}); err == nil {
		t.Fatal("Open succeeded without a way to record the repair")
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, data) {
		t.Fatalf("file changed by the failed Open (err %v)", err)
	}
	l := openTest(t, path, key, PlainCodec{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs := mustRead(t, path, PlainCodec{})
	if len(recs) != 3 || recs[2].Event != EventRepaired {
		t.Fatalf("records after repair: %+v", recs)
	}
}

// TestOpenRefusesBadTail checks that a complete last line that is not a
// torn write is never destroyed.
func TestOpenRefusesBadTail(t *testing.T) {
	t.Parallel()
	key := testKey(5)
	tests := []struct {
		name    string
		mutate  func(lines [][]byte) [][]byte
		key     []byte
		codec   LineCodec
		wantErr error
	}{
		{name: "wrong key", mutate: func(l [][]byte) [][]byte { return l }, key: testKey(6), codec: PlainCodec{}, wantErr: ErrBadMAC},
		{name: "altered last record", mutate: func(l [][]byte) [][]byte {
			l[len(l)-1] = bytes.Replace(l[len(l)-1], []byte(`"seq":3`), []byte(`"seq":9`), 1)
			return l
		}, key: key, codec: PlainCodec{}, wantErr: ErrBadMAC},
		{name: "garbage last line", mutate: func(l [][]byte) [][]byte { return append(l, []byte("not json")) }, key: key, codec: PlainCodec{}},
		{name: "blank last line", mutate: func(l [][]byte) [][]byte { return append(l, nil) }, key: key, codec: PlainCodec{}},
		{name: "codec cannot decode", mutate: func(l [][]byte) [][]byte { return l }, key: key, codec: b64Codec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, lines := writeLog(t, 3, key, PlainCodec{})
			data := joinLines(tt.mutate(lines))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Open(path, tt.key, tt.codec)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(after, data) {
				t.Fatal("Open modified the file")
			}
		})
	}
}

func TestOpenArgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "a"), make([]byte, 16), PlainCodec{}); err == nil {
		t.Error("16-byte key accepted")
	}
	if _, err := Open(filepath.Join(dir, "b"), testKey(1), nil); err == nil {
		t.Error("nil codec accepted")
	}
	if _, err := Open(dir, testKey(1), PlainCodec{}); err == nil {
		t.Error("directory accepted as log file")
	}
}

func TestAppendRejectsInvalid(t *testing.T) {
	t.Parallel()
	path, lines := writeLog(t, 2, testKey(1), PlainCodec{})
	l := openTest(t, path, testKey(1), PlainCodec{})
	defer l.Close()
	for _, ev := range []Event{
		{Event: "Bad"},
		{Event: EventRepaired},
		{Event: "x", Fields: map[string]string{"bad key": "v"}},
	} {
		if err := l.Append(ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Append(%+v) = %v, want ErrInvalidEvent", ev, err)
		}
	}
	if got := readLines(t, path); len(got) != len(lines) {
		t.Fatalf("file has %d lines after rejected appends, want %d", len(got), len(lines))
	}
	if got := l.Head().Seq; got != 2 {
		t.Fatalf("Head().Seq = %d, want 2", got)
	}
}

func TestKeyIsCopied(t *testing.T) {
	t.Parallel()
	key := testKey(7)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openTest(t, path, key, PlainCodec{})
	clear(key) // the caller may zero its buffer right after Open
	if err := l.Append(Event{Event: EventVaultUnlock}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, data, testKey(7), PlainCodec{}); !res.OK() {
		t.Fatalf("Verify = %+v", res)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	l := openTest(t, filepath.Join(t.TempDir(), "audit.jsonl"), testKey(1), PlainCodec{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Append(Event{Event: EventVaultLock}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	for _, b := range l.key {
		if b != 0 {
			t.Fatal("key not zeroed on Close")
		}
	}
}

// badCodec produces lines the log must refuse to write.
type badCodec struct{ out string }

func (c badCodec) EncodeLine([]byte) ([]byte, error) { return []byte(c.out), nil }
func (badCodec) DecodeLine(l []byte) ([]byte, error) { return l, nil }

func TestAppendRefusesBadCodecOutput(t *testing.T) {
	t.Parallel()
	for _, out := range []string{"", "a\nb", "a\x00b"} {
		t.Run(fmt.Sprintf("%q", out), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			l := openTest(t, path, testKey(1), badCodec{out})
			defer l.Close()
			if err := l.Append(Event{Event: EventVaultLock}); err == nil {
				t.Fatal("Append accepted bad codec output")
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
				t.Fatalf("file changed: %v %v", fi, err)
			}
		})
	}
}

func TestConcurrentAppends(t *testing.T) {
	t.Parallel()
	key := testKey(9)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openTest(t, path, key, b64Codec{})
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ev := Event{Event: EventExecRun, Fields: map[string]string{"w": strconv.Itoa(w), "i": strconv.Itoa(i)}}
				if err := l.Append(ev); err != nil {
					errs <- err
				}
				_ = l.Head()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, data, key, b64Codec{}); !res.OK() || res.Records != workers*each {
		t.Fatalf("Verify = %+v", res)
	}
	seen := map[string]bool{}
	for _, r := range mustRead(t, path, b64Codec{}) {
		id := r.Fields["w"] + "/" + r.Fields["i"]
		if seen[id] {
			t.Fatalf("duplicate record %s", id)
		}
		seen[id] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d distinct records, want %d", len(seen), workers*each)
	}
}
