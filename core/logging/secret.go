package logging

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what a secret prints as, wherever it is printed.
const redacted = "[REDACTED]"

// Secret is a string that never prints: slog, fmt (every verb, including
// %#v and %d), encoding/json and text encoders all see "[REDACTED]". Wrap
// tokens, keys and passphrases in it as soon as they are read and convert back
// with string(s) only at the point of use (an HTTP header, a KDF).
//
// fmt cannot call methods on unexported struct fields, so a Secret stored in
// an unexported field of a struct printed with %v still prints its content:
// do not print such structs. Likewise encoding/json writes string-kinded map
// keys as they are, so never use a Secret as a map key.
type Secret string

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, used by %#v.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that verbs fmt would otherwise report as
// bad (%d prints "%!d(logging.Secret=<the value>)") are redacted as well.
func (Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, `"`+redacted+`"`)
		return
	}
	io.WriteString(f, redacted)
}

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler, for encoders other than JSON
// that look for it.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
