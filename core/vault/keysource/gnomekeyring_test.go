//go:build linux || freebsd || netbsd || openbsd

package keysource

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// startGnomeKeyring runs a real gnome-keyring-daemon (secrets component only)
// on the private bus addr, with its login keyring in a temporary home created
// and unlocked with a throwaway password.
func startGnomeKeyring(t *testing.T, addr string) {
	t.Helper()
	bin, err := exec.LookPath("gnome-keyring-daemon")
	if err != nil {
		t.Skip("gnome-keyring-daemon not found: install the Debian package gnome-keyring to test against a real Secret Service")
	}
	home := t.TempDir()
	runtime := filepath.Join(home, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--foreground", "--unlock", "--components=secrets")
	cmd.Env = []string{
		"DBUS_SESSION_BUS_ADDRESS=" + addr,
		"HOME=" + home,
		"XDG_RUNTIME_DIR=" + runtime,
		"XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"PATH=" + os.Getenv("PATH"),
	}
	cmd.Stdin = strings.NewReader("keysource-test")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(testTimeout)
	for {
		var has bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, ssName).Store(&has)
		if err == nil && has {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gnome-keyring-daemon did not take %s: %v", ssName, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSecretServiceGnomeKeyring checks the client against the real service
// the fake imitates, and that the item is where secret-tool (libsecret)
// looks for it.
func TestSecretServiceGnomeKeyring(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startBus(t)
	startGnomeKeyring(t, addr)
	dir := t.TempDir()
	st := newSecretService(dir, envOf(map[string]string{"DBUS_SESSION_BUS_ADDRESS": addr}))

	if _, err := st.Get(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: err = %v, want ErrNotFound", err)
	}
	if err := st.Set(ctx, []byte("old")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := st.Set(ctx, []byte("real keyring passphrase")); err != nil {
		t.Fatalf("Set again: %v", err)
	}
	got, err := st.Get(ctx)
	if err != nil || string(got) != "real keyring passphrase" {
		t.Fatalf("Get = %q, %v", got, err)
	}

	if tool, err := exec.LookPath("secret-tool"); err == nil {
		account, _ := Account(dir)
		cmd := exec.CommandContext(ctx, tool, "lookup", "service", Service, "username", account)
		cmd.Env = []string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil || string(out) != "real keyring passphrase" {
			t.Errorf("secret-tool lookup = %q, %v", out, err)
		}
	} else {
		t.Log("secret-tool not found (Debian package libsecret-tools): interop check skipped")
	}

	if err := st.Delete(ctx); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := st.Get(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}

	// A locked keyring needs an unlock prompt; with no prompter (no display)
	// gnome-keyring dismisses it, which must read as "unavailable".
	if err := st.Set(ctx, []byte("behind a lock")); err != nil {
		t.Fatal(err)
	}
	lockDefaultCollection(t, addr)
	if _, err := st.Get(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get from a locked keyring without a prompter: err = %v, want ErrUnavailable", err)
	}
}

func lockDefaultCollection(t *testing.T, addr string) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	svc := conn.Object(ssName, ssPath)
	var coll, prompt dbus.ObjectPath
	if err := svc.Call(ssService+".ReadAlias", 0, "default").Store(&coll); err != nil {
		t.Fatal(err)
	}
	var locked []dbus.ObjectPath
	if err := svc.Call(ssService+".Lock", 0, []dbus.ObjectPath{coll}).Store(&locked, &prompt); err != nil {
		t.Fatal(err)
	}
	if len(locked) != 1 || prompt != ssNoPrompt {
		t.Fatalf("Lock(%s) = %v, prompt %s", coll, locked, prompt)
	}
}
