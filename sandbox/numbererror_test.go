package sandbox

import "testing"

func TestNumberErrorFirstAttempt(t *testing.T) {
	t.Parallel()
	const code = "LimitExceeded.PhoneNumberThirtySecondLimit"
	tests := []struct {
		name      string
		firstOnly bool
		want      []string // the code of the same two numbers in three calls
	}{
		{"every attempt", false, []string{code, code, code}},
		{"first attempt only", true, []string{code, codeOK, codeOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *Config) {
				c.Faults.NumberErrorRate = 1
				c.Faults.NumberErrorCodes = []string{code}
				c.Faults.NumberErrorFirstAttempt = tt.firstOnly
			})
			numbers := cnNumbers(500, 2)
			for call, want := range tt.want {
				for i, st := range mustSend(t, e.client, otp(numbers...)) {
					if *st.Code != want {
						t.Errorf("call %d, number %d: %s, want %s", call, i, *st.Code, want)
					}
				}
				e.clock.Add(31e9) // past the real 30-second rule after an accepted send
			}
			// A number new to the sandbox still faces the draw.
			if got := codeOf(t, e.client, otp(cnNumbers(600, 1)...)); got != code {
				t.Errorf("new number: %s, want %s", got, code)
			}
		})
	}
}
