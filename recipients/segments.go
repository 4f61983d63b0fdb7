package recipients

import "unicode/utf8"

// Billing segments of one SMS, as Tencent counts them (tencent-sms.md, "Billing segments"):
// a message whose characters fit in one segment is billed once; a longer one is split into parts
// that each carry a header, so they hold fewer characters.
const (
	// UCS-2 (any non-GSM character, and every domestic message): 70 characters in one segment,
	// 67 per segment beyond.
	SegmentUCS2Single, SegmentUCS2Multi = 70, 67
	// GSM-7 (international text of the GSM 03.38 alphabet alone): 160 and 153.
	SegmentGSMSingle, SegmentGSMMulti = 160, 153
)

// gsmBasic is the GSM 03.38 default alphabet: one septet each.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension is the GSM 03.38 extension table: an escape and a septet, two each.
const gsmExtension = "\f^{}\\[~]|€"

var gsmSeptets = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// SegmentCount is what Segments found in a message.
type SegmentCount struct {
	GSM      bool // encoded as GSM-7 (international text of the GSM alphabet only)
	Chars    int  // characters as billed: UCS-2 code units (an emoji beyond U+FFFF counts 2), or GSM-7 septets
	Segments int  // billed segments; 0 for an empty message
}

// Segments estimates the segments Tencent bills for one message of text (the sign included: see
// MessageText). Domestic (+86) messages are always counted as UCS-2, 70 characters for one
// segment and 67 per segment beyond; international ones are GSM-7 (160, then 153 septets per
// segment; the extension characters such as € and [ take two) when every character is in the
// GSM alphabet, else UCS-2 like domestic ones. Characters beyond U+FFFF (most emoji) count two:
// Tencent counts some emoji as two characters since 2025-10. Invalid UTF-8 bytes count one each.
func Segments(text string, intl bool) SegmentCount {
	var ucs2, septets int
	gsm := intl
	for _, r := range text {
		if r >= 0x10000 {
			ucs2 += 2
		} else {
			ucs2++
		}
		if gsm {
			n, ok := gsmSeptets[r]
			if !ok || r == utf8.RuneError {
				gsm = false
			}
			septets += n
		}
	}
	if gsm {
		return SegmentCount{GSM: true, Chars: septets, Segments: split(septets, SegmentGSMSingle, SegmentGSMMulti)}
	}
	return SegmentCount{Chars: ucs2, Segments: split(ucs2, SegmentUCS2Single, SegmentUCS2Multi)}
}

// split is the number of segments of n characters: one when n fits single, else n/multi rounded up.
func split(n, single, multi int) int {
	switch {
	case n == 0:
		return 0
	case n <= single:
		return 1
	}
	return (n + multi - 1) / multi
}

// MessageText is the text Tencent bills for one message: a domestic message carries its sign as
// 【sign】 in front of the content, and the sign's characters (brackets included) count; an
// international message is sent without the sign.
func MessageText(sign, content string, intl bool) string {
	if intl || sign == "" {
		return content
	}
	return "【" + sign + "】" + content
}
