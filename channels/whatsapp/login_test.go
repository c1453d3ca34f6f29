package whatsapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mau.fi/libsignal/ecc"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"

	"github.com/genos-project/genos/core/chat"
)

// The account the fake phone links.
var (
	phoneJID = types.JID{User: "15551234567", Device: 12, Server: types.DefaultUserServer}
	phoneLID = types.JID{User: "987654321", Device: 12, Server: types.HiddenUserServer}
)

// qrRefs are the pairing refs the fake server hands out; each QR code
// starts with one.
var qrRefs = []string{"2@ref-one", "2@ref-two"}

// sendPairDevice asks the client to show QR codes, as WhatsApp's server
// does right after the handshake of an unlinked device.
func sendPairDevice(c *fakeConn) error {
	refs := make([]waBinary.Node, len(qrRefs))
	for i, r := range qrRefs {
		refs[i] = waBinary.Node{Tag: "ref", Content: []byte(r)}
	}
	return c.Send(waBinary.Node{
		Tag:     "iq",
		Attrs:   waBinary.Attrs{"from": types.ServerJID, "id": "pair-1", "type": "set", "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-device", Content: refs}},
	})
}

// pairSuccess is what the server sends once the phone scanned code: the
// account-signed device identity, MACed with the QR's ADV secret.
func pairSuccess(t *testing.T, code string) waBinary.Node {
	t.Helper()
	parts := strings.Split(code, ",")
	if len(parts) != 4 {
		t.Fatalf("QR code has %d parts, want ref,noise,identity,adv", len(parts))
	}
	identity, err1 := base64.StdEncoding.DecodeString(parts[2])
	adv, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err := errors.Join(err1, err2); err != nil || len(identity) != 32 {
		t.Fatalf("QR code keys: %v", err)
	}
	account := keys.NewKeyPair()
	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{RawID: proto.Uint32(1), Timestamp: proto.Uint64(uint64(time.Now().Unix())), KeyIndex: proto.Uint32(1)})
	if err != nil {
		t.Fatal(err)
	}
	msg := append(append([]byte{6, 0}, details...), identity...)
	sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*account.Priv), msg)
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{Details: details, AccountSignatureKey: account.Pub[:], AccountSignature: sig[:]})
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, adv)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{Details: signed, HMAC: mac.Sum(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return waBinary.Node{
		Tag:   "iq",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "id": "pair-2", "type": "set", "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
			{Tag: "device-identity", Content: container},
			{Tag: "platform", Attrs: waBinary.Attrs{"name": "android"}},
			{Tag: "device", Attrs: waBinary.Attrs{"jid": phoneJID, "lid": phoneLID}},
		}}},
	}
}

// phone plays the owner's phone for the pairing connection: it waits for
// a QR code the adapter reported, "scans" it and checks the adapter's
// signed answer.
func phone(t *testing.T, codes <-chan string, signed chan<- bool) func(*fakeConn) {
	return func(c *fakeConn) {
		if err := sendPairDevice(c); err != nil {
			t.Errorf("send pair-device: %v", err)
			return
		}
		var code string
		for code == "" {
			select {
			case code = <-codes:
			case _, ok := <-c.In: // the client's ack, or its departure
				if !ok {
					return
				}
			}
		}
		if err := c.Send(pairSuccess(t, code)); err != nil {
			t.Errorf("send pair-success: %v", err)
			return
		}
		// The client hangs up once paired. The server waits for that rather
		// than closing first: whatsmeow's socket teardown races with a
		// remote close (NoiseSocket.Stop vs FrameSocket.Close, both in
		// whatsmeow), which the race detector would pin on this test.
		for n := range c.In {
			if sign, ok := n.GetOptionalChildByTag("pair-device-sign", "device-identity"); ok {
				raw, _ := sign.Content.([]byte)
				signed <- len(raw) > 0
			}
		}
	}
}

func TestLoginPairsAndStoresSealedKeys(t *testing.T) {
	codes := make(chan string, 8)
	signed := make(chan bool, 1)
	srv := withFakeWA(t, phone(t, codes, signed))
	sealer := newSealer(t)
	a := newTestAdapterWS(t, sealer, "", srv)
	if a.Linked() {
		t.Fatal("a fresh adapter reports linked")
	}

	var got []string
	err := a.Login(t.Context(), func(code string) {
		got = append(got, code)
		codes <- code
	})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if len(got) == 0 || !strings.HasPrefix(got[0], qrRefs[0]+",") {
		t.Fatalf("QR codes = %q, want the first to start with %q", got, qrRefs[0])
	}
	if !<-signed {
		t.Error("adapter did not answer pair-success with a signed device identity")
	}
	if !a.Linked() || a.Status().Account != phoneJID.User {
		t.Fatalf("after login: linked=%v account=%q", a.Linked(), a.Status().Account)
	}
	if err := a.Login(t.Context(), func(string) {}); !errors.Is(err, ErrAlreadyLinked) {
		t.Errorf("second Login = %v, want ErrAlreadyLinked", err)
	}

	// The keys are on disk right after pairing, sealed.
	path := a.opts.StorePath
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("store not written at pairing: %v", err)
	}
	dev := a.client().Store
	assertNoKeyMaterial(t, raw, dev.NoiseKey.Priv[:], dev.IdentityKey.Priv[:], dev.SignedPreKey.Priv[:], dev.AdvSecretKey)

	// A new adapter over the same file is linked to the same account.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := newTestAdapterWS(t, sealer, path, srv)
	if !b.Linked() || b.Status().Account != phoneJID.User {
		t.Fatalf("reopened: linked=%v account=%q", b.Linked(), b.Status().Account)
	}
	if got := b.client().Store; *got.NoiseKey.Priv != *dev.NoiseKey.Priv || *got.IdentityKey.Priv != *dev.IdentityKey.Priv || got.LID.User != phoneLID.User {
		t.Error("reopened device does not carry the paired keys and LID")
	}
}

