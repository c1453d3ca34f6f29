package toon

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzUnmarshal checks that the decoder never panics and that anything it
// accepts survives an encode/decode round trip unchanged.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		"a: 1\nb: hello world",
		"users[2]{id,name}:\n  1,Ada\n  2,\"Bob, Jr\"",
		"[3|]: a|b|c",
		"items[2]:\n  - id: 1\n    tags[2]: x,y\n  - [2]: 1,2",
		"\"quoted key\": \"v\\n\\u00e9\"\nnested:\n  deep:\n    x: -0.5e3",
		"a.b.c: 1\na.b.d: 2",
		"- bad",
		"[1]:\n  -",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Other option sets must not panic either; their results are not
		// round-trip comparable (lenient input, expanded paths).
		_, _ = Unmarshal(data, DecodeOptions{Lenient: true, ExpandPaths: true})
		_, _ = Unmarshal(data, DecodeOptions{ExpandPaths: true, Indent: 4})
		v, err := Unmarshal(data, DefaultDecodeOptions())
		if err != nil {
			return
		}
		enc, err := Marshal(v, EncodeOptions{})
		if err != nil {
			t.Fatalf("Marshal of decoded value: %v", err)
		}
		v2, err := Unmarshal(enc, DefaultDecodeOptions())
		if err != nil {
			t.Fatalf("re-decode: %v\ntoon:\n%s", err, enc)
		}
		if diff := cmp.Diff(comparable(v), comparable(v2)); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s\ntoon:\n%s", diff, enc)
		}
	})
}
