package store

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestParseE164(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"+8613812345678", 8613812345678, true},
		{"+14155550100", 14155550100, true},
		{"+1", 1, true},
		{"+999999999999999", 999999999999999, true},
		{"+9999999999999999", 0, false}, // 16 digits
		{"8613812345678", 0, false},
		{"+", 0, false},
		{"", 0, false},
		{"+0123", 0, false},
		{"+86 138", 0, false},
		{"+86-138", 0, false},
		{"++86", 0, false},
		{"+８６", 0, false}, // full-width digits
	}
	for _, tc := range cases {
		got, err := ParseE164(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseE164(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseE164(%q) error %v does not wrap ErrInvalid", tc.in, err)
		}
	}
}

// FuzzE164 checks the validation against a plain reading of the rule, and that every valid
// number survives pack -> unpack unchanged.
func FuzzE164(f *testing.F) {
	for _, s := range []string{"+8613812345678", "+1", "+999999999999999", "+0", "86", "+12a", "", "+", "+1234567890123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseE164(s)
		valid := len(s) >= 2 && len(s) <= 16 && s[0] == '+' && s[1] != '0' &&
			strings.Trim(s[1:], "0123456789") == ""
		if valid != (err == nil) {
			t.Fatalf("ParseE164(%q) err = %v, want valid=%v", s, err, valid)
		}
		if err != nil {
			return
		}
		if got := FormatE164(v); got != s {
			t.Fatalf("FormatE164(ParseE164(%q)) = %q", s, got)
		}
		blob := string(packNumber(packNumber(nil, 42), v))
		if got := unpackAt(blob, 1); got != s {
			t.Fatalf("unpackAt = %q, want %q", got, s)
		}
		p, err := packedOf(s)
		if err != nil || len(p) != packedSize || p != blob[packedSize:] {
			t.Fatalf("packedOf(%q) = %x, %v", s, p, err)
		}
	})
}

// FuzzPacked checks that decoding any 8-byte value the encoder can produce round-trips, and that
// unpackAll agrees with unpackAt on arbitrary blobs.
func FuzzPacked(f *testing.F) {
	f.Add(uint64(8613812345678), []byte("0123456789abcdef012"))
	f.Add(uint64(1), []byte{})
	f.Fuzz(func(t *testing.T, v uint64, blob []byte) {
		if v > 0 && v <= 999_999_999_999_999 {
			s := FormatE164(v)
			back, err := ParseE164(s)
			if err != nil || back != v {
				t.Fatalf("ParseE164(FormatE164(%d)) = %d, %v", v, back, err)
			}
			if got := binary.BigEndian.Uint64(packNumber(nil, v)); got != v {
				t.Fatalf("pack(%d) decodes to %d", v, got)
			}
		}
		all := unpackAll(string(blob))
		if len(all) != len(blob)/packedSize {
			t.Fatalf("unpackAll gave %d numbers for %d bytes", len(all), len(blob))
		}
		for i, n := range all {
			if got := unpackAt(string(blob), i); got != n {
				t.Fatalf("unpackAt(%d) = %q, unpackAll = %q", i, got, n)
			}
		}
		if unpackAt(string(blob), len(all)) != "" || unpackAt(string(blob), -1) != "" {
			t.Fatal("unpackAt out of range returned a number")
		}
	})
}
