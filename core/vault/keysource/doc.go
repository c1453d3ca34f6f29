// Package keysource owns the places a vault passphrase can come from without
// the user typing it: the macOS Keychain, the freedesktop Secret Service on
// Linux, FreeBSD, NetBSD and OpenBSD, and the GENOS_VAULT_PASSPHRASE
// environment variable for servers. It only fetches and stores the
// passphrase; deciding the order in which sources are tried and unlocking the
// vault belong to the caller.
//
// # Items
//
// One item is stored per state directory, because a user may run two state
// directories with two vaults: service [Service] and account [Account] of
// the absolute state dir ("vault:" + 16 hex digits of its SHA-256). On the
// Secret Service the item carries the attributes "service" and "username"
// (the names github.com/zalando/go-keyring uses, so `secret-tool lookup
// service io.genos.app username vault:...` finds it) and is created in the
// default collection. The session bus is DBUS_SESSION_BUS_ADDRESS, else
// $XDG_RUNTIME_DIR/bus; it is never autolaunched.
//
// # Errors
//
// Every source distinguishes "nothing stored here" ([ErrNotFound]) from "this
// source cannot be used here right now" ([ErrUnavailable]: no session bus, no
// Secret Service, a service that does not answer, a keyring the user refused
// to unlock, not macOS). Both mean "fall back to the next source". A cancelled
// caller context is reported as the context's error.
//
// # Bounds
//
// Secret Service calls are each bounded by a short timeout (3 s), because a
// bus whose secrets service never answers would otherwise hang the unlock
// path. Waiting for an unlock prompt the user must answer is bounded by a
// longer one (2 min). On macOS the Keychain calls block inside Security.framework
// (or /usr/bin/security) and may show a system dialog; they run in a
// goroutine that is abandoned, not stopped, when the bound or the caller's
// context expires.
//
// # Secrets in memory
//
// Get returns a fresh slice that the caller owns and should zero after use.
// Copies this package cannot reach may remain: the D-Bus message buffers, the
// process environment (GENOS_VAULT_PASSPHRASE), the string go-keyring returns
// on macOS without cgo. The Secret Service session uses the "plain" algorithm,
// which sends the secret unencrypted over the user's private session bus
// socket, as go-keyring and most clients do. The passphrase is never logged
// and never part of an error.
//
// # Known limits
//
// Touch ID: the Keychain item is a generic password, accessible when the
// device is unlocked, this device only, never synchronised to iCloud. It is
// not gated by biometry: github.com/keybase/go-keychain v0.0.1 has no
// SecAccessControl API, so a Touch ID prompt (ARCHITECTURE section 4) needs
// either a newer binding or a small cgo leaf of our own. Without cgo on macOS
// the item is written through /usr/bin/security, which cannot set the
// accessibility class, so it gets the login keychain's defaults.
//
// Windows and other systems have no store yet: [Platform] returns one that
// always reports [ErrUnavailable].
package keysource
