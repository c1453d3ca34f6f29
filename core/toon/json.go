package toon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FromJSON decodes one JSON value into the ordered model (Object, []any,
// string, json.Number, bool, nil), keeping object key order.
func FromJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSON(dec)
	if err != nil {
		return nil, fmt.Errorf("toon: decode json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("toon: decode json: trailing data after value")
	}
	return v, nil
}

func readJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := Object{}
			pos := map[string]int{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %T", kt)
				}
				v, err := readJSON(dec)
				if err != nil {
					return nil, err
				}
				if i, ok := pos[key]; ok {
					obj[i].Value = v // JSON duplicate keys: last wins
				} else {
					pos[key] = len(obj)
					obj = append(obj, Member{Key: key, Value: v})
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := readJSON(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected delimiter %v", t)
	default:
		return t, nil
	}
}

// ToJSON encodes a value of the ordered model (or anything Marshal accepts)
// as compact JSON, keeping Object key order.
func ToJSON(v any) ([]byte, error) {
	n, err := normalize(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case json.Number:
		buf.WriteString(string(t))
	case string:
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		buf.Write(b)
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case Object:
		buf.WriteByte('{')
		for i, m := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, err := json.Marshal(m.Key)
			if err != nil {
				return err
			}
			buf.Write(b)
			buf.WriteByte(':')
			if err := writeJSON(buf, m.Value); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("toon: %w: %T", ErrUnsupported, v)
	}
	return nil
}

// normalize maps host values onto the ordered model with canonical numbers
// (§3): NaN/±Inf become nil, maps are sorted by key, and anything else goes
// through encoding/json.
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return t, nil
	case string:
		return validString(t), nil
	case json.Number:
		return canonicalNumber(string(t))
	case float64:
		return floatNumber(t), nil
	case float32:
		return floatNumber(float64(t)), nil
	case int:
		return json.Number(strconv.FormatInt(int64(t), 10)), nil
	case int8, int16, int32, int64:
		return json.Number(strconv.FormatInt(reflect.ValueOf(t).Int(), 10)), nil
	case uint, uint8, uint16, uint32, uint64, uintptr:
		return json.Number(strconv.FormatUint(reflect.ValueOf(t).Uint(), 10)), nil
	case Object:
		out := make(Object, len(t))
		for i, m := range t {
			nv, err := normalize(m.Value)
			if err != nil {
				return nil, err
			}
			out[i] = Member{Key: validString(m.Key), Value: nv}
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			nv, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(Object, 0, len(t))
		for _, k := range keys {
			nv, err := normalize(t[k])
			if err != nil {
				return nil, err
			}
			out = append(out, Member{Key: validString(k), Value: nv})
		}
		return out, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("toon: %w: %T: %w", ErrUnsupported, v, err)
	}
	jv, err := FromJSON(b)
	if err != nil {
		return nil, err
	}
	return normalize(jv)
}

// validString replaces invalid UTF-8 with U+FFFD, as encoding/json does,
// because TOON documents are UTF-8 (§1.2).
func validString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// floatNumber renders f canonically (§2), mapping non-finite values to nil.
func floatNumber(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return json.Number(formatFloat(f))
}

func formatFloat(f float64) string {
	if f == 0 {
		return "0"
	}
	a := math.Abs(f)
	if a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	// Go writes e-07 / e+21; the spec prefers no padding in the exponent.
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[:1]
	digits := strings.TrimLeft(exp[1:], "0")
	return mant + "e" + sign + digits
}

// canonicalNumber validates a JSON number literal and returns its canonical
// form: integers keep every digit, other values go through float64.
func canonicalNumber(s string) (any, error) {
	if isPlainInteger(s) {
		s = strings.TrimPrefix(s, "+")
		if strings.Trim(s, "-0") == "" {
			return json.Number("0"), nil
		}
		return json.Number(s), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("toon: invalid number %q", s)
	}
	return floatNumber(f), nil
}

// isPlainInteger reports whether s is -?(0|[1-9][0-9]*).
func isPlainInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	if s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
