// Package logging builds Genos's slog loggers. Its handler redacts secrets
// before anything is formatted: attributes whose key names a credential, and
// values of type Secret, wherever they appear (groups, With, WithGroup).
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// sensitiveKeys are attribute keys (lower-cased) whose values are always
// redacted.
var sensitiveKeys = map[string]bool{
	"token": true, "apikey": true, "api_key": true, "password": true, "passphrase": true,
	"secret": true, "authorization": true, "key": true, "cookie": true,
}

// sensitiveParts are substrings that make any key sensitive (access_token,
// client_secret, db_password).
var sensitiveParts = []string{"token", "secret", "password"}

// isSensitiveKey reports whether values under key must be redacted.
func isSensitiveKey(key string) bool {
	k := strings.ToLower(key)
	if sensitiveKeys[k] {
		return true
	}
	for _, p := range sensitiveParts {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

// isTokenCount reports whether a is a count of model tokens (input_tokens,
// max_tokens): the "token" substring would otherwise hide usage numbers that
// are never secret. Only integers qualify; a string under such a key is
// still redacted.
func isTokenCount(a slog.Attr) bool {
	k := a.Value.Kind()
	return (k == slog.KindInt64 || k == slog.KindUint64) &&
		strings.HasSuffix(strings.ToLower(a.Key), "tokens") && !sensitiveKeys[strings.ToLower(a.Key)]
}

// redactedValue replaces a secret value.
var redactedValue = slog.StringValue(redacted)

// redactAttr returns a with every secret value replaced.
func redactAttr(a slog.Attr) slog.Attr {
	if isSensitiveKey(a.Key) && !isTokenCount(a) {
		return slog.Attr{Key: a.Key, Value: redactedValue}
	}
	v := a.Value
	if isSecret(v) {
		return slog.Attr{Key: a.Key, Value: redactedValue}
	}
	// A LogValuer may expand into a group holding sensitive keys, so resolve
	// it here rather than letting the inner handler do it unchecked.
	if v.Kind() == slog.KindLogValuer {
		v = v.Resolve()
		if isSecret(v) {
			return slog.Attr{Key: a.Key, Value: redactedValue}
		}
	}
	if v.Kind() == slog.KindGroup {
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(redactAttrs(v.Group())...)}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactAttrs redacts each attribute into a new slice.
func redactAttrs(as []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = redactAttr(a)
	}
	return out
}

// isSecret reports whether v holds a Secret (or a pointer to one).
func isSecret(v slog.Value) bool {
	if v.Kind() != slog.KindAny && v.Kind() != slog.KindLogValuer {
		return false
	}
	switch v.Any().(type) {
	case Secret, *Secret:
		return true
	}
	return false
}

// redactHandler wraps another handler and redacts every attribute before it
// reaches it.
type redactHandler struct {
	inner slog.Handler
	// all is set under a group whose name is itself sensitive
	// (WithGroup("oauth_token")): everything logged inside it is a part of
	// that secret and is redacted.
	all bool
}

// Redact wraps h so that secrets are removed before h sees a record. Use it to
// add redaction to a handler NewHandler does not build (a file sink, a test
// recorder).
func Redact(h slog.Handler) slog.Handler {
	if r, ok := h.(*redactHandler); ok {
		return r
	}
	return &redactHandler{inner: h}
}

// Enabled implements slog.Handler.
func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(h.redact(a))
		return true
	})
	return h.inner.Handle(ctx, nr)
}

// WithAttrs implements slog.Handler.
func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.redact(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(out), all: h.all}
}

// WithGroup implements slog.Handler.
func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), all: h.all || (name != "" && isSensitiveKey(name))}
}

func (h *redactHandler) redact(a slog.Attr) slog.Attr {
	if h.all {
		return slog.Attr{Key: a.Key, Value: redactedValue}
	}
	return redactAttr(a)
}

// NewHandler returns a handler writing to w in slog's text format, or JSON if
// json is true, with secrets redacted (see Redact for what counts). opts may
// be nil.
func NewHandler(w io.Writer, opts *slog.HandlerOptions, json bool) slog.Handler {
	if json {
		return Redact(slog.NewJSONHandler(w, opts))
	}
	return Redact(slog.NewTextHandler(w, opts))
}

// New returns a redacting logger writing to w at level (see ParseLevel). An
// invalid level falls back to info and says so in the log, since a logger
// is needed even to report a bad config.
func New(w io.Writer, level string, json bool) *slog.Logger {
	l, err := ParseLevel(level)
	lg := slog.New(NewHandler(w, &slog.HandlerOptions{Level: l}, json))
	if err != nil {
		lg.Warn("invalid log level, using info", "level", level, "err", err)
	}
	return lg
}

// ParseLevel parses debug, info, warn (or warning) and error, ignoring case
// and surrounding spaces. Empty means info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}
