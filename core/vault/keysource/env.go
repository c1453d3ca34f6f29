package keysource

import (
	"context"
	"fmt"
	"os"
)

// EnvVar is the environment variable the Env source reads.
const EnvVar = "GENOS_VAULT_PASSPHRASE"

// Env returns the Source that reads the passphrase from GENOS_VAULT_PASSPHRASE
// through lookup (os.LookupEnv when nil). An unset or empty variable is
// ErrNotFound. The value is taken as is: no trimming, because spaces may be
// part of a passphrase.
func Env(lookup func(string) (string, bool)) Source {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return envSource{lookup: lookup}
}

type envSource struct {
	lookup func(string) (string, bool)
}

func (envSource) Name() string { return NameEnv }

func (e envSource) Get(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", NameEnv, err)
	}
	v, ok := e.lookup(EnvVar)
	if !ok || v == "" {
		return nil, fmt.Errorf("%s: %s: %w", NameEnv, EnvVar, ErrNotFound)
	}
	p := []byte(v)
	if err := checkPassphrase(NameEnv+": "+EnvVar, p); err != nil {
		wipe(p)
		return nil, err
	}
	return p, nil
}
