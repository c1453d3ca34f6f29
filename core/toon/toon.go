// Package toon encodes and decodes TOON (Token-Oriented Object Notation),
// specification version 3.3: a line-oriented, indentation-based notation for
// the JSON data model that keeps arrays of uniform objects compact (tabular
// form) so that structured data costs fewer tokens in model prompts.
//
// Values use an ordered JSON model, because TOON preserves key order:
// objects are [Object], arrays []any, strings string, numbers [json.Number],
// booleans bool and null nil. The encoder also accepts map[string]any (keys
// sorted), Go numeric types, and any other value via an encoding/json round
// trip (so struct tags and json.Marshaler are honoured).
//
// Numeric policy: the encoder emits numbers in canonical decimal form;
// json.Number values that are plain integers are emitted digit for digit
// (lossless for any size), other numbers go through float64. NaN and ±Inf
// become null. The decoder returns json.Number: integer tokens keep their
// exact digits (leading "-0" normalised to "0"), other numeric tokens are
// parsed as float64 and rendered canonically.
//
// Tabs are never accepted as indentation, even in non-strict mode.
package toon

import (
	"errors"
	"fmt"
)

// Object is an ordered JSON object: members keep the order in which they
// were written or decoded.
type Object []Member

// Member is one key/value pair of an Object.
type Member struct {
	Key   string
	Value any
}

// Get returns the value stored under key and reports whether it exists.
func (o Object) Get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// index returns the position of key in o, or -1.
func (o Object) index(key string) int {
	for i, m := range o {
		if m.Key == key {
			return i
		}
	}
	return -1
}

// KeyFolding selects how the encoder collapses chains of single-key objects.
type KeyFolding int

const (
	// KeyFoldingOff emits every object level on its own line (the default).
	KeyFoldingOff KeyFolding = iota
	// KeyFoldingSafe folds chains of single-key objects whose keys are all
	// identifier segments into dotted keys such as "a.b.c: 1" (§13.4).
	KeyFoldingSafe
)

// EncodeOptions configures Marshal. The zero value gives the spec defaults.
type EncodeOptions struct {
	// Indent is the number of spaces per level; 0 means 2.
	Indent int
	// Delimiter is the document delimiter: ',', '\t' or '|'; 0 means ','.
	Delimiter rune
	// KeyFolding enables dotted-key folding (§13.4).
	KeyFolding KeyFolding
	// FlattenDepth caps the number of folded segments; 0 means unlimited.
	// Use a value of 1 to disable folding while KeyFolding is safe.
	FlattenDepth int
}

// DecodeOptions configures Unmarshal. Use DefaultDecodeOptions for the spec
// defaults, since the zero value of Lenient means strict decoding.
type DecodeOptions struct {
	// Indent is the number of spaces per level; 0 means 2.
	Indent int
	// Lenient disables strict-mode validation (§14); the zero value is strict,
	// which is the spec default.
	Lenient bool
	// ExpandPaths splits unquoted dotted keys into nested objects (§13.4).
	ExpandPaths bool
}

// DefaultDecodeOptions returns the spec defaults: indent 2, strict, no path
// expansion.
func DefaultDecodeOptions() DecodeOptions { return DecodeOptions{Indent: 2} }

// SyntaxError reports malformed TOON input; Line is 1-based (0 when the
// problem is not tied to a line).
type SyntaxError struct {
	Line int
	Msg  string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	if e.Line <= 0 {
		return "toon: " + e.Msg
	}
	return fmt.Sprintf("toon: line %d: %s", e.Line, e.Msg)
}

// ErrUnsupported is wrapped by Marshal errors for values that cannot be
// represented in the JSON data model.
var ErrUnsupported = errors.New("unsupported value")

func delimOrDefault(d rune) rune {
	if d == 0 {
		return ','
	}
	return d
}

func indentOrDefault(n int) int {
	if n <= 0 {
		return 2
	}
	return n
}
