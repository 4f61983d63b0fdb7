// Package phonemask hides the middle of phone numbers for logs, errors and terminal output, so
// that no component of smsdispatch ever prints a whole number. Every package that shows a number
// goes through Mask.
package phonemask

import "strings"

// Mask hides the middle of a phone number: "+8613812345678" becomes "+86138****5678" and
// "13812345678" becomes "138****5678". It keeps at most the first 6 and the last 4 characters
// and always hides at least 4 (all of a number of 4 characters or fewer), so no input is ever
// shown whole. It never panics, whatever the input, and keeps the input's length in runes.
func Mask(s string) string {
	r := []rune(s)
	n := len(r)
	const minHidden, maxTail, maxHead = 4, 4, 6
	tail := min(maxTail, max(0, n-minHidden))
	head := min(maxHead, max(0, n-minHidden-tail))
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(string(r[:head]))
	b.WriteString(strings.Repeat("*", n-head-tail))
	b.WriteString(string(r[n-tail:]))
	return b.String()
}
