package recipients

import (
	"errors"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts Options
		want string
		is   error
	}{
		{"defaults", Options{}, "", nil},
		{"region normalised", Options{Region: " us "}, "", nil},
		{"unknown region", Options{Region: "xx"}, `recipients: unknown region "xx"`, ErrUnknownRegion},
		{"max batch at the limit", Options{MaxBatch: DefaultMaxBatch}, "", nil},
		{"max batch over the limit", Options{MaxBatch: DefaultMaxBatch + 1}, "recipients: max batch 201 outside 1..200", nil},
		{"negative max batch", Options{MaxBatch: -1}, "recipients: max batch -1 outside 1..200", nil},
		{"negative max recipients takes the default", Options{MaxRecipients: -1}, "", nil},
		{"unknown encoding", Options{Encoding: "latin1"}, "", ErrUnknownEncoding},
	}
	for _, c := range cases {
		err := c.opts.validate()
		_, nerr := NewBuilder(c.opts)
		if errString(nerr) != errString(err) {
			t.Errorf("%s: NewBuilder error %q, validate %q", c.name, errString(nerr), errString(err))
		}
		if c.is != nil {
			if !errors.Is(err, c.is) {
				t.Errorf("%s: validate() = %v, want %v", c.name, err, c.is)
			}
		} else if c.want == "" && err != nil {
			t.Errorf("%s: validate() = %v, want nil", c.name, err)
		}
		if c.want != "" && errString(err) != c.want {
			t.Errorf("%s: validate() = %q, want %q", c.name, errString(err), c.want)
		}
	}
}

func TestOptionsWithDefaults(t *testing.T) {
	t.Parallel()
	got := Options{}.withDefaults()
	if got.Region != DefaultRegion || got.MaxBatch != DefaultMaxBatch || got.MaxRecipients != DefaultMaxRecipients || got.Encoding != EncodingUTF8 {
		t.Errorf("zero options: got %+v", got)
	}
	set := Options{Region: " us", MaxBatch: 1, MaxRecipients: 2, Workers: 3, Encoding: "GBK"}
	got = set.withDefaults()
	if got.Region != "US" || got.MaxBatch != 1 || got.MaxRecipients != 2 || got.Workers != 3 || got.Encoding != EncodingGB18030 {
		t.Errorf("withDefaults(%+v) = %+v, want the values kept (normalised)", set, got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
