package sandbox

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// phone is a parsed destination number. digits packs the E.164 digits
// (country code + national number, at most 15 digits, never a leading 0)
// into a uint64, which keeps per-number state compact.
type phone struct {
	digits uint64
	ccLen  uint8  // number of country-code digits
	iso    string // ISO region, "CN", "US", ...
}

func (p phone) domestic() bool { return p.ccLen == 2 && p.digits/1e11 == 86 && p.digits < 87e11 }

// e164 renders "+8613800000000".
func (p phone) e164() string { return "+" + strconv.FormatUint(p.digits, 10) }

// split returns the country code and the subscriber number.
func (p phone) split() (cc, subscriber string) {
	s := strconv.FormatUint(p.digits, 10)
	return s[:p.ccLen], s[p.ccLen:]
}

// parsePhone accepts what SendSms accepts: E.164 with '+', and for mainland
// China also 0086 / 86 prefixes or a bare 11-digit mobile number. It
// reports false for anything Tencent would answer with
// InvalidParameterValue.IncorrectPhoneNumber.
func parsePhone(raw string) (phone, bool) {
	s := strings.TrimSpace(raw)
	var digits string
	switch {
	case strings.HasPrefix(s, "+"):
		digits = s[1:]
	case strings.HasPrefix(s, "00"):
		digits = s[2:]
	case len(s) == 11 && s[0] == '1':
		digits = "86" + s
	case len(s) == 13 && strings.HasPrefix(s, "86"):
		digits = s
	default:
		return phone{}, false
	}
	if len(digits) < 8 || len(digits) > 15 || !isDigits(digits) || digits[0] == '0' {
		return phone{}, false
	}
	if strings.HasPrefix(digits, "86") {
		// Mainland mobile numbers: 1[3-9]xxxxxxxxx.
		nat := digits[2:]
		if len(nat) != 11 || nat[0] != '1' || nat[1] < '3' {
			return phone{}, false
		}
		n, _ := strconv.ParseUint(digits, 10, 64)
		return phone{digits: n, ccLen: 2, iso: "CN"}, true
	}
	num, err := phonenumbers.Parse("+"+digits, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return phone{}, false
	}
	cc := strconv.Itoa(int(num.GetCountryCode()))
	n, _ := strconv.ParseUint(digits, 10, 64)
	iso := phonenumbers.GetRegionCodeForNumber(num)
	if iso == "" || iso == "ZZ" || iso == "001" {
		iso = "DEF"
	}
	return phone{digits: n, ccLen: uint8(len(cc)), iso: iso}, true
}

// phoneKey maps a number in any accepted form to its packed key, or 0.
func phoneKey(raw string) uint64 {
	p, ok := parsePhone(raw)
	if !ok {
		return 0
	}
	return p.digits
}
