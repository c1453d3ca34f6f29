package toon

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gen builds random JSON-model values, biased towards the shapes TOON treats
// specially (tabular arrays, arrays of arrays, awkward strings).
type gen struct{ r *rand.Rand }

var genAlphabet = []string{"a", "b", "Z", "_", "0", "7", " ", ",", "|", "\t", ":", `"`, `\`, "-", "[", "]", "{", "}", ".", "\n", "é", "🚀", "#", "e", "\x01"}

func (g gen) str() string {
	switch g.r.IntN(8) {
	case 0:
		return []string{"", "true", "null", "false", "42", "-3.5", "05", "1e-6", "-", "- x", " lead", "trail ", "[]"}[g.r.IntN(13)]
	case 1:
		return "name_" + strconv.Itoa(g.r.IntN(100))
	}
	var b strings.Builder
	for n := g.r.IntN(8); n > 0; n-- {
		b.WriteString(genAlphabet[g.r.IntN(len(genAlphabet))])
	}
	return b.String()
}

func (g gen) key() string {
	if g.r.IntN(3) == 0 {
		return g.str()
	}
	return []string{"id", "name", "user.name", "a", "b", "c", "x_1", "value"}[g.r.IntN(8)]
}

func (g gen) number() json.Number {
	switch g.r.IntN(4) {
	case 0:
		return json.Number(strconv.Itoa(g.r.IntN(2000) - 1000))
	case 1:
		return json.Number(formatFloat(g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(40)-20))))
	case 2:
		return json.Number(strconv.FormatInt(g.r.Int64(), 10))
	}
	return json.Number(formatFloat(g.r.Float64()))
}

func (g gen) primitive() any {
	switch g.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return g.number()
	}
	return g.str()
}

func (g gen) object(depth int) Object {
	o := Object{}
	for n := g.r.IntN(5); n > 0; n-- {
		k := g.key()
		if o.index(k) >= 0 {
			continue
		}
		o = append(o, Member{Key: k, Value: g.value(depth + 1)})
	}
	return o
}

func (g gen) value(depth int) any {
	if depth > 4 {
		return g.primitive()
	}
	switch g.r.IntN(7) {
	case 0, 1:
		return g.object(depth)
	case 2: // uniform objects: tabular form
		fields := []string{"id", g.key(), "z"}
		arr := []any{}
		for n := g.r.IntN(4) + 1; n > 0; n-- {
			o := Object{}
			for _, f := range fields {
				if o.index(f) < 0 {
					o = append(o, Member{Key: f, Value: g.primitive()})
				}
			}
			arr = append(arr, o)
		}
		return arr
	case 3:
		arr := []any{}
		for n := g.r.IntN(5); n > 0; n-- {
			arr = append(arr, g.value(depth+1))
		}
		return arr
	case 4:
		arr := []any{}
		for n := g.r.IntN(5); n > 0; n-- {
			arr = append(arr, g.primitive())
		}
		return arr
	}
	return g.primitive()
}

func TestRoundTripRandom(t *testing.T) {
	g := gen{r: rand.New(rand.NewPCG(1, 2))}
	optsList := []EncodeOptions{{}, {Delimiter: '\t'}, {Delimiter: '|', Indent: 4}}
	for i := range 2000 {
		v := g.value(0)
		opts := optsList[i%len(optsList)]
		enc, err := Marshal(v, opts)
		if err != nil {
			t.Fatalf("case %d: Marshal: %v", i, err)
		}
		got, err := Unmarshal(enc, DecodeOptions{Indent: opts.Indent})
		if err != nil {
			j, _ := ToJSON(v)
			t.Fatalf("case %d: Unmarshal: %v\njson: %s\ntoon:\n%s", i, err, j, enc)
		}
		if diff := cmp.Diff(comparable(v), comparable(got)); diff != "" {
			t.Fatalf("case %d: round trip mismatch (-want +got):\n%s\ntoon:\n%s", i, diff, enc)
		}
	}
}

func TestHostTypes(t *testing.T) {
	type item struct {
		ID   int     `json:"id"`
		Name string  `json:"name"`
		Cost float64 `json:"cost"`
	}
	in := map[string]any{
		"zeta":  math.NaN(),
		"items": []item{{1, "a", 2.5}, {2, "b,c", -0.0}},
		"big":   json.Number("123456789012345678901234567890"),
		"exp":   1e21,
		"tiny":  1.5e-7,
	}
	got, err := Marshal(in, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "big: 123456789012345678901234567890\nexp: 1e+21\nitems[2]{id,name,cost}:\n  1,a,2.5\n  2,\"b,c\",0\ntiny: 1.5e-7\nzeta: null"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		v    any
		opts EncodeOptions
	}{
		{"bad delimiter", Object{}, EncodeOptions{Delimiter: ';'}},
		{"negative indent", Object{}, EncodeOptions{Indent: -1}},
		{"channel", make(chan int), EncodeOptions{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Marshal(tc.v, tc.opts); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

func TestUnmarshalErrorLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"row width", "a: 1\nitems[2]{x,y}:\n  1,2\n  3", 4, "row has 1 values"},
		{"count", "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ntags[3]: x,y", 7, "declares 3 values"},
		{"missing colon", "a: 1\nbare", 2, "missing colon"},
		{"bad escape", `a: "x\q"`, 1, "invalid escape"},
		{"odd indent", "a:\n   b: 1", 2, "not a multiple"},
		{"blank in list", "xs[2]:\n  - 1\n\n  - 2", 4, "blank line"},
		{"duplicate", "a: 1\na: 2", 2, "duplicate key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.in), DefaultDecodeOptions())
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want *SyntaxError, got %v", err)
			}
			if se.Line != tc.line || !strings.Contains(se.Error(), tc.msg) || !strings.HasPrefix(se.Error(), "toon: line "+strconv.Itoa(tc.line)+": ") {
				t.Errorf("got %q, want line %d containing %q", se.Error(), tc.line, tc.msg)
			}
		})
	}
}

func TestJSONHelpers(t *testing.T) {
	in := `{"b":1,"a":[true,null,"x",{"k":-2.50}]}`
	v, err := FromJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ToJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"b":1,"a":[true,null,"x",{"k":-2.5}]}`; string(out) != want {
		t.Errorf("ToJSON = %s, want %s", out, want)
	}
	if _, err := FromJSON([]byte(`{"a":1} 2`)); err == nil {
		t.Error("FromJSON accepted trailing data")
	}
}

func TestInvalidUTF8(t *testing.T) {
	got, err := Marshal(Object{{Key: "k\xff", Value: "v\xfe"}}, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "\"k\uFFFD\": v\uFFFD"; string(got) != want {
		t.Errorf("Marshal = %q, want %q", got, want)
	}
	if _, err := Unmarshal([]byte("a: 1\nb: \xff"), DefaultDecodeOptions()); err == nil || !strings.Contains(err.Error(), "line 2: invalid UTF-8") {
		t.Errorf("Unmarshal err = %v, want line 2 invalid UTF-8", err)
	}
}
