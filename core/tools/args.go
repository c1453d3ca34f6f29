package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// decodeArgs strictly decodes the model's arguments into dst, a pointer to a
// struct with json tags. It returns "" on success, or a message written for
// the model saying what was wrong and which fields are allowed, so the model
// can correct itself on the next round. Empty or null arguments count as {}
// because some models send nothing for tools whose fields are all optional.
func decodeArgs(tool string, raw json.RawMessage, dst any) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			return fmt.Sprintf("invalid arguments for %s: unexpected data after the arguments object", tool)
		}
		return ""
	}
	allowed := strings.Join(fieldNames(dst), ", ")
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("invalid arguments for %s: not valid JSON (%v); send a JSON object with fields: %s", tool, err, allowed)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("invalid arguments for %s: expected a JSON object, got %s; allowed fields: %s", tool, typ.Value, allowed)
	case errors.As(err, &typ):
		return fmt.Sprintf("invalid arguments for %s: field %q must be %s, got %s", tool, typ.Field, jsonKind(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields; the message
		// format is stable and documented by DisallowUnknownFields.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Sprintf("invalid arguments for %s: unknown field %s; allowed fields: %s", tool, field, allowed)
	default:
		return fmt.Sprintf("invalid arguments for %s: %v; allowed fields: %s", tool, err, allowed)
	}
}

// fieldNames lists the json names of the struct dst points to, in order.
func fieldNames(dst any) []string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
	}
	return names
}

// jsonKind names the JSON type a Go type decodes from, for error messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}
