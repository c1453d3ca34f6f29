package inbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/genos-project/genos/core/durable"
)

// pubPrefix starts the one line of an inbox.pub file:
// "NXIB1PUB:" + base64url(no padding) of the 32-byte key + "\n".
const pubPrefix = "NXIB1PUB:"

// WritePublicKey stores pub at path (normally <stateDir>/inbox.pub)
// atomically, mode 0600, as the line "NXIB1PUB:" + base64url(pub).
func WritePublicKey(path string, pub []byte) error {
	if _, err := parsePublic(pub); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	line := make([]byte, 0, len(pubPrefix)+b64.EncodedLen(len(pub))+1)
	line = append(line, pubPrefix...)
	line = b64.AppendEncode(line, pub)
	line = append(line, '\n')
	if err := durable.WriteFile(path, line, 0o600); err != nil {
		return fmt.Errorf("write inbox public key: %w", err)
	}
	return nil
}

// ReadPublicKey reads and validates a key written by [WritePublicKey]. A
// missing file is reported wrapping fs.ErrNotExist, so the caller can tell
// "never created" (generate a pair) from damage (refuse to queue).
func ReadPublicKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read inbox public key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("read inbox public key %s: %w", path, err)
	}
	pub, err := parsePublicKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("read inbox public key %s: %w", path, err)
	}
	return pub, nil
}

func parsePublicKeyFile(b []byte) ([]byte, error) {
	b, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok {
		return nil, errors.New("not a single terminated line")
	}
	enc, ok := bytes.CutPrefix(b, []byte(pubPrefix))
	if !ok {
		return nil, errors.New("missing " + pubPrefix + " prefix")
	}
	if len(enc) != b64.EncodedLen(KeySize) {
		return nil, fmt.Errorf("key is %d characters, want %d", len(enc), b64.EncodedLen(KeySize))
	}
	pub, err := b64.AppendDecode(nil, enc)
	if err != nil {
		return nil, fmt.Errorf("bad base64url: %w", err)
	}
	if _, err := parsePublic(pub); err != nil {
		return nil, err
	}
	return pub, nil
}
