package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
)

// The markers of the three NYXENC1 forms.
const (
	fileMagic    = "NYXENC1\n"
	linePrefix   = "NXLN:"
	inlinePrefix = "NYXENC1:"
)

// Decoders for the data field and the line form. Strict: unused trailing bits
// must be zero, so that every flipped bit is detected. Node and Go both write
// canonical base64. (Read-only after initialisation.)
var (
	dataB64 = base64.StdEncoding.Strict()
	lineB64 = base64.RawURLEncoding.Strict()
)

// envelope is one parsed NYXENC1 value. data is the ciphertext without the
// GCM tag.
type envelope struct {
	salt [saltLen]byte
	iv   [ivLen]byte
	tag  [tagLen]byte
	data []byte
}

// The canonical object is these literals around the hex and base64 fields, in
// this order and without spaces: what GenosOS's JSON.stringify writes and what
// Genos writes.
const (
	jsonSalt = `{"salt":"`
	jsonIV   = `","iv":"`
	jsonTag  = `","tag":"`
	jsonData = `","data":"`
	jsonEnd  = `"}`
)

// jsonLen is the length of the canonical object for n bytes of ciphertext.
func jsonLen(n int) int {
	return len(jsonSalt) + 2*saltLen + len(jsonIV) + 2*ivLen + len(jsonTag) + 2*tagLen +
		len(jsonData) + base64.StdEncoding.EncodedLen(n) + len(jsonEnd)
}

// appendJSON appends the canonical object. Hex and base64 never need JSON
// escaping, so it is assembled directly.
func (e *envelope) appendJSON(b []byte) []byte {
	b = append(b, jsonSalt...)
	b = hex.AppendEncode(b, e.salt[:])
	b = append(b, jsonIV...)
	b = hex.AppendEncode(b, e.iv[:])
	b = append(b, jsonTag...)
	b = hex.AppendEncode(b, e.tag[:])
	b = append(b, jsonData...)
	b = base64.StdEncoding.AppendEncode(b, e.data)
	return append(b, jsonEnd...)
}

// fileForm returns "NYXENC1\n" and the object (no trailing newline, as GenosOS
// writes it).
func (e *envelope) fileForm() []byte {
	b := make([]byte, 0, len(fileMagic)+jsonLen(len(e.data)))
	return e.appendJSON(append(b, fileMagic...))
}

// lineForm returns "NXLN:" and the unpadded base64url of the file form.
func (e *envelope) lineForm() []byte {
	file := e.fileForm()
	b := make([]byte, 0, len(linePrefix)+base64.RawURLEncoding.EncodedLen(len(file)))
	return base64.RawURLEncoding.AppendEncode(append(b, linePrefix...), file)
}

// inlineForm returns "NYXENC1:" and the object.
func (e *envelope) inlineForm() []byte {
	b := make([]byte, 0, len(inlinePrefix)+jsonLen(len(e.data)))
	return e.appendJSON(append(b, inlinePrefix...))
}

// parseFile parses the file form. It also accepts the bare object, however
// formatted, because GenosOS writes its vault.enc that way.
func parseFile(b []byte) (*envelope, error) {
	if rest, ok := bytes.CutPrefix(b, []byte(fileMagic)); ok {
		return parseObject(rest)
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return parseObject(t)
	}
	if len(b) == 0 {
		return nil, corrupt("empty")
	}
	return nil, corrupt("no NYXENC1 header")
}

// parseLine parses the line form. Padded base64url is accepted too.
func parseLine(b []byte) (*envelope, error) {
	rest, ok := bytes.CutPrefix(b, []byte(linePrefix))
	if !ok {
		return nil, corrupt("no %s prefix", linePrefix)
	}
	for range 2 {
		rest = bytes.TrimSuffix(rest, []byte("="))
	}
	file, err := lineB64.AppendDecode(nil, rest)
	if err != nil {
		return nil, corrupt("line is not base64url: %v", err)
	}
	return parseFile(file)
}

// parseInline parses the inline form.
func parseInline(b []byte) (*envelope, error) {
	rest, ok := bytes.CutPrefix(b, []byte(inlinePrefix))
	if !ok {
		return nil, corrupt("no %s prefix", inlinePrefix)
	}
	return parseObject(rest)
}

// parseObject parses the JSON object. The canonical layout, which is all that
// Genos and GenosOS write for files, lines and columns, takes a fast path that
// scans the bytes once; anything else goes through encoding/json, which is
// also the one that reports errors.
func parseObject(b []byte) (*envelope, error) {
	if e, ok := parseCanonical(b); ok {
		return e, nil
	}
	return parseJSON(b)
}

// parseCanonical decodes b if it is exactly the canonical object (trailing
// whitespace allowed). It reports false, never an error, for anything else.
func parseCanonical(b []byte) (*envelope, bool) {
	b = bytes.TrimRight(b, " \t\r\n")
	var e envelope
	for _, f := range [...]struct {
		lit string
		dst []byte
	}{{jsonSalt, e.salt[:]}, {jsonIV, e.iv[:]}, {jsonTag, e.tag[:]}} {
		rest, ok := bytes.CutPrefix(b, []byte(f.lit))
		if !ok || len(rest) < 2*len(f.dst) {
			return nil, false
		}
		if _, err := hex.Decode(f.dst, rest[:2*len(f.dst)]); err != nil {
			return nil, false
		}
		b = rest[2*len(f.dst):]
	}
	rest, ok := bytes.CutPrefix(b, []byte(jsonData))
	if !ok {
		return nil, false
	}
	data, ok := bytes.CutSuffix(rest, []byte(jsonEnd))
	if !ok {
		return nil, false
	}
	// The decoder rejects every byte outside the base64 alphabet except '\r'
	// and '\n', which it skips; JSON forbids them raw inside a string.
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		return nil, false
	}
	var err error
	if e.data, err = dataB64.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(data))), data); err != nil {
		return nil, false
	}
	return &e, true
}

// parseJSON decodes any JSON object with the four fields. Unknown fields are
// ignored (they are not authenticated and carry nothing Genos uses).
func parseJSON(b []byte) (*envelope, error) {
	var raw struct {
		Salt *string `json:"salt"`
		IV   *string `json:"iv"`
		Tag  *string `json:"tag"`
		Data *string `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, corrupt("invalid JSON: %v", err)
	}
	var e envelope
	for _, f := range [...]struct {
		name string
		val  *string
		dst  []byte
	}{{"salt", raw.Salt, e.salt[:]}, {"iv", raw.IV, e.iv[:]}, {"tag", raw.Tag, e.tag[:]}} {
		if f.val == nil {
			return nil, corrupt("missing %s", f.name)
		}
		if len(*f.val) != 2*len(f.dst) {
			return nil, corrupt("%s is %d hex digits, want %d", f.name, len(*f.val), 2*len(f.dst))
		}
		if _, err := hex.Decode(f.dst, []byte(*f.val)); err != nil {
			return nil, corrupt("%s is not hex", f.name)
		}
	}
	if raw.Data == nil {
		return nil, corrupt("missing data")
	}
	var err error
	if e.data, err = dataB64.DecodeString(*raw.Data); err != nil {
		return nil, corrupt("data is not base64: %v", err)
	}
	return &e, nil
}
