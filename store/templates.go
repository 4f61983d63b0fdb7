package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TemplateRecord is a Tencent template as DescribeSmsTemplateList described it, cached so that
// producers can check a job's template before accepting it without calling Tencent each time.
type TemplateRecord struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Content       string    `json:"content"`
	International int       `json:"intl"`   // Tencent's International: 0 domestic, 1 international, 3 both
	Status        int       `json:"status"` // Tencent's StatusCode: 0 approved, 1 in review, -1 rejected, ...
	ReviewReply   string    `json:"reply,omitempty"`
	CachedAt      time.Time `json:"at"` // when it was read from Tencent
}

// CacheTemplate caches t under account (an opaque name of the Tencent account whose templates
// these are, such as a hash of its SecretId: templates belong to the account, not to an app) for
// ttl; a record already cached is replaced. CachedAt is set to the store's clock.
func (s *Store) CacheTemplate(ctx context.Context, account string, t TemplateRecord, ttl time.Duration) error {
	if err := checkTemplateKeyPart("template account", account); err != nil {
		return err
	}
	if err := checkTemplateKeyPart("template id", t.ID); err != nil {
		return err
	}
	if ttl < time.Millisecond {
		return invalidf("template cache: ttl %v is under 1ms", ttl)
	}
	t.CachedAt = s.now()
	b, err := json.Marshal(t)
	if err != nil {
		return wrap("cache template", err)
	}
	return wrap("cache template", s.rdb.Set(ctx, templateKey(account, t.ID), b, ttl).Err())
}

// CachedTemplate returns the template id of account cached by CacheTemplate, or ErrNotFound when
// none is cached (never cached, or its TTL passed).
func (s *Store) CachedTemplate(ctx context.Context, account, id string) (TemplateRecord, error) {
	if err := checkTemplateKeyPart("template account", account); err != nil {
		return TemplateRecord{}, err
	}
	if err := checkTemplateKeyPart("template id", id); err != nil {
		return TemplateRecord{}, err
	}
	b, err := s.rdb.Get(ctx, templateKey(account, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return TemplateRecord{}, ErrNotFound
	}
	if err != nil {
		return TemplateRecord{}, wrap("read cached template", err)
	}
	var t TemplateRecord
	if err := json.Unmarshal(b, &t); err != nil {
		return TemplateRecord{}, wrap("read cached template", err)
	}
	return t, nil
}

// checkTemplateKeyPart validates a part of a template cache key: an id that contains no ':'
// (the key's separator).
func checkTemplateKeyPart(what, v string) error {
	if err := checkID(what, v); err != nil {
		return err
	}
	if strings.ContainsAny(v, ": \t\r\n") {
		return invalidf("%s %q contains ':' or white space", what, v)
	}
	return nil
}

// RecordTemplateType remembers the type ("otp", "notification" or "marketing") of template id of
// account, as given when the template was added: Tencent's template list does not return it, and
// a marketing template's jobs get the regulated send window. It has no TTL.
func (s *Store) RecordTemplateType(ctx context.Context, account, id, typ string) error {
	if err := checkTemplateKeyPart("template account", account); err != nil {
		return err
	}
	if err := checkTemplateKeyPart("template id", id); err != nil {
		return err
	}
	switch typ {
	case TemplateOTP, TemplateNotification, TemplateMarketing:
	default:
		return invalidf("template %s: type %q is not otp, notification or marketing", id, typ)
	}
	return wrap("record template type", s.rdb.HSet(ctx, templateTypesKey(account), id, typ).Err())
}

// TemplateType returns the type RecordTemplateType recorded for template id of account, or ""
// when none was recorded (a template added elsewhere, such as in Tencent's console).
func (s *Store) TemplateType(ctx context.Context, account, id string) (string, error) {
	if err := checkTemplateKeyPart("template account", account); err != nil {
		return "", err
	}
	typ, err := s.rdb.HGet(ctx, templateTypesKey(account), id).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return typ, wrap("read template type", err)
}
