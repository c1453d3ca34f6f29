package audit

import (
	"errors"
	"fmt"
	"io"

	"github.com/genos-project/genos/core/durable"
)

// MaxLineLen is the longest stored line, in bytes without the newline, that
// is written or read, so that a corrupt or hostile file cannot make a reader
// allocate without bound.
const MaxLineLen = 1 << 20

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineLen)

// LineError reports an audit log line that could not be read.
type LineError struct {
	Line int // 1-based
	Err  error
}

// Error describes the line and its problem.
func (e *LineError) Error() string { return fmt.Sprintf("audit log line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause, so errors.Is sees through to e.g. a locked vault.
func (e *LineError) Unwrap() error { return e.Err }

// ReadRecords parses an audit log without checking MACs or the chain (Verify
// does that). A line that cannot be decoded or is not a valid record,
// including a blank or torn last line, is skipped and reported as a
// *LineError; later lines are still read. A read error from r ends parsing
// and is reported last. It never panics and never buffers more than
// MaxLineLen bytes of one line.
func ReadRecords(r io.Reader, codec LineCodec) ([]Record, []error) {
	if codec == nil {
		return nil, []error{errors.New("read audit log: nil codec")}
	}
	var (
		recs []Record
		errs []error
	)
	lr := newLineReader(r)
	for n := 1; ; n++ {
		line, _, err := lr.Next()
		switch {
		case errors.Is(err, io.EOF):
			return recs, errs
		case errors.Is(err, errLineTooLong):
			errs = append(errs, &LineError{Line: n, Err: err})
			continue
		case err != nil:
			return recs, append(errs, fmt.Errorf("read audit log after line %d: %w", n-1, err))
		}
		if len(line) == 0 {
			errs = append(errs, &LineError{Line: n, Err: errors.New("blank line")})
			continue
		}
		rec, _, err := decodeLine(line, codec)
		if err != nil {
			errs = append(errs, &LineError{Line: n, Err: err})
			continue
		}
		recs = append(recs, rec)
	}
}

// newLineReader reads lines of at most MaxLineLen bytes.
func newLineReader(r io.Reader) *durable.LineReader {
	return durable.NewLineReader(r, MaxLineLen, errLineTooLong)
}
