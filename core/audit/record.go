package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// zeroHash is the prev of the first record.
const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Record is one stored audit record.
type Record struct {
	Seq    int64             `json:"seq"`
	Time   time.Time         `json:"ts"`
	Event  string            `json:"event"`
	Fields map[string]string `json:"fields"`
	// Prev is the hex hash of the record before (64 '0' for the first).
	Prev string `json:"prev"`
	// Hash is hex HMAC-SHA256(key, canonical form of this record).
	Hash string `json:"hash"`
}

// canonical returns the MAC input: the record without its hash, in the form
// documented on the package.
func (r *Record) canonical() []byte {
	b := make([]byte, 0, 256)
	b = r.appendBody(b)
	return append(b, '}')
}

// line returns the stored plaintext: the canonical form with the hash member
// added before the closing brace.
func (r *Record) line() []byte {
	b := make([]byte, 0, 256)
	b = r.appendBody(b)
	b = append(b, `,"hash":`...)
	b = appendString(b, r.Hash)
	return append(b, '}')
}

// appendBody appends everything of the canonical form except the closing
// brace.
func (r *Record) appendBody(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"ts":`...)
	b = appendString(b, formatTime(r.Time))
	b = append(b, `,"event":`...)
	b = appendString(b, r.Event)
	b = append(b, `,"fields":{`...)
	keys := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte order, as documented
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, r.Fields[k])
	}
	b = append(b, `},"prev":`...)
	return appendString(b, r.Prev)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// appendString appends s as a JSON string with the escaping documented on the
// package. s must be valid UTF-8 (normalize and parseRecord ensure it).
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\u2028':
			b = append(b, `\u2028`...)
		case '\u2029':
			b = append(b, `\u2029`...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// computeMAC returns hex HMAC-SHA256(key, canon).
func computeMAC(key, canon []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(canon)
	return hex.EncodeToString(m.Sum(nil))
}

// macOK reports whether hexHash is the MAC of canon under key, comparing in
// constant time.
func macOK(key, canon []byte, hexHash string) bool {
	got, err := hex.DecodeString(hexHash)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(canon)
	return hmac.Equal(got, m.Sum(nil))
}

// wireRecord uses pointers so that a missing member is told apart from a
// zero value.
type wireRecord struct {
	Seq    *int64            `json:"seq"`
	TS     *string           `json:"ts"`
	Event  *string           `json:"event"`
	Fields map[string]string `json:"fields"`
	Prev   *string           `json:"prev"`
	Hash   *string           `json:"hash"`
}

// decodeLine decodes and parses one stored line (without its newline).
func decodeLine(line []byte, codec LineCodec) (Record, []byte, error) {
	plain, err := codec.DecodeLine(line)
	if err != nil {
		return Record{}, nil, fmt.Errorf("decode line: %w", err)
	}
	rec, err := parseRecord(plain)
	if err != nil {
		return Record{}, nil, err
	}
	return rec, plain, nil
}

// parseRecord parses and validates one plaintext record. It does not check
// the MAC.
func parseRecord(plain []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	var w wireRecord
	if err := dec.Decode(&w); err != nil {
		return Record{}, fmt.Errorf("parse record: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, errors.New("parse record: data after the record")
	}
	switch {
	case w.Seq == nil:
		return Record{}, errors.New("record has no seq")
	case w.TS == nil:
		return Record{}, errors.New("record has no ts")
	case w.Event == nil:
		return Record{}, errors.New("record has no event")
	case w.Fields == nil:
		return Record{}, errors.New("record has no fields")
	case w.Prev == nil:
		return Record{}, errors.New("record has no prev")
	case w.Hash == nil:
		return Record{}, errors.New("record has no hash")
	}
	ts, err := time.Parse(time.RFC3339Nano, *w.TS)
	if err != nil {
		return Record{}, fmt.Errorf("record ts: %w", err)
	}
	if formatTime(ts) != *w.TS {
		return Record{}, fmt.Errorf("record ts %q is not canonical UTC RFC3339Nano", *w.TS)
	}
	rec := Record{Seq: *w.Seq, Time: ts.UTC(), Event: *w.Event, Fields: w.Fields, Prev: *w.Prev, Hash: *w.Hash}
	if err := validateRecord(&rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// validateRecord checks a parsed record against the rules Append enforces.
func validateRecord(r *Record) error {
	if r.Seq < 1 {
		return fmt.Errorf("record seq %d is not positive", r.Seq)
	}
	if !validEventName(r.Event) {
		return fmt.Errorf("record event name %q is invalid", r.Event)
	}
	if len(r.Fields) > MaxFields {
		return fmt.Errorf("record has %d fields, at most %d allowed", len(r.Fields), MaxFields)
	}
	for k, v := range r.Fields {
		if !validKey(k) {
			return fmt.Errorf("record field key %q is invalid", k)
		}
		if len(v) > MaxValueLen || !utf8.ValidString(v) {
			return fmt.Errorf("record field %s: value too long or not UTF-8", k)
		}
	}
	if !validHash(r.Prev) {
		return errors.New("record prev is not 64 lowercase hex digits")
	}
	if !validHash(r.Hash) {
		return errors.New("record hash is not 64 lowercase hex digits")
	}
	return nil
}

// validHash reports whether s is 64 lowercase hex digits.
func validHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}
