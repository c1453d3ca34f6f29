package whatsapp

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// slogWA adapts slog to whatsmeow's printf-style logger. whatsmeow formats
// message contents and JIDs into its debug lines, so everything it logs
// below warning goes to slog's debug level, where bodies are allowed.
type slogWA struct {
	log    *slog.Logger
	module string
}

func newWALog(log *slog.Logger, module string) waLog.Logger {
	return &slogWA{log: log, module: module}
}

// emit logs one line. whatsmeow's logger carries no context, so there is
// none to pass on.
func (l *slogWA) emit(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, "whatsmeow", "module", l.module, "detail", fmt.Sprintf(format, args...))
}

func (l *slogWA) Errorf(format string, args ...any) { l.emit(slog.LevelWarn, format, args) }
func (l *slogWA) Warnf(format string, args ...any)  { l.emit(slog.LevelWarn, format, args) }
func (l *slogWA) Infof(format string, args ...any)  { l.emit(slog.LevelDebug, format, args) }
func (l *slogWA) Debugf(format string, args ...any) { l.emit(slog.LevelDebug-4, format, args) }
func (l *slogWA) Sub(module string) waLog.Logger {
	return &slogWA{log: l.log, module: l.module + "/" + module}
}
