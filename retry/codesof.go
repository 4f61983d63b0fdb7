package retry

import "slices"

// CodesOf returns the codes of the table whose class is one of classes, sorted (for example to
// give a metric labelled by code a series per known code from start-up).
func CodesOf(classes ...Class) []string {
	var out []string
	for code, r := range table {
		if slices.Contains(classes, r.class) {
			out = append(out, code)
		}
	}
	slices.Sort(out)
	return out
}
