package daemon

import (
	"encoding/hex"
	"errors"
	"log/slog"
)

// encodeKey renders a private key for the secret store.
func encodeKey(k []byte) string { return hex.EncodeToString(k) }

// decodeKey parses a key from the secret store.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("not hex")
	}
	return k, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
