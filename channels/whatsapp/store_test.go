package whatsapp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"

	"github.com/genos-project/genos/core/vault"
)

func openTestStore(t *testing.T, path string, sealer Sealer) *deviceStore {
	t.Helper()
	s, err := openStore(path, sealer, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// linkDevice makes a device as pairing would and saves it.
func linkDevice(t *testing.T, s *deviceStore) *store.Device {
	t.Helper()
	d, err := s.newDevice()
	if err != nil {
		t.Fatal(err)
	}
	jid := types.JID{User: "15550001111", Device: 7, Server: types.DefaultUserServer}
	d.ID = &jid
	d.LID = types.JID{User: "424242", Device: 7, Server: types.HiddenUserServer}
	d.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte("details"), AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	d.PushName, d.Platform, d.BusinessName = "Owner", "android", "Shop"
	d.FacebookUUID[3] = 9
	d.LIDMigrationTimestamp = 1234
	if err := d.Save(t.Context()); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStoreSealedRoundTrip fills every table, persists through a real
// vault, checks that no key material is readable in the file, and reads
// it all back.
func TestStoreSealedRoundTrip(t *testing.T) {
	v, err := vault.Create(t.TempDir(), []byte("correct horse"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "whatsapp.enc")
	ctx := t.Context()
	s := openTestStore(t, path, v)
	d := linkDevice(t, s)

	sessionSecret := []byte("signal-session-state-0123456789abcdef")
	senderSecret := []byte("sender-key-state-fedcba9876543210")
	identity := [32]byte{1, 2, 3}
	var hash [128]byte
	hash[5] = 5
	lid := types.NewJID("777", types.HiddenUserServer)
	pn := types.NewJID("15552223333", types.DefaultUserServer)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutSession(ctx, "15552223333:0", sessionSecret))
	must(s.PutIdentity(ctx, "15552223333:0", identity))
	pre, err := s.GetOrGenPreKeys(ctx, 3)
	must(err)
	must(s.MarkPreKeysAsUploaded(ctx, pre[1].KeyID))
	must(s.PutSenderKey(ctx, "group@g.us", "15552223333:0", senderSecret))
	must(s.PutAppStateSyncKey(ctx, []byte{0xAA}, store.AppStateSyncKey{Data: []byte("sync"), Fingerprint: []byte("fp"), Timestamp: 10}))
	must(s.PutAppStateVersion(ctx, "regular", 3, hash))
	must(s.PutAppStateMutationMACs(ctx, "regular", 3, []store.AppStateMutationMAC{{IndexMAC: []byte("i1"), ValueMAC: []byte("v1")}}))
	_, _, err = s.PutPushName(ctx, pn, "Alice")
	must(err)
	must(s.PutContactName(ctx, pn, "Alice", "Alice Liddell"))
	must(s.PutMutedUntil(ctx, pn, store.MutedForever))
	must(s.PutLIDMapping(ctx, lid, pn))
	must(s.PutMessageSecret(ctx, pn, pn, "MSG1", []byte("secret")))
	must(s.PutPrivacyTokens(ctx, store.PrivacyToken{User: pn, Token: []byte("tok"), Timestamp: time.Unix(100, 0)}))
	must(s.PutBufferedEvent(ctx, [32]byte{9}, []byte("plaintext event"), time.Unix(200, 0)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !vault.IsSealed(raw) {
		t.Error("store file is not a vault envelope")
	}
	assertNoKeyMaterial(t, raw, d.NoiseKey.Priv[:], d.IdentityKey.Priv[:], d.SignedPreKey.Priv[:], d.AdvSecretKey,
		pre[0].Priv[:], sessionSecret, senderSecret, []byte("plaintext event"), []byte("Alice Liddell"))
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the store (no temp files left)", len(entries))
	}

	r := openTestStore(t, path, v)
	got, err := r.device()
	must(err)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"jid", got.ID.String(), d.ID.String()},
		{"lid", got.LID, d.LID},
		{"noise key", *got.NoiseKey, *d.NoiseKey},
		{"identity key", *got.IdentityKey, *d.IdentityKey},
		{"signed pre-key", got.SignedPreKey.Priv, d.SignedPreKey.Priv},
		{"signed pre-key sig", *got.SignedPreKey.Signature, *d.SignedPreKey.Signature},
		{"registration id", got.RegistrationID, d.RegistrationID},
		{"adv key", got.AdvSecretKey, d.AdvSecretKey},
		{"account details", got.Account.Details, d.Account.Details},
		{"names", []string{got.PushName, got.Platform, got.BusinessName}, []string{"Owner", "android", "Shop"}},
		{"facebook uuid", got.FacebookUUID, d.FacebookUUID},
		{"lid migration", got.LIDMigrationTimestamp, int64(1234)},
	} {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("device %s (-want +got):\n%s", c.name, diff)
		}
	}
	sess, _ := r.GetSession(ctx, "15552223333:0")
	trusted, _ := r.IsTrustedIdentity(ctx, "15552223333:0", identity)
	pk, _ := r.GetPreKey(ctx, pre[2].KeyID)
	uploaded, _ := r.UploadedPreKeyCount(ctx)
	sk, _ := r.GetSenderKey(ctx, "group@g.us", "15552223333:0")
	syncKey, _ := r.GetAppStateSyncKey(ctx, []byte{0xAA})
	ver, gotHash, _ := r.GetAppStateVersion(ctx, "regular")
	mac, _ := r.GetAppStateMutationMAC(ctx, "regular", []byte("i1"))
	contact, _ := r.GetContact(ctx, pn)
	settings, _ := r.GetChatSettings(ctx, pn)
	gotPN, _ := r.GetPNForLID(ctx, lid)
	secret, sender, _ := r.GetMessageSecret(ctx, pn, pn, "MSG1")
	token, _ := r.GetPrivacyToken(ctx, pn)
	ev, _ := r.GetBufferedEvent(ctx, [32]byte{9})
	want := []any{string(sessionSecret), true, pre[2].Priv, 2, string(senderSecret), "sync", uint64(3), hash, "v1",
		types.ContactInfo{Found: true, FirstName: "Alice", FullName: "Alice Liddell", PushName: "Alice"},
		true, pn, "secret", pn, "tok", "plaintext event"}
	gotAll := []any{string(sess), trusted, pk.Priv, uploaded, string(sk), string(syncKey.Data), ver, gotHash, string(mac),
		contact, settings.MutedUntil.Equal(store.MutedForever), gotPN, string(secret), sender, string(token.Token), string(ev.Plaintext)}
	if diff := cmp.Diff(want, gotAll); diff != "" {
		t.Errorf("stores after reopening (-want +got):\n%s", diff)
	}

	other, err := vault.Create(t.TempDir(), []byte("another passphrase"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(path, other, testLogger(t)); err == nil {
		t.Error("store opened with another vault's key")
	}
}

func TestStoreWritesAfterChangesAndForgetsOnDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "whatsapp.enc")
	sealer := newSealer(t)
	s := openTestStore(t, path, sealer)
	if err := s.PutSession(t.Context(), "1:0", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state written before any device was linked: %v", err)
	}
	d := linkDevice(t, s) // Save writes at once
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("store not written when the device was saved: %v", err)
	}
	before, _ := os.ReadFile(path)
	if err := s.PutSession(t.Context(), "2:0", []byte("y")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "debounced write of a session change", func() bool {
		after, err := os.ReadFile(path)
		return err == nil && string(after) != string(before)
	})
	if err := d.Delete(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store file survived logout: %v", err)
	}
	if sess, _ := s.GetSession(t.Context(), "2:0"); sess != nil {
		t.Error("sessions survived logout in memory")
	}
}