func TestLoginCancelAndTimeout(t *testing.T) {
	t.Run("ctx ends while codes are shown", func(t *testing.T) {
		srv := withFakeWA(t, func(c *fakeConn) {
			sendPairDevice(c)
			for range c.In {
			}
		})
		a := newTestAdapterWS(t, newSealer(t), "", srv)
		ctx, cancel := context.WithCancel(t.Context())
		err := a.Login(ctx, func(string) { cancel() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Login = %v, want context.Canceled", err)
		}
		if a.Linked() {
			t.Error("linked after a cancelled login")
		}
	})
	t.Run("server hangs up before a scan", func(t *testing.T) {
		srv := withFakeWA(t, func(c *fakeConn) {
			sendPairDevice(c)
			<-c.In // the client's ack: hanging up while it sends would trip a whatsmeow race
			c.Close()
			for range c.In {
			}
		})
		a := newTestAdapterWS(t, newSealer(t), "", srv)
		err := a.Login(t.Context(), func(string) {})
		if err == nil || !strings.Contains(err.Error(), "closed the connection") {
			t.Fatalf("Login = %v, want a closed-connection error", err)
		}
		if _, err := os.Stat(a.opts.StorePath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("store file exists without a linked device: %v", err)
		}
	})
	t.Run("codes rotate, then run out", func(t *testing.T) {
		srv := withFakeWA(t, func(c *fakeConn) {
			sendPairDevice(c)
			for range c.In {
			}
		})
		a := newTestAdapterWS(t, newSealer(t), "", srv)
		a.qrFirstTTL, a.qrNextTTL = time.Millisecond, time.Millisecond
		var refs []string
		err := a.Login(t.Context(), func(code string) {
			ref, _, _ := strings.Cut(code, ",")
			refs = append(refs, ref)
		})
		if !errors.Is(err, ErrLoginTimeout) {
			t.Fatalf("Login = %v, want ErrLoginTimeout", err)
		}
		if !slices.Equal(refs, qrRefs) {
			t.Errorf("codes shown for refs %q, want %q in order", refs, qrRefs)
		}
	})
	t.Run("nil callback", func(t *testing.T) {
		a := newTestAdapter(t, newSealer(t), Options{})
		if err := a.Login(t.Context(), nil); err == nil {
			t.Fatal("Login(nil) succeeded")
		}
	})
}

// loggedIn plays WhatsApp's server for a linked device: it accepts the
// login, answers every query (showing each node to seen, if set), and
// sends "device removed" when logout closes.
func loggedIn(logout <-chan struct{}, seen func(*waBinary.Node)) func(*fakeConn) {
	return func(c *fakeConn) {
		if c.Send(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{"t": "1700000000"}}) != nil {
			return
		}
		for {
			select {
			case n, ok := <-c.In:
				if !ok {
					return
				}
				if seen != nil {
					seen(n)
				}
				answer(c, n)
			case <-logout:
				c.Send(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "401"},
					Content: []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "device_removed"}}}})
				for range c.In { // the client hangs up (see phone)
				}
				return
			}
		}
	}
}

// answer replies to a query with an empty result (a pre-key count where
// one is asked for), which is all the client's post-login setup needs.
func answer(c *fakeConn, n *waBinary.Node) {
	typ, _ := n.Attrs["type"].(string)
	id, _ := n.Attrs["id"].(string)
	if n.Tag != "iq" || (typ != "get" && typ != "set") || id == "" {
		return
	}
	res := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"type": "result", "id": id, "from": types.ServerJID}}
	if _, ok := n.GetOptionalChildByTag("count"); ok {
		res.Content = []waBinary.Node{{Tag: "count", Attrs: waBinary.Attrs{"value": "100"}}}
	}
	c.Send(res)
}

