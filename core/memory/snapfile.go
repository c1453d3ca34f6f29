package memory

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/genos-project/genos/core/durable"
)

// The index snapshot file (Options.SnapshotPath) holds an encoded
// index.Snapshot cut into pieces, so that neither writing nor reading needs
// one envelope of a hundred MiB:
//
//	magic  8 bytes "GXMEMIX1"
//	mode   1 byte: 'S' pieces sealed with the Sealer, 'P' plain (no vault)
//	pieces uint32 big-endian length, then the piece as stored (sealed or
//	       plain), repeated; a zero length ends the file
//
// A piece's plaintext is a 13-byte header, then up to snapPieceSize bytes
// of the encoded snapshot. The header binds the piece to its file and
// position: 8 random bytes chosen per file, the piece number (uint32), and
// a flag set on the last piece. Sealed pieces are authenticated one by one
// by the vault, so without the header someone with the disk but no key
// could drop, repeat or reorder them; with it any such change is refused.
const (
	snapMagic      = "GXMEMIX1"
	snapSealed     = 'S'
	snapPlain      = 'P'
	snapPieceSize  = 4 << 20
	snapPieceHdr   = 13
	maxStoredPiece = 2*snapPieceSize + 64<<10 // a sealed piece is base64 of the plaintext plus a small envelope
)

// errSnapFile reports a snapshot file that is damaged or not one.
var errSnapFile = errors.New("damaged index snapshot file")

// snapWriter writes a snapshot file: it cuts what is written into pieces,
// seals each (sealer nil = plain) and appends it to a temp file next to
// path; commit makes the file durable and renames it over path.
type snapWriter struct {
	path   string
	sealer Sealer
	f      *os.File
	w      *bufio.Writer
	buf    []byte // the current piece: header, then data
	nonce  [8]byte
	seq    uint32
	err    error
	// stop is checked before each piece: writing stops as soon as the
	// Memory closes.
	stop func() error
}

func newSnapWriter(path string, sealer Sealer, stop func() error) (*snapWriter, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create index snapshot dir: %w", err)
	}
	// Leftovers of a write that crashed (sealed, but useless).
	if old, _ := filepath.Glob(filepath.Join(dir, "."+filepath.Base(path)+".tmp-*")); len(old) > 0 {
		for _, p := range old {
			_ = os.Remove(p)
		}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create index snapshot: %w", err)
	}
	sw := &snapWriter{path: path, sealer: sealer, f: f, w: bufio.NewWriterSize(f, 256<<10), stop: stop}
	if _, err := rand.Read(sw.nonce[:]); err != nil {
		sw.abort()
		return nil, err
	}
	mode := byte(snapPlain)
	if sealer != nil {
		mode = snapSealed
	}
	_, _ = sw.w.WriteString(snapMagic)
	_ = sw.w.WriteByte(mode)
	sw.buf = make([]byte, snapPieceHdr, snapPieceHdr+snapPieceSize)
	return sw, nil
}

// Write buffers p, storing a piece each time one fills up.
func (sw *snapWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && sw.err == nil {
		if len(sw.buf) == cap(sw.buf) {
			sw.flush(false)
			continue
		}
		k := copy(sw.buf[len(sw.buf):cap(sw.buf)], p)
		sw.buf = sw.buf[:len(sw.buf)+k]
		p = p[k:]
		n += k
	}
	return n, sw.err
}

// flush stores the buffered piece.
func (sw *snapWriter) flush(last bool) {
	if sw.err != nil {
		return
	}
	if sw.err = sw.stop(); sw.err != nil {
		return
	}
	copy(sw.buf, sw.nonce[:])
	binary.BigEndian.PutUint32(sw.buf[8:], sw.seq)
	sw.buf[12] = 0
	if last {
		sw.buf[12] = 1
	}
	stored := sw.buf
	if sw.sealer != nil {
		if stored, sw.err = sw.sealer.SealFile(sw.buf); sw.err != nil {
			sw.err = fmt.Errorf("seal index snapshot: %w", sw.err)
			return
		}
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(stored)))
	_, _ = sw.w.Write(n[:])
	if _, sw.err = sw.w.Write(stored); sw.err != nil {
		sw.err = fmt.Errorf("write index snapshot: %w", sw.err)
	}
	sw.seq++
	sw.buf = sw.buf[:snapPieceHdr]
}

