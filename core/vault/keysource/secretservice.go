//go:build linux || freebsd || netbsd || openbsd

package keysource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// The parts of the freedesktop Secret Service API (version 0.2) used here.
const (
	ssName        = "org.freedesktop.secrets"
	ssPath        = dbus.ObjectPath("/org/freedesktop/secrets")
	ssService     = "org.freedesktop.Secret.Service"
	ssCollection  = "org.freedesktop.Secret.Collection"
	ssItem        = "org.freedesktop.Secret.Item"
	ssSession     = "org.freedesktop.Secret.Session"
	ssPrompt      = "org.freedesktop.Secret.Prompt"
	ssNoPrompt    = dbus.ObjectPath("/")
	ssContentType = "text/plain; charset=utf8"
)

// ssSecret is the Secret struct (oayays) of the Secret Service API.
type ssSecret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// unavailableErrors are D-Bus error names meaning the service is absent, not
// answering or refusing to let us in; anything else is reported as is.
var unavailableErrors = map[string]bool{
	"org.freedesktop.DBus.Error.ServiceUnknown":   true,
	"org.freedesktop.DBus.Error.NameHasNoOwner":   true,
	"org.freedesktop.DBus.Error.NoReply":          true,
	"org.freedesktop.DBus.Error.Timeout":          true,
	"org.freedesktop.DBus.Error.TimedOut":         true,
	"org.freedesktop.DBus.Error.Disconnected":     true,
	"org.freedesktop.DBus.Error.NoServer":         true,
	"org.freedesktop.DBus.Error.AccessDenied":     true,
	"org.freedesktop.DBus.Error.LimitsExceeded":   true,
	"org.freedesktop.DBus.Error.UnknownMethod":    true,
	"org.freedesktop.DBus.Error.UnknownObject":    true,
	"org.freedesktop.DBus.Error.UnknownInterface": true,
	"org.freedesktop.Secret.Error.IsLocked":       true,
}

// secretService is the Store backed by the Secret Service. It opens a private
// connection per operation, so it holds no resources between calls and a
// changed DBUS_SESSION_BUS_ADDRESS is honoured.
type secretService struct {
	account       string
	label         string
	lookupEnv     func(string) (string, bool)
	callTimeout   time.Duration
	promptTimeout time.Duration
}

func newSecretService(stateDir string, lookupEnv func(string) (string, bool)) Store {
	account, err := Account(stateDir)
	if err != nil {
		return failed{name: NameSecretService, err: fmt.Errorf("%s: %w", NameSecretService, err)}
	}
	return &secretService{
		account:       account,
		label:         label(stateDir),
		lookupEnv:     lookupEnv,
		callTimeout:   callTimeout,
		promptTimeout: promptTimeout,
	}
}

func (s *secretService) Name() string { return NameSecretService }

func (s *secretService) attributes() map[string]string {
	return map[string]string{"service": Service, "username": s.account}
}

// Get returns the stored passphrase, unlocking its collection if needed.
func (s *secretService) Get(ctx context.Context) ([]byte, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s get: %w", NameSecretService, err)
	}
	defer c.close()
	p, err := c.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s get: %w", NameSecretService, err)
	}
	return p, nil
}

// Set stores passphrase in the default collection, replacing the item for
// this state dir if there is one.
func (s *secretService) Set(ctx context.Context, passphrase []byte) error {
	if err := checkPassphrase(NameSecretService+" set", passphrase); err != nil {
		return err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s set: %w", NameSecretService, err)
	}
	defer c.close()
	if err := c.set(ctx, passphrase); err != nil {
		return fmt.Errorf("%s set: %w", NameSecretService, err)
	}
	return nil
}

// Delete removes every item for this state dir (there is normally one).
func (s *secretService) Delete(ctx context.Context) error {
	c, err := s.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s delete: %w", NameSecretService, err)
	}
	defer c.close()
	if err := c.delete(ctx); err != nil {
		return fmt.Errorf("%s delete: %w", NameSecretService, err)
	}
	return nil
}

// busAddress finds the session bus the way the reference client does, minus
// autolaunch: spawning dbus-launch from a vault unlock would leave a stray
// daemon behind and still find no Secret Service on it.
func (s *secretService) busAddress() (string, error) {
	if a, ok := s.lookupEnv("DBUS_SESSION_BUS_ADDRESS"); ok && a != "" && a != "autolaunch:" {
		return a, nil
	}
	dir, _ := s.lookupEnv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	p := filepath.Join(dir, "bus")
	if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return "unix:path=" + dbus.EscapeBusAddressValue(p), nil
	}
	return "", fmt.Errorf("%w: no session bus (DBUS_SESSION_BUS_ADDRESS unset, no %s)", ErrUnavailable, p)
}

