package tools

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/genos-project/genos/core/vault"
)

// Sealer seals workspace files at rest; *vault.Vault implements it.
type Sealer interface {
	SealFile(plaintext []byte) ([]byte, error)
	OpenFile(data []byte) ([]byte, error)
}

// sealedMaxBytes bounds the sealed files read and edit load into memory:
// an envelope can only be opened whole (GCM authenticates the complete
// ciphertext), so it cannot be streamed like a plaintext file. The bound
// leaves room for an editMaxBytes plaintext in base64 plus the envelope.
const sealedMaxBytes = editMaxBytes/3*4 + 4<<10

// openContent returns the plaintext of data, the raw content of the
// workspace file display: sealed data is opened with s, anything else (a
// file the user dropped into the workspace) is returned as it is. A
// non-empty msg is a failure for the model (no vault, a damaged envelope);
// err is an internal failure, notably one wrapping vault.ErrLocked.
func openContent(s Sealer, display string, data []byte) (plain []byte, msg string, err error) {
	if !vault.IsSealed(data) {
		return data, "", nil
	}
	if s == nil {
		return nil, fmt.Sprintf("%q is sealed by the vault, and no vault is available here to open it", display), nil
	}
	pt, err := s.OpenFile(data)
	switch {
	case errors.Is(err, vault.ErrLocked):
		return nil, "", fmt.Errorf("open %q: %w", display, err)
	case err != nil:
		return nil, fmt.Sprintf("%q is sealed but could not be opened: %v", display, err), nil
	}
	return pt, "", nil
}

// sealContent returns what is written to disk for plain: the sealed form
// when s is set, plain itself otherwise. Sealing happens before anything
// touches the disk, so a locked vault leaves the old file as it was.
func sealContent(s Sealer, display string, plain []byte) ([]byte, error) {
	if s == nil {
		return plain, nil
	}
	out, err := s.SealFile(plain)
	if err != nil {
		return nil, fmt.Errorf("seal %q: %w", display, err)
	}
	return out, nil
}

// plaintextReader returns a reader over the plaintext of the open file
// behind br (size bytes per its stat). Plaintext files keep streaming from
// br; sealed ones are read whole (up to sealedMaxBytes), opened in memory,
// and served from there, so callers apply their limits to the plaintext.
// msg and err follow openContent.
func plaintextReader(br *bufio.Reader, size int64, s Sealer, display string) (_ *bufio.Reader, msg string, err error) {
	head, err := br.Peek(binarySniffLen)
	whole := errors.Is(err, io.EOF) // head holds the entire file
	if err != nil && !whole && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fsMessage(display, err), nil
	}
	// The file form starts with a magic line, recognised from the head.
	// GenosOS's bare-object form is recognised only from the whole file,
	// so a longer file that starts like a JSON object is loaded to check.
	sealed := vault.IsSealed(head)
	if !sealed && (whole || !startsObject(head)) {
		return br, "", nil
	}
	if size > sealedMaxBytes {
		if !sealed {
			return br, "", nil // too large to be an envelope Genos reads
		}
		return nil, fmt.Sprintf("%q is sealed and %d bytes long, more than the %d bytes read can open", display, size, sealedMaxBytes), nil
	}
	data, err := io.ReadAll(io.LimitReader(br, sealedMaxBytes+1))
	if err != nil {
		return nil, fsMessage(display, err), nil
	}
	if len(data) > sealedMaxBytes {
		return nil, fmt.Sprintf("%q grew past the %d bytes read can open while it was read", display, sealedMaxBytes), nil
	}
	pt, msg, err := openContent(s, display, data)
	if msg != "" || err != nil {
		return nil, msg, err
	}
	return bufio.NewReaderSize(bytes.NewReader(pt), 64<<10), "", nil
}

// startsObject reports whether b, after leading whitespace, opens a JSON
// object.
func startsObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}
