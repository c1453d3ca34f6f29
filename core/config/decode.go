package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// This file holds the strict JSON decoding shared by the config and the
// secret store: one value only, no unknown or duplicate keys, exact key case,
// and every problem reported with its field path and line.

// locator turns byte offsets in the decoded text into " (line L, column C)".
// It is nil when the text is not what the user wrote (a migrated config), so
// that no misleading position is reported.
type locator []byte

func (l locator) at(off int64) string {
	if l == nil || off < 0 || off > int64(len(l)) {
		return ""
	}
	before := l[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf(" (line %d, column %d)", line, col)
}

// decodeSyntax parses data as exactly one JSON value (numbers kept as
// json.Number) and rejects anything after it.
func decodeSyntax(data []byte, loc locator) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("file is empty")
		}
		return nil, describeJSONError(err, loc)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("unexpected data after the JSON value%s", loc.at(dec.InputOffset()))
	}
	return v, nil
}

// describeJSONError rewrites encoding/json's errors to name the position (and
// for type errors the field) in terms a user editing the file can act on.
func describeJSONError(err error, loc locator) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON%s: %s", loc.at(syn.Offset), strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%s: expected %s, got JSON %s%s", field, typeName(typ.Type), typ.Value, loc.at(typ.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: unexpected end of file")
	}
	return err
}

// typeName names a Go type the way the JSON file spells it.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}

// checkFields walks the JSON text and reports, all at once, duplicate keys
// anywhere and keys that name no field of the Go type t at their position.
// encoding/json would silently keep the last duplicate and match keys case
// insensitively; a config typo must not be silently ignored. t nil checks
// duplicates only. data must already be valid JSON.
func checkFields(data []byte, t reflect.Type, loc locator) error {
	w := &fieldWalker{dec: json.NewDecoder(bytes.NewReader(data)), loc: loc}
	w.dec.UseNumber()
	if err := w.value(t, ""); err != nil {
		return err
	}
	return errors.Join(w.problems...)
}

type fieldWalker struct {
	dec      *json.Decoder
	loc      locator
	problems []error
}

func (w *fieldWalker) value(t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]bool)
		for w.dec.More() {
			kt, err := w.dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			at := w.loc.at(w.dec.InputOffset())
			p := joinPath(path, key)
			if seen[key] {
				w.problems = append(w.problems, fmt.Errorf("%s: duplicate field%s", p, at))
			}
			seen[key] = true
			var ft reflect.Type
			if t != nil {
				switch t.Kind() {
				case reflect.Struct:
					f, hint := structField(t, key)
					if f == nil {
						w.problems = append(w.problems, fmt.Errorf("%s: unknown field%s%s", p, hint, at))
					} else {
						ft = f.Type
					}
				case reflect.Map:
					ft = t.Elem()
				}
			}
			if err := w.value(ft, p); err != nil {
				return err
			}
		}
		_, err = w.dec.Token() // '}'
		return err
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(et, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err = w.dec.Token() // ']'
		return err
	}
	return nil
}

// structField finds the field whose JSON name is exactly key. If none is,
// hint suggests the field the key differs from only in case.
func structField(t reflect.Type, key string) (f *reflect.StructField, hint string) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if name == key {
			return &sf, ""
		}
		if strings.EqualFold(name, key) {
			hint = fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return nil, hint
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decodeStrict decodes data into v after the checks above, rejecting unknown
// fields as a second line of defence.
func decodeStrict(data []byte, v any, loc locator) error {
	if err := checkFields(data, reflect.TypeOf(v), loc); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err, loc)
	}
	return nil
}