// commit stores the last piece and the end mark, fsyncs, renames the temp
// file over path and fsyncs the directory. On error nothing is left.
func (sw *snapWriter) commit() error {
	sw.flush(true)
	if sw.err == nil {
		_, sw.err = sw.w.Write([]byte{0, 0, 0, 0})
	}
	if sw.err == nil {
		sw.err = sw.w.Flush()
	}
	if sw.err == nil {
		sw.err = sw.f.Sync()
	}
	if sw.err == nil {
		sw.err = sw.stop()
	}
	if sw.err != nil {
		sw.abort()
		return sw.err
	}
	name := sw.f.Name()
	if err := sw.f.Close(); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write index snapshot: %w", err)
	}
	if err := os.Rename(name, sw.path); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write index snapshot: %w", err)
	}
	return durable.SyncDir(filepath.Dir(sw.path))
}

// abort removes the temp file.
func (sw *snapWriter) abort() {
	_ = sw.f.Close()
	_ = os.Remove(sw.f.Name())
}

// snapReader reads back what snapWriter wrote: an io.Reader over the
// pieces' data, opened with the Sealer and checked piece by piece.
type snapReader struct {
	r      *bufio.Reader
	left   int64 // file bytes not read yet
	sealer Sealer
	cur    []byte
	nonce  []byte
	seq    uint32
	done   bool
}

// openSnapFile opens path and checks its header. sealed reports how the
// file was written, so the caller can tell a file it must not trust (plain
// while a vault exists) or cannot read (sealed without one).
func openSnapFile(path string) (f *os.File, size int64, sealed bool, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, 0, false, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w: not a regular file", errSnapFile)
	}
	var hdr [len(snapMagic) + 1]byte
	if err == nil {
		if _, err = io.ReadFull(f, hdr[:]); err != nil {
			err = fmt.Errorf("%w: header: %w", errSnapFile, err)
		}
	}
	if err == nil && (string(hdr[:len(snapMagic)]) != snapMagic || (hdr[len(snapMagic)] != snapSealed && hdr[len(snapMagic)] != snapPlain)) {
		err = fmt.Errorf("%w: bad header", errSnapFile)
	}
	if err != nil {
		f.Close()
		return nil, 0, false, err
	}
	return f, fi.Size() - int64(len(hdr)), hdr[len(snapMagic)] == snapSealed, nil
}

func newSnapReader(f io.Reader, size int64, sealer Sealer) *snapReader {
	return &snapReader{r: bufio.NewReaderSize(f, 256<<10), left: size, sealer: sealer}
}

// Read serves the pieces' data in order.
func (sr *snapReader) Read(p []byte) (int, error) {
	for len(sr.cur) == 0 {
		if sr.done {
			return 0, io.EOF
		}
		if err := sr.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, sr.cur)
	sr.cur = sr.cur[n:]
	return n, nil
}

// next reads, opens and checks the next piece.
func (sr *snapReader) next() error {
	var n [4]byte
	if err := sr.read(n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size == 0 {
		return fmt.Errorf("%w: ends before its last piece", errSnapFile)
	}
	if size > maxStoredPiece || int64(size) > sr.left {
		return fmt.Errorf("%w: piece of %d bytes", errSnapFile, size)
	}
	stored := make([]byte, size)
	if err := sr.read(stored); err != nil {
		return err
	}
	piece := stored
	if sr.sealer != nil {
		var err error
		if piece, err = sr.sealer.OpenFile(stored); err != nil {
			return fmt.Errorf("open index snapshot piece %d: %w", sr.seq, err)
		}
	}
	if len(piece) < snapPieceHdr || len(piece) > snapPieceHdr+snapPieceSize {
		return fmt.Errorf("%w: piece %d has %d bytes", errSnapFile, sr.seq, len(piece))
	}
	if sr.nonce == nil {
		sr.nonce = append([]byte(nil), piece[:8]...)
	}
	if string(piece[:8]) != string(sr.nonce) || binary.BigEndian.Uint32(piece[8:]) != sr.seq || piece[12] > 1 {
		return fmt.Errorf("%w: piece %d is out of place", errSnapFile, sr.seq)
	}
	sr.seq++
	sr.cur = piece[snapPieceHdr:]
	if piece[12] == 1 {
		sr.done = true
		if err := sr.read(n[:]); err != nil || binary.BigEndian.Uint32(n[:]) != 0 || sr.left != 0 {
			return fmt.Errorf("%w: no end mark after the last piece", errSnapFile)
		}
	}
	return nil
}

func (sr *snapReader) read(p []byte) error {
	if int64(len(p)) > sr.left {
		return fmt.Errorf("%w: truncated", errSnapFile)
	}
	if _, err := io.ReadFull(sr.r, p); err != nil {
		return fmt.Errorf("%w: %w", errSnapFile, err)
	}
	sr.left -= int64(len(p))
	return nil
}
