package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// sentinel is the secret every test tries to leak.
const sentinel = "hunter2-sk-live-0123456789"

// loggers returns a text and a JSON logger writing to the same buffer.
func loggers(buf *bytes.Buffer) map[string]*slog.Logger {
	return map[string]*slog.Logger{
		"text": slog.New(NewHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}, false)),
		"json": slog.New(NewHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}, true)),
	}
}

// groupValuer is a LogValuer that expands into a group with a sensitive key.
type groupValuer struct{ tok string }

func (g groupValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", "ann"), slog.String("token", g.tok))
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	s := Secret(sentinel)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"key token", func(l *slog.Logger) { l.Info("m", "token", sentinel) }},
		{"key apikey", func(l *slog.Logger) { l.Info("m", "apiKey", sentinel) }},
		{"key api_key", func(l *slog.Logger) { l.Info("m", "API_KEY", sentinel) }},
		{"key password", func(l *slog.Logger) { l.Info("m", "Password", sentinel) }},
		{"key passphrase", func(l *slog.Logger) { l.Info("m", "passphrase", sentinel) }},
		{"key secret", func(l *slog.Logger) { l.Info("m", "secret", sentinel) }},
		{"key authorization", func(l *slog.Logger) { l.Info("m", "Authorization", "Bearer "+sentinel) }},
		{"key key", func(l *slog.Logger) { l.Info("m", "key", sentinel) }},
		{"key cookie", func(l *slog.Logger) { l.Info("m", "Cookie", sentinel) }},
		{"contains token", func(l *slog.Logger) { l.Info("m", "gateway_token", sentinel) }},
		{"contains secret", func(l *slog.Logger) { l.Info("m", "clientSecret", sentinel) }},
		{"contains password", func(l *slog.Logger) { l.Info("m", "db_password", sentinel) }},
		{"token count as string", func(l *slog.Logger) { l.Info("m", "refresh_tokens", sentinel) }},
		{"non-string value", func(l *slog.Logger) { l.Info("m", "token", []byte(sentinel)) }},
		{"secret type", func(l *slog.Logger) { l.Info("m", "harmless", s) }},
		{"secret pointer", func(l *slog.Logger) { l.Info("m", "harmless", &s) }},
		{"secret slice", func(l *slog.Logger) { l.Info("m", "harmless", []Secret{s}) }},
		{"secret in struct", func(l *slog.Logger) { l.Info("m", "harmless", struct{ S Secret }{s}) }},
		{"key in group", func(l *slog.Logger) { l.Info("m", slog.Group("auth", "user", "ann", "token", sentinel)) }},
		{"secret in group", func(l *slog.Logger) { l.Info("m", slog.Group("auth", "v", s)) }},
		{"nested groups", func(l *slog.Logger) {
			l.Info("m", slog.Group("a", slog.Group("b", slog.String("password", sentinel))))
		}},
		{"sensitive group name", func(l *slog.Logger) { l.Info("m", slog.Group("secret", "v", sentinel)) }},
		{"log valuer group", func(l *slog.Logger) { l.Info("m", "u", groupValuer{sentinel}) }},
		{"With key", func(l *slog.Logger) { l.With("token", sentinel).Info("m") }},
		{"With secret", func(l *slog.Logger) { l.With("x", s).Info("m") }},
		{"With group", func(l *slog.Logger) { l.With(slog.Group("g", "apikey", sentinel)).Info("m") }},
		{"WithGroup key", func(l *slog.Logger) { l.WithGroup("req").Info("m", "authorization", sentinel) }},
		{"WithGroup then With", func(l *slog.Logger) { l.WithGroup("req").With("cookie", sentinel).Info("m") }},
		{"sensitive WithGroup", func(l *slog.Logger) { l.WithGroup("oauth_token").Info("m", "value", sentinel) }},
		{"sensitive WithGroup With", func(l *slog.Logger) { l.WithGroup("secret").With("value", sentinel).Info("m") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			for format, l := range loggers(&buf) {
				buf.Reset()
				tt.log(l)
				out := buf.String()
				if strings.Contains(out, sentinel) {
					t.Errorf("%s output leaks the secret: %s", format, out)
				}
				if !strings.Contains(out, redacted) {
					t.Errorf("%s output has no %s marker: %s", format, redacted, out)
				}
			}
		})
	}
}

