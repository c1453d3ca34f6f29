package session

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)

func rec(id string, role chat.Role, content string) chat.Record {
	return chat.Record{ID: id, Role: role, Content: content, Time: t0}
}

func encodeAll(t testing.TB, codec LineCodec, recs ...chat.Record) []byte {
	t.Helper()
	var b []byte
	for _, r := range recs {
		line, err := encodeRecord(r, codec)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, line...)
	}
	return b
}

// b64Codec stands in for the vault: it changes every byte and can refuse.
type b64Codec struct{}

func (b64Codec) EncodeLine(p []byte) ([]byte, error) {
	return []byte("B64:" + base64.RawURLEncoding.EncodeToString(p)), nil
}

func (b64Codec) DecodeLine(l []byte) ([]byte, error) {
	s, ok := strings.CutPrefix(string(l), "B64:")
	if !ok {
		return nil, errors.New("not a sealed line")
	}
	return base64.RawURLEncoding.DecodeString(s)
}

func TestReadRecords(t *testing.T) {
	good1 := rec("r1", chat.RoleUser, "hello")
	good2 := chat.Record{ID: "r2", Role: chat.RoleAssistant, Time: t0,
		ToolCalls: []chat.ToolCall{{ID: "c1", Name: "read", Arguments: json.RawMessage(`{"path":"a"}`)}},
		Usage:     &chat.Usage{InputTokens: 3, OutputTokens: 4}}
	good3 := rec("r3", chat.RoleTool, "result\nwith newline")
	enc := func(rs ...chat.Record) string { return string(encodeAll(t, PlainCodec{}, rs...)) }

	tests := []struct {
		name     string
		in       string
		want     []chat.Record
		errLines []int
	}{
		{"empty", "", nil, nil},
		{"all good", enc(good1, good2, good3), []chat.Record{good1, good2, good3}, nil},
		{"no final newline", strings.TrimSuffix(enc(good1, good2), "\n"), []chat.Record{good1, good2}, nil},
		{"crlf and blank lines", strings.ReplaceAll(enc(good1), "\n", "\r\n") + "\n\n" + enc(good2), []chat.Record{good1, good2}, nil},
		{"corrupt middle", enc(good1) + "{not json\n" + enc(good2), []chat.Record{good1, good2}, []int{2}},
		{"missing id", enc(good1) + `{"role":"user","ts":"2025-01-02T03:04:05Z"}` + "\n" + enc(good3), []chat.Record{good1, good3}, []int{2}},
		{"unknown role", `{"id":"x","role":"wizard"}` + "\n" + enc(good1), []chat.Record{good1}, []int{1}},
		{"json null", "null\n" + enc(good1), []chat.Record{good1}, []int{1}},
		{"json array", "[1,2]\n" + enc(good1), []chat.Record{good1}, []int{1}},
		{"unknown fields kept readable", `{"id":"x","role":"user","future":1,"ts":"2025-01-02T03:04:05.000000006Z"}` + "\n",
			[]chat.Record{{ID: "x", Role: chat.RoleUser, Time: t0}}, nil},
		{"torn tail", enc(good1) + enc(good2)[:10], []chat.Record{good1}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ReadRecords(strings.NewReader(tt.in), PlainCodec{})
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
			var lines []int
			for _, err := range errs {
				var le *LineError
				if !errors.As(err, &le) {
					t.Fatalf("error %v is not a *LineError", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("line %d", le.Line)) {
					t.Errorf("error %q does not name its line", err)
				}
				lines = append(lines, le.Line)
			}
			if d := cmp.Diff(tt.errLines, lines); d != "" {
				t.Errorf("error lines (-want +got):\n%s", d)
			}
		})
	}
}

func TestReadRecordsCodec(t *testing.T) {
	a, b := rec("a", chat.RoleUser, "x"), rec("b", chat.RoleAssistant, "y")
	in := string(encodeAll(t, b64Codec{}, a)) + "garbage\n" + string(encodeAll(t, b64Codec{}, b))
	got, errs := ReadRecords(strings.NewReader(in), b64Codec{})
	if d := cmp.Diff([]chat.Record{a, b}, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 2") || !strings.Contains(errs[0].Error(), "not a sealed line") {
		t.Errorf("errs = %v", errs)
	}
}