func TestStoreOpenErrors(t *testing.T) {
	dir := t.TempDir()
	sealer := newSealer(t)
	write := func(name string, plain []byte) string {
		p := filepath.Join(dir, name)
		sealed, err := sealer.SealFile(plain)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, sealed, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not sealed at all"), 0o600)
	for _, tc := range []struct {
		name   string
		path   string
		sealer Sealer
	}{
		{"not sealed", garbage, sealer},
		{"locked vault", write("locked", []byte(`{"version":1}`)), lockedSealer{}},
		{"not json", write("notjson", []byte("{")), sealer},
		{"future version", write("future", []byte(`{"version":99}`)), sealer},
		{"unknown field", write("unknown", []byte(`{"version":1,"extra":1}`)), sealer},
		{"short key", write("shortkey", []byte(`{"version":1,"device":{"jid":"1@s.whatsapp.net","noiseKey":"AAAA"}}`)), sealer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := openStore(tc.path, tc.sealer, testLogger(t)); err == nil {
				t.Fatal("openStore succeeded")
			}
		})
	}
	t.Run("missing file is an empty store", func(t *testing.T) {
		s := openTestStore(t, filepath.Join(dir, "absent"), sealer)
		d, err := s.device()
		if err != nil || d.ID != nil {
			t.Fatalf("device() = %v, %v; want a new unlinked device", d.ID, err)
		}
	})
}

