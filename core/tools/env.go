package tools

import (
	"slices"
	"strings"
)

// secretEnvWords mark environment variable names that probably hold
// credentials. The daemon's own environment can carry provider API keys,
// bot tokens and the vault passphrase (GENOS_*); a command the model chose
// must not be able to read them with `env` and echo them into a transcript
// or send them anywhere. Matching is by substring on purpose: a false
// positive only hides a harmless variable from a command, while a false
// negative leaks a secret.
var secretEnvWords = []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSPHRASE", "CREDENTIAL"}

// isSecretEnvName reports whether an environment variable should be withheld
// from commands run by exec.
func isSecretEnvName(name string) bool {
	u := strings.ToUpper(name)
	if strings.HasPrefix(u, "GENOS_") {
		return true
	}
	for _, w := range secretEnvWords {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// filterEnv returns environ ("NAME=value" entries) without the secret-looking
// variables and those named in hidden, keeping PATH, HOME, LANG and
// everything else a shell needs.
func filterEnv(environ []string, hidden ...string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		// Windows has entries like "=C:=C:\dir" whose name starts with '=',
		// so look for the separator after the first byte.
		i := strings.IndexByte(kv[min(1, len(kv)):], '=')
		name := kv
		if i >= 0 {
			name = kv[:i+min(1, len(kv))]
		}
		if name == "" || isSecretEnvName(name) || slices.Contains(hidden, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}