func TestNonSecretsUntouched(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, nil, true)).With("session", "s1")
	l.WithGroup("usage").Info("run finished",
		"agent", "main",
		"input_tokens", 1200,
		"tokens", uint64(7),
		"rounds", 3,
		slog.Group("model", "name", "gpt-x", "keyboard", "qwerty"),
	)
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, buf.String())
	}
	if strings.Contains(buf.String(), redacted) {
		t.Errorf("a non-secret was redacted: %s", buf.String())
	}
	usage, _ := got["usage"].(map[string]any)
	if got["session"] != "s1" || got["msg"] != "run finished" || usage["agent"] != "main" ||
		usage["input_tokens"] != float64(1200) || usage["tokens"] != float64(7) {
		t.Errorf("attributes changed: %s", buf.String())
	}
	model, _ := usage["model"].(map[string]any)
	if model["keyboard"] != "qwerty" || model["name"] != "gpt-x" {
		t.Errorf("group changed: %s", buf.String())
	}
}

func TestSecretFormatting(t *testing.T) {
	t.Parallel()
	s := Secret(sentinel)
	tests := []struct {
		name string
		out  string
	}{
		{"%v", fmt.Sprintf("%v", s)},
		{"%s", fmt.Sprintf("%s", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"%+v struct", fmt.Sprintf("%+v", struct{ Key Secret }{s})},
		{"%#v struct", fmt.Sprintf("%#v", struct{ Key Secret }{s})},
		{"%v pointer", fmt.Sprintf("%v", &s)},
		{"Sprint", fmt.Sprint(s)},
		{"String", s.String()},
	}
	for _, tt := range tests {
		if strings.Contains(tt.out, sentinel) || !strings.Contains(tt.out, redacted) {
			t.Errorf("%s = %q, want it redacted", tt.name, tt.out)
		}
	}
}

func TestSecretJSON(t *testing.T) {
	t.Parallel()
	s := Secret(sentinel)
	for name, v := range map[string]any{
		"value":   s,
		"pointer": &s,
		"struct":  struct{ APIKey Secret }{s},
		"slice":   []Secret{s},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", name, err)
		}
		if strings.Contains(string(b), sentinel) || !strings.Contains(string(b), redacted) {
			t.Errorf("%s: json = %s, want it redacted", name, b)
		}
	}
	if got := string(s); got != sentinel {
		t.Errorf("string(s) = %q, the value itself must stay usable", got)
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{"", slog.LevelInfo, false},
		{" warn ", slog.LevelWarn, false},
		{"warning", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"verbose", slog.LevelInfo, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("level filters", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		l := New(&buf, "warn", false)
		l.Info("hidden")
		l.Warn("shown", "password", sentinel)
		out := buf.String()
		if strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
			t.Errorf("level not applied: %s", out)
		}
		if strings.Contains(out, sentinel) {
			t.Errorf("New's logger leaks: %s", out)
		}
	})
	t.Run("bad level falls back to info with a warning", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		l := New(&buf, "loud", true)
		l.Debug("hidden")
		l.Info("shown")
		out := buf.String()
		if !strings.Contains(out, "invalid log level") || strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
			t.Errorf("unexpected output: %s", out)
		}
	})
}

func TestRedactIdempotentWrap(t *testing.T) {
	t.Parallel()
	h := NewHandler(&bytes.Buffer{}, nil, false)
	if Redact(h) != h {
		t.Error("Redact wrapped an already redacting handler again")
	}
}
