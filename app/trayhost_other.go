//go:build !linux

package app

// trayHostAvailable reports whether a tray is there to reopen windows from:
// the macOS menu bar and the Windows notification area always are.
func trayHostAvailable() bool { return true }
