package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/durable"
)

// MaxLineLen is the longest transcript line, in bytes without the newline,
// that is written or read. Longer lines are refused so that a corrupt or
// hostile file cannot make the reader allocate without bound.
const MaxLineLen = 16 << 20

// LineCodec turns one plaintext JSON record into the bytes stored on its
// transcript line and back. The vault implements it to seal each line; an
// encoded line must not contain '\n'.
type LineCodec interface {
	EncodeLine(plain []byte) ([]byte, error)
	DecodeLine(line []byte) ([]byte, error)
}

// PlainCodec stores lines as they are: for tests and before a vault exists.
type PlainCodec struct{}

// EncodeLine returns plain unchanged.
func (PlainCodec) EncodeLine(plain []byte) ([]byte, error) { return plain, nil }

// DecodeLine returns line unchanged.
func (PlainCodec) DecodeLine(line []byte) ([]byte, error) { return line, nil }

// LineError reports a transcript line that could not be read.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("transcript line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause, so errors.Is sees through to e.g. a locked vault.
func (e *LineError) Unwrap() error { return e.Err }

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineLen)

// ReadRecords parses a transcript. A line that cannot be decoded or is not a
// valid record is skipped and reported as a *LineError naming its line; later
// lines are still read. Blank lines are ignored. A read error from r ends
// parsing and is reported last. It never panics on any input.
func ReadRecords(r io.Reader, codec LineCodec) ([]chat.Record, []error) {
	var (
		recs []chat.Record
		errs []error
	)
	lr := newLineReader(r)
	for n := 1; ; n++ {
		line, _, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return recs, errs
		}
		if errors.Is(err, errLineTooLong) {
			errs = append(errs, &LineError{Line: n, Err: err})
			continue
		}
		if err != nil {
			return recs, append(errs, fmt.Errorf("read transcript after line %d: %w", n-1, err))
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue
		}
		rec, err := decodeRecord(line, codec)
		if err != nil {
			errs = append(errs, &LineError{Line: n, Err: err})
			continue
		}
		recs = append(recs, rec)
	}
}

// decodeRecord decodes one stored line (without its newline).
func decodeRecord(line []byte, codec LineCodec) (chat.Record, error) {
	plain, err := codec.DecodeLine(line)
	if err != nil {
		return chat.Record{}, fmt.Errorf("decode: %w", err)
	}
	var rec chat.Record
	// Unknown fields are allowed: files written by newer versions or
	// imported from GenosOS may carry fields this version does not know.
	if err := json.Unmarshal(plain, &rec); err != nil {
		return chat.Record{}, fmt.Errorf("parse record: %w", err)
	}
	if err := validateRecord(rec); err != nil {
		return chat.Record{}, err
	}
	return rec, nil
}

// validateRecord checks what every stored record must have.
func validateRecord(rec chat.Record) error {
	if rec.ID == "" {
		return errors.New("record has no id")
	}
	if !rec.Role.Valid() {
		return fmt.Errorf("record %s has unknown role %q", rec.ID, rec.Role)
	}
	return nil
}

// encodeRecord returns the stored form of rec followed by '\n'.
func encodeRecord(rec chat.Record, codec LineCodec) ([]byte, error) {
	if err := validateRecord(rec); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // records are never embedded in HTML; keep them compact
	if err := enc.Encode(rec); err != nil {
		return nil, fmt.Errorf("encode record %s: %w", rec.ID, err)
	}
	plain := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	line, err := codec.EncodeLine(plain)
	if err != nil {
		return nil, fmt.Errorf("encode record %s: %w", rec.ID, err)
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		return nil, fmt.Errorf("encode record %s: codec produced a newline", rec.ID)
	}
	if len(line) > MaxLineLen {
		return nil, fmt.Errorf("encode record %s: %w", rec.ID, errLineTooLong)
	}
	return append(line, '\n'), nil
}

// newLineReader reads lines of at most MaxLineLen bytes.
func newLineReader(r io.Reader) *durable.LineReader {
	return durable.NewLineReader(r, MaxLineLen, errLineTooLong)
}
