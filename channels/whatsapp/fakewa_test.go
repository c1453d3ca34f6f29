package whatsapp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// fakeWA is a loopback WhatsApp Web server: it accepts the websocket,
// performs the server side of the Noise_XX handshake with a certificate
// chain under a test root key (installed as whatsmeow.WACertPubKey for the
// test), and then exchanges binary XML nodes over the encrypted frames.
// What happens after the handshake is up to the test's script.
type fakeWA struct {
	t      *testing.T
	srv    *httptest.Server
	static *keys.KeyPair
	cert   []byte
	script func(*fakeConn)

	mu    sync.Mutex
	conns int
}

// withFakeWA starts a server running script for each connection. It swaps
// whatsmeow's pinned root key, so tests using it must not run in parallel.
func withFakeWA(t *testing.T, script func(*fakeConn)) *fakeWA {
	t.Helper()
	root, inter, static := keys.NewKeyPair(), keys.NewKeyPair(), keys.NewKeyPair()
	sign := func(by *keys.KeyPair, d *waCert.CertChain_NoiseCertificate_Details) *waCert.CertChain_NoiseCertificate {
		raw, err := proto.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*by.Priv), raw)
		return &waCert.CertChain_NoiseCertificate{Details: raw, Signature: sig[:]}
	}
	chain := &waCert.CertChain{
		Intermediate: sign(root, &waCert.CertChain_NoiseCertificate_Details{Serial: proto.Uint32(7), IssuerSerial: proto.Uint32(whatsmeow.WACertIssuerSerial), Key: inter.Pub[:]}),
		Leaf:         sign(inter, &waCert.CertChain_NoiseCertificate_Details{Serial: proto.Uint32(8), IssuerSerial: proto.Uint32(7), Key: static.Pub[:]}),
	}
	cert, err := proto.Marshal(chain)
	if err != nil {
		t.Fatal(err)
	}
	saved := whatsmeow.WACertPubKey
	whatsmeow.WACertPubKey = *root.Pub
	f := &fakeWA{t: t, static: static, cert: cert, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
		whatsmeow.WACertPubKey = saved
	})
	return f
}

// httpClient dials the fake server whatever host the client asks for; the
// plain TCP connection stands in for TLS (http.Transport takes a conn from
// DialTLSContext as already secured).
func (f *fakeWA) httpClient() *http.Client {
	addr := f.srv.Listener.Addr().String()
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	return &http.Client{Transport: &http.Transport{DialContext: dial, DialTLSContext: dial}}
}

func (f *fakeWA) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ws/chat" {
		http.NotFound(w, r)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"web.whatsapp.com"}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(socket.FrameMaxSize)
	c := &fakeConn{ws: ws, ctx: r.Context()}
	if err := c.handshake(f); err != nil {
		f.t.Logf("fake whatsapp handshake: %v", err)
		return
	}
	f.mu.Lock()
	f.conns++
	f.mu.Unlock()
	c.In = make(chan *waBinary.Node, 64)
	go c.readLoop()
	f.script(c)
}

// readLoop decodes client nodes into In until the connection ends, then
// closes In: scripts select on it and never block on a dead client.
func (c *fakeConn) readLoop() {
	defer close(c.In)
	for {
		n, err := c.recv()
		if err != nil {
			return
		}
		select {
		case c.In <- n:
		default:
			// A script that stopped reading loses nodes rather than
			// blocking the client.
		}
	}
}

// fakeConn is one client connection after the handshake.
type fakeConn struct {
	ws      *websocket.Conn
	ctx     context.Context
	pending []byte // frame bytes read but not consumed

	// Payload is the ClientPayload of ClientFinish (login or registration).
	Payload *waWa6.ClientPayload
	// ClientStatic is the client's noise public key.
	ClientStatic []byte
	// In receives the client's nodes; it is closed when the client goes.
	In chan *waBinary.Node

	sendKey, recvKey cipher.AEAD
	sendN, recvN     uint32
}

// readFrame returns the next length-prefixed frame.
func (c *fakeConn) readFrame() ([]byte, error) {
	for len(c.pending) < 3 || len(c.pending) < 3+int(c.pending[0])<<16|int(c.pending[1])<<8|int(c.pending[2]) {
		_, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return nil, err
		}
		c.pending = append(c.pending, data...)
	}
	n := int(c.pending[0])<<16 | int(c.pending[1])<<8 | int(c.pending[2])
	frame := c.pending[3 : 3+n]
	c.pending = c.pending[3+n:]
	return frame, nil
}

func (c *fakeConn) writeFrame(data []byte) error {
	n := len(data)
	return c.ws.Write(c.ctx, websocket.MessageBinary, append([]byte{byte(n >> 16), byte(n >> 8), byte(n)}, data...))
}