func TestRunLinksConnectsAndHandlesLogout(t *testing.T) {
	codes := make(chan string, 8)
	signed := make(chan bool, 1)
	logout := make(chan struct{})
	pair, serve := phone(t, codes, signed), loggedIn(logout, nil)
	srv := withFakeWA(t, func(c *fakeConn) {
		if c.Payload.GetDevicePairingData() != nil {
			pair(c)
		} else {
			serve(c)
		}
	})
	a := newTestAdapterWS(t, newSealer(t), "", srv)

	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx, func(context.Context, chat.Inbound) error { return nil }) }()
	eventually(t, "login-required", func() bool { return a.Status().State == chat.ChannelLoginRequired })

	if err := a.Login(t.Context(), func(code string) { codes <- code }); err != nil {
		t.Fatalf("Login: %v", err)
	}
	eventually(t, "connected after login", func() bool { return a.Status().State == chat.ChannelConnected })
	if got := a.Status().Account; got != phoneJID.User {
		t.Errorf("account = %q, want %q", got, phoneJID.User)
	}
	// The post-login setup uploaded pre-keys; they are in the store.
	eventually(t, "pre-keys uploaded", func() bool {
		n, _ := a.store.UploadedPreKeyCount(t.Context())
		return n > 0
	})

	close(logout)
	eventually(t, "failed after logout on the phone", func() bool {
		st := a.Status()
		return st.State == chat.ChannelFailed && st.Reason == reasonLoggedOut
	})
	eventually(t, "keys forgotten", func() bool {
		_, err := os.Stat(a.opts.StorePath)
		return errors.Is(err, os.ErrNotExist)
	})
	if a.Linked() {
		t.Error("still linked after the phone removed the device")
	}

	cancel()
	if err := <-ran; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if st := a.Status().State; st != chat.ChannelStopped {
		t.Errorf("state after Run = %s, want stopped", st)
	}
}

// newTestAdapterWS is newTestAdapter dialing the fake server.
func newTestAdapterWS(t *testing.T, sealer Sealer, path string, srv *fakeWA) *Adapter {
	t.Helper()
	a := newTestAdapter(t, sealer, Options{StorePath: path})
	a.wsHTTP = srv.httpClient()
	// Rebuild the client so it dials through wsHTTP.
	dev := a.client().Store
	a.setClient(dev)
	return a
}

// assertNoKeyMaterial fails if raw contains any secret, raw or encoded.
func assertNoKeyMaterial(t *testing.T, raw []byte, secrets ...[]byte) {
	t.Helper()
	for i, s := range secrets {
		for _, form := range [][]byte{
			s,
			[]byte(base64.StdEncoding.EncodeToString(s)),
			[]byte(base64.RawStdEncoding.EncodeToString(s)),
			[]byte(base64.URLEncoding.EncodeToString(s)),
			[]byte(base64.RawURLEncoding.EncodeToString(s)),
			[]byte(hexLower(s)),
			[]byte(strings.ToUpper(hexLower(s))),
		} {
			if bytes.Contains(raw, form) {
				t.Errorf("secret %d appears in the store file", i)
			}
		}
	}
}

func hexLower(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestLogout(t *testing.T) {
	t.Run("connected: WhatsApp is told", func(t *testing.T) {
		codes := make(chan string, 8)
		signed := make(chan bool, 1)
		removed := make(chan bool, 1)
		pair := phone(t, codes, signed)
		serve := loggedIn(nil, func(n *waBinary.Node) {
			if _, ok := n.GetOptionalChildByTag("remove-companion-device"); ok {
				removed <- true
			}
		})
		srv := withFakeWA(t, func(c *fakeConn) {
			if c.Payload.GetDevicePairingData() != nil {
				pair(c)
			} else {
				serve(c)
			}
		})
		a := newTestAdapterWS(t, newSealer(t), "", srv)
		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- a.Run(ctx, func(context.Context, chat.Inbound) error { return nil }) }()
		defer func() { cancel(); <-ran }()
		if err := a.Login(t.Context(), func(code string) { codes <- code }); err != nil {
			t.Fatalf("Login: %v", err)
		}
		eventually(t, "connected", func() bool { return a.Status().State == chat.ChannelConnected })
		if err := a.Logout(t.Context()); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		select {
		case <-removed:
		default:
			t.Error("WhatsApp was not asked to remove the device")
		}
		if _, err := os.Stat(a.opts.StorePath); !errors.Is(err, os.ErrNotExist) || a.Linked() {
			t.Errorf("after logout: linked=%v, store file: %v", a.Linked(), err)
		}
		eventually(t, "login required", func() bool { return a.Status().State == chat.ChannelLoginRequired })
	})
	t.Run("offline: keys forgotten all the same", func(t *testing.T) {
		a := newTestAdapter(t, newSealer(t), Options{})
		linkDevice(t, a.store)
		dev, err := a.store.device()
		if err != nil {
			t.Fatal(err)
		}
		a.setClient(dev)
		err = a.Logout(t.Context())
		if err == nil || !strings.Contains(err.Error(), "Linked devices") {
			t.Errorf("Logout = %v, want an error telling to unlink on the phone", err)
		}
		if _, err := os.Stat(a.opts.StorePath); !errors.Is(err, os.ErrNotExist) || a.Linked() {
			t.Errorf("after logout: linked=%v, store file: %v", a.Linked(), err)
		}
		if err := a.Logout(t.Context()); err != nil {
			t.Errorf("second Logout = %v, want nil", err)
		}
	})
}