func TestStoreDecryptionTxnRollsBack(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "s.enc"), newSealer(t))
	ctx := t.Context()
	s.PutSession(ctx, "a:0", []byte("old"))
	pk, _ := s.GenOnePreKey(ctx)
	boom := errors.New("decrypt failed")
	err := s.DoDecryptionTxn(ctx, func(ctx context.Context) error {
		s.PutSession(ctx, "a:0", []byte("new"))
		s.PutSession(ctx, "b:0", []byte("fresh"))
		s.RemovePreKey(ctx, pk.KeyID)
		s.PutIdentity(ctx, "a:0", [32]byte{1})
		return s.DoDecryptionTxn(ctx, func(ctx context.Context) error { // nested: joins
			s.PutBufferedEvent(ctx, [32]byte{1}, []byte("pt"), time.Now())
			return boom
		})
	})
	if !errors.Is(err, boom) {
		t.Fatalf("DoDecryptionTxn = %v", err)
	}
	a, _ := s.GetSession(ctx, "a:0")
	hasB, _ := s.HasSession(ctx, "b:0")
	gotPK, _ := s.GetPreKey(ctx, pk.KeyID)
	ev, _ := s.GetBufferedEvent(ctx, [32]byte{1})
	trusted, _ := s.IsTrustedIdentity(ctx, "a:0", [32]byte{2})
	if string(a) != "old" || hasB || gotPK == nil || ev != nil || !trusted {
		t.Errorf("after rollback: a=%q hasB=%v prekey=%v event=%v unknownIdentityTrusted=%v", a, hasB, gotPK != nil, ev != nil, trusted)
	}
	if err := s.DoDecryptionTxn(ctx, func(ctx context.Context) error { return s.PutSession(ctx, "a:0", []byte("kept")) }); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.GetSession(ctx, "a:0"); string(a) != "kept" {
		t.Errorf("committed session = %q", a)
	}
}

