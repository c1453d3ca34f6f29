//go:build linux || freebsd || netbsd || openbsd

package keysource

import "os"

// Platform returns the operating system's secret store for the vault of
// stateDir: the Secret Service (GNOME Keyring, KWallet, KeePassXC) over the
// D-Bus session bus on Linux, FreeBSD, NetBSD and OpenBSD, the Keychain on macOS, and a Store
// that always reports ErrUnavailable elsewhere. The store holds no connection
// between calls; an unusable stateDir is reported by every call.
func Platform(stateDir string) Store {
	return newSecretService(stateDir, os.LookupEnv)
}
