package sandbox

import "maps"

// Stats is a snapshot of the server's counters. Counters restart at
// ResetStats; the Receipts* gauges describe current state.
type Stats struct {
	// Calls counts every HTTP request by its X-TC-Action header, including
	// rejected ones.
	Calls map[string]int64
	// Errors counts whole-call error answers by code.
	Errors map[string]int64
	// NumberErrors counts non-Ok SendStatusSet entries by code.
	NumberErrors map[string]int64

	// NumbersSent counts numbers accepted with Code "Ok".
	NumbersSent int64
	// DuplicateSends counts accepted sends to a number that had already been
	// accepted before (since the last ResetStats). See SendCount.
	DuplicateSends int64
	// LargestBatch is the largest PhoneNumberSet of an authenticated SendSms.
	LargestBatch int
	// Dropped counts replies lost on purpose (Faults.DropRate).
	Dropped int64
	// FeeUsed is the billed segments consumed from the package.
	FeeUsed uint64

	// ReceiptsCreated counts receipts created (one per accepted number).
	ReceiptsCreated int64
	// ReceiptsPending is the number of receipts not yet pulled by
	// PullSmsSendStatus (ready or not).
	ReceiptsPending int64
	// ReceiptsReady is how many of the pending receipts are pullable now.
	ReceiptsReady int64
	// ReceiptsPulled counts receipts returned by PullSmsSendStatus.
	ReceiptsPulled int64

	// CallbackItems counts receipts the callback URL acknowledged;
	// CallbackItemsFailed those given up after all tries;
	// CallbackAttempts counts POSTs, retries included.
	CallbackItems       int64
	CallbackItemsFailed int64
	CallbackAttempts    int64
}

type counters struct {
	calls           map[string]int64
	errors          map[string]int64
	numberErrors    map[string]int64
	numbersSent     int64
	duplicates      int64
	largestBatch    int
	dropped         int64
	receiptsCreated int64
	receiptsPulled  int64
	cbItems         int64
	cbFailed        int64
	cbAttempts      int64
}

func newCounters() counters {
	return counters{
		calls:        make(map[string]int64),
		errors:       make(map[string]int64),
		numberErrors: make(map[string]int64),
	}
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Calls:               maps.Clone(s.st.calls),
		Errors:              maps.Clone(s.st.errors),
		NumberErrors:        maps.Clone(s.st.numberErrors),
		NumbersSent:         s.st.numbersSent,
		DuplicateSends:      s.st.duplicates,
		LargestBatch:        s.st.largestBatch,
		Dropped:             s.st.dropped,
		FeeUsed:             s.feeUsed,
		ReceiptsCreated:     s.st.receiptsCreated,
		ReceiptsPending:     int64(s.receipts.len() - s.pullNext),
		ReceiptsPulled:      s.st.receiptsPulled,
		CallbackItems:       s.st.cbItems,
		CallbackItemsFailed: s.st.cbFailed,
		CallbackAttempts:    s.st.cbAttempts,
	}
	st.ReceiptsReady = int64(s.readyEnd(now) - s.pullNext)
	return st
}

// ResetStats zeroes the counters and the per-number send counts behind
// DuplicateSends and SendCount. Frequency rules, receipts, templates and
// package usage are kept.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newCounters()
	for k, v := range s.numbers {
		v.sends = 0
		s.numbers[k] = v
	}
}

// SendCount returns how many sends to number (any accepted form, e.g.
// "+8613800000000") were accepted since the last ResetStats.
func (s *Server) SendCount(number string) int {
	k := phoneKey(number)
	if k == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.numbers[k].sends)
}
