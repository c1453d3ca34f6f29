//go:build linux || freebsd || netbsd || openbsd

package keysource

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testTimeout guards tests against a hang in the code under test; it is not
// a timing assertion.
const testTimeout = 30 * time.Second

// envOf returns a lookup function over a fixed environment.
func envOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

// newTestStore returns the Secret Service store for stateDir on bus addr,
// with short bounds so the hung-service tests finish quickly.
func newTestStore(t *testing.T, stateDir, addr string) *secretService {
	t.Helper()
	st := newSecretService(stateDir, envOf(map[string]string{"DBUS_SESSION_BUS_ADDRESS": addr}))
	s, ok := st.(*secretService)
	if !ok {
		t.Fatalf("newSecretService(%q) = %T", stateDir, st)
	}
	s.callTimeout = 300 * time.Millisecond
	s.promptTimeout = 2 * time.Second
	return s
}

// within runs f and fails the test if it does not return in testTimeout.
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(testTimeout):
		t.Fatal("call hung")
		return nil
	}
}

func TestSecretServiceRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startBus(t)
	fake := startFake(t, addr, nil)
	dir := filepath.Join(t.TempDir(), "state")
	s := newTestStore(t, dir, addr)

	if s.Name() != NameSecretService {
		t.Errorf("Name() = %q, want %q", s.Name(), NameSecretService)
	}
	if _, err := s.Get(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: err = %v, want ErrNotFound", err)
	}
	if err := s.Set(ctx, []byte("first passphrase")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Set(ctx, []byte("second passphrase")); err != nil {
		t.Fatalf("Set again: %v", err)
	}
	got, err := s.Get(ctx)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(got) != "second passphrase" {
		t.Fatalf("Get = %q, want the replaced passphrase", got)
	}
	// The caller owns the slice: zeroing it must not touch the stored item.
	clear(got)
	again, err := s.Get(ctx)
	if err != nil || string(again) != "second passphrase" {
		t.Fatalf("Get after zeroing = %q, %v", again, err)
	}

	account, err := Account(dir)
	if err != nil {
		t.Fatal(err)
	}
	items := fake.snapshot()
	if len(items) != 1 {
		t.Fatalf("fake holds %d items, want 1 (Set must replace)", len(items))
	}
	for _, it := range items {
		want := map[string]string{"service": "io.genos.app", "username": account}
		if diff := cmp.Diff(want, it.attrs); diff != "" {
			t.Errorf("item attributes (-want +got):\n%s", diff)
		}
		if !strings.Contains(it.label, dir) {
			t.Errorf("item label %q does not name the state dir %q", it.label, dir)
		}
		if it.contentType != ssContentType {
			t.Errorf("content type = %q, want %q", it.contentType, ssContentType)
		}
	}

	if err := s.Delete(ctx); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete twice: err = %v, want ErrNotFound", err)
	}
}

func TestSecretServiceStateDirsDoNotCollide(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startBus(t)
	fake := startFake(t, addr, nil)
	root := t.TempDir()
	a := newTestStore(t, filepath.Join(root, "a"), addr)
	b := newTestStore(t, filepath.Join(root, "b"), addr)

	if err := a.Set(ctx, []byte("pass-a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, []byte("pass-b")); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.snapshot()); n != 2 {
		t.Fatalf("fake holds %d items, want 2", n)
	}
	for _, tc := range []struct {
		s    *secretService
		want string
	}{{a, "pass-a"}, {b, "pass-b"}} {
		got, err := tc.s.Get(ctx)
		if err != nil || string(got) != tc.want {
			t.Errorf("Get(%s) = %q, %v; want %q", tc.s.account, got, err, tc.want)
		}
	}
	if err := a.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(a) after Delete(a): err = %v, want ErrNotFound", err)
	}
	if got, err := b.Get(ctx); err != nil || string(got) != "pass-b" {
		t.Errorf("Get(b) after Delete(a) = %q, %v", got, err)
	}
}

func TestSecretServiceLockedCollection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dismiss bool
		wantErr error
	}{
		{name: "prompt accepted", dismiss: false},
		{name: "prompt dismissed", dismiss: true, wantErr: ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			addr := startBus(t)
			fake := startFake(t, addr, nil)
			s := newTestStore(t, t.TempDir(), addr)
			if err := s.Set(ctx, []byte("locked away")); err != nil {
				t.Fatal(err)
			}
			fake.mu.Lock()
			fake.locked, fake.dismiss = true, tc.dismiss
			fake.mu.Unlock()

			got, err := s.Get(ctx)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Get: err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != "locked away" {
				t.Fatalf("Get = %q, %v", got, err)
			}
		})
	}
}

