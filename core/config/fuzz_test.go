package config

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzLoad feeds arbitrary bytes to the config decoder. It must never panic,
// and whatever it accepts must survive a save and reload unchanged: saving
// the reloaded config gives the same bytes. It runs parse and encode, which
// are Load and Save without the file I/O, so that it can run many inputs a
// second; the file paths are covered by the unit tests.
// The seed corpus is in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		`{"version":1}`,
		`{"listen":"127.0.0.1:18789"}`,
		`{"version":1,"gateway":{"bind":"::1","port":443,"tickSeconds":5},"model":{"provider":"openai","baseUrl":"https://api.example.com/v1?x=1&y=2","model":"gpt-4.1","apiKeyRef":"model.apiKey"},"agent":{"name":"helper","toolPolicy":{"exec":"ask","network":"deny"}},"logging":{"level":"warn"}}`,
		`{"version":1,"agent":{"toolPolicy":{}}}`,
		`{"version":1,"model":{"model":"caf\u00e9"}}`,
		`{"version":2}`,
		`{"version":1,"gateway":{"port":"1"}}`,
		`{"version":1} {}`,
		`[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parse accepted an invalid config: %v", err)
		}
		saved, err := encode(c)
		if err != nil {
			t.Fatalf("encode accepted config: %v", err)
		}
		c2, err := parse(saved)
		if err != nil {
			t.Fatalf("reload of saved config failed: %v\n%s", err, saved)
		}
		if diff := cmp.Diff(c, c2, equateEmpty); diff != "" {
			t.Fatalf("config changed across save/load (-first +second):\n%s", diff)
		}
		again, err := encode(c2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(saved, again) {
			t.Fatalf("re-save differs:\n%s\n---\n%s", saved, again)
		}
	})
}