func TestStoreSemantics(t *testing.T) {
	ctx := t.Context()
	newStore := func(t *testing.T) *deviceStore {
		return openTestStore(t, filepath.Join(t.TempDir(), "s.enc"), newSealer(t))
	}
	t.Run("pre-keys", func(t *testing.T) {
		s := newStore(t)
		first, _ := s.GetOrGenPreKeys(ctx, 3)
		again, _ := s.GetOrGenPreKeys(ctx, 3)
		if diff := cmp.Diff(ids(first), ids(again)); diff != "" {
			t.Errorf("unuploaded keys not reused (-first +again):\n%s", diff)
		}
		s.MarkPreKeysAsUploaded(ctx, first[2].KeyID)
		next, _ := s.GetOrGenPreKeys(ctx, 2)
		if next[0].KeyID != first[2].KeyID+1 {
			t.Errorf("after upload, next key id = %d, want %d", next[0].KeyID, first[2].KeyID+1)
		}
		if n, _ := s.UploadedPreKeyCount(ctx); n != 3 {
			t.Errorf("uploaded count = %d, want 3", n)
		}
		one, _ := s.GenOnePreKey(ctx)
		if n, _ := s.UploadedPreKeyCount(ctx); n != 4 || one.KeyID != next[1].KeyID+1 {
			t.Errorf("GenOnePreKey: id %d count %d", one.KeyID, n)
		}
	})
	t.Run("pn to lid migration", func(t *testing.T) {
		s := newStore(t)
		s.PutSession(ctx, "111:0", []byte("s0"))
		s.PutSession(ctx, "111:3", []byte("s3"))
		s.PutSession(ctx, "1112:0", []byte("other"))
		s.PutIdentity(ctx, "111:0", [32]byte{7})
		s.PutSenderKey(ctx, "g@g.us", "111:0", []byte("sk"))
		s.MigratePNToLID(ctx, types.NewJID("111", types.DefaultUserServer), types.NewJID("999", types.HiddenUserServer))
		keysOf := func(m map[string][]byte) []string {
			var out []string
			for k := range m {
				out = append(out, k)
			}
			return out
		}
		less := cmpopts.SortSlices(func(a, b string) bool { return a < b })
		if diff := cmp.Diff([]string{"1112:0", "999_1:0", "999_1:3"}, keysOf(s.st.Sessions), less); diff != "" {
			t.Errorf("sessions (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"999_1:0"}, keysOf(s.st.Identities), less); diff != "" {
			t.Errorf("identities (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"g@g.us\n999_1:0"}, keysOf(s.st.SenderKeys), less); diff != "" {
			t.Errorf("sender keys (-want +got):\n%s", diff)
		}
	})
	t.Run("lid map keeps one lid per phone", func(t *testing.T) {
		s := newStore(t)
		pn := types.NewJID("5", types.DefaultUserServer)
		s.PutLIDMapping(ctx, types.NewJID("100", types.HiddenUserServer), pn)
		s.PutManyLIDMappings(ctx, []store.LIDMapping{{LID: types.NewJID("200", types.HiddenUserServer), PN: pn}, {LID: pn, PN: pn}})
		old, _ := s.GetPNForLID(ctx, types.NewJID("100", types.HiddenUserServer))
		lid, _ := s.GetLIDForPN(ctx, types.JID{User: "5", Device: 2, Server: types.DefaultUserServer})
		many, _ := s.GetManyLIDsForPNs(ctx, []types.JID{{User: "5", Device: 3, Server: types.DefaultUserServer}})
		if !old.IsEmpty() || lid.String() != "200:2@lid" || many[types.JID{User: "5", Device: 3, Server: types.DefaultUserServer}].String() != "200:3@lid" {
			t.Errorf("old=%v lid=%v many=%v", old, lid, many)
		}
		if err := s.PutLIDMapping(ctx, pn, pn); err == nil {
			t.Error("PutLIDMapping accepted a phone JID as LID")
		}
	})
	t.Run("app state keys and macs", func(t *testing.T) {
		s := newStore(t)
		s.PutAppStateSyncKey(ctx, []byte{1}, store.AppStateSyncKey{Data: []byte("new"), Timestamp: 5})
		s.PutAppStateSyncKey(ctx, []byte{1}, store.AppStateSyncKey{Data: []byte("older"), Timestamp: 4})
		s.PutAppStateSyncKey(ctx, []byte{2}, store.AppStateSyncKey{Data: []byte("latest"), Timestamp: 9})
		k, _ := s.GetAppStateSyncKey(ctx, []byte{1})
		latest, _ := s.GetLatestAppStateSyncKeyID(ctx)
		if string(k.Data) != "new" || string(latest) != "\x02" {
			t.Errorf("sync key = %q, latest id = %x", k.Data, latest)
		}
		s.PutAppStateMutationMACs(ctx, "n", 2, []store.AppStateMutationMAC{{IndexMAC: []byte("i"), ValueMAC: []byte("v2")}})
		s.PutAppStateMutationMACs(ctx, "n", 1, []store.AppStateMutationMAC{{IndexMAC: []byte("i"), ValueMAC: []byte("v1")}})
		if v, _ := s.GetAppStateMutationMAC(ctx, "n", []byte("i")); string(v) != "v2" {
			t.Errorf("mac = %q, want the newest version's", v)
		}
		s.DeleteAppStateVersion(ctx, "n")
		if v, _ := s.GetAppStateMutationMAC(ctx, "n", []byte("i")); v != nil {
			t.Error("macs survived deleting their version")
		}
	})
	t.Run("contacts report changes", func(t *testing.T) {
		s := newStore(t)
		u := types.NewJID("8", types.DefaultUserServer)
		changed, prev, _ := s.PutPushName(ctx, u, "A")
		again, _, _ := s.PutPushName(ctx, u, "A")
		changed2, prev2, _ := s.PutPushName(ctx, u, "B")
		all, _ := s.GetAllContacts(ctx)
		if !changed || prev != "" || again || !changed2 || prev2 != "A" || all[u].PushName != "B" {
			t.Errorf("push names: %v %q %v %v %q %v", changed, prev, again, changed2, prev2, all)
		}
	})
	t.Run("secrets and tokens across lid and phone", func(t *testing.T) {
		s := newStore(t)
		pn, lid := types.NewJID("3", types.DefaultUserServer), types.NewJID("33", types.HiddenUserServer)
		s.PutLIDMapping(ctx, lid, pn)
		s.PutMessageSecret(ctx, lid, lid, "M", []byte("k"))
		s.PutMessageSecret(ctx, lid, lid, "M", []byte("ignored"))
		sec, sender, _ := s.GetMessageSecret(ctx, pn, pn, "M")
		s.PutPrivacyTokens(ctx, store.PrivacyToken{User: pn, Token: []byte("old"), Timestamp: time.Unix(1, 0)}, store.PrivacyToken{User: lid, Token: []byte("new"), Timestamp: time.Unix(2, 0)})
		tok, _ := s.GetPrivacyToken(ctx, pn)
		if string(sec) != "k" || sender != lid || string(tok.Token) != "new" {
			t.Errorf("secret %q from %v, token %q", sec, sender, tok.Token)
		}
	})
	t.Run("old buffered events expire", func(t *testing.T) {
		s := newStore(t)
		s.PutBufferedEvent(ctx, [32]byte{1}, []byte("pt"), time.Now())
		s.st.Events["stale"] = eventRecord{InsertTime: time.Now().Add(-15 * 24 * time.Hour).UnixMilli()}
		s.ClearBufferedEventPlaintext(ctx, [32]byte{1})
		s.DeleteOldBufferedHashes(ctx)
		ev, _ := s.GetBufferedEvent(ctx, [32]byte{1})
		if ev == nil || ev.Plaintext != nil || len(s.st.Events) != 1 {
			t.Errorf("event=%+v, %d events left", ev, len(s.st.Events))
		}
	})
}

func ids(ks []*keys.PreKey) []uint32 {
	out := make([]uint32, len(ks))
	for i, k := range ks {
		out[i] = k.KeyID
	}
	return out
}
