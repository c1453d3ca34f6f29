package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

// The snapshot encoding, all integers little-endian:
//
//	magic    8 bytes "GXIDXSNP"
//	version  uint32 (snapshotVersion)
//	shards   uint32, then per shard: uint64 length, the SQLite database
//	docs     uint64, then per document in ascending ID order: the ID as a
//	         zigzag varint (the first) or as a uvarint gap > 0 from the
//	         previous ID, then its fingerprint as uint64
//	crc      uint32 CRC-32C of everything before it
//
// The version covers everything a snapshot depends on besides its bytes:
// the FTS5 table definition (createChunks), the shard function (shardOf)
// and the fingerprint. A snapshot of another version is refused by
// ReadSnapshot, and the caller rebuilds.
const (
	snapshotMagic   = "GXIDXSNP"
	snapshotVersion = 1
	// maxSnapshotShards bounds the shard count a snapshot may claim.
	maxSnapshotShards = 256
	// minDocBytes is the least a manifest entry takes (1-byte ID, 8-byte
	// fingerprint): document counts are checked against the input size.
	minDocBytes = 9
)

// ErrSnapshotVersion is returned by ReadSnapshot for a snapshot written by
// another version of this package (a caller rebuilds quietly).
var ErrSnapshotVersion = errors.New("index snapshot of another version")

// errSnapshot wraps every other decoding failure.
var errSnapshot = errors.New("malformed index snapshot")

// WriteTo writes the snapshot's encoding to w.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w, crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	bw := bufio.NewWriterSize(cw, 64<<10)
	var b []byte
	b = append(b, snapshotMagic...)
	b = binary.LittleEndian.AppendUint32(b, snapshotVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.shards)))
	_, _ = bw.Write(b)
	for _, sh := range s.shards {
		_, _ = bw.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(sh))))
		_, _ = bw.Write(sh)
	}
	_, _ = bw.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s.ids))))
	b = b[:0]
	for i, id := range s.ids {
		if i == 0 {
			b = binary.AppendVarint(b, id)
		} else {
			b = binary.AppendUvarint(b, uint64(id-s.ids[i-1]))
		}
		b = binary.LittleEndian.AppendUint64(b, s.sums[i])
		if len(b) > 32<<10 {
			_, _ = bw.Write(b)
			b = b[:0]
		}
	}
	_, _ = bw.Write(b)
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write index snapshot: %w", err)
	}
	sum := cw.crc.Sum32()
	if _, err := cw.Write(binary.LittleEndian.AppendUint32(nil, sum)); err != nil {
		return cw.n, fmt.Errorf("write index snapshot: %w", err)
	}
	return cw.n, nil
}

// countingWriter counts and checksums what passes through.
type countingWriter struct {
	w   io.Writer
	n   int64
	crc hash.Hash32
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.crc.Write(p[:n])
	return n, err
}

// ReadSnapshot decodes a snapshot from r, which holds at most limit bytes:
// every length in the input is checked against what is left of limit
// before anything is allocated for it, so a damaged or hostile input cannot
// make it allocate more than limit bytes (plus a small constant). It checks
// the structure and the checksum, not the SQLite databases (Restore does).
func ReadSnapshot(r io.Reader, limit int64) (*Snapshot, error) {
	d := &snapDecoder{r: bufio.NewReaderSize(r, 64<<10), left: limit, crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	s, err := d.decode()
	if err != nil {
		if errors.Is(err, ErrSnapshotVersion) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errSnapshot, err)
	}
	return s, nil
}

type snapDecoder struct {
	r    *bufio.Reader
	left int64
	crc  hash.Hash32
}

// read fills p, within limit.
func (d *snapDecoder) read(p []byte) error {
	if int64(len(p)) > d.left {
		return io.ErrUnexpectedEOF
	}
	if _, err := io.ReadFull(d.r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	d.left -= int64(len(p))
	d.crc.Write(p)
	return nil
}

func (d *snapDecoder) u32() (uint32, error) {
	var b [4]byte
	err := d.read(b[:])
	return binary.LittleEndian.Uint32(b[:]), err
}

func (d *snapDecoder) u64() (uint64, error) {
	var b [8]byte
	err := d.read(b[:])
	return binary.LittleEndian.Uint64(b[:]), err
}

// ReadByte serves binary.ReadUvarint within the limit and the checksum.
func (d *snapDecoder) ReadByte() (byte, error) {
	var b [1]byte
	err := d.read(b[:])
	return b[0], err
}

// blobStep is the most a blob's buffer grows ahead of the bytes read: a
// claimed length is only trusted as far as the input bears it out.
const blobStep = 16 << 20

// blob reads n bytes, growing its buffer as they arrive.
func (d *snapDecoder) blob(n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, blobStep))
	for len(buf) < n {
		step := min(n-len(buf), max(len(buf), blobStep))
		buf = slices.Grow(buf, step)
		if err := d.read(buf[len(buf) : len(buf)+step]); err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+step]
	}
	return buf, nil
}

func (d *snapDecoder) decode() (*Snapshot, error) {
	var magic [len(snapshotMagic)]byte
	if err := d.read(magic[:]); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if string(magic[:]) != snapshotMagic {
		return nil, errors.New("bad magic")
	}
	v, err := d.u32()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrSnapshotVersion, v, snapshotVersion)
	}
	n, err := d.u32()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if n == 0 || n > maxSnapshotShards {
		return nil, fmt.Errorf("%d shards", n)
	}
	s := &Snapshot{shards: make([][]byte, n)}
	for i := range s.shards {
		size, err := d.u64()
		if err != nil {
			return nil, fmt.Errorf("shard %d: %w", i, err)
		}
		if size > uint64(d.left) {
			return nil, fmt.Errorf("shard %d: %d bytes, %d left", i, size, d.left)
		}
		if s.shards[i], err = d.blob(int(size)); err != nil {
			return nil, fmt.Errorf("shard %d: %w", i, err)
		}
	}
	count, err := d.u64()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if count > uint64(d.left/minDocBytes) {
		return nil, fmt.Errorf("manifest: %d documents in %d bytes", count, d.left)
	}
	// Grown as entries arrive, so a count that lies costs no more than
	// the input really holds.
	s.ids = make([]int64, 0, min(count, 1<<16))
	s.sums = make([]uint64, 0, min(count, 1<<16))
	for i := range count {
		var id int64
		if i == 0 {
			id, err = binary.ReadVarint(d)
		} else {
			prev := s.ids[i-1]
			var gap uint64
			gap, err = binary.ReadUvarint(d)
			if err == nil && (gap == 0 || gap > uint64(math.MaxInt64)-uint64(prev)) {
				err = fmt.Errorf("id gap %d after %d", gap, prev)
			}
			id = prev + int64(gap)
		}
		var sum uint64
		if err == nil {
			sum, err = d.u64()
		}
		if err != nil {
			return nil, fmt.Errorf("manifest entry %d: %w", i, err)
		}
		s.ids = append(s.ids, id)
		s.sums = append(s.sums, sum)
	}
	want := d.crc.Sum32()
	var b [4]byte
	if err := d.read(b[:]); err != nil {
		return nil, fmt.Errorf("checksum: %w", err)
	}
	if got := binary.LittleEndian.Uint32(b[:]); got != want {
		return nil, errors.New("checksum mismatch")
	}
	if _, err := d.r.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data")
	}
	return s, nil
}
