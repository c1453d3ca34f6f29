package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	manyFields := map[string]string{}
	for i := range MaxFields + 1 {
		manyFields["k"+strings.Repeat("a", i)] = "v"
	}
	maxFields := map[string]string{}
	for i := range MaxFields {
		maxFields["k"+strings.Repeat("a", i)] = "v"
	}
	tests := []struct {
		name    string
		ev      Event
		wantErr bool
		want    map[string]string // nil: do not compare
	}{
		{name: "simple", ev: Event{Event: "vault.unlock", Fields: map[string]string{"source": "env"}}, want: map[string]string{"source": "env"}},
		{name: "nil fields", ev: Event{Event: "vault.lock"}, want: map[string]string{}},
		{name: "longest name", ev: Event{Event: "a" + strings.Repeat("b.", 31) + "c"}, want: map[string]string{}},
		{name: "name too long", ev: Event{Event: "a" + strings.Repeat("b", 64)}, wantErr: true},
		{name: "empty name", ev: Event{Event: ""}, wantErr: true},
		{name: "upper name", ev: Event{Event: "Vault.unlock"}, wantErr: true},
		{name: "digit first", ev: Event{Event: "1vault"}, wantErr: true},
		{name: "dash", ev: Event{Event: "vault-unlock"}, wantErr: true},
		{name: "newline in name", ev: Event{Event: "vault\nunlock"}, wantErr: true},
		{name: "reserved prefix", ev: Event{Event: "audit.repaired"}, wantErr: true},
		{name: "max fields", ev: Event{Event: "x", Fields: maxFields}, want: maxFields},
		{name: "too many fields", ev: Event{Event: "x", Fields: manyFields}, wantErr: true},
		{name: "camel key", ev: Event{Event: "x", Fields: map[string]string{"toolName_2": "v"}}, want: map[string]string{"toolName_2": "v"}},
		{name: "upper first key", ev: Event{Event: "x", Fields: map[string]string{"Tool": "v"}}, wantErr: true},
		{name: "empty key", ev: Event{Event: "x", Fields: map[string]string{"": "v"}}, wantErr: true},
		{name: "dotted key", ev: Event{Event: "x", Fields: map[string]string{"a.b": "v"}}, wantErr: true},
		{name: "key too long", ev: Event{Event: "x", Fields: map[string]string{"k" + strings.Repeat("a", 64): "v"}}, wantErr: true},
		{name: "newline kept in value", ev: Event{Event: "x", Fields: map[string]string{"cmd": "a\nb"}}, want: map[string]string{"cmd": "a\nb"}},
		{name: "invalid utf8 replaced", ev: Event{Event: "x", Fields: map[string]string{"v": "a\xffb"}}, want: map[string]string{"v": "a\uFFFDb"}},
		{name: "value at limit kept", ev: Event{Event: "x", Fields: map[string]string{"v": strings.Repeat("a", MaxValueLen)}},
			want: map[string]string{"v": strings.Repeat("a", MaxValueLen)}},
		{name: "value truncated", ev: Event{Event: "x", Fields: map[string]string{"v": strings.Repeat("a", MaxValueLen+1)}},
			want: map[string]string{"v": strings.Repeat("a", MaxValueLen-3) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name, fields, err := normalize(tt.ev, false)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidEvent) {
					t.Fatalf("err = %v, want ErrInvalidEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if name != tt.ev.Event {
				t.Errorf("name = %q", name)
			}
			if diff := cmp.Diff(tt.want, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeInternalPrefix(t *testing.T) {
	t.Parallel()
	if _, _, err := normalize(Event{Event: EventRepaired}, true); err != nil {
		t.Fatalf("internal event refused: %v", err)
	}
}

func TestNormalizeCopiesFields(t *testing.T) {
	t.Parallel()
	in := map[string]string{"a": "1"}
	_, out, err := normalize(Event{Event: "x", Fields: in}, false)
	if err != nil {
		t.Fatal(err)
	}
	in["a"] = "2"
	if out["a"] != "1" {
		t.Fatal("normalize kept a reference to the caller's map")
	}
}

func TestClampValueMultibyte(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"é", "€", "😀", "a😀"} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			v := clampValue(strings.Repeat(s, MaxValueLen))
			if len(v) > MaxValueLen || !utf8.ValidString(v) || !strings.HasSuffix(v, "…") {
				t.Fatalf("clamped value: len %d, valid %v, suffix %q", len(v), utf8.ValidString(v), v[len(v)-3:])
			}
			if len(v) < MaxValueLen-utf8.UTFMax-len("…") {
				t.Fatalf("clamped value cut too short: %d bytes", len(v))
			}
		})
	}
}

