package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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
		line, _, err := lr.next()
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

// lineReader yields '\n'-terminated lines (the last may be unterminated)
// without ever buffering more than MaxLineLen bytes of one line.
type lineReader struct {
	br  *bufio.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its '\n' and whether it had one; io.EOF
// at the end; errLineTooLong after skipping past an overlong line. The
// returned slice is valid until the next call.
func (lr *lineReader) next() ([]byte, bool, error) {
	lr.buf = lr.buf[:0]
	tooLong := false
	for {
		frag, err := lr.br.ReadSlice('\n')
		if !tooLong {
			if len(lr.buf)+len(frag) > MaxLineLen+1 { // +1: the '\n' itself
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, errLineTooLong
			}
			return lr.buf[:len(lr.buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong || len(lr.buf) > MaxLineLen {
				return nil, false, errLineTooLong
			}
			if len(lr.buf) == 0 {
				return nil, false, io.EOF
			}
			return lr.buf, false, nil
		default:
			return nil, false, err
		}
	}
}
