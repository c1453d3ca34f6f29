//go:build linux || freebsd || netbsd || openbsd

package keysource

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// busConfig is a session bus with no service activation, so a test that
// expects "no Secret Service" never starts a real gnome-keyring.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus runs a private dbus-daemon for one test and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon not found: install the Debian package dbus-daemon to run the Secret Service tests")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, filepath.Join(dir, "bus"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// dbus-daemon warns about fd limits when not run by the system; keep its
	// output for failures only.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("dbus-daemon stderr:\n%s", stderr.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return addr
	case <-time.After(20 * time.Second):
		t.Fatal("dbus-daemon did not print its address")
	}
	return ""
}

// fakeSS is a minimal org.freedesktop.secrets: one collection, aliased as
// default, plain sessions, prompts that answer at once.
type fakeSS struct {
	conn *dbus.Conn

	mu       sync.Mutex
	items    map[dbus.ObjectPath]*fakeItem
	sessions map[dbus.ObjectPath]bool
	prompts  map[dbus.ObjectPath]func(dismissed bool) dbus.Variant
	next     int
	locked   bool          // the collection needs an unlock prompt
	dismiss  bool          // prompts complete as dismissed
	hang     chan struct{} // when set, every call blocks until it is closed
}

type fakeItem struct {
	label       string
	attrs       map[string]string
	secret      []byte
	contentType string
}

const (
	fakeCollection = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")
	fakeSessions   = dbus.ObjectPath("/org/freedesktop/secrets/session")
	fakePrompts    = dbus.ObjectPath("/org/freedesktop/secrets/prompt")
)

var (
	errNoSession = &dbus.Error{Name: "org.freedesktop.Secret.Error.NoSession", Body: []any{"no such session"}}
	errIsLocked  = &dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked", Body: []any{"locked"}}
	errNoObject  = &dbus.Error{Name: "org.freedesktop.Secret.Error.NoSuchObject", Body: []any{"no such item"}}
)

// startFake connects to addr and serves the Secret Service there.
func startFake(t *testing.T, addr string, setup func(*fakeSS)) *fakeSS {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	f := &fakeSS{
		conn:     conn,
		items:    map[dbus.ObjectPath]*fakeItem{},
		sessions: map[dbus.ObjectPath]bool{},
		prompts:  map[dbus.ObjectPath]func(bool) dbus.Variant{},
	}
	if setup != nil {
		setup(f)
	}
	if f.hang != nil {
		t.Cleanup(func() { close(f.hang) })
	}
	exports := []struct {
		v     any
		path  dbus.ObjectPath
		iface string
		tree  bool
	}{
		{fakeService{f}, ssPath, ssService, false},
		{fakeColl{f}, fakeCollection, ssCollection, false},
		{fakeItemObj{f}, fakeCollection, ssItem, true},
		{fakeSession{f}, fakeSessions, ssSession, true},
		{fakePrompt{f}, fakePrompts, ssPrompt, true},
	}
	for _, e := range exports {
		export := conn.Export
		if e.tree {
			export = conn.ExportSubtree
		}
		if err := export(e.v, e.path, e.iface); err != nil {
			t.Fatalf("export %s: %v", e.iface, err)
		}
	}
	reply, err := conn.RequestName(ssName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request name: %v %v", reply, err)
	}
	return f
}

func (f *fakeSS) wait() {
	if f.hang != nil {
		<-f.hang
	}
}

// snapshot returns a copy of the stored items, keyed by path.
func (f *fakeSS) snapshot() map[dbus.ObjectPath]fakeItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[dbus.ObjectPath]fakeItem{}
	for p, it := range f.items {
		out[p] = fakeItem{label: it.label, attrs: maps.Clone(it.attrs), secret: append([]byte(nil), it.secret...), contentType: it.contentType}
	}
	return out
}

// newPrompt registers a prompt that runs done when the client calls Prompt.
// Caller holds f.mu.
func (f *fakeSS) newPrompt(done func(dismissed bool) dbus.Variant) dbus.ObjectPath {
	f.next++
	p := dbus.ObjectPath(fmt.Sprintf("%s/p%d", fakePrompts, f.next))
	f.prompts[p] = done
	return p
}

func pathOf(msg dbus.Message) dbus.ObjectPath {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	return p
}

type fakeService struct{ f *fakeSS }

