package inbox

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var updateCorpus = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzKeyByte makes the key pair FuzzOpenLine opens with; the seeds are
// sealed to it.
const fuzzKeyByte = 0x42

type fuzzSeed struct {
	line []byte
	want *chat.Inbound // nil: must be refused
}

// fuzzSeeds returns valid lines sealed to the fuzz key and typical damage.
// Sealing is randomised, so the committed corpus is one such draw; it also
// serves as known-answer data that pins the line format.
func fuzzSeeds(t testing.TB) []fuzzSeed {
	_, pub := testKeys(t, fuzzKeyByte)
	pubKey, err := parsePublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(plain []byte) []byte {
		l, err := sealLine(pubKey, plain)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	var seeds []fuzzSeed
	for i := range 3 {
		in := testMsg(i)
		plain, err := marshalInbound(in)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, fuzzSeed{seal(plain), &in})
	}
	valid := seeds[0].line
	flipped := bytes.Clone(valid)
	flipped[len(flipped)-5] ^= 1
	_, otherPub := testKeys(t, fuzzKeyByte+1)
	otherKey, _ := parsePublic(otherPub)
	plain, _ := marshalInbound(testMsg(0))
	forOther, _ := sealLine(otherKey, plain)
	return append(seeds,
		fuzzSeed{nil, nil},
		fuzzSeed{[]byte(linePrefix), nil},
		fuzzSeed{valid[:len(valid)/2], nil},
		fuzzSeed{flipped, nil},
		fuzzSeed{forOther, nil},
		fuzzSeed{append(bytes.Clone(valid), '\n'), nil},
		fuzzSeed{append(bytes.Clone(valid[:20]), append([]byte{'\r'}, valid[20:]...)...), nil},
		fuzzSeed{seal([]byte(`{"channel":"x","attachmentData":["AA=="]}`)), nil},
		fuzzSeed{seal([]byte(`{"channel":1}`)), nil},
		fuzzSeed{[]byte(linePrefix + strings.Repeat("A", 80)), nil},
	)
}

// TestFuzzSeedCorpus checks that every committed seed still opens (or is
// refused) as when it was written; run with -update after changing the
// format.
func TestFuzzSeedCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenLine")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	priv, pub := testKeys(t, fuzzKeyByte)
	key, _ := parsePrivate(priv)
	for i, s := range seeds {
		path := filepath.Join(dir, fmt.Sprintf("seed%d", i))
		if *updateCorpus {
			if err := os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s.line), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzSeedCorpus -update)", err)
		}
		lit, ok := strings.CutPrefix(string(b), "go test fuzz v1\n[]byte(")
		lit, ok2 := strings.CutSuffix(lit, ")\n")
		line, err := strconv.Unquote(lit)
		if !ok || !ok2 || err != nil {
			t.Fatalf("%s is not a fuzz corpus file", path)
		}
		got, err := openLine(key, pub, []byte(line))
		if s.want == nil {
			if !errors.Is(err, ErrCorrupted) {
				t.Errorf("%s: err = %v, want ErrCorrupted", path, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if diff := cmp.Diff(*s.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
}

func FuzzOpenLine(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.line)
	}
	priv, pub := testKeys(f, fuzzKeyByte)
	key, err := parsePrivate(priv)
	if err != nil {
		f.Fatal(err)
	}
	pubKey, err := parsePublic(pub)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := openLine(key, pub, line)
		if err != nil {
			if !errors.Is(err, ErrCorrupted) {
				t.Fatalf("error does not wrap ErrCorrupted: %v", err)
			}
			if diff := cmp.Diff(chat.Inbound{}, in); diff != "" {
				t.Fatalf("data returned with an error:\n%s", diff)
			}
			return
		}
		if bytes.ContainsAny(line, "\r\n\x00") || !bytes.HasPrefix(line, []byte(linePrefix)) {
			t.Fatalf("accepted a line no writer produces: %q", line)
		}
		// Whatever opens must survive being queued again.
		plain, err := marshalInbound(in)
		if err != nil {
			t.Fatal(err)
		}
		again, err := sealLine(pubKey, plain)
		if err != nil {
			t.Fatal(err)
		}
		back, err := openLine(key, pub, again)
		if err != nil {
			t.Fatalf("re-sealed message does not open: %v", err)
		}
		if diff := cmp.Diff(in, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-opened +reopened):\n%s", diff)
		}
	})
}
