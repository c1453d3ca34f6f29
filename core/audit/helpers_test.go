package audit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testKey returns a fixed 32-byte key whose bytes start at b.
func testKey(b byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// fakeClock returns a clock that starts at a fixed instant and advances by a
// varying step, so timestamps exercise trimmed fractional seconds.
func fakeClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	steps := []time.Duration{0, 1500 * time.Millisecond, 123456789, time.Second, 10 * time.Microsecond}
	i := 0
	return func() time.Time {
		t = t.Add(steps[i%len(steps)])
		i++
		return t
	}
}

// b64Codec stands in for the vault: it transforms every line.
type b64Codec struct{}

func (b64Codec) EncodeLine(plain []byte) ([]byte, error) {
	return []byte("B64:" + base64.RawURLEncoding.EncodeToString(plain)), nil
}

func (b64Codec) DecodeLine(line []byte) ([]byte, error) {
	s, ok := strings.CutPrefix(string(line), "B64:")
	if !ok {
		return nil, errors.New("no B64: prefix")
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// openTest opens a log with a deterministic clock.
func openTest(t testing.TB, path string, key []byte, codec LineCodec) *Log {
	t.Helper()
	l, err := Open(path, key, codec)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	l.now = fakeClock()
	return l
}

// sampleEvents returns n events with varied, sometimes awkward, fields.
func sampleEvents(n int) []Event {
	base := []Event{
		{Event: EventVaultUnlock, Fields: map[string]string{"source": "keychain"}},
		{Event: EventExecRun, Fields: map[string]string{"cmd": "ls -la \"/tmp\" | grep '<x>' && echo \\ done\n\t", "agent": "0123abcd"}},
		{Event: EventGatewayAuthFailed, Fields: map[string]string{}},
		{Event: EventApprovalDecided, Fields: map[string]string{"id": "ap1", "decision": "allow-once", "zeta": "é\u2028ü\x01\x7f", "alpha": "1"}},
		{Event: EventConfigChanged, Fields: nil},
	}
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = base[i%len(base)]
	}
	return evs
}

// writeLog creates a log of n sample events at a new path and returns the
// path and its lines (without newlines).
func writeLog(t testing.TB, n int, key []byte, codec LineCodec) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openTest(t, path, key, codec)
	for _, e := range sampleEvents(n) {
		if err := l.Append(e); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, readLines(t, path)
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	if len(data) == 0 {
		return nil
	}
	return lines
}

func joinLines(lines [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func mustVerify(t testing.TB, data []byte, key []byte, codec LineCodec) VerifyResult {
	t.Helper()
	res, err := Verify(bytes.NewReader(data), key, codec)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.OK() != (res.Reason == "") || res.OK() != (res.BadSeq == 0) {
		t.Fatalf("inconsistent result %+v", res)
	}
	return res
}

func mustRead(t testing.TB, path string, codec LineCodec) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, errs := ReadRecords(f, codec)
	if len(errs) > 0 {
		t.Fatalf("ReadRecords: %v", errs)
	}
	return recs
}