func (s fakeService) OpenSession(algorithm string, _ dbus.Variant) (dbus.Variant, dbus.ObjectPath, *dbus.Error) {
	s.f.wait()
	if algorithm != "plain" {
		return dbus.MakeVariant(""), "/", &dbus.Error{Name: "org.freedesktop.DBus.Error.NotSupported", Body: []any{algorithm}}
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.next++
	p := dbus.ObjectPath(fmt.Sprintf("%s/s%d", fakeSessions, s.f.next))
	s.f.sessions[p] = true
	return dbus.MakeVariant(""), p, nil
}

func (s fakeService) SearchItems(attrs map[string]string) ([]dbus.ObjectPath, []dbus.ObjectPath, *dbus.Error) {
	s.f.wait()
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	var match []dbus.ObjectPath
	for p, it := range s.f.items {
		ok := true
		for k, v := range attrs {
			if it.attrs[k] != v {
				ok = false
			}
		}
		if ok {
			match = append(match, p)
		}
	}
	if s.f.locked {
		return []dbus.ObjectPath{}, match, nil
	}
	return match, []dbus.ObjectPath{}, nil
}

func (s fakeService) Unlock(objects []dbus.ObjectPath) ([]dbus.ObjectPath, dbus.ObjectPath, *dbus.Error) {
	s.f.wait()
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if !s.f.locked {
		return objects, "/", nil
	}
	p := s.f.newPrompt(func(dismissed bool) dbus.Variant {
		if dismissed {
			return dbus.MakeVariant("")
		}
		s.f.locked = false
		return dbus.MakeVariant(objects)
	})
	return []dbus.ObjectPath{}, p, nil
}

func (s fakeService) ReadAlias(name string) (dbus.ObjectPath, *dbus.Error) {
	s.f.wait()
	if name == "default" {
		return fakeCollection, nil
	}
	return "/", nil
}

type fakeColl struct{ f *fakeSS }

func (c fakeColl) CreateItem(props map[string]dbus.Variant, secret ssSecret, replace bool) (dbus.ObjectPath, dbus.ObjectPath, *dbus.Error) {
	c.f.wait()
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.f.locked {
		return "/", "/", errIsLocked
	}
	if !c.f.sessions[secret.Session] {
		return "/", "/", errNoSession
	}
	label, _ := props[ssItem+".Label"].Value().(string)
	attrs, ok := props[ssItem+".Attributes"].Value().(map[string]string)
	if !ok {
		return "/", "/", &dbus.Error{Name: "org.freedesktop.DBus.Error.InvalidArgs", Body: []any{"attributes"}}
	}
	it := &fakeItem{label: label, attrs: attrs, secret: append([]byte(nil), secret.Value...), contentType: secret.ContentType}
	if replace {
		for p, old := range c.f.items {
			if maps.Equal(old.attrs, attrs) {
				c.f.items[p] = it
				return p, "/", nil
			}
		}
	}
	c.f.next++
	p := dbus.ObjectPath(fmt.Sprintf("%s/i%d", fakeCollection, c.f.next))
	c.f.items[p] = it
	return p, "/", nil
}

type fakeItemObj struct{ f *fakeSS }

func (i fakeItemObj) GetSecret(msg dbus.Message, session dbus.ObjectPath) (ssSecret, *dbus.Error) {
	i.f.wait()
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	it, ok := i.f.items[pathOf(msg)]
	switch {
	case !ok:
		return ssSecret{}, errNoObject
	case i.f.locked:
		return ssSecret{}, errIsLocked
	case !i.f.sessions[session]:
		return ssSecret{}, errNoSession
	}
	return ssSecret{Session: session, Parameters: []byte{}, Value: append([]byte(nil), it.secret...), ContentType: it.contentType}, nil
}

func (i fakeItemObj) Delete(msg dbus.Message) (dbus.ObjectPath, *dbus.Error) {
	i.f.wait()
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	p := pathOf(msg)
	if _, ok := i.f.items[p]; !ok {
		return "/", errNoObject
	}
	if i.f.locked {
		return "/", errIsLocked
	}
	delete(i.f.items, p)
	return "/", nil
}

type fakeSession struct{ f *fakeSS }

func (s fakeSession) Close(msg dbus.Message) *dbus.Error {
	s.f.wait()
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	delete(s.f.sessions, pathOf(msg))
	return nil
}

type fakePrompt struct{ f *fakeSS }

// Prompt answers at once, then completes the prompt from another goroutine,
// as a real service does after its dialog closes.
func (p fakePrompt) Prompt(msg dbus.Message, _ string) *dbus.Error {
	p.f.wait()
	path := pathOf(msg)
	p.f.mu.Lock()
	done, ok := p.f.prompts[path]
	delete(p.f.prompts, path)
	dismiss := p.f.dismiss
	p.f.mu.Unlock()
	if !ok {
		return errNoObject
	}
	go func() {
		p.f.mu.Lock()
		result := done(dismiss)
		p.f.mu.Unlock()
		_ = p.f.conn.Emit(path, ssPrompt+".Completed", dismiss, result)
	}()
	return nil
}

func (p fakePrompt) Dismiss(msg dbus.Message) *dbus.Error {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	delete(p.f.prompts, pathOf(msg))
	return nil
}
