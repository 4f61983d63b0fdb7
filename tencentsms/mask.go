package tencentsms

import "github.com/smsdispatch/smsdispatch/internal/phonemask"

// MaskPhone hides the middle of a phone number for logs: "+8613812345678" becomes
// "+86138****5678". It never shows a whole number and never panics.
func MaskPhone(s string) string { return phonemask.Mask(s) }
