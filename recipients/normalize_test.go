package recipients

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want              Number
		wantErr           error
	}{
		{"cn mobile bare", "13800138000", "CN", 8613800138000, nil},
		{"cn mobile spaced", " 138 0013 8000 ", "CN", 8613800138000, nil},
		{"cn with plus and dashes", "+86-138-0013-8000", "", 8613800138000, nil},
		{"cn with 0086", "008613800138000", "CN", 8613800138000, nil},
		{"cn with 86 prefix", "8613800138000", "CN", 8613800138000, nil},
		{"cn default region", "13800138000", "", 8613800138000, nil},
		{"cn fixed line", "010 6552 9988", "CN", 861065529988, nil},
		{"tel uri", "tel:+86-138-0013-8000", "", 8613800138000, nil},
		{"us from cn region with plus", "+1 650-253-0000", "CN", 16502530000, nil},
		{"us national with us region", "(650) 253-0000", "US", 16502530000, nil},
		{"uk", "+44 20 7031 3000", "CN", 442070313000, nil},
		{"hong kong is international", "+852 5123 4567", "CN", 85251234567, nil},
		{"empty", "   ", "CN", 0, ErrEmpty},
		{"letters", "hello", "CN", 0, ErrNotANumber},
		{"too short", "+86 1380", "CN", 0, ErrTooShort},
		{"invalid for region", "12345", "CN", 0, ErrInvalidNumber},
		{"unknown country code", "+999 1234567", "CN", 0, ErrInvalidCountryCode},
		{"too long", "+86 138001380001234", "CN", 0, ErrTooLong},
		{"input too long", strings.Repeat("1", 80), "CN", 0, ErrTooLong},
		{"extension", "+1 650 253 0000 ext. 123", "CN", 0, ErrExtension},
		{"invalid cn mobile", "+86 12345678901", "CN", 0, ErrInvalidNumber},
		{"unknown region", "13800138000", "XX", 0, ErrUnknownRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.region)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Normalize(%q) = %v, %v; want error %v", tt.raw, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q) = %v, %v; want %v", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		n        Number
		e164     string
		domestic bool
		mask     string
	}{
		{8613800138000, "+8613800138000", true, "+86138****8000"},
		{861065529988, "+861065529988", true, "+8610****9988"},
		{85251234567, "+85251234567", false, "+852****4567"},
		{16502530000, "+16502530000", false, "+165****0000"},
		{81312345678, "+81312345678", false, "+813****5678"},
	}
	for _, tt := range tests {
		if got := tt.n.String(); got != tt.e164 {
			t.Errorf("%d.String() = %q, want %q", tt.n, got, tt.e164)
		}
		if got := tt.n.Domestic(); got != tt.domestic {
			t.Errorf("%d.Domestic() = %v, want %v", tt.n, got, tt.domestic)
		}
		if got := tt.n.Mask(); got != tt.mask {
			t.Errorf("%d.Mask() = %q, want %q", tt.n, got, tt.mask)
		}
	}
}

// FuzzNormalize checks that Normalize never panics, that every accepted number is a canonical
// E.164 number of at most 15 digits that normalises to itself, and that every rejection wraps
// one of the documented reasons.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"13800138000", "+86 138 0013 8000", "008613800138000", "+1 650 253 0000",
		"+44 20 7031 3000", "", "abc", "12345", "+999 1234567", "+1 650 253 0000 ext 1", "tel:+8613800138000",
		"１３８００１３８０００", "+", "++86", "0", "+0", "1-800-FLOWERS", "*#06#", "+86 ١٣٨٠٠١٣٨٠٠٠"} {
		f.Add(s, "CN")
	}
	f.Add("(650) 253-0000", "US")
	f.Add("020 7031 3000", "GB")
	f.Add("13800138000", "ZZ")
	f.Add("8613800138000", "CN")
	f.Add("+8617900138000", "CN")
	f.Add("11800138000", "CN")
	reasons := []error{ErrEmpty, ErrNotANumber, ErrInvalidCountryCode, ErrTooShort, ErrTooLong,
		ErrInvalidLength, ErrInvalidNumber, ErrExtension, ErrUnknownRegion}
	f.Fuzz(func(t *testing.T, raw, region string) {
		if fast, ok := fastCN(strings.TrimSpace(raw), cmp.Or(region, DefaultRegion)); ok {
			if full, err := normalize(raw, region, false); err != nil || full != fast {
				t.Fatalf("%q (region %q): shortcut gives %v, full path %v, %v", raw, region, fast, full, err)
			}
		}
		n, err := Normalize(raw, region)
		if err != nil {
			for _, r := range reasons {
				if errors.Is(err, r) {
					return
				}
			}
			t.Fatalf("Normalize(%q, %q): error %v wraps no documented reason", raw, region, err)
		}
		s := n.String()
		digits := s[1:]
		if len(digits) > 15 || digits[0] == '0' {
			t.Fatalf("Normalize(%q) = %s: not E.164", raw, s)
		}
		if _, perr := strconv.ParseUint(digits, 10, 64); perr != nil {
			t.Fatalf("Normalize(%q) = %s: %v", raw, s, perr)
		}
		again, err := Normalize(s, "")
		if err != nil || again != n {
			t.Fatalf("Normalize(%q) = %s, but Normalize(%s) = %v, %v", raw, s, s, again, err)
		}
	})
}

// TestFastCNMatchesFullPath checks that the mainland-mobile shortcut accepts only what the full
// phonenumbers path accepts, with the same result, for every 4-digit mobile prefix (and random
// subscriber digits) in every notation it handles, plus notations it must leave to the full path.
func TestFastCNMatchesFullPath(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	fastHits := 0
	for prefix := 1000; prefix < 2000; prefix++ {
		nsn := fmt.Sprintf("%d%07d", prefix, r.IntN(10_000_000))
		for _, in := range []struct{ raw, region string }{
			{nsn, "CN"}, {"+86" + nsn, ""}, {"+86" + nsn, "US"}, {"0086" + nsn, "CN"}, {"86" + nsn, "CN"},
			{nsn, "US"}, {"0086" + nsn, "US"}, {"86" + nsn, "HK"},
		} {
			fast, ok := fastCN(in.raw, strings.ToUpper(cmp.Or(in.region, DefaultRegion)))
			full, err := normalize(in.raw, in.region, false)
			if !ok {
				continue
			}
			fastHits++
			if err != nil || full != fast {
				t.Fatalf("%q (region %q): shortcut gives %v, full path %v, %v", in.raw, in.region, fast, full, err)
			}
		}
	}
	if fastHits == 0 {
		t.Fatal("shortcut never taken")
	}
}
