package tencentsms

import "strings"

// Match returns the status of each of numbers, the request's PhoneNumbers, aligned with them:
// Match(numbers)[i] is Tencent's answer for numbers[i], nil when Tencent sent none (its outcome is
// unknown). Statuses are matched by the digits of the number, so Tencent may write it as
// "+8613812345678", "8613812345678", "008613812345678" or a bare mainland mobile
// "13812345678"; when that leaves statuses unmatched and Tencent answered one status per
// number, they are matched by position.
func (r *SendResult) Match(numbers []string) []*SendStatus {
	out := make([]*SendStatus, len(numbers))
	pos := make(map[string]int, len(numbers))
	for i, n := range numbers {
		pos[digits(n)] = i
	}
	statuses := r.Statuses
	unmatched := 0
	for j := range statuses {
		i, ok := pos[digits(statuses[j].PhoneNumber)]
		if !ok || out[i] != nil {
			unmatched++
			continue
		}
		out[i] = &statuses[j]
	}
	if unmatched > 0 && len(statuses) == len(numbers) {
		for i := range statuses {
			out[i] = &statuses[i]
		}
	}
	return out
}

// digits returns the E.164 digits of a number as Tencent may write it: "+8613812345678",
// "8613812345678" or a bare mainland mobile "13812345678".
func digits(n string) string {
	// Fast path, no allocation: "+<digits>" not starting with 00 (what we send, and what Tencent
	// answers) is its own digits.
	if len(n) > 1 && n[0] == '+' && !strings.HasPrefix(n, "+00") && allDigits(n[1:]) {
		return n[1:]
	}
	var b strings.Builder
	for _, c := range n {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	s := strings.TrimPrefix(b.String(), "00")
	if len(s) == 11 && s[0] == '1' && !strings.HasPrefix(n, "+") {
		s = "86" + s
	}
	return s
}

// allDigits reports whether s is made of ASCII digits only.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