// ssConn is one private connection to the session bus for one operation.
type ssConn struct {
	s    *secretService
	conn *dbus.Conn
}

// connect dials the session bus and authenticates, bounded by callTimeout: a
// socket that accepts but never speaks must not hang the caller.
func (s *secretService) connect(ctx context.Context) (*ssConn, error) {
	addr, err := s.busAddress()
	if err != nil {
		return nil, err
	}
	conn, err := dbus.Dial(addr, dbus.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect: %w", ctx.Err())
		}
		return nil, fmt.Errorf("connect: %w: %w", ErrUnavailable, err)
	}
	hctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	// Closing the connection is the only way to interrupt Auth and Hello.
	stop := context.AfterFunc(hctx, func() { _ = conn.Close() })
	err = conn.Auth(nil)
	if err == nil {
		err = conn.Hello()
	}
	if !stop() {
		_ = conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect: %w", ctx.Err())
		}
		return nil, fmt.Errorf("connect: %w: session bus did not answer within %s", ErrUnavailable, s.callTimeout)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("connect: %w: %w", ErrUnavailable, err)
	}
	return &ssConn{s: s, conn: conn}, nil
}

func (c *ssConn) close() { _ = c.conn.Close() }

// call invokes method on path, bounded by callTimeout, and stores the reply
// into out.
func (c *ssConn) call(ctx context.Context, path dbus.ObjectPath, method string, out []any, args ...any) error {
	cctx, cancel := context.WithTimeout(ctx, c.s.callTimeout)
	defer cancel()
	short := method[strings.LastIndexByte(method, '.')+1:]
	call := c.conn.Object(ssName, path).CallWithContext(cctx, method, 0, args...)
	if call.Err != nil {
		return c.classify(ctx, short, call.Err)
	}
	if err := call.Store(out...); err != nil {
		return fmt.Errorf("%s: malformed reply: %w", short, err)
	}
	return nil
}

// classify maps a failed call to ErrUnavailable, ErrNotFound or the caller's
// context error.
func (c *ssConn) classify(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	var de dbus.Error
	if errors.As(err, &de) {
		switch {
		case de.Name == "org.freedesktop.Secret.Error.NoSuchObject":
			return fmt.Errorf("%s: %w: %w", what, ErrNotFound, err)
		case unavailableErrors[de.Name], strings.HasPrefix(de.Name, "org.freedesktop.DBus.Error.Spawn."):
			return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: no answer within %s", what, ErrUnavailable, c.s.callTimeout)
	}
	// Anything else is the transport: a closed or broken connection.
	return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
}

func (c *ssConn) search(ctx context.Context) (unlocked, locked []dbus.ObjectPath, err error) {
	err = c.call(ctx, ssPath, ssService+".SearchItems", []any{&unlocked, &locked}, c.s.attributes())
	return unlocked, locked, err
}

func (c *ssConn) openSession(ctx context.Context) (dbus.ObjectPath, error) {
	var output dbus.Variant
	var session dbus.ObjectPath
	err := c.call(ctx, ssPath, ssService+".OpenSession", []any{&output, &session}, "plain", dbus.MakeVariant(""))
	return session, err
}

// closeSession is best effort: the service also closes a session when its
// client disconnects, which close does right after.
func (c *ssConn) closeSession(ctx context.Context, session dbus.ObjectPath) {
	_ = c.call(ctx, session, ssSession+".Close", nil)
}

func (c *ssConn) unlock(ctx context.Context, objects []dbus.ObjectPath) error {
	var unlocked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := c.call(ctx, ssPath, ssService+".Unlock", []any{&unlocked, &prompt}, objects); err != nil {
		return err
	}
	return c.prompt(ctx, prompt)
}

// prompt runs a Secret Service prompt (an unlock or confirmation dialog the
// service shows) and waits for its Completed signal, bounded by promptTimeout
// because a person has to answer it.
func (c *ssConn) prompt(ctx context.Context, prompt dbus.ObjectPath) error {
	if prompt == ssNoPrompt || prompt == "" {
		return nil
	}
	if !prompt.IsValid() {
		return fmt.Errorf("prompt: invalid object path %q", prompt)
	}
	pctx, cancel := context.WithTimeout(ctx, c.s.promptTimeout)
	defer cancel()

	signals := make(chan *dbus.Signal, 8)
	c.conn.Signal(signals)
	defer c.conn.RemoveSignal(signals)
	mctx, mcancel := context.WithTimeout(ctx, c.s.callTimeout)
	err := c.conn.AddMatchSignalContext(mctx,
		dbus.WithMatchObjectPath(prompt), dbus.WithMatchInterface(ssPrompt), dbus.WithMatchMember("Completed"))
	mcancel()
	if err != nil {
		return c.classify(ctx, "prompt", err)
	}
	if err := c.call(ctx, prompt, ssPrompt+".Prompt", nil, ""); err != nil {
		return err
	}
	for {
		select {
		case sig, ok := <-signals:
			if !ok {
				return fmt.Errorf("prompt: %w: connection closed", ErrUnavailable)
			}
			if sig.Path != prompt || sig.Name != ssPrompt+".Completed" {
				continue
			}
			var dismissed bool
			var result dbus.Variant
			if err := dbus.Store(sig.Body, &dismissed, &result); err != nil {
				return fmt.Errorf("prompt: malformed Completed signal: %w", err)
			}
			if dismissed {
				return fmt.Errorf("prompt: %w: dismissed", ErrUnavailable)
			}
			return nil
		case <-pctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("prompt: %w", ctx.Err())
			}
			// Take the dialog down rather than leave it for nobody.
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), c.s.callTimeout)
			_ = c.call(dctx, prompt, ssPrompt+".Dismiss", nil)
			dcancel()
			return fmt.Errorf("prompt: %w: not answered within %s", ErrUnavailable, c.s.promptTimeout)
		}
	}
}

