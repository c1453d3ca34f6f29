package audit

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// replaceOnce returns a mutation of line i (0-based) replacing old by new,
// failing the test when old is absent so that no case passes vacuously.
func replaceOnce(t *testing.T, i int, old, new string) func([][]byte) [][]byte {
	return func(lines [][]byte) [][]byte {
		if !bytes.Contains(lines[i], []byte(old)) {
			t.Fatalf("line %d has no %q: %s", i+1, old, lines[i])
		}
		lines[i] = bytes.Replace(lines[i], []byte(old), []byte(new), 1)
		return lines
	}
}

// flipHex changes the first hex digit after member in line i.
func flipHex(t *testing.T, i int, member string) func([][]byte) [][]byte {
	return func(lines [][]byte) [][]byte {
		at := bytes.Index(lines[i], []byte(`"`+member+`":"`))
		if at < 0 {
			t.Fatalf("line %d has no %s", i+1, member)
		}
		p := at + len(member) + 4
		if lines[i][p] == '0' {
			lines[i][p] = '1'
		} else {
			lines[i][p] = '0'
		}
		return lines
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	key := testKey(11)
	_, clean := writeLog(t, 5, key, PlainCodec{})
	// Line 3 (index 2) is the middle record: the gateway.auth_failed event
	// with no fields. Line 4 (index 3) has several fields.
	tests := []struct {
		name     string
		mutate   func([][]byte) [][]byte
		firstBad int
		reason   string
	}{
		{"seq", replaceOnce(t, 2, `"seq":3`, `"seq":33`), 3, "bad MAC"},
		{"ts", replaceOnce(t, 2, `"ts":"2026`, `"ts":"2027`), 3, "bad MAC"},
		{"event", replaceOnce(t, 2, EventGatewayAuthFailed, "gateway.auth_ok"), 3, "bad MAC"},
		{"add field", replaceOnce(t, 2, `"fields":{}`, `"fields":{"a":"b"}`), 3, "bad MAC"},
		{"field value", replaceOnce(t, 3, `"decision":"allow-once"`, `"decision":"deny"`), 4, "bad MAC"},
		{"field key", replaceOnce(t, 3, `"decision":`, `"decisioN":`), 4, "bad MAC"},
		{"drop field", replaceOnce(t, 3, `"alpha":"1",`, ``), 4, "bad MAC"},
		{"prev", flipHex(t, 2, "prev"), 3, "bad MAC"},
		{"hash", flipHex(t, 2, "hash"), 3, "bad MAC"},
		{"hash member removed", replaceOnce(t, 2, `,"hash":"`, `,"hash_":"`), 3, "unreadable record"},
		{"re-escaped value", replaceOnce(t, 3, `"decision":"allow-once"`, `"decision":"\u0061llow-once"`), 4, "canonical form"},
		{"duplicate member", replaceOnce(t, 3, `"alpha":"1",`, `"alpha":"0","alpha":"1",`), 4, "canonical form"},
		{"not json", replaceOnce(t, 2, `{"seq"`, `["seq"`), 3, "unreadable record"},
		{"delete middle line", func(l [][]byte) [][]byte { return append(l[:2:2], l[3:]...) }, 3, "records missing"},
		{"delete first line", func(l [][]byte) [][]byte { return l[1:] }, 1, "records missing"},
		{"swap two lines", func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, 2, "out of order"},
		{"replayed line", func(l [][]byte) [][]byte { return append(l[:4:4], l[3], l[4]) }, 5, "duplicated"},
		{"blank line", func(l [][]byte) [][]byte { return append(l[:2:2], append([][]byte{nil}, l[2:]...)...) }, 3, "blank line"},
		{"overlong line", func(l [][]byte) [][]byte { l[2] = bytes.Repeat([]byte("x"), MaxLineLen+1); return l }, 3, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines := make([][]byte, len(clean))
			for i := range clean {
				lines[i] = bytes.Clone(clean[i])
			}
			res := mustVerify(t, joinLines(tt.mutate(lines)), key, PlainCodec{})
			if res.FirstBad != tt.firstBad || res.Records != tt.firstBad-1 || res.BadSeq != int64(tt.firstBad) {
				t.Fatalf("Verify = %+v, want FirstBad %d", res, tt.firstBad)
			}
			if !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("Reason %q does not mention %q", res.Reason, tt.reason)
			}
		})
	}
}

