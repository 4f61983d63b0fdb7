package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// The suppression list: numbers that must never get another message, each with the reason and
// the time it was added. It is a record of consent, so it carries no TTL. It spreads over
// suppShards hashes, a number's shard chosen by a hash of the number, so a list of millions of
// numbers stays a few thousand fields per key and every command touches one slot.

// suppShards is how many hashes the suppression list is spread over (sms:supp:{sp<hh>}).
const suppShards = 256

// MaxSuppressReason is the longest reason kept with a suppressed number, in bytes; a longer one
// is cut (at a character boundary), never refused: the consent must be recorded whatever its
// reason says.
const MaxSuppressReason = 256

// suppChunk bounds how many numbers one pipeline of the suppression list carries.
const suppChunk = 1000

// suppScanCount is the COUNT hint of the HSCANs that list the suppression list.
const suppScanCount = 1000

// Suppression is one entry of the suppression list.
type Suppression struct {
	Number string    `json:"number"` // E.164
	Reason string    `json:"reason"`
	At     time.Time `json:"at"` // when it was added
}

// suppShardOf is the shard of an E.164 number: FNV-1a of the number mod suppShards.
func suppShardOf(e164 string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(e164))
	return int(h.Sum32() % suppShards)
}

// checkNumbers checks that every number is E.164 (ParseE164), naming the first that is not.
func checkNumbers(op string, numbers []string) error {
	for i, n := range numbers {
		if _, err := ParseE164(n); err != nil {
			return fmt.Errorf("store: %s: number %d: %w", op, i, err)
		}
	}
	return nil
}

// suppValue encodes an entry's value: "<ms>|<reason>" (the time first, so the reason may hold
// any byte).
func suppValue(at time.Time, reason string) string {
	return strconv.FormatInt(at.UnixMilli(), 10) + "|" + reason
}

// parseSuppValue decodes suppValue; a value it cannot read keeps its text as the reason.
func parseSuppValue(number, v string) Suppression {
	ms, reason, ok := strings.Cut(v, "|")
	t, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return Suppression{Number: number, Reason: v}
	}
	return Suppression{Number: number, Reason: reason, At: timeOf(t)}
}

// cutReason trims reason to MaxSuppressReason bytes without splitting a character, and makes it
// valid UTF-8.
func cutReason(reason string) string {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) <= MaxSuppressReason {
		return reason
	}
	cut := MaxSuppressReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// Suppress adds numbers (E.164) to the suppression list with reason and the current time: the
// send path never sends to them again, in any job. A number already on the list keeps its first
// reason and time. A number that is not E.164 is refused (ErrInvalid) before anything is written.
func (s *Store) Suppress(ctx context.Context, numbers []string, reason string) error {
	if err := checkNumbers("suppress", numbers); err != nil {
		return err
	}
	v := suppValue(s.now(), cutReason(reason))
	for from := 0; from < len(numbers); from += suppChunk {
		part := numbers[from:min(from+suppChunk, len(numbers))]
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, n := range part {
				p.HSetNX(ctx, suppKey(suppShardOf(n)), n, v)
			}
			return nil
		}); err != nil {
			return wrap("suppress", err)
		}
	}
	return nil
}

// Suppressed reports for each number whether it is on the suppression list (the send path asks
// once per batch): one pipeline of at most one HMGET per shard.
func (s *Store) Suppressed(ctx context.Context, numbers []string) ([]bool, error) {
	if err := checkNumbers("suppressed", numbers); err != nil {
		return nil, err
	}
	out := make([]bool, len(numbers))
	for from := 0; from < len(numbers); from += suppChunk {
		part := numbers[from:min(from+suppChunk, len(numbers))]
		// The positions of part's numbers in each shard, in the order of the HMGET's fields.
		byShard := map[int][]int{}
		for i, n := range part {
			sh := suppShardOf(n)
			byShard[sh] = append(byShard[sh], i)
		}
		cmds := make(map[int]*redis.SliceCmd, len(byShard))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for sh, idxs := range byShard {
				fields := make([]string, len(idxs))
				for k, i := range idxs {
					fields[k] = part[i]
				}
				cmds[sh] = p.HMGet(ctx, suppKey(sh), fields...)
			}
			return nil
		}); err != nil {
			return nil, wrap("suppressed", err)
		}
		for sh, idxs := range byShard {
			for k, v := range cmds[sh].Val() {
				out[from+idxs[k]] = v != nil
			}
		}
	}
	return out, nil
}

// Unsuppress removes numbers from the suppression list and returns how many were on it. A number
// that is not E.164 is refused (ErrInvalid) before anything is removed.
func (s *Store) Unsuppress(ctx context.Context, numbers []string) (int, error) {
	if err := checkNumbers("unsuppress", numbers); err != nil {
		return 0, err
	}
	removed := 0
	for from := 0; from < len(numbers); from += suppChunk {
		part := numbers[from:min(from+suppChunk, len(numbers))]
		cmds := make([]*redis.IntCmd, len(part))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range part {
				cmds[i] = p.HDel(ctx, suppKey(suppShardOf(n)), n)
			}
			return nil
		}); err != nil {
			return removed, wrap("unsuppress", err)
		}
		for _, c := range cmds {
			removed += int(c.Val())
		}
	}
	return removed, nil
}

// Suppressions yields every entry of the suppression list, shard by shard (in no particular
// order), reading a few thousand entries at a time: memory stays bounded however long the list
// is. An entry added or removed while the list is read may or may not be yielded; none present
// for the whole read is missed (HSCAN). An error is yielded once and ends the sequence.
func (s *Store) Suppressions(ctx context.Context) iter.Seq2[Suppression, error] {
	return func(yield func(Suppression, error) bool) {
		for sh := 0; sh < suppShards; sh++ {
			key := suppKey(sh)
			var cursor uint64
			for {
				kv, next, err := s.rdb.HScan(ctx, key, cursor, "", suppScanCount).Result()
				if err != nil {
					yield(Suppression{}, wrap("suppressions", err))
					return
				}
				for i := 0; i+1 < len(kv); i += 2 {
					if !yield(parseSuppValue(kv[i], kv[i+1]), nil) {
						return
					}
				}
				if cursor = next; cursor == 0 {
					break
				}
			}
		}
	}
}
