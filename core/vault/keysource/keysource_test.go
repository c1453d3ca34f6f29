package keysource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestAccount(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(wd, "state")
	sum := sha256.Sum256([]byte(abs))
	want := "vault:" + hex.EncodeToString(sum[:])[:16]

	tests := []struct {
		name string
		dir  string
	}{
		{"absolute", abs},
		{"relative", "state"},
		{"unclean", "./x/../state/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Account(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Account(%q) = %q, want %q", tc.dir, got, want)
			}
		})
	}

	other, err := Account(abs + "2")
	if err != nil {
		t.Fatal(err)
	}
	if other == want {
		t.Errorf("two state dirs share account %q", other)
	}
	if !regexp.MustCompile(`^vault:[0-9a-f]{16}$`).MatchString(want) {
		t.Errorf("account %q has the wrong shape", want)
	}
	if _, err := Account(""); err == nil {
		t.Error("Account(\"\") succeeded")
	}
}

func TestEnv(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxPassphraseLen+1)
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr error // a sentinel the error must wrap
		anyErr  bool  // an error wrapping neither sentinel
	}{
		{name: "set", env: map[string]string{EnvVar: "correct horse"}, want: "correct horse"},
		{name: "spaces kept", env: map[string]string{EnvVar: " padded "}, want: " padded "},
		{name: "unset", env: map[string]string{}, wantErr: ErrNotFound},
		{name: "empty", env: map[string]string{EnvVar: ""}, wantErr: ErrNotFound},
		{name: "other variable", env: map[string]string{"GENOS_VAULT": "nope"}, wantErr: ErrNotFound},
		{name: "too long", env: map[string]string{EnvVar: long}, anyErr: true},
		{name: "max length", env: map[string]string{EnvVar: long[1:]}, want: long[1:]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := Env(func(k string) (string, bool) {
				v, ok := tc.env[k]
				return v, ok
			})
			if src.Name() != NameEnv {
				t.Errorf("Name() = %q, want %q", src.Name(), NameEnv)
			}
			got, err := src.Get(t.Context())
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
					t.Fatalf("err = %v, want a validation error", err)
				}
				if strings.Contains(err.Error(), long) {
					t.Fatal("error contains the passphrase")
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tc.want {
					t.Fatalf("Get = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestEnvDefaultLookupAndCancel(t *testing.T) {
	t.Setenv(EnvVar, "from the process")
	got, err := Env(nil).Get(t.Context())
	if err != nil || string(got) != "from the process" {
		t.Fatalf("Env(nil).Get = %q, %v", got, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Env(nil).Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with cancelled context: err = %v", err)
	}
}

func TestUnavailableStore(t *testing.T) {
	t.Parallel()
	var st Store = unavailable{name: NameNone, reason: "test"}
	ctx := t.Context()
	if _, err := st.Get(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get: %v", err)
	}
	if err := st.Set(ctx, []byte("p")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Set: %v", err)
	}
	if err := st.Delete(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Delete: %v", err)
	}
}
