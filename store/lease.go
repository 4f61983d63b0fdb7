package store

import (
	"context"
	"time"
)

// Leases: a named lease held by one owner token until its TTL runs out (sms:lease:<name>). Their
// scripts (leaseAcquireScript, leaseReleaseScript) are in scripts.go.

// AcquireLease takes the named lease for owner for ttl (SET NX PX), or renews it when owner
// already holds it. false when someone else holds it.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := checkID("lease name", name); err != nil {
		return false, err
	}
	if owner == "" {
		return false, invalidf("lease %s: empty owner", name)
	}
	if ttl < time.Millisecond {
		return false, invalidf("lease %s: ttl %v is under 1ms", name, ttl)
	}
	n, err := leaseAcquireScript.Run(ctx, s.rdb, []string{leaseKey(name)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, wrap("acquire lease "+name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if owner holds it (compare-and-delete); otherwise a no-op.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := checkID("lease name", name); err != nil {
		return err
	}
	err := leaseReleaseScript.Run(ctx, s.rdb, []string{leaseKey(name)}, owner).Err()
	return wrap("release lease "+name, err)
}
