package vault

import "bytes"

// LineCodec seals transcript lines with a vault. Its method set matches the
// LineCodec interface that core/session declares, so a session can use it
// without this package importing session.
//
// The lenient codec (LineCodec) passes plaintext JSON lines through, for
// files written before the vault existed; the strict one (StrictLineCodec)
// refuses them, for files that have been migrated.
type LineCodec struct {
	v      *Vault
	strict bool
}

// LineCodec returns the vault's lenient transcript line codec, which also
// reads plaintext lines: use it to read and migrate files that predate the
// vault (or come from GenosOS).
func (v *Vault) LineCodec() LineCodec { return LineCodec{v: v} }

// StrictLineCodec returns the vault's transcript line codec for files that
// are sealed throughout. Nothing Genos writes once the vault exists is
// plaintext, so in such a file a plaintext line can only have been put there
// by someone else (an injected record): DecodeLine refuses it with
// ErrCorrupted instead of handing it to the model as history.
func (v *Vault) StrictLineCodec() LineCodec { return LineCodec{v: v, strict: true} }

// EncodeLine seals one plaintext JSON record into an NXLN: line (no '\n').
// It returns ErrLocked while the vault is locked.
func (c LineCodec) EncodeLine(plain []byte) ([]byte, error) { return c.v.SealLine(plain) }

// DecodeLine opens an NXLN: line. Sealed lines return ErrLocked while
// locked. A line that is a plaintext JSON object is returned as it is by the
// lenient codec, because transcripts written before the vault existed (or by
// GenosOS) mix plaintext and sealed lines; that needs no key, so it works
// while locked. The strict codec refuses it with ErrCorrupted, locked or
// not. Anything else is ErrCorrupted.
func (c LineCodec) DecodeLine(line []byte) ([]byte, error) {
	if bytes.HasPrefix(line, []byte(linePrefix)) {
		return c.v.OpenLine(line)
	}
	if t := bytes.TrimLeft(line, " \t"); len(t) > 0 && t[0] == '{' {
		if c.strict {
			return nil, corrupt("plaintext line in a sealed file (refused: once a file is sealed, a plaintext line can only have been injected)")
		}
		return line, nil
	}
	return nil, corrupt("transcript line is neither %s nor a JSON object", linePrefix)
}
