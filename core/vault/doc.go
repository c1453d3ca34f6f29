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
// elsewhere: crypto/aes keeps an expanded key schedule and crypto/sha512 a
// working state on the heap that this package cannot reach, and those are
// dropped (not zeroed) on lock.
//
// # On disk
//
// A vault directory holds vault.check, a file-form envelope of a fixed
// plaintext sealed under the vault's current salt. It is the one place that
// salt lives and the value against which a wrong passphrase is recognised
// before anything else is touched. Rotating the salt (rekey) therefore means
// replacing this one file after every other file has been re-sealed.
package vault
