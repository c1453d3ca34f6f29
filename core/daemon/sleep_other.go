//go:build !linux

package daemon

import (
	"context"
	"log/slog"
)

// watchSleep has no sleep notification to listen to on this platform yet
// (macOS needs IOKit's IORegisterForSystemPower through cgo); the idle timer
// remains the automatic lock.
func watchSleep(ctx context.Context, log *slog.Logger, lock func()) {
	log.Debug("sleep detection is not available on this platform")
}
