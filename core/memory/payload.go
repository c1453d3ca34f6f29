package memory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// The sealed payloads of the memory tables are a small binary format rather
// than JSON: a chunk row carries a vector of up to a few thousand floats,
// and at unlock every row of an agent is opened and decoded, so decoding
// must be cheap. Vectors are little-endian float32. Every field is checked
// on decode: a row that does not decode is skipped as damaged, never
// trusted.
const (
	payloadVersion = 1
	kindNote       = 'N'
	kindChunk      = 'C'
	maxVectorDims  = 4096 // the largest common embedding size; keeps a sealed row well under the store's 64 KiB
	maxPayloadText = 1 << 20
)

var errPayload = errors.New("malformed memory payload")

// notePayload is what a memory_notes row seals.
type notePayload struct {
	Path    string   // slash-separated, relative to the workspace
	Hash    [32]byte // SHA-256 of the plaintext note
	Size    int64    // plaintext bytes
	Chunker string   // the chunk options the chunks were cut with
}

// chunkPayload is what a memory_chunks row seals.
type chunkPayload struct {
	NoteID    string // binds the chunk to its note row
	Seq       int
	Text      string
	Context   string // heading path
	StartLine int
	EndLine   int
	Time      int64  // unix nanoseconds of the note's date; 0 = evergreen
	Model     string // embedder model of Vector, "" without one
	Vector    []float32
}

type writer struct{ b []byte }

func (w *writer) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *writer) int(v int64) { w.b = binary.AppendVarint(w.b, v) }

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errPayload, what)
	}
}

func (r *reader) int(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(what string, limit int) []byte {
	if r.err != nil {
		return nil
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(limit) || l > uint64(len(r.b)-n) {
		r.fail(what)
		return nil
	}
	out := r.b[n : n+int(l)]
	r.b = r.b[n+int(l):]
	return out
}

func (r *reader) str(what string, limit int) string {
	b := r.bytes(what, limit)
	if r.err == nil && !utf8.Valid(b) {
		r.fail(what + " is not UTF-8")
	}
	return string(b)
}

func header(kind byte) []byte { return []byte{kind, payloadVersion} }

func checkHeader(b []byte, kind byte) (*reader, error) {
	if len(b) < 2 || b[0] != kind || b[1] != payloadVersion {
		return nil, fmt.Errorf("%w: unknown kind or version", errPayload)
	}
	return &reader{b: b[2:]}, nil
}

func (p notePayload) encode() []byte {
	w := writer{b: header(kindNote)}
	w.str(p.Path)
	w.b = append(w.b, p.Hash[:]...)
	w.int(p.Size)
	w.str(p.Chunker)
	return w.b
}

func decodeNote(b []byte) (notePayload, error) {
	r, err := checkHeader(b, kindNote)
	if err != nil {
		return notePayload{}, err
	}
	var p notePayload
	p.Path = r.str("path", 4096)
	if r.err == nil {
		if len(r.b) < len(p.Hash) {
			r.fail("hash")
		} else {
			copy(p.Hash[:], r.b)
			r.b = r.b[len(p.Hash):]
		}
	}
	p.Size = r.int("size")
	p.Chunker = r.str("chunker", 256)
	switch {
	case r.err != nil:
		return notePayload{}, r.err
	case len(r.b) != 0:
		return notePayload{}, fmt.Errorf("%w: trailing bytes", errPayload)
	case !validNotePath(p.Path):
		return notePayload{}, fmt.Errorf("%w: not a note path", errPayload)
	case p.Size < 0:
		return notePayload{}, fmt.Errorf("%w: negative size", errPayload)
	}
	return p, nil
}

func (p chunkPayload) encode() []byte {
	w := writer{b: make([]byte, 0, 2+len(p.NoteID)+len(p.Text)+len(p.Context)+len(p.Model)+4*len(p.Vector)+32)}
	w.b = append(w.b, header(kindChunk)...)
	w.str(p.NoteID)
	w.int(int64(p.Seq))
	w.str(p.Text)
	w.str(p.Context)
	w.int(int64(p.StartLine))
	w.int(int64(p.EndLine))
	w.int(p.Time)
	w.str(p.Model)
	w.b = binary.AppendUvarint(w.b, uint64(4*len(p.Vector)))
	for _, f := range p.Vector {
		w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(f))
	}
	return w.b
}

func decodeChunk(b []byte) (chunkPayload, error) {
	r, err := checkHeader(b, kindChunk)
	if err != nil {
		return chunkPayload{}, err
	}
	var p chunkPayload
	p.NoteID = r.str("note id", 64)
	p.Seq = int(r.int("seq"))
	p.Text = r.str("text", maxPayloadText)
	p.Context = r.str("context", maxPayloadText)
	p.StartLine = int(r.int("start line"))
	p.EndLine = int(r.int("end line"))
	p.Time = r.int("time")
	p.Model = r.str("model", 512)
	vb := r.bytes("vector", 4*maxVectorDims)
	switch {
	case r.err != nil:
		return chunkPayload{}, r.err
	case len(r.b) != 0:
		return chunkPayload{}, fmt.Errorf("%w: trailing bytes", errPayload)
	case len(vb)%4 != 0:
		return chunkPayload{}, fmt.Errorf("%w: vector length", errPayload)
	case p.StartLine < 1 || p.EndLine < p.StartLine || p.Seq < 0:
		return chunkPayload{}, fmt.Errorf("%w: line range or sequence", errPayload)
	case strings.TrimSpace(p.Text) == "":
		return chunkPayload{}, fmt.Errorf("%w: empty text", errPayload)
	case len(vb) > 0 && p.Model == "":
		return chunkPayload{}, fmt.Errorf("%w: vector without a model", errPayload)
	}
	if len(vb) > 0 {
		p.Vector = make([]float32, len(vb)/4)
		for i := range p.Vector {
			f := math.Float32frombits(binary.LittleEndian.Uint32(vb[4*i:]))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return chunkPayload{}, fmt.Errorf("%w: vector holds a non-finite value", errPayload)
			}
			p.Vector[i] = f
		}
	}
	return p, nil
}
