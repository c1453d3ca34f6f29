package audit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateCorpus = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzKey is the key FuzzVerify checks with; the seeds are signed with it.
var fuzzKey = testKey(0x42)

// fuzzSeeds returns deterministic seed inputs: valid logs and typical damage.
func fuzzSeeds(t testing.TB) [][]byte {
	_, lines := writeLog(t, 5, fuzzKey, PlainCodec{})
	valid := joinLines(lines)
	mod := func(f func(l [][]byte) [][]byte) []byte {
		c := make([][]byte, len(lines))
		for i := range lines {
			c[i] = bytes.Clone(lines[i])
		}
		return joinLines(f(c))
	}
	return [][]byte{
		valid,
		append(bytes.Clone(valid), lines[0][:30]...), // torn tail
		mod(func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"seq":3`), []byte(`"seq":4`), 1)
			return l
		}),
		mod(func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }),
		mod(func(l [][]byte) [][]byte { return append(l[:2], []byte("garbage"), nil, l[2]) }),
		nil,
		bytes.ReplaceAll(valid, []byte("\n"), []byte("\r\n")),
		mod(func(l [][]byte) [][]byte { l[3] = bytes.Replace(l[3], []byte(`"a`), []byte(`"\u0061`), 1); return l }),
		[]byte("{\"seq\":1,\"ts\":\"2026-01-02T03:04:05Z\",\"event\":\"x\",\"fields\":{},\"prev\":\"" + zeroHash + "\",\"hash\":\"" + zeroHash + "\"}\n"),
		[]byte("\x00\x00\x00\n{\"seq\":-1}\n[1,2]\n\"str\"\n"),
	}
}

// TestFuzzSeedCorpus keeps testdata/fuzz in step with fuzzSeeds; run with
// -update after changing the record format.
func TestFuzzSeedCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	for _, target := range []string{"FuzzReadRecords", "FuzzVerify"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed%d", i))
			want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s)
			if *updateCorpus {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFuzzSeedCorpus -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale (run go test -run TestFuzzSeedCorpus -update)", path)
			}
		}
	}
}

func FuzzReadRecords(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, errs := ReadRecords(bytes.NewReader(data), PlainCodec{})
		lines := bytes.Count(data, []byte{'\n'}) + 1
		if len(recs)+len(errs) > lines {
			t.Fatalf("%d records and %d errors from %d lines", len(recs), len(errs), lines)
		}
		for _, r := range recs {
			if err := validateRecord(&r); err != nil {
				t.Fatalf("returned an invalid record: %v", err)
			}
			// What the reader returns must survive the writer's encoding.
			back, err := parseRecord(r.line())
			if err != nil {
				t.Fatalf("re-encoded record does not parse: %v\n%s", err, r.line())
			}
			if diff := cmp.Diff(r, back); diff != "" {
				t.Fatalf("round trip (-read +reparsed):\n%s", diff)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := mustVerify(t, data, fuzzKey, PlainCodec{})
		if int64(res.Records) != res.Head.Seq {
			t.Fatalf("Records %d but head seq %d", res.Records, res.Head.Seq)
		}
		if !res.OK() {
			if res.FirstBad < 1 || res.FirstBad > res.Records+1 {
				t.Fatalf("FirstBad %d after %d good records", res.FirstBad, res.Records)
			}
			return
		}
		// A log that verifies is exactly the writer's output for its
		// records, plus at most a torn tail.
		recs, _ := ReadRecords(bytes.NewReader(data), PlainCodec{})
		if len(recs) < res.Records {
			t.Fatalf("ReadRecords found %d records, Verify %d", len(recs), res.Records)
		}
		var rebuilt []byte
		for _, r := range recs[:res.Records] {
			rebuilt = append(append(rebuilt, r.line()...), '\n')
		}
		rest, ok := bytes.CutPrefix(data, rebuilt)
		if !ok || (len(rest) > 0) != res.TornTail || bytes.IndexByte(rest, '\n') >= 0 {
			t.Fatalf("verified log is not canonical: rest %q, result %+v", rest, res)
		}
	})
}
