package recipients_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/smsdispatch/smsdispatch/recipients"
)

func ExampleNormalize() {
	for _, raw := range []string{"138 0013 8000", "+1 (650) 253-0000", "0086 138-0013-8001", "12345", "call me"} {
		n, err := recipients.Normalize(raw, "CN")
		if err != nil {
			fmt.Printf("%-20q rejected: %v\n", raw, err)
			continue
		}
		fmt.Printf("%-20q %s domestic=%v\n", raw, n, n.Domestic())
	}
	// Output:
	// "138 0013 8000"      +8613800138000 domestic=true
	// "+1 (650) 253-0000"  +16502530000 domestic=false
	// "0086 138-0013-8001" +8613800138001 domestic=true
	// "12345"              rejected: not a valid number for CN
	// "call me"            rejected: not a phone number
}

func ExampleLines() {
	file := "# number,code\n13800138000,1234\n\n13800138001\n\"broken\n"
	for rec, err := range recipients.Lines(strings.NewReader(file)) {
		var le *recipients.LineError
		if errors.As(err, &le) {
			fmt.Println("bad", le)
			continue
		}
		if err != nil {
			panic(err) // reading failed
		}
		fmt.Println(rec.Line, rec.Number, rec.Params)
	}
	// Output:
	// 2 13800138000 [1234]
	// 4 13800138001 []
	// 5 broken []
}

func ExampleBuilder() {
	b, err := recipients.NewBuilder(recipients.Options{Region: "CN", Params: []string{"Friend"}})
	if err != nil {
		panic(err)
	}
	file := "13800138000\n13800138001,Ada\n+44 20 7031 3000\n13800138000,Bob\nnope\n"
	err = b.AddCSV(context.Background(), strings.NewReader(file), func(le recipients.LineError) {
		fmt.Printf("line %d: %s\n", le.Line, le.Reason)
	})
	if err != nil {
		panic(err)
	}
	set := b.Finish()
	fmt.Printf("%+v\n", set.Stats())
	fmt.Println(set.ParamSets())
	for batch := range set.Batches() {
		fmt.Println(batch.ParamSet, batch.Intl, batch.Numbers)
	}
	// Output:
	// line 5: not a phone number
	// {Accepted:3 Duplicates:1 Rejected:1}
	// [[Friend] [Ada]]
	// 0 false [+8613800138000]
	// 0 true [+442070313000]
	// 1 false [+8613800138001]
}

// ExampleSet_PackedBatch hands batches out by index with their numbers packed (the E.164 digits
// as integers), the form store.CreateJobStream writes without building strings.
func ExampleSet_PackedBatch() {
	b, err := recipients.NewBuilder(recipients.Options{Region: "CN", MaxBatch: 2})
	if err != nil {
		panic(err)
	}
	for _, num := range []string{"13800138000", "13800138001", "+44 20 7031 3000", "13800138002"} {
		if err := b.Add(num, nil); err != nil {
			panic(err)
		}
	}
	set := b.Finish()
	var buf []uint64
	for i := range set.NumBatches() {
		batch := set.PackedBatch(i, buf)
		buf = batch.Packed // reuse the memory for the next batch
		fmt.Println(i, batch.ParamSet, batch.Intl, batch.Packed)
	}
	// Output:
	// 0 0 false [8613800138000 8613800138001]
	// 1 0 false [8613800138002]
	// 2 0 true [442070313000]
}
