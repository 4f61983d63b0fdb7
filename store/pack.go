package store

import (
	"encoding/binary"
	"strconv"

	"github.com/smsdispatch/smsdispatch/internal/phonemask"
)

// maxE164Digits is the longest E.164 number (country code included), per ITU-T E.164.
const maxE164Digits = 15

// packedSize is the size of one packed number in a batch record.
const packedSize = 8

// ParseE164 checks that s is a number in E.164 form ('+', a non-zero digit, at most 15 digits
// in all) and returns its digits as an integer. Because the first digit is never 0 the integer
// identifies the number exactly; FormatE164 is its inverse. It checks the syntax only: the
// producer validates numbers against numbering plans (nyaruka/phonenumbers).
func ParseE164(s string) (uint64, error) {
	if len(s) < 2 || s[0] != '+' {
		return 0, invalidf("number %s is not E.164: it must start with '+' and a digit", MaskNumber(s))
	}
	d := s[1:]
	if len(d) > maxE164Digits {
		return 0, invalidf("number %s is not E.164: %d digits, at most %d allowed", MaskNumber(s), len(d), maxE164Digits)
	}
	if d[0] == '0' {
		return 0, invalidf("number %s is not E.164: the country code cannot start with 0", MaskNumber(s))
	}
	var v uint64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, invalidf("number %s is not E.164: %q is not a digit", MaskNumber(s), c)
		}
		v = v*10 + uint64(c-'0')
	}
	return v, nil
}

// FormatE164 is the inverse of ParseE164.
func FormatE164(v uint64) string { return "+" + strconv.FormatUint(v, 10) }

// MaskNumber hides the middle of a phone number for logs and errors: +86138****5678.
func MaskNumber(s string) string { return phonemask.Mask(s) }

// packNumber appends the 8-byte big-endian form of v.
func packNumber(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// packedOf returns the 8-byte form of an E.164 number as a string (a Lua script argument).
func packedOf(e164 string) (string, error) {
	v, err := ParseE164(e164)
	if err != nil {
		return "", err
	}
	return string(packNumber(nil, v)), nil
}

// unpackAt decodes the number at position idx of a packed blob ("" when out of range).
func unpackAt(blob string, idx int) string {
	off := idx * packedSize
	if idx < 0 || off+packedSize > len(blob) {
		return ""
	}
	return FormatE164(binary.BigEndian.Uint64([]byte(blob[off : off+packedSize])))
}

// unpackAll decodes every number of a packed blob.
func unpackAll(blob string) []string {
	out := make([]string, 0, len(blob)/packedSize)
	for i := 0; i+packedSize <= len(blob); i += packedSize {
		out = append(out, FormatE164(binary.BigEndian.Uint64([]byte(blob[i:i+packedSize]))))
	}
	return out
}
