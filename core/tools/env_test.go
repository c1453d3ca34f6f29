package tools

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFilterEnv(t *testing.T) {
	t.Parallel()
	in := []string{
		"PATH=/usr/bin", "HOME=/home/u", "LANG=C.UTF-8", "TERM=xterm",
		"OPENAI_API_KEY=sk-1", "ANTHROPIC_API_KEY=x", "TELEGRAM_BOT_TOKEN=t", "aws_secret_access_key=s",
		"PGPASSWORD=p", "GPG_PASSPHRASE=g", "GOOGLE_APPLICATION_CREDENTIALS=/c.json", "GENOS_VAULT=v",
		"genos_debug=1", "KEYBOARD=us", "=C:=C:\\dir", "NOVALUE", "EMPTY=",
	}
	want := []string{"PATH=/usr/bin", "HOME=/home/u", "LANG=C.UTF-8", "TERM=xterm", "=C:=C:\\dir", "NOVALUE", "EMPTY="}
	if diff := cmp.Diff(want, filterEnv(in)); diff != "" {
		t.Errorf("filterEnv mismatch (-want +got):\n%s", diff)
	}
}

func TestFilterEnvHidesNamedVariables(t *testing.T) {
	got := filterEnv([]string{"PATH=/bin", "OPENROUTER=sk-or-1", "HOME=/h"}, "OPENROUTER")
	want := []string{"PATH=/bin", "HOME=/h"}
	if !slices.Equal(got, want) {
		t.Fatalf("filterEnv = %v, want %v", got, want)
	}
}
