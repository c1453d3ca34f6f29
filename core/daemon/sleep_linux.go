package daemon

import (
	"context"
	"log/slog"

	"github.com/godbus/dbus/v5"
)

// watchSleep calls lock when systemd-logind announces that the machine is
// about to sleep (org.freedesktop.login1.Manager.PrepareForSleep(true)).
// Without a system bus (containers, servers without logind) there is
// nothing to hear, and the idle timer remains the only automatic lock.
func watchSleep(ctx context.Context, log *slog.Logger, lock func()) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		log.Debug("no system bus: the vault will not lock on sleep", "err", err)
		return
	}
	defer conn.Close()
	if err := conn.AddMatchSignalContext(ctx,
		dbus.WithMatchInterface("org.freedesktop.login1.Manager"),
		dbus.WithMatchMember("PrepareForSleep"),
	); err != nil {
		log.Debug("cannot watch for sleep", "err", err)
		return
	}
	ch := make(chan *dbus.Signal, 4)
	conn.Signal(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case sig, ok := <-ch:
			if !ok {
				return
			}
			if sleeping(sig) {
				log.Info("system is going to sleep: locking the vault")
				lock()
			}
		}
	}
}

// sleeping reports whether sig is PrepareForSleep(true).
func sleeping(sig *dbus.Signal) bool {
	if sig == nil || sig.Name != "org.freedesktop.login1.Manager.PrepareForSleep" || len(sig.Body) != 1 {
		return false
	}
	b, ok := sig.Body[0].(bool)
	return ok && b
}