func TestSecretServiceUnavailable(t *testing.T) {
	t.Parallel()
	emptyRuntime := t.TempDir()
	tests := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{
			name: "socket does not exist",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=" + filepath.Join(t.TempDir(), "nobus")}
			},
		},
		{
			name: "no address and no runtime bus",
			env: func(*testing.T) map[string]string {
				return map[string]string{"XDG_RUNTIME_DIR": emptyRuntime}
			},
		},
		{
			name: "autolaunch is not followed",
			env: func(*testing.T) map[string]string {
				return map[string]string{"DBUS_SESSION_BUS_ADDRESS": "autolaunch:", "XDG_RUNTIME_DIR": emptyRuntime}
			},
		},
		{
			name: "bus without a secret service",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DBUS_SESSION_BUS_ADDRESS": startBus(t)}
			},
		},
		{
			name: "socket that never speaks",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=" + silentSocket(t)}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := newSecretService(t.TempDir(), envOf(tc.env(t)))
			s := st.(*secretService)
			s.callTimeout = 300 * time.Millisecond
			ops := map[string]func() error{
				"get":    func() error { _, err := s.Get(ctx); return err },
				"set":    func() error { return s.Set(ctx, []byte("x")) },
				"delete": func() error { return s.Delete(ctx) },
			}
			for op, f := range ops {
				if err := within(t, f); !errors.Is(err, ErrUnavailable) {
					t.Errorf("%s: err = %v, want ErrUnavailable", op, err)
				}
			}
		})
	}
}

// silentSocket listens on a unix socket that accepts connections and never
// answers, like a wedged bus.
func silentSocket(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "silent")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return path
}

func TestSecretServiceHungService(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	addr := startBus(t)
	startFake(t, addr, func(f *fakeSS) { f.hang = make(chan struct{}) })
	s := newTestStore(t, t.TempDir(), addr)
	ops := map[string]func() error{
		"get":    func() error { _, err := s.Get(ctx); return err },
		"set":    func() error { return s.Set(ctx, []byte("x")) },
		"delete": func() error { return s.Delete(ctx) },
	}
	for op, f := range ops {
		if err := within(t, f); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s on a hung service: err = %v, want ErrUnavailable", op, err)
		}
	}
}

func TestSecretServiceCancelledContext(t *testing.T) {
	t.Parallel()
	addr := startBus(t)
	startFake(t, addr, nil)
	s := newTestStore(t, t.TempDir(), addr)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Get(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get with cancelled context: err = %v, want context.Canceled only", err)
	}
}

func TestSecretServiceSetRejectsBadPassphrase(t *testing.T) {
	t.Parallel()
	addr := startBus(t)
	fake := startFake(t, addr, nil)
	s := newTestStore(t, t.TempDir(), addr)
	tests := []struct {
		name string
		p    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"too long", make([]byte, MaxPassphraseLen+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Set(t.Context(), tc.p); err == nil {
				t.Fatal("Set accepted an invalid passphrase")
			}
		})
	}
	if n := len(fake.snapshot()); n != 0 {
		t.Fatalf("fake holds %d items after rejected Sets", n)
	}
}

// TestPlatformUsesSessionBus goes through the exported constructor and the
// real environment, as the daemon does.
func TestPlatformUsesSessionBus(t *testing.T) {
	addr := startBus(t)
	startFake(t, addr, nil)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	ctx := t.Context()
	st := Platform(t.TempDir())
	if st.Name() != NameSecretService {
		t.Fatalf("Platform().Name() = %q", st.Name())
	}
	if err := st.Set(ctx, []byte("via platform")); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx)
	if err != nil || string(got) != "via platform" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}

	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "gone"))
	if _, err := st.Get(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get with a dead bus address: err = %v, want ErrUnavailable", err)
	}
}

func TestPlatformBadStateDir(t *testing.T) {
	t.Parallel()
	st := Platform("")
	if _, err := st.Get(t.Context()); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get for an empty state dir: err = %v, want a plain error", err)
	}
}
