package app

import (
	"github.com/godbus/dbus/v5"
)

// trayHostAvailable reports whether a StatusNotifier host is there to show
// the tray icon. Stock GNOME has none: there the chat window is the only way
// in, so closing it quits.
func trayHostAvailable() bool {
	conn, err := dbus.SessionBus()
	if err != nil {
		return false
	}
	var owned bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&owned)
	return err == nil && owned
}
