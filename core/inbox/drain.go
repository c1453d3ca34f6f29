package inbox

import (
	"bufio"
	"crypto/ecdh"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/durable"
)

// CorruptLineError reports a line Drain could not open with the right key.
// The line was copied to BadPath before it was skipped.
type CorruptLineError struct {
	Path    string // the queue file
	Line    int    // 1-based line number in Path when it was read
	BadPath string // the file the line was appended to
	Err     error  // wraps ErrCorrupted
}

// Error names the file and line.
func (e *CorruptLineError) Error() string {
	return fmt.Sprintf("inbox %s line %d: %v (moved to %s)", e.Path, e.Line, e.Err, e.BadPath)
}

// Unwrap returns the decoding error, which wraps ErrCorrupted.
func (e *CorruptLineError) Unwrap() error { return e.Err }

// Drain opens every queued message in order with priv, the private key
// matching the queue's public key, and calls fn with it. It returns once the
// queue is empty, including messages Put while it runs; the file is then
// truncated and the cursor removed. priv is only read; Drain keeps no copy.
//
// Delivery is at least once: a message fn accepted (returned nil for) is
// recorded durably before the next one is opened and is not delivered
// again, except after a crash between fn returning and that record reaching
// the disk. If fn returns an error Drain stops and returns it wrapped; that
// message and all after it stay queued for the next Drain, and the delivered
// ones are removed from the file. fn must not call Drain; it may call Put.
//
// A private key that does not match returns [ErrWrongKey] before anything is
// read. A damaged line is moved to the bad-line file and skipped, and each is
// returned as a [*CorruptLineError] (joined with any other error) after the
// remaining lines have been delivered.
func (q *Queue) Drain(priv []byte, fn func(chat.Inbound) error) error {
	if fn == nil {
		return fmt.Errorf("drain inbox %s: nil fn", q.path)
	}
	key, err := parsePrivate(priv)
	if err != nil {
		return fmt.Errorf("drain inbox %s: %w", q.path, err)
	}
	if subtle.ConstantTimeCompare(key.PublicKey().Bytes(), q.pub) != 1 {
		return fmt.Errorf("drain inbox %s: %w", q.path, ErrWrongKey)
	}
	q.drainMu.Lock()
	defer q.drainMu.Unlock()
	d := &drainer{q: q, key: key, fn: fn}
	for {
		q.mu.Lock()
		f, start, end, lineNo := q.f, q.start, q.size, q.lineBase
		if f == nil {
			q.mu.Unlock()
			return d.result(ErrClosed)
		}
		if start == end {
			err := q.emptyLocked()
			q.mu.Unlock()
			return d.result(err)
		}
		q.mu.Unlock()
		if err := d.deliver(f, start, end, lineNo); err != nil {
			q.mu.Lock()
			var cerr error
			if q.f != nil {
				cerr = q.compactLocked()
			}
			q.mu.Unlock()
			return d.result(err, cerr)
		}
	}
}

// drainer is the state of one Drain.
type drainer struct {
	q   *Queue
	key *ecdh.PrivateKey
	fn  func(chat.Inbound) error
	bad []error
}

func (d *drainer) result(errs ...error) error {
	return errors.Join(append(d.bad, errs...)...)
}

// deliver hands the lines of f in [start, end) to fn, the first being line
// lineNo+1 of the file, advancing the cursor after each.
func (d *drainer) deliver(f *os.File, start, end int64, lineNo int) error {
	q := d.q
	readMax := max(q.opts.MaxLineBytes, DefaultMaxLineBytes)
	sc := newLineScanner(f, start, end, readMax)
	for {
		line, off, n, err := sc.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, os.ErrClosed) {
			return ErrClosed
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", q.path, err)
		}
		lineNo++
		var in chat.Inbound
		var derr error
		if line == nil {
			derr = fmt.Errorf("%w: line longer than %d bytes", ErrCorrupted, readMax)
		} else {
			in, derr = openLine(d.key, q.pub, line)
		}
		var sum []byte
		if derr != nil {
			if sum, err = q.moveAside(f, off, n); err != nil {
				return fmt.Errorf("move damaged line %d of %s aside: %w", lineNo, q.path, err)
			}
			d.bad = append(d.bad, &CorruptLineError{Path: q.path, Line: lineNo, BadPath: q.badPath, Err: derr})
		} else {
			h := sha256.Sum256(line)
			sum = h[:]
			if err := d.fn(in); err != nil {
				return fmt.Errorf("deliver message at line %d of %s: %w", lineNo, q.path, err)
			}
		}
		next := off + n + 1
		if err := q.writeCursor(next, sum); err != nil {
			return err
		}
		q.mu.Lock()
		q.start, q.lineBase = next, lineNo
		q.count--
		closed := q.f == nil
		q.mu.Unlock()
		if closed {
			return ErrClosed
		}
	}
}

