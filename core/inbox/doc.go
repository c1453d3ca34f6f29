// Package inbox is the sealed queue for channel messages that arrive while the
// vault is locked. The gateway keeps accepting messages then; each is sealed
// to a public key and appended to a file, and delivered in order once the
// vault is unlocked and its private key is available again. Nothing is
// written in plaintext and nothing that could open a message is on disk or in
// memory while the vault is locked.
//
// # Keys
//
// An X25519 key pair made by [GenerateKey]. The public key lives in plaintext
// at <stateDir>/inbox.pub ([WritePublicKey], [ReadPublicKey]): it can only
// seal. The private key is a vault secret; the caller passes it to
// [Queue.Drain] after unlocking and this package keeps no copy of it
// afterwards. Go cannot promise that no copy survives elsewhere: crypto/ecdh
// and crypto/aes keep their own copies (scalar, expanded key schedule) on the
// heap, which are dropped, not zeroed. Shared secrets and derived keys this
// package holds are zeroed after use.
//
// Because the public key is stored in plaintext, someone able to write the
// state directory while the vault is locked could replace it with their own
// and read messages sealed after that. Drain refuses a private key that does
// not match the queue's public key ([ErrWrongKey]), so the swap is noticed at
// the next unlock; a caller that also keeps the public key inside the vault
// can compare it with [PublicKey] at unlock and rewrite inbox.pub. Replace
// the key pair only right after a Drain that emptied the queue: lines sealed
// to the old key do not open with the new one and would be set aside as
// damaged.
//
// # Line format (NXIB1)
//
// <stateDir>/inbox.jsonl holds one sealed message per line:
//
//	"NXIB1:" + base64url(no padding)( ephemeralPub(32) || nonce(12) || ciphertext||tag )
//
// where ephemeralPub is a fresh X25519 public key for each message, and the
// ciphertext is AES-256-GCM, without additional data, of the plaintext under
//
//	key = HKDF-SHA256(secret = X25519(ephemeral, recipient),
//	                  salt   = ephemeralPub || recipientPub,
//	                  info   = "genos inbox v1", 32 bytes)
//
// The plaintext is the JSON object of [chat.Inbound], plus one member
// "attachmentData": an array parallel to "attachments" holding each
// attachment's bytes (base64, null where an attachment has none), present
// only when some attachment has bytes. chat.Attachment.Data is not part of
// chat.Inbound's JSON, and while the vault is locked there is nowhere else to
// keep those bytes sealed, so they travel inside the envelope. Decoding
// ignores unknown members, so a newer writer's extra fields do not make a line
// unreadable.
//
// A sealed line is at most [Options.MaxLineBytes] (1 MiB by default), so
// attachments of roughly half that size fit; a larger message is refused
// with [ErrTooLarge].
//
// # Durability and delivery
//
// [Queue.Put] seals, then appends the whole line with one write and fsyncs
// before returning: once it returns nil the message survives a crash. A crash
// mid-write can only leave a torn last line (or a last line of NUL bytes),
// which [Open] truncates; every earlier line is kept.
//
// The queue is bounded ([Options.MaxMessages] undelivered messages,
// [Options.MaxBytes] of file); past that Put returns [ErrFull] and stores
// nothing, so the caller can tell the sender to retry later. Nothing is ever
// dropped silently.
//
// [Queue.Drain] delivers at least once, in order. After fn accepts a message
// the position after it is recorded durably in <stateDir>/inbox.cursor (an
// atomic file replace holding the offset and the SHA-256 of the line that
// ends there), and a later Drain, also after a crash or restart, starts from
// it. A crash between fn returning and the cursor reaching the disk delivers
// that one message again, so consumers should tolerate a repeat (the
// MessageID, where the channel has one, identifies it). A cursor that does
// not match the file (the file was emptied or rewritten after it was
// written) is ignored and delivery restarts at the first line: a repeat,
// never a loss. When every line is delivered the file is truncated and the
// cursor removed; when Drain stops early the undelivered lines are copied to
// a new file that atomically replaces the old one, so delivered messages do
// not linger on disk.
//
// A line that cannot be opened with the right key (damaged on disk) is
// appended to <stateDir>/inbox.bad.jsonl, fsynced, and only then skipped;
// Drain goes on delivering the other lines and reports each bad one as a
// [*CorruptLineError] naming the file and line number.
package inbox
