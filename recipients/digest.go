package recipients

import (
	"fmt"

	"github.com/smsdispatch/smsdispatch/internal/numset"
)

// digest is an order-insensitive digest of a job's accepted recipients: the multiset of
// (number, own params) pairs, kept as two sums of independent 64-bit hashes of the pairs and
// their count. Adding the same pairs in any order gives the same digest.
type digest struct {
	n          uint64
	sum1, sum2 uint64
}

// defaultParamsHash stands for "no params of its own" (the job's params apply): a recipient
// whose own params equal the job's is still told apart from one that has none.
const defaultParamsHash = 0x6a09e667f3bcc908

// paramsHash hashes a recipient's own params, encoded by encodeParams (FNV-1a, stable across
// processes and versions: digests are stored).
func paramsHash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * 1099511628211
	}
	return numset.Mix(h ^ 0xbb67ae8584caa73b)
}

func (d *digest) add(n Number, ph uint64) {
	d.n++
	d.sum1 += numset.Mix(uint64(n) + numset.Mix(ph))
	d.sum2 += numset.Mix(numset.Mix(uint64(n)^0x3c6ef372fe94f82b) ^ ph)
}

func (d digest) String() string { return fmt.Sprintf("%d:%016x%016x", d.n, d.sum1, d.sum2) }