// moveAside appends the line of f at [off, off+n) to the bad-line file,
// fsyncs it, and returns the line's SHA-256.
func (q *Queue) moveAside(f *os.File, off, n int64) (sum []byte, err error) {
	bf, _, err := durable.OpenAppendOnly(q.badPath)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, bf.Close()) }()
	fi, err := bf.Stat()
	if err != nil {
		return nil, err
	}
	end := fi.Size()
	if end > 0 { // keep lines apart from a torn tail an earlier crash left
		var last [1]byte
		if _, err := bf.ReadAt(last[:], end-1); err != nil {
			return nil, err
		}
		if last[0] != '\n' {
			if _, err := bf.WriteAt([]byte{'\n'}, end); err != nil {
				return nil, err
			}
			end++
		}
	}
	h := sha256.New()
	w := io.MultiWriter(io.NewOffsetWriter(bf, end), h)
	if _, err := io.Copy(w, io.NewSectionReader(f, off, n)); err != nil {
		return nil, err
	}
	if _, err := bf.WriteAt([]byte{'\n'}, end+n); err != nil {
		return nil, err
	}
	if err := bf.Sync(); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// emptyLocked truncates a fully delivered file and removes the cursor. The
// order matters: a crash after the truncation leaves a cursor pointing past
// the end, which Open discards; the reverse order could deliver everything
// again.
func (q *Queue) emptyLocked() error {
	if q.start == 0 {
		return nil
	}
	if err := q.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate delivered inbox %s: %w", q.path, err)
	}
	q.size, q.start, q.lineBase, q.count = 0, 0, 0, 0
	if err := q.f.Sync(); err != nil {
		q.err = err
		return fmt.Errorf("sync truncated inbox %s: %w", q.path, err)
	}
	q.err = nil // whatever an earlier failed Put left is gone
	return q.removeCursor()
}

// compactLocked replaces the file with its undelivered lines, so delivered
// messages do not stay on disk while the rest waits for the next Drain. The
// new file is written beside the old one and renamed over it; a crash before
// the rename leaves the old file and its cursor, one after it a cursor that
// no longer matches and is discarded, which is right for the new file.
func (q *Queue) compactLocked() error {
	if q.start == 0 {
		return nil
	}
	dir := filepath.Dir(q.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(q.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("compact inbox %s: %w", q.path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(name)
		return fmt.Errorf("compact inbox %s: %w", q.path, err)
	}
	if runtime.GOOS != "windows" {
		if err := tmp.Chmod(0o600); err != nil {
			return fail(err)
		}
	}
	if _, err := io.Copy(tmp, io.NewSectionReader(q.f, q.start, q.size-q.start)); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, q.path); err != nil {
		return fail(err)
	}
	// tmp is now the file at q.path: keep appending through it.
	_ = q.f.Close()
	q.f = tmp
	q.size -= q.start
	q.start, q.lineBase = 0, 0
	if err := durable.SyncDir(dir); err != nil {
		// Until the rename is durable a crash could bring the old file
		// back, losing what is appended to the new one.
		q.err = err
		return fmt.Errorf("compact inbox %s: %w", q.path, err)
	}
	q.err = nil
	return q.removeCursor()
}

// lineScanner reads the lines of a byte range that ends with '\n', with each
// line's offset and length, buffering at most max bytes of one line.
type lineScanner struct {
	br  *bufio.Reader
	off int64
	max int
	buf []byte
}

func newLineScanner(r io.ReaderAt, from, to int64, max int) *lineScanner {
	return &lineScanner{br: bufio.NewReaderSize(io.NewSectionReader(r, from, to-from), 64<<10), off: from, max: max}
}

// next returns the next line without its '\n' (nil if longer than max), its
// offset and its length without the '\n'; io.EOF at the end. The line is
// valid until the next call.
func (s *lineScanner) next() (line []byte, off, n int64, err error) {
	s.buf = s.buf[:0]
	off = s.off
	over := false
	for {
		frag, err := s.br.ReadSlice('\n')
		n += int64(len(frag))
		if !over {
			if len(s.buf)+len(frag) > s.max+1 { // +1: the '\n'
				over, s.buf = true, s.buf[:0]
			} else {
				s.buf = append(s.buf, frag...)
			}
		}
		switch {
		case err == nil:
			s.off += n
			if over {
				return nil, off, n - 1, nil
			}
			return s.buf[:len(s.buf)-1], off, n - 1, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if n == 0 {
				return nil, off, 0, io.EOF
			}
			return nil, off, 0, io.ErrUnexpectedEOF // ranges end on a line boundary
		default:
			return nil, off, 0, err
		}
	}
}
