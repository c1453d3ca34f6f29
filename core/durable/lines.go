package durable

import (
	"bufio"
	"errors"
	"io"
)

// LineReader yields '\n'-terminated lines (the last may be unterminated)
// of an append-only file without ever buffering more than max bytes of
// one line, so a hostile or damaged file cannot exhaust memory.
type LineReader struct {
	br      *bufio.Reader
	buf     []byte
	max     int
	tooLong error
}

// NewLineReader reads lines of at most max bytes from r; an overlong line
// is skipped and reported as tooLong, the caller's own error value.
func NewLineReader(r io.Reader, max int, tooLong error) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 64<<10), max: max, tooLong: tooLong}
}

// Next returns the next line without its '\n' and whether it had one;
// io.EOF at the end; the tooLong error after skipping past an overlong
// line. The returned slice is valid until the next call.
func (lr *LineReader) Next() (line []byte, terminated bool, err error) {
	lr.buf = lr.buf[:0]
	skipping := false
	for {
		frag, err := lr.br.ReadSlice('\n')
		if !skipping {
			if len(lr.buf)+len(frag) > lr.max+1 { // +1: the '\n' itself
				skipping = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, frag...)
			}
		}
		switch {
		case err == nil:
			if skipping {
				return nil, true, lr.tooLong
			}
			return lr.buf[:len(lr.buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if skipping || len(lr.buf) > lr.max {
				return nil, false, lr.tooLong
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
