// Package vault owns encryption at rest: the NYXENC1 envelope shared with
// GenosOS, the keys that seal and open it, and the locked/unlocked state
// machine that decides whether any sealed byte may be read or written.
//
// # Format
//
// NYXENC1 is AES-256-GCM without additional data, keyed with
// PBKDF2-HMAC-SHA512(passphrase, salt, 100000 iterations, 32 bytes). One sealed
// value is the JSON object
//
//	{"salt":hex(32 bytes),"iv":hex(12 bytes),"tag":hex(16 bytes),"data":base64(ciphertext)}
//
// with the 16-byte GCM tag split off the ciphertext and standard, padded
// base64. It is written in three forms:
//
//   - file form: the line "NYXENC1\n" followed by the object (whole files);
//   - line form: "NXLN:" + unpadded base64url of the file form (one
//     append-only JSONL line, so a sealed line never contains '\n');
//   - inline form: "NYXENC1:" + the object (one SQLite column).
//
// Genos writes exactly the bytes GenosOS writes (field order salt, iv, tag,
// data; no spaces). Reading is as lenient as GenosOS is where it matters for
// importing: file form also accepts GenosOS's vault.enc shape (the object alone,
// pretty-printed, no magic line) and line form accepts padded base64url. Any
// other deviation (bad hex, bad or non-canonical base64, wrong field lengths, a
// truncated or missing field, trailing bytes) is reported as [ErrCorrupted]. A
// tag that does not verify is [ErrAuthFailed] from the stateless Open
// functions (wrong passphrase or altered data); through a [Vault], whose
// passphrase is known good, it is also [ErrCorrupted]. No data is ever
// returned with an error.
//
// # Keys and the per-salt cache
//
// GenosOS picks a fresh salt for every write and so runs the 100,000-iteration
// PBKDF2 for every file, line and chunk it seals or opens. Genos derives the key
// for the vault's current salt once, at [Vault.Unlock], and reuses that salt
// (with a fresh random 96-bit IV per write) for everything it writes. The salt
// exists to make precomputed passphrase tables useless, which one random salt
// per vault already achieves; a salt per record adds no secrecy, only cost.
// Security then rests on IV uniqueness under one key: random 96-bit IVs stay
// within GCM's safety margin for far more records (2^32) than one vault will
// ever hold between rekeys.
//
// Envelopes with another salt (files imported from GenosOS, each with its own)
// still open: their key is derived on first use and cached by salt while the
// vault is unlocked. To do that without holding the passphrase, the vault keeps
// only the two SHA-512 states of HMAC-SHA512 keyed with it (the passphrase's
// ipad and opad blocks after one compression). They derive any key exactly as
// the passphrase would but cannot be turned back into the passphrase, which a
// user may have used elsewhere.
//
// [Vault.Lock] zeroes every key buffer and both HMAC states and drops the
// cache; every later sealed read or write returns [ErrLocked] until Unlock is
// called again with the passphrase. Go cannot promise that no copy survives
// elsewhere: crypto/aes keeps an expanded key schedule, and crypto/sha512 and
// crypto/hkdf working states, on the heap where this package cannot reach
// them; those are dropped (not zeroed) on lock.
//
// # On disk
//
// A vault directory holds vault.check, a file-form envelope of a fixed
// plaintext sealed under the vault's current salt. It is the one place that
// salt lives and the value against which a wrong passphrase is recognised
// before anything else is touched. Rotating the salt (rekey) therefore means
// replacing this one file after every other file has been re-sealed.
//
// # Rekey
//
// A rekey moves the vault to a new passphrase (or only a new salt) and must
// survive a crash at any point: until every file is re-sealed some are under
// the old key and some under the new, and both keys must stay recoverable.
//
//	r, err := v.BeginRekey(oldPass, newPass) // journal written, now sealing under the new key
//	... for every sealed file, line file and column: open, seal again, write atomically ...
//	err = r.Finish()                         // vault.check replaced, journal removed
//
// [Vault.BeginRekey] checks the old passphrase against vault.check, derives
// the new key under a fresh salt and writes the journal vault.rekey
// ([RekeyFile]) atomically. The journal holds three envelopes: the new check
// value sealed under the new key; the new key and the new passphrase's HMAC
// states sealed under the old key; the old key and the old passphrase's HMAC
// states sealed under the new key. The last two are sealed with a key derived
// from the vault key by HKDF-SHA512 (label "genos vault rekey journal v1"),
// never with the vault key itself, so that no envelope the vault seals for
// anything else can pass for a key record. Then the vault seals under the
// new key, opens under both, and derives keys for other salts (GenosOS
// imports) from whichever passphrase opens them, old first, caching only a
// key that opened something. [Rekey.Finish] replaces vault.check with the new
// check value (rename, directory fsync), removes the journal (directory
// fsync), and drops and zeroes the old key, the old HMAC states and every
// cached key for another salt.
//
// While the journal exists, [Vault.Unlock] accepts either passphrase: the old
// one derives the old key, which opens the new key and HMAC states; the new
// one derives the new key, which opens the journal's check value and the old
// key and HMAC states. Either way the vault comes up as BeginRekey left it,
// [Vault.RekeyPending] (which also works while locked, for status) reports
// true, and [Vault.ResumeRekey] returns the [Rekey] to re-seal what is left
// and Finish. Finish may have stopped after replacing vault.check: then
// vault.check is the new check value and the old passphrase is checked
// against its sealed key record instead. A crash therefore never loses a key:
// before Finish both passphrases work, after it the new one does and nothing
// is under the old key. [Vault.NeedsReseal] tells whether an envelope is
// still under the old key, so that a resumed pass can skip what is done and a
// last pass can confirm that nothing is left.
//
// What the caller owns: re-sealing everything (anything left under the old
// key is unreadable for good after Finish, since the old passphrase no longer
// unlocks); pausing writers that may have sealed under the old key just
// before BeginRekey, or re-checking with NeedsReseal before Finish; and
// rewriting append-only files (transcripts, the audit log) atomically with
// their appenders paused, since a rename under an open appender would lose
// its later appends. A rekey only moves forward: there is no abort once the
// journal exists.
//
// The journal lets whoever knows the old passphrase recover the new key
// until Finish removes it (and from a copy of the disk taken before then).
// A rekey therefore protects new data from an old passphrase that leaked
// only if the state directory did not leak with it during the rekey.
//
// # Transcript lines
//
// [Vault.LineCodec] reads plaintext JSON lines as they are, for transcripts
// written before the vault existed or by GenosOS; use it to migrate them.
// [Vault.StrictLineCodec] refuses them with ErrCorrupted: once a file has been
// migrated, a plaintext line in it can only have been injected (say, a fake
// system message) and must not be handed to a model as history.
package vault