// orderedRecord has the members in canonical order for encoding/json.
type orderedRecord struct {
	Seq    int64             `json:"seq"`
	TS     string            `json:"ts"`
	Event  string            `json:"event"`
	Fields map[string]string `json:"fields"`
	Prev   string            `json:"prev"`
	Hash   string            `json:"hash"`
}

// TestLineMatchesEncodingJSON checks the documented claim that the stored
// form is what encoding/json emits with HTML escaping off.
func TestLineMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for c := range 0x80 {
		all.WriteByte(byte(c))
	}
	values := []string{
		"", "plain", all.String(), "\u2028\u2029", "<a href='x'>&amp;</a>", "é😀\uFFFD", `\"\\`, "\x7f\u0085\u00a0",
	}
	for i, v := range values {
		rec := Record{
			Seq:    int64(i + 1),
			Time:   time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC),
			Event:  "exec.run",
			Fields: map[string]string{"value": v, "b": "2", "a": v, "aB": "x"},
			Prev:   zeroHash,
			Hash:   strings.Repeat("ab", 32),
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(orderedRecord{rec.Seq, formatTime(rec.Time), rec.Event, rec.Fields, rec.Prev, rec.Hash}); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
		if got := rec.line(); !bytes.Equal(got, want) {
			t.Errorf("value %q:\n got %s\nwant %s", v, got, want)
		}
		if bytes.IndexByte(rec.line(), '\n') >= 0 {
			t.Errorf("value %q: line contains a newline", v)
		}
	}
}

func TestParseRecord(t *testing.T) {
	t.Parallel()
	good := Record{Seq: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Event: "x", Fields: map[string]string{"a": "b"}, Prev: zeroHash, Hash: zeroHash}
	line := string(good.line())
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"good", line, true},
		{"unknown member", strings.Replace(line, `{"seq"`, `{"x":1,"seq"`, 1), false},
		{"missing fields", strings.Replace(line, `"fields":{"a":"b"},`, ``, 1), false},
		{"null fields", strings.Replace(line, `"fields":{"a":"b"}`, `"fields":null`, 1), false},
		{"missing hash", strings.Replace(line, `,"hash":"`+zeroHash+`"`, ``, 1), false},
		{"seq zero", strings.Replace(line, `"seq":1`, `"seq":0`, 1), false},
		{"seq float", strings.Replace(line, `"seq":1`, `"seq":1.5`, 1), false},
		{"seq string", strings.Replace(line, `"seq":1`, `"seq":"1"`, 1), false},
		{"ts offset", strings.Replace(line, `05.000006Z`, `05.000006+00:00`, 1), false},
		{"ts trailing zero", strings.Replace(line, `05.000006Z`, `05.0000060Z`, 1), false},
		{"ts garbage", strings.Replace(line, `2026-01-02T03:04:05.000006Z`, `yesterday`, 1), false},
		{"upper hex", strings.Replace(line, `"hash":"`+zeroHash, `"hash":"`+strings.Repeat("A", 64), 1), false},
		{"short prev", strings.Replace(line, `"prev":"`+zeroHash, `"prev":"00`, 1), false},
		{"bad event", strings.Replace(line, `"event":"x"`, `"event":"X"`, 1), false},
		{"bad key", strings.Replace(line, `{"a":"b"}`, `{"A":"b"}`, 1), false},
		{"non-string value", strings.Replace(line, `{"a":"b"}`, `{"a":1}`, 1), false},
		{"long value", strings.Replace(line, `{"a":"b"}`, `{"a":"`+strings.Repeat("b", MaxValueLen+1)+`"}`, 1), false},
		{"trailing data", line + `{}`, false},
		{"trailing space", line + ` `, true},
		{"array", `[]`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, err := parseRecord([]byte(tt.in))
			if tt.ok != (err == nil) {
				t.Fatalf("parseRecord err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok {
				if diff := cmp.Diff(good, rec); diff != "" {
					t.Errorf("record (-want +got):\n%s", diff)
				}
			}
		})
	}
}
