package vault

import "bytes"

// InlineCodec seals single database values (SQLite content columns) in the
// inline form. Its method set matches the ValueCodec interface core/session
// declares for session titles.
type InlineCodec struct{ v *Vault }

// InlineCodec returns the vault's codec for database values.
func (v *Vault) InlineCodec() InlineCodec { return InlineCodec{v: v} }

// EncodeValue seals plain into an inline-form value ("NYXENC1:" + object).
func (c InlineCodec) EncodeValue(plain []byte) ([]byte, error) { return c.v.SealInline(plain) }

// DecodeValue opens an inline-form value. A line-form value is accepted too
// (titles were briefly sealed that way before this codec existed); both are
// authenticated. A plaintext value is refused: once a vault exists, a
// database value that is not sealed was not written by Genos.
func (c InlineCodec) DecodeValue(stored []byte) ([]byte, error) {
	if bytes.HasPrefix(stored, []byte(linePrefix)) {
		return c.v.OpenLine(stored)
	}
	return c.v.OpenInline(stored)
}
