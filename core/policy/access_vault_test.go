package policy

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/vault"
)

// TestSealedAtRest runs pairing and approval against a real vault and then
// reads the raw database files: no peer id, display name or code may appear
// in them, while the sealed values must.
func TestSealedAtRest(t *testing.T) {
	v, err := vault.Create(t.TempDir(), []byte("pass"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newAccessHarness(t, map[string]ChannelRules{"telegram": {AllowFrom: []string{"owner-cfg-id"}}}, v.InlineCodec())
	ctx := t.Context()

	const (
		approvedPeer = "peer-4815162342"
		approvedName = "Alice Wonderland"
		pendingPeer  = "peer-1123581321"
		pendingName  = "Bartholomew Quux"
	)
	in := dm("telegram", approvedPeer)
	in.PeerName = approvedName
	d1, err := h.a.Check(ctx, in)
	if err != nil || d1.Action != ActionReplyPairing {
		t.Fatalf("Check = %+v, %v", d1, err)
	}
	if _, err := h.a.Approve(ctx, "telegram", d1.Code); err != nil {
		t.Fatal(err)
	}
	in = dm("telegram", pendingPeer)
	in.PeerName = pendingName
	d2, err := h.a.Check(ctx, in)
	if err != nil || d2.Action != ActionReplyPairing {
		t.Fatalf("Check = %+v, %v", d2, err)
	}
	if d, err := h.a.Check(ctx, dm("telegram", approvedPeer)); err != nil || d.Action != ActionDeliver {
		t.Fatalf("approved peer through the vault: %+v, %v", d, err)
	}

	// Locked: anything that needs the stored rows fails closed; peers
	// listed in the config still pass (no unsealing needed).
	v.Lock()
	d, err := h.a.Check(ctx, dm("telegram", approvedPeer))
	if !errors.Is(err, vault.ErrLocked) || d.Action != ActionDrop {
		t.Errorf("Check while locked = %+v, %v; want drop with ErrLocked", d, err)
	}
	if _, err := h.a.Pending(ctx, "telegram"); !errors.Is(err, vault.ErrLocked) {
		t.Errorf("Pending while locked = %v, want ErrLocked", err)
	}
	if d, err := h.a.Check(ctx, dm("telegram", "owner-cfg-id")); err != nil || d.Action != ActionDeliver {
		t.Errorf("config peer while locked = %+v, %v", d, err)
	}
	if err := v.Unlock([]byte("pass")); err != nil {
		t.Fatal(err)
	}
	if p, err := h.a.Pending(ctx, "telegram"); err != nil || len(p) != 1 || p[0].PeerName != pendingName {
		t.Fatalf("Pending after unlock = %+v, %v", p, err)
	}

	// Closing checkpoints the WAL into the main file.
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, p := range []string{h.path, h.path + "-wal", h.path + "-shm"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	for _, secret := range []string{approvedPeer, approvedName, pendingPeer, pendingName, d1.Code, d2.Code,
		"4815162342", "Wonderland", "Quux"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("database file contains %q in plaintext", secret)
		}
		if bytes.Contains(bytes.ToLower(raw), []byte(strings.ToLower(secret))) {
			t.Errorf("database file contains %q (any case)", secret)
		}
	}
	if n := bytes.Count(raw, []byte("NYXENC1:")); n < 2 {
		t.Errorf("found %d inline-sealed values, want at least the pending request and the allow entry", n)
	}
}
