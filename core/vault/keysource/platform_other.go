//go:build !linux && !freebsd && !netbsd && !openbsd && !darwin

package keysource

import "runtime"

// Platform returns the operating system's secret store for the vault of
// stateDir: the Secret Service (GNOME Keyring, KWallet, KeePassXC) over the
// D-Bus session bus on Linux, FreeBSD, NetBSD and OpenBSD, the Keychain on macOS, and a Store
// that always reports ErrUnavailable elsewhere, as here.
func Platform(stateDir string) Store {
	_ = stateDir
	return unavailable{name: NameNone, reason: "no supported secret store on " + runtime.GOOS}
}
