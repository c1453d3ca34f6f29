// Package audit owns Genos's tamper-evident audit log: audit.jsonl in the
// state dir, one record per line, each record chained to the one before it
// by an HMAC-SHA256. Security-relevant events (unlock and lock, failed
// authentication, pairing and approval decisions, config changes, exec runs)
// are appended here, and Verify pinpoints the first record that was altered,
// removed, reordered or inserted by someone without the key.
//
// # Stored form
//
// After the LineCodec decodes it, a line is exactly
//
//	{"seq":N,"ts":"T","event":"E","fields":{"k":"v",...},"prev":"P","hash":"H"}
//
// and the MAC input, the canonical form, is the same bytes without the hash
// member:
//
//	{"seq":N,"ts":"T","event":"E","fields":{"k":"v",...},"prev":"P"}
//
// An independent verifier rebuilds the canonical form from the parsed values
// with these rules:
//   - no whitespace; the members appear in exactly this order;
//   - seq is a decimal integer without sign or leading zeros; the first record
//     has seq 1 and every later one the seq before it plus 1;
//   - ts is the UTC time in Go's RFC3339Nano layout: "Z" suffix, fractional
//     seconds only when non-zero and without trailing zeros, for example
//     2026-01-02T03:04:05.1234Z;
//   - fields is always an object ({} when empty) whose members are sorted by
//     key in ascending byte order;
//   - prev is the lowercase hex hash of the previous record, 64 '0' for the
//     first record;
//   - hash is lowercase hex of HMAC-SHA256(key, canonical form);
//   - strings are UTF-8, written as JSON strings where '"' is \", '\' is \\,
//     U+0008 is \b, U+0009 is \t, U+000A is \n, U+000C is \f, U+000D is \r,
//     every other code point below U+0020 is \u00xx (lowercase hex), U+2028
//     and U+2029 are \u2028 and \u2029, and every other character (including
//     '<', '>', '&', U+007F and all other non-ASCII) is written as is.
//
// This is what Go's encoding/json emits for the same values with HTML
// escaping off (a test checks it), but the package has its own encoder so
// that a change in encoding/json can never change the MAC input.
//
// The MAC covers the plaintext record, not the stored bytes, so sealing,
// re-sealing (rekey) or unsealing lines keeps the chain valid, and a file may
// mix plain and sealed lines if the codec reads both.
//
// # Limits
//
// Event names match ^[a-z][a-z0-9_.]{0,63}$; the "audit." prefix is reserved
// for the log's own events. An event has at most 32 fields, with keys matching
// ^[a-z][a-zA-Z0-9_]{0,63}$. Values are truncated, not rejected, so that an
// overlong value (a long command line) never costs the audit record: a value
// longer than MaxValueLen bytes is cut at a UTF-8 boundary and ends in "…",
// the whole at most MaxValueLen bytes; invalid UTF-8 becomes U+FFFD. Control
// characters are kept and escaped, so no value can put a newline in the file
// (displays should still quote values). Fields must never hold secrets or
// message bodies: the log cannot tell, its callers must not pass them.
//
// # What Verify cannot see
//
// Records removed from the end of the log leave a shorter, valid chain. To
// detect that, keep an Anchor (Log.Head) somewhere the attacker cannot
// rewrite and use VerifyAnchor. Anyone holding the key can rewrite the whole
// log; the key therefore lives in the vault or keychain, not next to the log.
package audit

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Events written by Genos, named here so that writers and readers agree.
// Callers may use other names that pass validation.
const (
	EventVaultUnlock       = "vault.unlock"
	EventVaultLock         = "vault.lock"
	EventVaultRekey        = "vault.rekey"
	EventVaultUnlockFailed = "vault.unlock_failed"
	EventGatewayAuthFailed = "gateway.auth_failed"
	EventPairingDecided    = "pairing.decided"
	EventApprovalRequested = "approval.requested"
	EventApprovalDecided   = "approval.decided"
	EventConfigChanged     = "config.changed"
	EventExecRun           = "exec.run"
	EventPairingRequested  = "pairing.requested"
	// EventToolRefused: the model called a tool the policy does not allow
	// there (it was not even offered), typically after injected text.
	EventToolRefused = "tool.refused"
	// EventRepaired is written by Open after it truncated a torn last line;
	// its fields are dropped_bytes and reason.
	EventRepaired = "audit.repaired"
)

