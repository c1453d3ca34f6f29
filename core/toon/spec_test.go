package toon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixtureFile mirrors tests/fixtures.schema.json of @toon-format/spec.
type fixtureFile struct {
	Version     string        `json:"version"`
	Category    string        `json:"category"`
	Description string        `json:"description"`
	Tests       []fixtureCase `json:"tests"`
}

type fixtureCase struct {
	Name        string          `json:"name"`
	Input       json.RawMessage `json:"input"`
	Expected    json.RawMessage `json:"expected"`
	ShouldError bool            `json:"shouldError"`
	Options     struct {
		Delimiter    string `json:"delimiter"`
		Indent       int    `json:"indent"`
		Strict       *bool  `json:"strict"`
		KeyFolding   string `json:"keyFolding"`
		FlattenDepth *int   `json:"flattenDepth"`
		ExpandPaths  string `json:"expandPaths"`
	} `json:"options"`
}

// skipFixtures lists fixture cases (file/name) this implementation does not
// pass, with the reason.
var skipFixtures = map[string]string{}

// comparable turns an ordered value into a form go-cmp can diff, with
// numbers compared by value.
func comparable(v any) any {
	switch t := v.(type) {
	case Object:
		out := make([]any, 0, 2*len(t))
		for _, m := range t {
			out = append(out, "key:"+m.Key, comparable(m.Value))
		}
		return map[string]any{"object": out}
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = comparable(e)
		}
		return out
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return "bad number " + string(t)
		}
		return f
	}
	return v
}

func TestSpecFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "spec", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures found: %v", err)
	}
	var total, passed int
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var ff fixtureFile
		if err := json.Unmarshal(raw, &ff); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		rel := filepath.ToSlash(strings.TrimPrefix(file, filepath.Join("testdata", "spec")+string(filepath.Separator)))
		for _, tc := range ff.Tests {
			total++
			id := rel + "/" + tc.Name
			t.Run(id, func(t *testing.T) {
				if reason, ok := skipFixtures[id]; ok {
					t.Skip(reason)
				}
				switch ff.Category {
				case "encode":
					runEncodeCase(t, tc)
				case "decode":
					runDecodeCase(t, tc)
				default:
					t.Fatalf("unknown category %q", ff.Category)
				}
				if !t.Failed() {
					passed++
				}
			})
		}
	}
	t.Logf("spec fixtures: %d of %d passed", passed, total)
}

func runEncodeCase(t *testing.T, tc fixtureCase) {
	in, err := FromJSON(tc.Input)
	if err != nil {
		t.Fatalf("fixture input: %v", err)
	}
	opts := EncodeOptions{Indent: tc.Options.Indent}
	if tc.Options.Delimiter != "" {
		opts.Delimiter = []rune(tc.Options.Delimiter)[0]
	}
	if tc.Options.KeyFolding == "safe" {
		opts.KeyFolding = KeyFoldingSafe
	}
	if fd := tc.Options.FlattenDepth; fd != nil {
		opts.FlattenDepth = *fd
		if *fd == 0 {
			opts.FlattenDepth = 1 // 0 means unlimited in EncodeOptions
		}
	}
	got, err := Marshal(in, opts)
	if tc.ShouldError {
		if err == nil {
			t.Fatalf("want error, got %q", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var want string
	if err := json.Unmarshal(tc.Expected, &want); err != nil {
		t.Fatalf("fixture expected: %v", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
	}
}

func runDecodeCase(t *testing.T, tc fixtureCase) {
	var in string
	if err := json.Unmarshal(tc.Input, &in); err != nil {
		t.Fatalf("fixture input: %v", err)
	}
	opts := DecodeOptions{Indent: tc.Options.Indent, ExpandPaths: tc.Options.ExpandPaths == "safe"}
	if tc.Options.Strict != nil {
		opts.Lenient = !*tc.Options.Strict
	}
	got, err := Unmarshal([]byte(in), opts)
	if tc.ShouldError {
		if err == nil {
			j, _ := ToJSON(got)
			t.Fatalf("want error, got %s", j)
		}
		return
	}
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	want, err := FromJSON(tc.Expected)
	if err != nil {
		t.Fatalf("fixture expected: %v", err)
	}
	if diff := cmp.Diff(comparable(want), comparable(got)); diff != "" {
		t.Errorf("Unmarshal mismatch (-want +got):\n%s", diff)
	}
}