func (c *ssConn) get(ctx context.Context) ([]byte, error) {
	unlocked, locked, err := c.search(ctx)
	if err != nil {
		return nil, err
	}
	var item dbus.ObjectPath
	switch {
	case len(unlocked) > 0:
		item = unlocked[0]
	case len(locked) > 0:
		item = locked[0]
		if err := c.unlock(ctx, locked[:1]); err != nil {
			return nil, err
		}
	default:
		return nil, ErrNotFound
	}
	if !item.IsValid() {
		return nil, fmt.Errorf("search: invalid item path %q", item)
	}
	session, err := c.openSession(ctx)
	if err != nil {
		return nil, err
	}
	defer c.closeSession(ctx, session)
	var secret ssSecret
	if err := c.call(ctx, item, ssItem+".GetSecret", []any{&secret}, session); err != nil {
		return nil, err
	}
	if len(secret.Value) == 0 {
		return nil, fmt.Errorf("item holds an empty secret: %w", ErrNotFound)
	}
	if err := checkPassphrase("item", secret.Value); err != nil {
		wipe(secret.Value)
		return nil, err
	}
	return secret.Value, nil
}

func (c *ssConn) set(ctx context.Context, passphrase []byte) error {
	var collection dbus.ObjectPath
	if err := c.call(ctx, ssPath, ssService+".ReadAlias", []any{&collection}, "default"); err != nil {
		return err
	}
	if collection == ssNoPrompt || !collection.IsValid() {
		return fmt.Errorf("%w: secret service has no default collection", ErrUnavailable)
	}
	if err := c.unlock(ctx, []dbus.ObjectPath{collection}); err != nil {
		return err
	}
	session, err := c.openSession(ctx)
	if err != nil {
		return err
	}
	defer c.closeSession(ctx, session)
	props := map[string]dbus.Variant{
		ssItem + ".Label":      dbus.MakeVariant(c.s.label),
		ssItem + ".Attributes": dbus.MakeVariant(c.s.attributes()),
	}
	secret := ssSecret{Session: session, Parameters: []byte{}, Value: passphrase, ContentType: ssContentType}
	var item, prompt dbus.ObjectPath
	if err := c.call(ctx, collection, ssCollection+".CreateItem", []any{&item, &prompt}, props, secret, true); err != nil {
		return err
	}
	return c.prompt(ctx, prompt)
}

func (c *ssConn) delete(ctx context.Context) error {
	unlocked, locked, err := c.search(ctx)
	if err != nil {
		return err
	}
	if len(unlocked)+len(locked) == 0 {
		return ErrNotFound
	}
	if len(locked) > 0 {
		if err := c.unlock(ctx, locked); err != nil {
			return err
		}
	}
	for _, item := range append(unlocked, locked...) {
		if !item.IsValid() {
			return fmt.Errorf("search: invalid item path %q", item)
		}
		var prompt dbus.ObjectPath
		if err := c.call(ctx, item, ssItem+".Delete", []any{&prompt}); err != nil {
			return err
		}
		if err := c.prompt(ctx, prompt); err != nil {
			return err
		}
	}
	return nil
}
