package vault

import "bytes"

// LineCodec seals transcript lines with a vault. Its method set matches the
// LineCodec interface that core/session declares, so a session can use it
// without this package importing session.
type LineCodec struct{ v *Vault }

// LineCodec returns the vault's transcript line codec.
func (v *Vault) LineCodec() LineCodec { return LineCodec{v: v} }

// EncodeLine seals one plaintext JSON record into an NXLN: line (no '\n').
// It returns ErrLocked while the vault is locked.
func (c LineCodec) EncodeLine(plain []byte) ([]byte, error) { return c.v.SealLine(plain) }

// DecodeLine opens an NXLN: line. A line that is a plaintext JSON object is
// returned as it is, because transcripts written before the vault existed (or
// by GenosOS) mix plaintext and sealed lines; that needs no key, so it works
// while locked. Sealed lines return ErrLocked while locked; anything else is
// ErrCorrupted.
func (c LineCodec) DecodeLine(line []byte) ([]byte, error) {
	if bytes.HasPrefix(line, []byte(linePrefix)) {
		return c.v.OpenLine(line)
	}
	if t := bytes.TrimLeft(line, " \t"); len(t) > 0 && t[0] == '{' {
		return line, nil
	}
	return nil, corrupt("transcript line is neither %s nor a JSON object", linePrefix)
}
