package recipients

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/smsdispatch/smsdispatch/internal/phonemask"
)

// DefaultRegion is the region assumed for numbers written without a leading '+' when none is given.
const DefaultRegion = "CN"

// Reasons a number is rejected. Every error returned by Normalize wraps exactly one of them, so
// callers match with errors.Is; the error's text is the human-readable reason.
var (
	ErrEmpty              = errors.New("empty number")
	ErrNotANumber         = errors.New("not a phone number")
	ErrInvalidCountryCode = errors.New("invalid country code")
	ErrTooShort           = errors.New("too short")
	ErrTooLong            = errors.New("too long")
	ErrInvalidLength      = errors.New("invalid length")
	ErrInvalidNumber      = errors.New("not a valid number")
	ErrExtension          = errors.New("numbers with an extension cannot receive SMS")
	ErrUnknownRegion      = errors.New("unknown region")
)

// maxInput bounds the raw text of one number; anything longer is rejected before parsing.
const maxInput = 64

// Number is an E.164 phone number packed as the integer value of its digits (country code and
// national significant number, at most 15 digits, never a leading zero): +8613800138000 is
// Number(8613800138000). The zero Number is not a valid number.
type Number uint64

// String renders the number in E.164 form with its leading '+'.
func (n Number) String() string {
	var buf [20]byte
	return string(n.AppendE164(buf[:0]))
}

// AppendE164 appends the E.164 form of n ("+8613800138000") to dst.
func (n Number) AppendE164(dst []byte) []byte {
	dst = append(dst, '+')
	return strconv.AppendUint(dst, uint64(n), 10)
}

// Domestic reports whether n is a mainland China number (country code 86). Country calling
// codes are prefix-free, so an E.164 number whose digits start with "86" has country code 86.
func (n Number) Domestic() bool {
	v := uint64(n)
	for v >= 100 {
		v /= 10
	}
	return v == 86
}

// Mask renders n for logs, hiding the middle digits: +86138****8000.
func (n Number) Mask() string { return phonemask.Mask(n.String()) }

// ValidRegion reports whether region is a region code phonenumbers knows ("CN", "US", ...).
func ValidRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[region]
}

// Normalize parses raw as a phone number and returns it in E.164 form. Numbers written without
// a leading '+' (or international prefix) are read as numbers of region (a region code such as
// "CN"; empty means DefaultRegion). A number that is not a valid number of its country is
// rejected: the error wraps one of ErrEmpty, ErrNotANumber, ErrInvalidCountryCode, ErrTooShort,
// ErrTooLong, ErrInvalidLength, ErrInvalidNumber, ErrExtension or ErrUnknownRegion, and its text
// says why.
func Normalize(raw, region string) (Number, error) {
	return normalize(raw, region, true)
}

func normalize(raw, region string, fast bool) (Number, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return 0, ErrEmpty
	}
	if len(s) > maxInput {
		return 0, fmt.Errorf("%w (%d characters)", ErrTooLong, len(s))
	}
	if region == "" {
		region = DefaultRegion
	}
	if fast {
		if n, ok := fastCN(s, region); ok {
			return n, nil
		}
	}
	var pn phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(s, region, &pn); err != nil {
		switch {
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			if !strings.HasPrefix(s, "+") && !ValidRegion(region) {
				return 0, fmt.Errorf("%w %q", ErrUnknownRegion, region)
			}
			return 0, ErrInvalidCountryCode
		case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
			return 0, ErrTooShort
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			return 0, ErrTooLong
		default:
			return 0, ErrNotANumber
		}
	}
	if pn.GetExtension() != "" {
		return 0, ErrExtension
	}
	switch phonenumbers.IsPossibleNumberWithReason(&pn) {
	case phonenumbers.IS_POSSIBLE, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
	case phonenumbers.INVALID_COUNTRY_CODE:
		return 0, ErrInvalidCountryCode
	case phonenumbers.TOO_SHORT:
		return 0, fmt.Errorf("%w for %s", ErrTooShort, regionOf(&pn))
	case phonenumbers.TOO_LONG:
		return 0, fmt.Errorf("%w for %s", ErrTooLong, regionOf(&pn))
	default:
		return 0, fmt.Errorf("%w for %s", ErrInvalidLength, regionOf(&pn))
	}
	if !phonenumbers.IsValidNumber(&pn) {
		return 0, fmt.Errorf("%w for %s", ErrInvalidNumber, regionOf(&pn))
	}
	e164 := phonenumbers.Format(&pn, phonenumbers.E164)
	digits := strings.TrimPrefix(e164, "+")
	if len(digits) > 15 {
		return 0, fmt.Errorf("%w (E.164 allows 15 digits)", ErrTooLong)
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v == 0 || digits[0] == '0' {
		return 0, ErrNotANumber
	}
	return Number(v), nil
}

// regionOf names the country of a parsed number for messages: its region code ("CN"), or its
// country calling code ("+882") for non-geographic numbers.
func regionOf(pn *phonenumbers.PhoneNumber) string {
	if r := phonenumbers.GetRegionCodeForCountryCode(int(pn.GetCountryCode())); r != "" && r != "ZZ" && r != "001" {
		return r
	}
	return "+" + strconv.Itoa(int(pn.GetCountryCode()))
}

// fastCN is a shortcut for the common case, a mainland mobile number written as 1XXXXXXXXXX
// (region CN), +861XXXXXXXXXX, 00861XXXXXXXXXX (region CN) or 861XXXXXXXXXX (region CN), second
// digit 3-9 and not 179 (prefixes that CN's national-prefix-for-parsing rule could strip as a
// carrier code). For these notations phonenumbers.Parse yields country code 86 and the 11 digits
// unchanged, so only its IsValidNumber check (a third of Parse's cost) is needed. ok=false means
// "not decided here": the caller runs the full path, so rejections and their reasons always come
// from it. TestFastCNMatchesFullPath checks the equivalence.
func fastCN(s, region string) (Number, bool) {
	switch {
	case strings.HasPrefix(s, "+86"):
		s = s[3:]
	case region != "CN":
		return 0, false
	case strings.HasPrefix(s, "0086"):
		s = s[4:]
	case len(s) == 13 && strings.HasPrefix(s, "86"):
		s = s[2:]
	}
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || strings.HasPrefix(s, "179") {
		return 0, false
	}
	nsn, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	pn := phonenumbers.PhoneNumber{CountryCode: proto32(86), NationalNumber: &nsn}
	if !phonenumbers.IsValidNumber(&pn) {
		return 0, false
	}
	return Number(86*100_000_000_000 + nsn), true
}

func proto32(v int32) *int32 { return &v }