func TestReadRecordsLongLine(t *testing.T) {
	good := rec("ok", chat.RoleUser, "after")
	// An overlong line is reported and skipped without holding it in memory;
	// the line after it is still read.
	r := io.MultiReader(
		strings.NewReader(`{"id":"big","role":"user","content":"`),
		io.LimitReader(zeroReader{}, MaxLineLen+10),
		strings.NewReader("\"}\n"),
		bytes.NewReader(encodeAll(t, PlainCodec{}, good)),
		io.LimitReader(zeroReader{}, MaxLineLen+1), // unterminated overlong tail
	)
	got, errs := ReadRecords(r, PlainCodec{})
	if d := cmp.Diff([]chat.Record{good}, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if len(errs) != 2 {
		t.Fatalf("errs = %v, want 2", errs)
	}
	for i, wantLine := range []int{1, 3} {
		var le *LineError
		if !errors.As(errs[i], &le) || le.Line != wantLine || !errors.Is(errs[i], errLineTooLong) {
			t.Errorf("errs[%d] = %v, want line %d too long", i, errs[i], wantLine)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

type failReader struct{ data io.Reader }

func (f failReader) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestReadRecordsReaderError(t *testing.T) {
	good := rec("a", chat.RoleUser, "x")
	got, errs := ReadRecords(failReader{bytes.NewReader(encodeAll(t, PlainCodec{}, good))}, PlainCodec{})
	if len(got) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "disk on fire") {
		t.Errorf("got %v, errs %v", got, errs)
	}
}

func TestEncodeRecordRejects(t *testing.T) {
	tests := []struct {
		name  string
		rec   chat.Record
		codec LineCodec
	}{
		{"no id", chat.Record{Role: chat.RoleUser}, PlainCodec{}},
		{"bad role", chat.Record{ID: "x", Role: "root"}, PlainCodec{}},
		{"codec newline", rec("x", chat.RoleUser, "a"), newlineCodec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := encodeRecord(tt.rec, tt.codec); err == nil {
				t.Error("encodeRecord succeeded")
			}
		})
	}
}

type newlineCodec struct{ PlainCodec }

func (newlineCodec) EncodeLine(p []byte) ([]byte, error) { return append(p, '\n', 'x'), nil }

func FuzzReadRecords(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte(`{"id":"a","role":"user","content":"hi","ts":"2025-01-02T03:04:05Z"}` + "\n"))
	f.Add([]byte(`{"id":"a","role":"assistant","toolCalls":[{"id":"c","name":"n","arguments":{"x":1}}]}` + "\n{broken\n"))
	f.Add([]byte("\n\r\n{\"id\":\"\",\"role\":\"user\"}\nnull\n[]\n"))
	f.Add([]byte(`{"id":"a","role":"tool","usage":{"inputTokens":1},"provenance":{"kind":"external_user"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, errs := ReadRecords(bytes.NewReader(data), PlainCodec{})
		lines := bytes.Count(data, []byte{'\n'}) + 1
		if len(recs)+len(errs) > lines {
			t.Fatalf("%d records + %d errors from %d lines", len(recs), len(errs), lines)
		}
		for _, r := range recs {
			if err := validateRecord(r); err != nil {
				t.Fatalf("returned an invalid record: %v", err)
			}
		}
		// What was read writes back and reads again identically.
		enc1 := encodeAll(t, PlainCodec{}, recs...)
		recs2, errs2 := ReadRecords(bytes.NewReader(enc1), PlainCodec{})
		if len(errs2) > 0 || len(recs2) != len(recs) {
			t.Fatalf("re-read: %d records, errors %v; want %d records", len(recs2), errs2, len(recs))
		}
		if enc2 := encodeAll(t, PlainCodec{}, recs2...); !bytes.Equal(enc1, enc2) {
			t.Fatalf("re-encoding differs:\n%s\n%s", enc1, enc2)
		}
	})
}
