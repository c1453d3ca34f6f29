package session

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewRecordID returns a unique record id that sorts by creation time: 16 hex
// digits of Unix nanoseconds followed by 8 random hex digits. Ids made in the
// same nanosecond are unique but in no particular order.
func NewRecordID() string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return fmt.Sprintf("%016x%s", uint64(time.Now().UnixNano()), hex.EncodeToString(r[:]))
}

// newSessionID returns a random RFC 9562 version 4 UUID string.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// validSessionID reports whether id is safe to use as a file name: it comes
// from the database, which an import or a hand edit may have filled.
func validSessionID(id string) bool {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return false
	}
	for i := range len(id) {
		c := id[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