// Limits on what one event may carry. They keep a record (at most about
// 200 KiB of JSON even if every byte needs escaping) well under MaxLineLen
// after a sealing codec expands it.
const (
	// MaxEventLen is the longest event name in bytes.
	MaxEventLen = 64
	// MaxFields is the most fields one event may carry.
	MaxFields = 32
	// MaxKeyLen is the longest field key in bytes.
	MaxKeyLen = 64
	// MaxValueLen is the longest stored field value in bytes; Append
	// truncates longer ones.
	MaxValueLen = 1024
	// KeySize is the length of the HMAC key in bytes.
	KeySize = 32
)

// reservedPrefix marks events only the log itself writes, so a caller cannot
// forge a repair record.
const reservedPrefix = "audit."

// truncMark ends a value that was cut to MaxValueLen.
const truncMark = "…"

var (
	// ErrInvalidEvent is wrapped by Append when an event name, a field key or
	// the number of fields is not allowed.
	ErrInvalidEvent = errors.New("invalid audit event")
	// ErrBadMAC means a record's hash does not match its content under the
	// given key: the record was altered, or the key is not the log's.
	ErrBadMAC = errors.New("audit record MAC mismatch (altered record or wrong key)")
	// ErrClosed is returned by Append on a closed log.
	ErrClosed = errors.New("audit log closed")
)

// Event is one thing to record. Fields are small strings describing it, for
// example {"channel": "telegram", "reason": "bad token"}; never secrets or
// message bodies.
type Event struct {
	Event  string
	Fields map[string]string
}

// LineCodec turns one plaintext JSON record into the bytes stored on its line
// and back. The vault provides one that seals each line. An encoded line must
// not be empty or contain '\n' or NUL.
type LineCodec interface {
	EncodeLine(plain []byte) ([]byte, error)
	DecodeLine(line []byte) ([]byte, error)
}

// PlainCodec stores lines as they are: before a vault exists, and in tests.
type PlainCodec struct{}

// EncodeLine returns plain unchanged.
func (PlainCodec) EncodeLine(plain []byte) ([]byte, error) { return plain, nil }

// DecodeLine returns line unchanged.
func (PlainCodec) DecodeLine(line []byte) ([]byte, error) { return line, nil }

// normalize validates e and returns its name and a private copy of its fields
// with every value made valid UTF-8 and truncated to MaxValueLen. internal
// allows the reserved "audit." prefix.
func normalize(e Event, internal bool) (string, map[string]string, error) {
	if !validEventName(e.Event) {
		return "", nil, fmt.Errorf("%w: event name %q must match ^[a-z][a-z0-9_.]{0,63}$", ErrInvalidEvent, e.Event)
	}
	if !internal && strings.HasPrefix(e.Event, reservedPrefix) {
		return "", nil, fmt.Errorf("%w: event prefix %q is reserved", ErrInvalidEvent, reservedPrefix)
	}
	if len(e.Fields) > MaxFields {
		return "", nil, fmt.Errorf("%w: %d fields, at most %d allowed", ErrInvalidEvent, len(e.Fields), MaxFields)
	}
	fields := make(map[string]string, len(e.Fields))
	for k, v := range e.Fields {
		if !validKey(k) {
			return "", nil, fmt.Errorf("%w: field key %q must match ^[a-z][a-zA-Z0-9_]{0,63}$", ErrInvalidEvent, k)
		}
		fields[k] = clampValue(v)
	}
	return e.Event, fields, nil
}

// clampValue makes v valid UTF-8 and at most MaxValueLen bytes.
func clampValue(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= MaxValueLen {
		return v
	}
	cut := MaxValueLen - len(truncMark)
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + truncMark
}

// validEventName reports whether s matches ^[a-z][a-z0-9_.]{0,63}$.
func validEventName(s string) bool {
	if len(s) == 0 || len(s) > MaxEventLen || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLower(c) && !isDigit(c) && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// validKey reports whether s matches ^[a-z][a-zA-Z0-9_]{0,63}$.
func validKey(s string) bool {
	if len(s) == 0 || len(s) > MaxKeyLen || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLower(c) && !isDigit(c) && c != '_' && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// checkKey refuses keys of the wrong size rather than silently accepting a
// weak or truncated one.
func checkKey(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("audit key is %d bytes, want %d", len(key), KeySize)
	}
	return nil
}
