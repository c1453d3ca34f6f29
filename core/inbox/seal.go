package inbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/genos-project/genos/core/chat"
)

const (
	// KeySize is the length of both keys of an inbox key pair (X25519).
	KeySize = 32

	linePrefix = "NXIB1:"
	hkdfInfo   = "genos inbox v1"
	nonceSize  = 12
	tagSize    = 16
	// minSealed is the shortest decoded line: an empty ciphertext.
	minSealed = KeySize + nonceSize + tagSize
)

var b64 = base64.RawURLEncoding.Strict()

// GenerateKey returns a new X25519 key pair for an inbox. The caller stores
// priv in the vault and pub with [WritePublicKey].
func GenerateKey() (priv, pub []byte, err error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate inbox key: %w", err)
	}
	return k.Bytes(), k.PublicKey().Bytes(), nil
}

// PublicKey returns the public key that belongs to priv, so that a caller
// can check at unlock that the plaintext inbox.pub was not replaced.
func PublicKey(priv []byte) ([]byte, error) {
	k, err := parsePrivate(priv)
	if err != nil {
		return nil, err
	}
	return k.PublicKey().Bytes(), nil
}

func parsePrivate(priv []byte) (*ecdh.PrivateKey, error) {
	if len(priv) != KeySize {
		return nil, fmt.Errorf("inbox private key is %d bytes, want %d", len(priv), KeySize)
	}
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("inbox private key: %w", err)
	}
	return k, nil
}

// parsePublic checks pub and that it can be sealed to: X25519 accepts any 32
// bytes as a key, but low-order points make every exchange fail, which would
// otherwise only surface at the first Put.
func parsePublic(pub []byte) (*ecdh.PublicKey, error) {
	if len(pub) != KeySize {
		return nil, fmt.Errorf("inbox public key is %d bytes, want %d", len(pub), KeySize)
	}
	k, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("inbox public key: %w", err)
	}
	probe, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	s, err := probe.ECDH(k)
	clear(s)
	if err != nil {
		return nil, fmt.Errorf("inbox public key is unusable: %w", err)
	}
	return k, nil
}

// payload is the sealed plaintext: chat.Inbound's own JSON members plus the
// attachment bytes its JSON leaves out.
type payload struct {
	chat.Inbound
	AttachmentData [][]byte `json:"attachmentData,omitempty"`
}

func marshalInbound(in chat.Inbound) ([]byte, error) {
	p := payload{Inbound: in}
	for i, a := range in.Attachments {
		if a.Data == nil {
			continue
		}
		if p.AttachmentData == nil {
			p.AttachmentData = make([][]byte, len(in.Attachments))
		}
		p.AttachmentData[i] = a.Data
	}
	return json.Marshal(p)
}

func unmarshalInbound(b []byte) (chat.Inbound, error) {
	var p payload
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return chat.Inbound{}, fmt.Errorf("decode message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return chat.Inbound{}, errors.New("decode message: trailing data")
	}
	if len(p.AttachmentData) > len(p.Attachments) {
		return chat.Inbound{}, fmt.Errorf("decode message: %d attachment bodies for %d attachments",
			len(p.AttachmentData), len(p.Attachments))
	}
	in := p.Inbound
	for i, d := range p.AttachmentData {
		in.Attachments[i].Data = d
	}
	return in, nil
}

// deriveAEAD returns the AES-256-GCM instance for one message.
func deriveAEAD(shared, ephPub, recipientPub []byte) (cipher.AEAD, error) {
	salt := make([]byte, 0, 2*KeySize)
	salt = append(append(salt, ephPub...), recipientPub...)
	key, err := hkdf.Key(sha256.New, shared, salt, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealLine returns the NXIB1 line (without '\n') for plaintext.
func sealLine(recipient *ecdh.PublicKey, plaintext []byte) ([]byte, error) {
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(recipient)
	defer clear(shared)
	if err != nil {
		return nil, err
	}
	ephPub := eph.PublicKey().Bytes()
	aead, err := deriveAEAD(shared, ephPub, recipient.Bytes())
	if err != nil {
		return nil, err
	}
	raw := make([]byte, KeySize+nonceSize, KeySize+nonceSize+len(plaintext)+tagSize)
	copy(raw, ephPub)
	nonce := raw[KeySize : KeySize+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	raw = aead.Seal(raw, nonce, plaintext, nil)
	line := make([]byte, len(linePrefix)+b64.EncodedLen(len(raw)))
	copy(line, linePrefix)
	b64.Encode(line[len(linePrefix):], raw)
	return line, nil
}

// sealedLen is the length of the line sealLine makes for n plaintext bytes.
func sealedLen(n int) int {
	return len(linePrefix) + b64.EncodedLen(minSealed+n)
}

// openLine opens one NXIB1 line (without '\n') with priv, whose public key is
// recipientPub. Every failure wraps ErrCorrupted; with the right key that
// means the line was damaged.
func openLine(priv *ecdh.PrivateKey, recipientPub, line []byte) (chat.Inbound, error) {
	in, err := openLineRaw(priv, recipientPub, line)
	if err != nil {
		return chat.Inbound{}, fmt.Errorf("%w: %w", ErrCorrupted, err)
	}
	return in, nil
}

func openLineRaw(priv *ecdh.PrivateKey, recipientPub, line []byte) (chat.Inbound, error) {
	body, ok := bytes.CutPrefix(line, []byte(linePrefix))
	if !ok {
		return chat.Inbound{}, errors.New("missing " + linePrefix + " prefix")
	}
	// The decoder skips '\r' and '\n'; no writer emits them.
	if bytes.ContainsAny(body, "\r\n") {
		return chat.Inbound{}, errors.New("line break inside the line")
	}
	if b64.DecodedLen(len(body)) < minSealed {
		return chat.Inbound{}, fmt.Errorf("sealed message of %d bytes is too short", len(body))
	}
	raw := make([]byte, b64.DecodedLen(len(body)))
	n, err := b64.Decode(raw, body)
	if err != nil {
		return chat.Inbound{}, fmt.Errorf("bad base64url: %w", err)
	}
	raw = raw[:n]
	if n < minSealed {
		return chat.Inbound{}, fmt.Errorf("sealed message of %d bytes is too short", n)
	}
	ephPub, err := ecdh.X25519().NewPublicKey(raw[:KeySize])
	if err != nil {
		return chat.Inbound{}, fmt.Errorf("ephemeral key: %w", err)
	}
	shared, err := priv.ECDH(ephPub)
	defer clear(shared)
	if err != nil {
		return chat.Inbound{}, fmt.Errorf("ephemeral key: %w", err)
	}
	aead, err := deriveAEAD(shared, raw[:KeySize], recipientPub)
	if err != nil {
		return chat.Inbound{}, err
	}
	nonce := raw[KeySize : KeySize+nonceSize]
	plain, err := aead.Open(raw[KeySize+nonceSize:KeySize+nonceSize], nonce, raw[KeySize+nonceSize:], nil)
	if err != nil {
		return chat.Inbound{}, errors.New("message authentication failed")
	}
	defer clear(plain)
	return unmarshalInbound(plain)
}