// TestVerifySplicedRecord moves a genuine record of another log with the same
// key into place: its MAC, form and seq are right, only prev betrays it.
func TestVerifySplicedRecord(t *testing.T) {
	t.Parallel()
	key := testKey(12)
	_, a := writeLog(t, 4, key, PlainCodec{})
	// A second log whose first record differs, so the chains diverge.
	l := openTest(t, filepath.Join(t.TempDir(), "other.jsonl"), key, PlainCodec{})
	evs := sampleEvents(4)
	evs[0].Fields = map[string]string{"source": "env"}
	for _, e := range evs {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	c := readLines(t, l.Path())
	spliced := [][]byte{a[0], a[1], c[2], a[3]}
	res := mustVerify(t, joinLines(spliced), key, PlainCodec{})
	if res.FirstBad != 3 || !strings.Contains(res.Reason, "prev") {
		t.Fatalf("Verify = %+v, want prev mismatch at line 3", res)
	}
}

func TestVerifyWrongKey(t *testing.T) {
	t.Parallel()
	_, lines := writeLog(t, 3, testKey(13), PlainCodec{})
	res := mustVerify(t, joinLines(lines), testKey(14), PlainCodec{})
	if res.FirstBad != 1 || res.Records != 0 || !strings.Contains(res.Reason, "key") {
		t.Fatalf("Verify = %+v", res)
	}
}

func TestVerifyWrongCodec(t *testing.T) {
	t.Parallel()
	_, lines := writeLog(t, 3, testKey(13), b64Codec{})
	if res := mustVerify(t, joinLines(lines), testKey(13), b64Codec{}); !res.OK() {
		t.Fatalf("Verify with the right codec = %+v", res)
	}
	res := mustVerify(t, joinLines(lines), testKey(13), PlainCodec{})
	if res.FirstBad != 1 || !strings.Contains(res.Reason, "unreadable") {
		t.Fatalf("Verify with the wrong codec = %+v", res)
	}
}

func TestVerifyTailAndAnchor(t *testing.T) {
	t.Parallel()
	key := testKey(15)
	_, lines := writeLog(t, 5, key, PlainCodec{})
	full := joinLines(lines)
	head := mustVerify(t, full, key, PlainCodec{}).Head
	third := mustVerify(t, joinLines(lines[:3]), key, PlainCodec{}).Head

	t.Run("truncated at end passes without anchor", func(t *testing.T) {
		t.Parallel()
		res := mustVerify(t, joinLines(lines[:3]), key, PlainCodec{})
		if !res.OK() || res.Records != 3 || res.Head.Seq != 3 {
			t.Fatalf("Verify = %+v", res)
		}
	})
	t.Run("torn tail is reported but not bad", func(t *testing.T) {
		t.Parallel()
		data := append(joinLines(lines[:3]), lines[3][:10]...)
		res := mustVerify(t, data, key, PlainCodec{})
		if !res.OK() || !res.TornTail || res.Records != 3 {
			t.Fatalf("Verify = %+v", res)
		}
	})
	t.Run("empty log", func(t *testing.T) {
		t.Parallel()
		res := mustVerify(t, nil, key, PlainCodec{})
		if !res.OK() || res.Records != 0 || res.Head != (Anchor{Hash: zeroHash}) {
			t.Fatalf("Verify = %+v", res)
		}
	})
	anchorTests := []struct {
		name     string
		data     []byte
		anchor   Anchor
		firstBad int
		reason   string
	}{
		{"anchor at head", full, head, -1, ""},
		{"anchor in the middle", full, third, -1, ""},
		{"truncated before anchor", joinLines(lines[:3]), head, 4, "removed from the end"},
		{"torn before anchor", append(joinLines(lines[:3]), 'x'), head, 4, "removed from the end"},
		{"empty before anchor", nil, third, 1, "removed from the end"},
		{"anchor hash differs", full, Anchor{Seq: 3, Hash: head.Hash}, 3, "differs from the anchor"},
	}
	for _, tt := range anchorTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := VerifyAnchor(bytes.NewReader(tt.data), key, PlainCodec{}, tt.anchor)
			if err != nil {
				t.Fatal(err)
			}
			if res.FirstBad != tt.firstBad || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("VerifyAnchor = %+v, want FirstBad %d reason %q", res, tt.firstBad, tt.reason)
			}
		})
	}
}

func TestVerifyArgs(t *testing.T) {
	t.Parallel()
	if _, err := Verify(strings.NewReader(""), []byte("short"), PlainCodec{}); err == nil {
		t.Error("short key accepted")
	}
	if _, err := Verify(strings.NewReader(""), testKey(1), nil); err == nil {
		t.Error("nil codec accepted")
	}
	for _, a := range []Anchor{{}, {Seq: 1, Hash: "abc"}, {Seq: 0, Hash: zeroHash}} {
		if _, err := VerifyAnchor(strings.NewReader(""), testKey(1), PlainCodec{}, a); err == nil {
			t.Errorf("anchor %+v accepted", a)
		}
	}
	_, lines := writeLog(t, 3, testKey(1), PlainCodec{})
	r := iotest.TimeoutReader(bytes.NewReader(joinLines(lines))) // fails on the second read
	if _, err := Verify(iotest.OneByteReader(r), testKey(1), PlainCodec{}); err == nil {
		t.Error("read error not returned")
	}
}

func TestVerifyFile(t *testing.T) {
	t.Parallel()
	path, _ := writeLog(t, 3, testKey(2), PlainCodec{})
	res, err := VerifyFile(path, testKey(2), PlainCodec{})
	if err != nil || !res.OK() || res.Records != 3 {
		t.Fatalf("VerifyFile = %+v, %v", res, err)
	}
	if _, err := VerifyFile(path+".missing", testKey(2), PlainCodec{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReadRecordsReportsBadLines(t *testing.T) {
	t.Parallel()
	_, lines := writeLog(t, 3, testKey(1), PlainCodec{})
	data := joinLines([][]byte{lines[0], []byte("garbage"), nil, lines[1], bytes.Repeat([]byte("y"), MaxLineLen+5), lines[2]})
	data = append(data, "torn"...)
	recs, errs := ReadRecords(bytes.NewReader(data), PlainCodec{})
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	var badLines []int
	for _, err := range errs {
		le, ok := err.(*LineError)
		if !ok {
			t.Fatalf("error %v is not a *LineError", err)
		}
		badLines = append(badLines, le.Line)
	}
	if want := []int{2, 3, 5, 7}; !slices.Equal(badLines, want) {
		t.Fatalf("bad lines %v, want %v", badLines, want)
	}
}
