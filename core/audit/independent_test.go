package audit_test

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/audit"
)

// independentVerify checks a plain audit log using only the package
// documentation: it shares no code with the package.
func independentVerify(path string, key []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	prev := strings.Repeat("0", 64)
	n := 0
	for sc.Scan() {
		var r struct {
			Seq    int64             `json:"seq"`
			TS     string            `json:"ts"`
			Event  string            `json:"event"`
			Fields map[string]string `json:"fields"`
			Prev   string            `json:"prev"`
			Hash   string            `json:"hash"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return n, fmt.Errorf("line %d: %v", n+1, err)
		}
		if r.Seq != int64(n+1) || r.Prev != prev {
			return n, fmt.Errorf("line %d: chain broken", n+1)
		}
		ts, err := time.Parse(time.RFC3339, r.TS)
		if err != nil {
			return n, fmt.Errorf("line %d: %v", n+1, err)
		}
		var c strings.Builder
		c.WriteString(`{"seq":` + strconv.FormatInt(r.Seq, 10))
		c.WriteString(`,"ts":` + quote(ts.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")))
		c.WriteString(`,"event":` + quote(r.Event))
		c.WriteString(`,"fields":{`)
		keys := make([]string, 0, len(r.Fields))
		for k := range r.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				c.WriteString(",")
			}
			c.WriteString(quote(k) + ":" + quote(r.Fields[k]))
		}
		c.WriteString(`},"prev":` + quote(r.Prev) + `}`)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(c.String()))
		if want := hex.EncodeToString(m.Sum(nil)); want != r.Hash {
			return n, fmt.Errorf("line %d: MAC mismatch over %s", n+1, c.String())
		}
		// The stored line is the canonical form plus the hash member.
		stored := strings.TrimSuffix(c.String(), "}") + `,"hash":"` + r.Hash + `"}`
		if stored != sc.Text() {
			return n, fmt.Errorf("line %d: stored form differs:\n got %s\nwant %s", n+1, sc.Text(), stored)
		}
		prev = r.Hash
		n++
	}
	return n, sc.Err()
}

// quote escapes s as the package documentation specifies.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == 0x08:
			b.WriteString(`\b`)
		case r == 0x09:
			b.WriteString(`\t`)
		case r == 0x0a:
			b.WriteString(`\n`)
		case r == 0x0c:
			b.WriteString(`\f`)
		case r == 0x0d:
			b.WriteString(`\r`)
		case r < 0x20, r == 0x2028, r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestIndependentVerifier(t *testing.T) {
	t.Parallel()
	key := make([]byte, audit.KeySize)
	for i := range key {
		key[i] = byte(0xa0 + i)
	}
	var ctl strings.Builder
	for c := range 0x20 {
		ctl.WriteByte(byte(c))
	}
	values := []string{
		"", "plain", ctl.String(), `quote " backslash \ slash /`, "<script>&amp;</script>", "\u2028\u2029\u0085\x7f",
		"naïve 😀 \uFFFD", "bad utf8 \xff\xfe", strings.Repeat("long✓", 400),
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for round := range 2 { // across a reopen too
		l, err := audit.Open(path, key, audit.PlainCodec{})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			ev := audit.Event{Event: audit.EventExecRun, Fields: map[string]string{
				"value": v, "i": strconv.Itoa(i), "round": strconv.Itoa(round), "zKey": "z", "aKey": "a", "a_key": "_",
			}}
			if err := l.Append(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Append(audit.Event{Event: audit.EventVaultLock}); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := independentVerify(path, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * (len(values) + 1); n != want {
		t.Fatalf("independent verifier checked %d records, want %d", n, want)
	}
	res, err := audit.VerifyFile(path, key, audit.PlainCodec{})
	if err != nil || !res.OK() || res.Records != n {
		t.Fatalf("VerifyFile = %+v, %v", res, err)
	}
}