// noise is the handshake's symmetric state, mirroring socket.NoiseHandshake.
type noise struct {
	hash, salt []byte
	key        cipher.AEAD
	n          uint32
}

func gcm(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

func iv(n uint32) []byte {
	v := make([]byte, 12)
	binary.BigEndian.PutUint32(v[8:], n)
	return v
}

func (s *noise) auth(data []byte) {
	h := sha256.Sum256(append(append([]byte{}, s.hash...), data...))
	s.hash = h[:]
}

func expand(salt, data []byte) ([]byte, []byte) {
	out, err := hkdf.Key(sha256.New, data, salt, "", 64)
	if err != nil {
		panic(err)
	}
	return out[:32], out[32:]
}

func (s *noise) mix(priv, pub []byte) error {
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return err
	}
	p, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return err
	}
	secret, err := k.ECDH(p)
	if err != nil {
		return err
	}
	write, read := expand(s.salt, secret)
	s.salt, s.key, s.n = write, gcm(read), 0
	return nil
}

func (s *noise) encrypt(pt []byte) []byte {
	ct := s.key.Seal(nil, iv(s.n), pt, s.hash)
	s.n++
	s.auth(ct)
	return ct
}

func (s *noise) decrypt(ct []byte) ([]byte, error) {
	pt, err := s.key.Open(nil, iv(s.n), ct, s.hash)
	s.n++
	if err == nil {
		s.auth(ct)
	}
	return pt, err
}

// handshake runs the server side of Noise_XX as WhatsApp's server does.
func (c *fakeConn) handshake(f *fakeWA) error {
	_, first, err := c.ws.Read(c.ctx)
	if err != nil {
		return err
	}
	header := socket.WAConnHeader
	if len(first) < len(header) || string(first[:len(header)]) != string(header) {
		return errors.New("missing WA connection header")
	}
	c.pending = first[len(header):]
	hello, err := c.readFrame()
	if err != nil {
		return err
	}
	var msg waWa6.HandshakeMessage
	if err := proto.Unmarshal(hello, &msg); err != nil {
		return err
	}
	clientEph := msg.GetClientHello().GetEphemeral()
	if len(clientEph) != 32 {
		return errors.New("bad client ephemeral")
	}
	s := &noise{hash: []byte(socket.NoiseStartPattern)}
	s.salt, s.key = s.hash, gcm(s.hash)
	s.auth(header)
	s.auth(clientEph)
	eph := keys.NewKeyPair()
	s.auth(eph.Pub[:])
	if err := s.mix(eph.Priv[:], clientEph); err != nil {
		return err
	}
	static := s.encrypt(f.static.Pub[:])
	if err := s.mix(f.static.Priv[:], clientEph); err != nil {
		return err
	}
	payload := s.encrypt(f.cert)
	out, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{Ephemeral: eph.Pub[:], Static: static, Payload: payload}})
	if err != nil {
		return err
	}
	if err := c.writeFrame(out); err != nil {
		return err
	}
	finishRaw, err := c.readFrame()
	if err != nil {
		return err
	}
	var finish waWa6.HandshakeMessage
	if err := proto.Unmarshal(finishRaw, &finish); err != nil {
		return err
	}
	if c.ClientStatic, err = s.decrypt(finish.GetClientFinish().GetStatic()); err != nil {
		return fmt.Errorf("client static: %w", err)
	}
	if err := s.mix(eph.Priv[:], c.ClientStatic); err != nil {
		return err
	}
	pl, err := s.decrypt(finish.GetClientFinish().GetPayload())
	if err != nil {
		return fmt.Errorf("client payload: %w", err)
	}
	c.Payload = &waWa6.ClientPayload{}
	if err := proto.Unmarshal(pl, c.Payload); err != nil {
		return err
	}
	write, read := expand(s.salt, nil)
	c.recvKey, c.sendKey = gcm(write), gcm(read) // the client writes with the first key
	return nil
}

// Send writes one node, encrypted.
func (c *fakeConn) Send(n waBinary.Node) error {
	raw, err := waBinary.Marshal(n)
	if err != nil {
		return err
	}
	ct := c.sendKey.Seal(nil, iv(c.sendN), raw, nil)
	c.sendN++
	return c.writeFrame(ct)
}

// recv reads and decodes the next node from the client.
func (c *fakeConn) recv() (*waBinary.Node, error) {
	ct, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	pt, err := c.recvKey.Open(nil, iv(c.recvN), ct, nil)
	c.recvN++
	if err != nil {
		return nil, err
	}
	raw, err := waBinary.Unpack(pt)
	if err != nil {
		return nil, err
	}
	return waBinary.Unmarshal(raw)
}

// Close ends the connection from the server side.
func (c *fakeConn) Close() { c.ws.Close(websocket.StatusNormalClosure, "") }
