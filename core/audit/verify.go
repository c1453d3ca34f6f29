package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Anchor names one record of a chain by its seq and hash. Stored outside the
// log (Log.Head after each append, or periodically), it lets VerifyAnchor
// detect records removed from the end, which the chain alone cannot.
type Anchor struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// VerifyResult reports how far an audit log verified.
type VerifyResult struct {
	// Records is the number of records, from the start, that verified.
	Records int
	// FirstBad is the 1-based line number of the first bad line, or -1 when
	// the log verified. When records are missing from the end (detected only
	// with an anchor), it is the line where the next record should be.
	FirstBad int
	// BadSeq is the seq the first bad line should have held (the last good
	// seq plus one); 0 when the log verified.
	BadSeq int64
	// Reason says what is wrong with FirstBad; empty when the log verified.
	Reason string
	// Head is the last record that verified (Seq 0 and 64 '0' when none).
	Head Anchor
	// TornTail reports that the last line had no newline: an append cut off
	// by a crash, which the next Open truncates and records. It is not
	// counted as bad, because it is indistinguishable from (and no worse
	// than) removing records from the end.
	TornTail bool
}

// OK reports whether the log verified.
func (r VerifyResult) OK() bool { return r.FirstBad < 0 }

// Verify checks every record of the log read from r, in order, and reports
// the first broken one: an undecodable or malformed line, a bad MAC (altered
// record or wrong key), a record not in canonical form, a seq gap (deleted
// record) or reorder, or a prev that does not link to the record before. A
// blank line is bad too: the writer never produces one. The error is only for
// bad arguments and read errors from r.
//
// A codec that cannot decode (a locked vault) makes line 1 undecodable;
// check the vault before calling. Records removed from the end are not
// detected; see VerifyAnchor.
func Verify(r io.Reader, key []byte, codec LineCodec) (VerifyResult, error) {
	return verify(r, key, codec, nil)
}

// VerifyAnchor is Verify that also requires the record anchor.Seq to be
// present with hash anchor.Hash, so a log cut short at the end, or rewritten
// up to the anchor, is reported.
func VerifyAnchor(r io.Reader, key []byte, codec LineCodec, anchor Anchor) (VerifyResult, error) {
	if anchor.Seq < 1 || !validHash(anchor.Hash) {
		return VerifyResult{FirstBad: -1}, errors.New("verify audit log: anchor needs seq >= 1 and a 64-digit lowercase hex hash")
	}
	return verify(r, key, codec, &anchor)
}

// VerifyFile runs Verify on the file at path.
func VerifyFile(path string, key []byte, codec LineCodec) (VerifyResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return VerifyResult{FirstBad: -1}, fmt.Errorf("verify audit log: %w", err)
	}
	defer f.Close()
	res, err := Verify(f, key, codec)
	if err != nil {
		return res, fmt.Errorf("verify audit log %s: %w", path, err)
	}
	return res, nil
}

func verify(r io.Reader, key []byte, codec LineCodec, anchor *Anchor) (VerifyResult, error) {
	res := VerifyResult{FirstBad: -1, Head: Anchor{Hash: zeroHash}}
	if err := checkKey(key); err != nil {
		return res, fmt.Errorf("verify audit log: %w", err)
	}
	if codec == nil {
		return res, errors.New("verify audit log: nil codec")
	}
	fail := func(line int, format string, args ...any) (VerifyResult, error) {
		res.FirstBad = line
		res.BadSeq = res.Head.Seq + 1
		res.Reason = fmt.Sprintf(format, args...)
		return res, nil
	}
	anchorSeen := false
	lr := newLineReader(r)
	n := 1
	for ; ; n++ {
		line, terminated, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLineTooLong) {
			return fail(n, "line longer than %d bytes", MaxLineLen)
		}
		if err != nil {
			return res, fmt.Errorf("read audit log after line %d: %w", n-1, err)
		}
		if !terminated {
			res.TornTail = true
			break
		}
		if len(line) == 0 {
			return fail(n, "blank line")
		}
		rec, plain, err := decodeLine(line, codec)
		if err != nil {
			return fail(n, "unreadable record: %v", err)
		}
		if !macOK(key, rec.canonical(), rec.Hash) {
			if n == 1 {
				return fail(n, "bad MAC: record altered, or the key is not this log's")
			}
			return fail(n, "bad MAC: record altered")
		}
		// The MAC covers the parsed values; the stored bytes must also be
		// exactly what the writer produced (no re-escaping, duplicate or
		// reordered members).
		if !bytes.Equal(plain, rec.line()) {
			return fail(n, "record seq %d is not in canonical form", rec.Seq)
		}
		if want := res.Head.Seq + 1; rec.Seq != want {
			if rec.Seq > want {
				return fail(n, "seq %d where %d was expected: records missing or out of order", rec.Seq, want)
			}
			return fail(n, "seq %d where %d was expected: records duplicated or out of order", rec.Seq, want)
		}
		if rec.Prev != res.Head.Hash {
			return fail(n, "prev of seq %d does not match the hash of the record before", rec.Seq)
		}
		if anchor != nil && rec.Seq == anchor.Seq {
			if rec.Hash != anchor.Hash {
				return fail(n, "hash of seq %d differs from the anchor: log rewritten", rec.Seq)
			}
			anchorSeen = true
		}
		res.Records++
		res.Head = Anchor{Seq: rec.Seq, Hash: rec.Hash}
	}
	if anchor != nil && !anchorSeen {
		return fail(n, "log ends at seq %d, before anchor seq %d: records removed from the end", res.Head.Seq, anchor.Seq)
	}
	return res, nil
}
